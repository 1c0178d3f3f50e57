package metadata

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

func TestParseFull(t *testing.T) {
	t.Parallel()
	sps, problems, err := Parse(readTestdata(t, "sp-full.xml"), testNow())
	if err != nil || len(problems) != 0 {
		t.Fatalf("Parse() = problems %v, err %v; want none", problems, err)
	}
	if len(sps) != 1 {
		t.Fatalf("Parse() returned %d SPs, want 1", len(sps))
	}
	sp := sps[0]
	want := &SP{
		EntityID:            "https://sp.example.test/saml/metadata",
		AuthnRequestsSigned: true,
		ACS: []Endpoint{
			{Binding: BindingHTTPPost, Location: "https://sp.example.test/saml/acs", Index: 0},
			{Binding: BindingHTTPPost, Location: "https://sp.example.test/saml/acs2", Index: 2, IsDefault: true},
		},
		SLO:           []Endpoint{{Binding: BindingHTTPRedirect, Location: "https://sp.example.test/saml/slo"}},
		NameIDFormats: []string{"urn:oasis:names:tc:SAML:2.0:nameid-format:transient", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"},
		DisplayNames:  map[string]string{"es": "Servicio de ejemplo", "eu": "Adibide zerbitzua", "en": "Example service"},
		ValidUntil:    time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if diff := cmp.Diff(want, sp, cmpopts.IgnoreUnexported(SP{}), cmpopts.IgnoreFields(SP{}, "SigningCerts", "EncryptionCerts")); diff != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
	}
	// The signing certificate is written with line breaks and indentation: whitespace is allowed.
	if len(sp.SigningCerts) != 1 || !sp.SigningCerts[0].Equal(loadCert(t, "sp-rsa2048.crt")) {
		t.Errorf("SigningCerts = %d certs, want sp-rsa2048.crt", len(sp.SigningCerts))
	}
	if len(sp.EncryptionCerts) != 1 || !sp.EncryptionCerts[0].Equal(loadCert(t, "sp2-rsa2048.crt")) {
		t.Errorf("EncryptionCerts = %d certs, want sp2-rsa2048.crt", len(sp.EncryptionCerts))
	}
	if got, ok := sp.DefaultACS(); !ok || got.Index != 2 {
		t.Errorf("DefaultACS() = %+v, %v; want index 2 (isDefault)", got, ok)
	}
}

func TestParseCrewjam(t *testing.T) {
	t.Parallel()
	cert := loadCert(t, "sp-rsa2048.crt")
	for _, tc := range []struct {
		name        string
		signed      bool
		mutate      func(*saml.EntityDescriptor)
		wantSigning int
		wantEnc     int
		wantUntil   time.Time
	}{
		{name: "unsigned", wantEnc: 1, wantUntil: testNow().Add(48 * time.Hour)},
		{name: "signed", signed: true, wantSigning: 1, wantEnc: 1, wantUntil: testNow().Add(48 * time.Hour)},
		{
			// crewjam marshals a zero ValidUntil as 0001-01-01T00:00:00Z: no validUntil, not expired.
			name: "zero validUntil", signed: true, wantSigning: 1, wantEnc: 1,
			mutate: func(ed *saml.EntityDescriptor) {
				ed.ValidUntil = time.Time{}
				ed.SPSSODescriptors[0].ValidUntil = nil
			},
		},
		{
			// ServiceProvider.Intermediates are appended into the same X509Certificate.
			name: "intermediates concatenated", signed: true, wantSigning: 2, wantEnc: 2, wantUntil: testNow().Add(48 * time.Hour),
			mutate: func(ed *saml.EntityDescriptor) {
				both := base64.StdEncoding.EncodeToString(append(append([]byte(nil), cert.Raw...), loadCert(t, "sp2-rsa2048.crt").Raw...))
				for i := range ed.SPSSODescriptors[0].KeyDescriptors {
					ed.SPSSODescriptors[0].KeyDescriptors[i].KeyInfo.X509Data.X509Certificates[0].Data = both
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sps, problems, err := Parse(crewjamSP(t, "sp-one", tc.signed, tc.mutate), testNow())
			if err != nil || len(problems) != 0 || len(sps) != 1 {
				t.Fatalf("Parse() = %d SPs, problems %v, err %v; want 1 SP", len(sps), problems, err)
			}
			sp := sps[0]
			if sp.EntityID != "https://sp-one.test/saml/metadata" {
				t.Errorf("EntityID = %q, want https://sp-one.test/saml/metadata", sp.EntityID)
			}
			if sp.AuthnRequestsSigned != tc.signed {
				t.Errorf("AuthnRequestsSigned = %v, want %v", sp.AuthnRequestsSigned, tc.signed)
			}
			// crewjam also publishes an HTTP-Artifact ACS (index 2): it must not be a candidate.
			wantACS := []Endpoint{{Binding: BindingHTTPPost, Location: "https://sp-one.test/saml/acs", Index: 1}}
			if diff := cmp.Diff(wantACS, sp.ACS); diff != "" {
				t.Errorf("ACS mismatch (-want +got):\n%s", diff)
			}
			if _, ok := sp.ACSByIndex(2); ok {
				t.Error("ACSByIndex(2) found the HTTP-Artifact endpoint")
			}
			if len(sp.SigningCerts) != tc.wantSigning || len(sp.EncryptionCerts) != tc.wantEnc {
				t.Errorf("certs = %d signing, %d encryption; want %d, %d", len(sp.SigningCerts), len(sp.EncryptionCerts), tc.wantSigning, tc.wantEnc)
			}
			if len(sp.SigningCerts) > 0 && !sp.SigningCerts[0].Equal(cert) {
				t.Error("first signing certificate is not the SP's certificate")
			}
			if !sp.ValidUntil.Equal(tc.wantUntil) {
				t.Errorf("ValidUntil = %v, want %v", sp.ValidUntil, tc.wantUntil)
			}
			if diff := cmp.Diff([]string{string(saml.TransientNameIDFormat)}, sp.NameIDFormats); diff != "" {
				t.Errorf("NameIDFormats mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEntitiesDescriptor(t *testing.T) {
	t.Parallel()
	sps, problems, err := Parse(readTestdata(t, "entities.xml"), testNow())
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	var ids []string
	for _, sp := range sps {
		ids = append(ids, sp.EntityID)
	}
	// Document order, the nested EntitiesDescriptor included.
	wantIDs := []string{"https://one.example.test/sp", "https://nested.example.test/sp", "https://two.example.test/sp"}
	if diff := cmp.Diff(wantIDs, ids); diff != "" {
		t.Errorf("entities mismatch (-want +got):\n%s", diff)
	}
	// The IdP-only entity and the second "one" are skipped, each with its reason.
	wantProblems := []struct {
		id  string
		err error
	}{
		{"https://idp.example.test/idp", errNoSPSSO},
		{"https://one.example.test/sp", errDuplicateEntity},
	}
	if len(problems) != len(wantProblems) {
		t.Fatalf("problems = %v, want %d", problems, len(wantProblems))
	}
	for i, w := range wantProblems {
		var ee *EntityError
		if !errors.As(problems[i], &ee) || ee.EntityID != w.id || !errors.Is(problems[i], w.err) || !errors.Is(problems[i], ErrInvalidEntity) {
			t.Errorf("problem %d = %v, want %q: %v", i, problems[i], w.id, w.err)
		}
	}
	// The first SP is the first "one", not the evil duplicate; a KeyDescriptor without use
	// serves both purposes.
	one := sps[0]
	if one.ACS[0].Location != "https://one.example.test/acs" {
		t.Errorf("one ACS = %q, want the first document's", one.ACS[0].Location)
	}
	if len(one.SigningCerts) != 1 || len(one.EncryptionCerts) != 1 {
		t.Errorf("one certs = %d signing, %d encryption; want 1, 1", len(one.SigningCerts), len(one.EncryptionCerts))
	}
	// validUntil is inherited: the nested one is earlier than the outer one.
	if want := time.Date(2099, 6, 30, 12, 0, 0, 5e8, time.UTC); !sps[1].ValidUntil.Equal(want) {
		t.Errorf("nested ValidUntil = %v, want %v", sps[1].ValidUntil, want)
	}
	if want := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC); !sps[0].ValidUntil.Equal(want) {
		t.Errorf("outer ValidUntil = %v, want %v", sps[0].ValidUntil, want)
	}
	// Plain http to localhost is allowed.
	if sps[2].ACS[0].Location != "http://localhost:8080/acs" {
		t.Errorf("two ACS = %q", sps[2].ACS[0].Location)
	}
}

func TestParseExpiredEntitiesDescriptor(t *testing.T) {
	t.Parallel()
	raw := readTestdata(t, "entities.xml")
	// At a time after the nested EntitiesDescriptor's validUntil only its entity is expired.
	sps, problems, err := Parse(raw, time.Date(2099, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(sps) != 2 {
		t.Errorf("Parse() returned %d SPs, want 2", len(sps))
	}
	found := false
	for _, p := range problems {
		var ee *EntityError
		if errors.As(p, &ee) && ee.EntityID == "https://nested.example.test/sp" && errors.Is(p, errExpired) {
			found = true
		}
	}
	if !found {
		t.Errorf("problems = %v, want the nested entity expired", problems)
	}
}

// entityDoc is a valid single-SP document to mutate: each rule test breaks one thing.
func entityDoc(t testing.TB) string {
	t.Helper()
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example.test/md" validUntil="2100-01-01T00:00:00Z">
 <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="false">
  <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64(loadCert(t, "sp-rsa2048.crt")) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
  <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.test/acs" index="0"/>
  <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example.test/art" index="1"/>
 </md:SPSSODescriptor>
</md:EntityDescriptor>`
}

// bigCert is a valid ECDSA P-256 certificate larger than 8 KiB (a bulky extension).
func bigCert(t testing.TB) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "big"},
		NotBefore: testNow(), NotAfter: testNow().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: make([]byte, 9000)}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseEntityRules(t *testing.T) {
	t.Parallel()
	base := entityDoc(t)
	good := b64(loadCert(t, "sp-rsa2048.crt"))
	withCert := func(c string) func(string) string {
		return func(s string) string { return strings.Replace(s, good, c, 1) }
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("test bug: %q not in the document", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	acs := func(loc string) func(string) string {
		return replace(`Location="https://sp.example.test/acs"`, `Location="`+loc+`"`)
	}
	for _, tc := range []struct {
		name   string
		mutate func(string) string
		want   error // nil: the entity is accepted
	}{
		{name: "valid", mutate: func(s string) string { return s }},
		{name: "SAML 1.1 only", mutate: replace(`protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"`, `protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol"`), want: errNoSPSSO},
		{name: "protocol as a prefix only", mutate: replace(`protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"`, `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocolX"`), want: errNoSPSSO},
		{name: "SPSSODescriptor in a foreign namespace", mutate: func(s string) string {
			s = strings.Replace(s, "<md:SPSSODescriptor ", `<x:SPSSODescriptor xmlns:x="urn:example:evil" `, 1)
			return strings.Replace(s, "</md:SPSSODescriptor>", "</x:SPSSODescriptor>", 1)
		}, want: errNoSPSSO},
		{name: "two SAML 2.0 SP roles", mutate: func(s string) string {
			i, j := strings.Index(s, "<md:SPSSODescriptor"), strings.Index(s, "</md:SPSSODescriptor>")+len("</md:SPSSODescriptor>")
			return s[:j] + s[i:j] + s[j:]
		}, want: errManySPSSO},
		{name: "no HTTP-POST ACS", mutate: replace(`bindings:HTTP-POST"`, `bindings:HTTP-Redirect"`), want: errNoPOSTACS},
		{name: "https ACS", mutate: acs("https://sp.example.test:8443/saml/acs?x=1")},
		{name: "http ACS", mutate: acs("http://sp.example.test/acs"), want: errACSLocation},
		{name: "http ACS on 127.0.0.1", mutate: acs("http://127.0.0.1:8080/acs")},
		{name: "http ACS on 127.9.9.9", mutate: acs("http://127.9.9.9/acs")},
		{name: "http ACS on [::1]", mutate: acs("http://[::1]:8080/acs")},
		{name: "http ACS on localhost", mutate: acs("http://localhost/acs")},
		{name: "http ACS on localhost.evil", mutate: acs("http://localhost.evil.test/acs"), want: errACSLocation},
		{name: "http ACS on 10.0.0.1", mutate: acs("http://10.0.0.1/acs"), want: errACSLocation},
		{name: "javascript ACS", mutate: acs("javascript:alert(1)"), want: errACSLocation},
		{name: "data ACS", mutate: acs("data:text/html,x"), want: errACSLocation},
		{name: "relative ACS", mutate: acs("/saml/acs"), want: errACSLocation},
		{name: "scheme-relative ACS", mutate: acs("//sp.example.test/acs"), want: errACSLocation},
		{name: "empty ACS", mutate: acs(""), want: errACSLocation},
		{name: "ACS with fragment", mutate: acs("https://sp.example.test/acs#top"), want: errACSLocation},
		{name: "ACS with empty fragment", mutate: acs("https://sp.example.test/acs#"), want: errACSLocation},
		{name: "ACS with user info", mutate: acs("https://sp.example.test@evil.test/acs"), want: errACSLocation},
		{name: "ACS with a space", mutate: acs("https://sp.example.test/a cs"), want: errACSLocation},
		{name: "bad non-POST ACS", mutate: replace(`Location="https://sp.example.test/art"`, `Location="http://sp.example.test/art"`), want: errACSLocation},
		{name: "duplicate ACS index", mutate: replace(`index="1"`, `index="0"`), want: errDuplicateIndex},
		{name: "missing ACS index", mutate: replace(` index="1"`, ``), want: errACSIndex},
		{name: "ACS index out of range", mutate: replace(`index="1"`, `index="65536"`), want: errACSIndex},
		{name: "ACS index negative", mutate: replace(`index="1"`, `index="-1"`), want: errACSIndex},
		{name: "bad isDefault", mutate: replace(`index="0"`, `index="0" isDefault="yes"`), want: errBadBool},
		{name: "namespaced look-alike Location ignored", mutate: replace(`Location="https://sp.example.test/acs"`, `xmlns:x="urn:example:x" x:Location="javascript:alert(1)" Location="https://sp.example.test/acs"`)},
		{name: "namespaced Location only", mutate: replace(`Location="https://sp.example.test/acs"`, `xmlns:x="urn:example:x" x:Location="https://sp.example.test/acs"`), want: errACSLocation},
		{name: "certificate not base64", mutate: withCert("!!notbase64!!"), want: errCertificate},
		{name: "certificate garbage", mutate: withCert(base64.StdEncoding.EncodeToString([]byte("not a certificate"))), want: errCertificate},
		{name: "certificate with trailing garbage", mutate: withCert(base64.StdEncoding.EncodeToString(append(append([]byte(nil), loadCert(t, "sp-rsa2048.crt").Raw...), 1, 2, 3))), want: errCertificate},
		{name: "certificate RSA 1024", mutate: withCert(b64(loadCert(t, "rsa1024.crt"))), want: errCertificate},
		{name: "certificate ECDSA P-256", mutate: withCert(b64(loadCert(t, "ecdsa-p256.crt")))},
		{name: "certificate ECDSA P-224", mutate: withCert(b64(loadCert(t, "ecdsa-p224.crt"))), want: errCertificate},
		{name: "certificate Ed25519", mutate: withCert(b64(loadCert(t, "ed25519.crt"))), want: errCertificate},
		{name: "certificate over 8 KiB", mutate: withCert(b64(bigCert(t))), want: errCertificate},
		{name: "certificate with line breaks", mutate: withCert(strings.Join(chunks(good, 64), "\n\t  "))},
		{name: "KeyDescriptor without certificate", mutate: replace(`<ds:X509Certificate>`+good+`</ds:X509Certificate>`, `<ds:X509SubjectName>CN=x</ds:X509SubjectName>`), want: errKeyDescriptor},
		{name: "KeyDescriptor with bad use", mutate: replace(`use="signing"`, `use="both"`), want: errKeyDescriptor},
		{name: "no KeyDescriptor", mutate: func(s string) string {
			i, j := strings.Index(s, "<md:KeyDescriptor"), strings.Index(s, "</md:KeyDescriptor>")+len("</md:KeyDescriptor>")
			return s[:i] + s[j:]
		}},
		{name: "expired entity", mutate: replace(`validUntil="2100-01-01T00:00:00Z"`, `validUntil="2026-03-01T11:59:59Z"`), want: errExpired},
		{name: "expiring exactly now", mutate: replace(`validUntil="2100-01-01T00:00:00Z"`, `validUntil="2026-03-01T12:00:00Z"`), want: errExpired},
		{name: "validUntil without zone is UTC", mutate: replace(`validUntil="2100-01-01T00:00:00Z"`, `validUntil="2026-03-01T12:00:01"`)},
		{name: "validUntil with offset", mutate: replace(`validUntil="2100-01-01T00:00:00Z"`, `validUntil="2026-03-01T12:30:00+01:00"`), want: errExpired},
		{name: "expired role", mutate: replace(`AuthnRequestsSigned="false"`, `AuthnRequestsSigned="false" validUntil="2020-01-01T00:00:00Z"`), want: errExpired},
		{name: "bad validUntil", mutate: replace(`validUntil="2100-01-01T00:00:00Z"`, `validUntil="next year"`), want: errBadTime},
		{name: "empty entityID", mutate: replace(`entityID="https://sp.example.test/md"`, `entityID=""`), want: errEntityID},
		{name: "blank entityID", mutate: replace(`entityID="https://sp.example.test/md"`, `entityID="  "`), want: errEntityID},
		{name: "missing entityID", mutate: replace(`entityID="https://sp.example.test/md"`, ``), want: errEntityID},
		{name: "entityID of 1024 bytes", mutate: replace(`entityID="https://sp.example.test/md"`, `entityID="https://sp.example.test/`+strings.Repeat("a", 1024-len("https://sp.example.test/"))+`"`)},
		{name: "entityID of 1025 bytes", mutate: replace(`entityID="https://sp.example.test/md"`, `entityID="https://sp.example.test/`+strings.Repeat("a", 1025-len("https://sp.example.test/"))+`"`), want: errEntityID},
		{name: "AuthnRequestsSigned not a boolean", mutate: replace(`AuthnRequestsSigned="false"`, `AuthnRequestsSigned="True"`), want: errBadBool},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sps, problems, err := Parse([]byte(tc.mutate(base)), testNow())
			if err != nil {
				t.Fatalf("Parse() fatal error = %v", err)
			}
			if tc.want == nil {
				if len(problems) != 0 || len(sps) != 1 {
					t.Fatalf("Parse() = %d SPs, problems %v; want the entity accepted", len(sps), problems)
				}
				return
			}
			if len(sps) != 0 {
				t.Errorf("Parse() returned %d SPs, want the entity skipped", len(sps))
			}
			if len(problems) != 1 || !errors.Is(problems[0], tc.want) || !errors.Is(problems[0], ErrInvalidEntity) {
				t.Fatalf("problems = %v, want one matching %v", problems, tc.want)
			}
		})
	}
}

func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func TestParseFatal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		raw  string
		want error
	}{
		{name: "DOCTYPE", raw: string(readTestdata(t, "doctype.xml")), want: xmlgate.ErrRejected},
		{name: "not XML", raw: "hello", want: nil},
		{name: "empty", raw: "", want: nil},
		{name: "AuthnRequest", raw: `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a"/>`, want: ErrNotMetadata},
		{name: "EntityDescriptor without namespace", raw: `<EntityDescriptor entityID="x"/>`, want: ErrNotMetadata},
		{name: "EntityDescriptor in a look-alike namespace", raw: `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadatax" entityID="x"/>`, want: ErrNotMetadata},
		{name: "bad aggregate validUntil", raw: `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" validUntil="soon"/>`, want: errBadTime},
		{name: "too large", raw: "<a>" + strings.Repeat("x", 5<<20) + "</a>", want: xmlgate.ErrRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sps, problems, err := Parse([]byte(tc.raw), testNow())
			if err == nil {
				t.Fatalf("Parse() = %d SPs, %d problems, nil error; want a fatal error", len(sps), len(problems))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Parse() error = %v, want %v", err, tc.want)
			}
			if sps != nil || problems != nil {
				t.Errorf("Parse() returned entities with a fatal error")
			}
		})
	}
}

func TestParseEmptyAggregate(t *testing.T) {
	t.Parallel()
	sps, problems, err := Parse([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><Extensions/></EntitiesDescriptor>`), testNow())
	if err != nil || len(sps) != 0 || len(problems) != 0 {
		t.Errorf("Parse() = %d SPs, %v, %v; want nothing and no error", len(sps), problems, err)
	}
}

func TestDefaultACS(t *testing.T) {
	t.Parallel()
	const post = `Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"`
	for _, tc := range []struct {
		name      string
		acs       string
		wantIndex int
	}{
		{name: "no isDefault: the first", acs: `<md:AssertionConsumerService ` + post + ` Location="https://a.test/1" index="5"/><md:AssertionConsumerService ` + post + ` Location="https://a.test/2" index="3"/>`, wantIndex: 5},
		{name: "isDefault true wins", acs: `<md:AssertionConsumerService ` + post + ` Location="https://a.test/1" index="5"/><md:AssertionConsumerService ` + post + ` Location="https://a.test/2" index="3" isDefault="1"/>`, wantIndex: 3},
		{name: "first without isDefault false", acs: `<md:AssertionConsumerService ` + post + ` Location="https://a.test/1" index="5" isDefault="false"/><md:AssertionConsumerService ` + post + ` Location="https://a.test/2" index="3"/>`, wantIndex: 3},
		{name: "all false: the first", acs: `<md:AssertionConsumerService ` + post + ` Location="https://a.test/1" index="5" isDefault="false"/><md:AssertionConsumerService ` + post + ` Location="https://a.test/2" index="3" isDefault="0"/>`, wantIndex: 5},
		{name: "default on another binding is not used", acs: `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://a.test/0" index="0" isDefault="true"/><md:AssertionConsumerService ` + post + ` Location="https://a.test/1" index="5"/>`, wantIndex: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://a.test/"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + tc.acs + `</md:SPSSODescriptor></md:EntityDescriptor>`
			sps, problems, err := Parse([]byte(doc), testNow())
			if err != nil || len(problems) != 0 || len(sps) != 1 {
				t.Fatalf("Parse() = %d SPs, %v, %v", len(sps), problems, err)
			}
			got, ok := sps[0].DefaultACS()
			if !ok || got.Index != tc.wantIndex {
				t.Errorf("DefaultACS() = %+v, %v; want index %d", got, ok, tc.wantIndex)
			}
		})
	}
}

func TestDefaultACSHandBuilt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		sp     SP
		want   Endpoint
		wantOK bool
	}{
		{name: "none", sp: SP{}},
		{name: "first", sp: SP{ACS: []Endpoint{{Location: "https://a/1", Index: 1}, {Location: "https://a/2", Index: 2}}}, want: Endpoint{Location: "https://a/1", Index: 1}, wantOK: true},
		{name: "isDefault", sp: SP{ACS: []Endpoint{{Location: "https://a/1", Index: 1}, {Location: "https://a/2", Index: 2, IsDefault: true}}}, want: Endpoint{Location: "https://a/2", Index: 2, IsDefault: true}, wantOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := tc.sp.DefaultACS()
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("DefaultACS() = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestACSByURLAndIndex(t *testing.T) {
	t.Parallel()
	sps, _, err := Parse(readTestdata(t, "sp-full.xml"), testNow())
	if err != nil || len(sps) != 1 {
		t.Fatalf("Parse() = %d SPs, %v", len(sps), err)
	}
	sp := sps[0]
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://sp.example.test/saml/acs", true},
		{"https://sp.example.test/saml/acs2", true},
		{"https://sp.example.test/saml/acs/", false},
		{"https://sp.example.test/saml/ac", false},
		{"https://sp.example.test/saml/acs?next=/evil", false},
		{"https://sp.example.test/saml/acs/../logout", false},
		{"HTTPS://sp.example.test/saml/acs", false},
		{"https://SP.example.test/saml/acs", false},
		{"https://sp.example.test:443/saml/acs", false},
		{"https://sp.example.test/saml/artifact", false}, // not HTTP-POST
		{"", false},
	} {
		got, ok := sp.ACSByURL(tc.url)
		if ok != tc.want || (ok && got.Location != tc.url) {
			t.Errorf("ACSByURL(%q) = %+v, %v; want found=%v", tc.url, got, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		index int
		want  string
	}{
		{0, "https://sp.example.test/saml/acs"},
		{1, ""}, // HTTP-Artifact
		{2, "https://sp.example.test/saml/acs2"},
		{3, ""},
		{-1, ""},
	} {
		got, ok := sp.ACSByIndex(tc.index)
		if ok != (tc.want != "") || got.Location != tc.want {
			t.Errorf("ACSByIndex(%d) = %+v, %v; want %q", tc.index, got, ok, tc.want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	t.Parallel()
	all := &SP{EntityID: "https://sp.test/", DisplayNames: map[string]string{"es": "Servicio", "eu": "Zerbitzua", "en": "Service"}}
	noEn := &SP{EntityID: "https://sp.test/", DisplayNames: map[string]string{"fr": "Le service", "de": "Der Dienst"}}
	none := &SP{EntityID: "https://sp.test/"}
	for _, tc := range []struct {
		sp   *SP
		lang string
		want string
	}{
		{all, "eu", "Zerbitzua"},
		{all, "ES", "Servicio"},
		{all, "es-ES", "Servicio"},
		{all, "fr", "Service"},
		{all, "", "Service"},
		{noEn, "es", "Der Dienst"}, // any: alphabetically first language, so stable
		{noEn, "fr", "Le service"},
		{none, "es", "https://sp.test/"},
	} {
		if got := tc.sp.DisplayName(tc.lang); got != tc.want {
			t.Errorf("DisplayName(%q) = %q, want %q", tc.lang, got, tc.want)
		}
	}
}

func TestDisplayNamesFromEntityExtensions(t *testing.T) {
	t.Parallel()
	doc := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" entityID="https://a.test/">
<Extensions><mdui:UIInfo><mdui:DisplayName xml:lang="EU">  Zerbitzua </mdui:DisplayName><mdui:DisplayName xml:lang="eu">second</mdui:DisplayName><mdui:DisplayName xml:lang="es"></mdui:DisplayName></mdui:UIInfo></Extensions>
<SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://a.test/acs" index="0"/></SPSSODescriptor>
</EntityDescriptor>`
	sps, problems, err := Parse([]byte(doc), testNow())
	if err != nil || len(problems) != 0 || len(sps) != 1 {
		t.Fatalf("Parse() = %d SPs, %v, %v", len(sps), problems, err)
	}
	if diff := cmp.Diff(map[string]string{"eu": "Zerbitzua"}, sps[0].DisplayNames); diff != "" {
		t.Errorf("DisplayNames mismatch (-want +got):\n%s", diff)
	}
}
