package metadata

import (
	"crypto/x509"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	k1, k2 := loadCert(t, "sp-rsa2048.crt"), loadCert(t, "sp2-rsa2048.crt")
	acs := []Endpoint{{Binding: BindingHTTPPost, Location: "https://a.test/acs", Index: 0}}
	base := func(id string) *SP {
		return &SP{EntityID: id, SigningCerts: []*x509.Certificate{k1, k2}, EncryptionCerts: []*x509.Certificate{k1},
			ACS: acs, NameIDFormats: []string{"f1"}, DisplayNames: map[string]string{"en": "A"}}
	}
	reordered := base("same")
	reordered.SigningCerts = []*x509.Certificate{k2, k1}
	keys := base("keys")
	keys.SigningCerts = []*x509.Certificate{k2}
	endpoints := base("endpoints")
	endpoints.ACS = []Endpoint{{Binding: BindingHTTPPost, Location: "https://b.test/acs", Index: 0}}
	many := base("many")
	many.EncryptionCerts, many.AuthnRequestsSigned, many.NameIDFormats, many.DisplayNames = nil, true, nil, map[string]string{"en": "B"}

	old := []*SP{base("same"), base("keys"), base("endpoints"), base("many"), base("gone")}
	c := Diff(old, []*SP{reordered, keys, endpoints, many, base("new")})
	if !slices.Equal(c.Added, []string{"new"}) || !slices.Equal(c.Removed, []string{"gone"}) {
		t.Errorf("Added %v, Removed %v", c.Added, c.Removed)
	}
	var got []string
	for _, ch := range c.Changed {
		got = append(got, ch.EntityID+": "+strings.Join(ch.What, ", "))
	}
	want := []string{
		"endpoints: ACS endpoints",
		"keys: signing keys",
		"many: encryption keys, AuthnRequestsSigned, NameID formats, display names",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Changed =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !Diff(old, old).Empty() {
		t.Error("Diff(old, old) not empty")
	}
}

func TestDiffAuditBounded(t *testing.T) {
	var sps []*SP
	for i := range maxAuditIDs + 10 {
		sps = append(sps, &SP{EntityID: strings.Repeat("x", i+1)})
	}
	buf := &syncBuffer{}
	recordRefresh(t.Context(), diffJSONLogger(buf), "big", Diff(nil, sps), len(sps))
	recs := refreshAudits(t, buf.String())
	if len(recs) != 1 || recs[0].Added != maxAuditIDs+10 || len(recs[0].AddedIDs) != maxAuditIDs || !recs[0].Truncated {
		t.Errorf("audit = %+v", recs)
	}
}

func diffJSONLogger(w *syncBuffer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
