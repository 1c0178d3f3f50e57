package idp_test

import (
	"crypto/x509"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// ringIdP starts a test IdP whose keys come from the key ring in dir, as `atea serve` wires
// them (a restart after each ring change).
func ringIdP(t *testing.T, o keys.RingOptions) (*testIdP, *keys.Ring) {
	t.Helper()
	ring, err := keys.OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) {
		signer, err := samlxml.NewSigner(ring.Current.Signer, ring.Current.Cert, samlxml.AlgRSASHA256)
		if err != nil {
			t.Fatal(err)
		}
		d.Signer, d.Cert = signer, ring.Current.Cert
		d.SigningCerts = []*x509.Certificate{ring.Current.Cert}
		if ring.Next != nil {
			d.SigningCerts = append(d.SigningCerts, ring.Next.Cert)
		}
		if ring.Previous != nil {
			d.PreviousCert, d.PreviousRetireAfter = ring.Previous.Cert, ring.Previous.RetireAfter
		}
		d.EncryptionKeys, d.EncryptionCerts = ring.EncryptionKeys(), ring.EncryptionCerts()
	})
	return ti, ring
}

// fetchIdPMetadata GETs /saml/metadata, checks its signature against trusted (the key the SP
// already trusts, as a metadata consumer pins it) and parses it the way samlsp does.
func fetchIdPMetadata(t *testing.T, ti *testIdP, trusted *x509.Certificate) *saml.EntityDescriptor {
	t.Helper()
	resp, err := http.Get(ti.url + "/saml/metadata") //nolint:noctx // loopback test
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /saml/metadata = %d", resp.StatusCode)
	}
	if _, err := xmlsig.VerifyEnveloped(raw, []*x509.Certificate{trusted}, time.Now); err != nil {
		t.Fatalf("metadata signature does not verify with the trusted key: %v", err)
	}
	ed, err := samlsp.ParseMetadata(raw)
	if err != nil {
		t.Fatalf("samlsp.ParseMetadata() = %v", err)
	}
	if !ed.ValidUntil.After(time.Now()) {
		t.Errorf("validUntil %v is not in the future", ed.ValidUntil)
	}
	return ed
}

// rolloverSignIn runs one SSO for sp through a fresh browser and returns the Response and request ID.
func rolloverSignIn(t *testing.T, ti *testIdP, sp *testSP) (*samlResult, string) {
	t.Helper()
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect"})
	r := b.login(p, citizenDNI, citizenPassword).samlResponse(t)
	if r == nil {
		t.Fatal("no SAMLResponse")
	}
	return r, id
}

// TestKeyRolloverEndToEnd: the key ring's generate → rollover cycle seen by crewjam SPs.
// Before the rollover, an SP that loaded Atea's metadata (current + next) accepts assertions
// signed by the current key. After it (and a restart), Atea signs with the former next key:
// an SP that loaded metadata before the rollover still accepts, as does one configured with
// only the new key, while one configured with only the old key refuses.
func TestKeyRolloverEndToEnd(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	o := keys.RingOptions{Dir: dir, LegacyKeyFile: filepath.Join(dir, "signing.key"), LegacyCertFile: filepath.Join(dir, "signing.crt"),
		Algorithm: keys.RSA2048, CommonName: "atea rollover test"}
	if _, err := keys.OpenRing(o); err != nil {
		t.Fatal(err)
	}
	ring, err := keys.GenerateNext(o, false)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, nextKey := ring.Current.Cert, ring.Next.Cert

	// Before the rollover.
	ti, _ := ringIdP(t, o)
	before := fetchIdPMetadata(t, ti, oldKey)
	if got := idptest.SigningCerts(t, before); len(got) != 2 || !got[0].Equal(oldKey) || !got[1].Equal(nextKey) {
		t.Fatalf("metadata before rollover publishes %d signing keys, want current then next", len(got))
	}
	sp := ti.newSP("sp-rollover", false, nil)
	sp.sp.IDPMetadata = before
	r, id := rolloverSignIn(t, ti, sp)
	sp.accept(t, r, id)
	onlyNext := *sp.sp
	onlyNext.IDPMetadata = idptest.TrustingOnly(before, nextKey)
	if _, err := onlyNext.ParseXMLResponse(r.xml, []string{id}, onlyNext.AcsURL); err == nil {
		t.Error("before the rollover, an SP trusting only the next key accepted a response: the next key must not sign yet")
	}

	// Roll over and restart.
	if _, err := keys.Rollover(o, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	ti2, ring2 := ringIdP(t, o)
	if !ring2.Current.Cert.Equal(nextKey) {
		t.Fatal("after rollover the current key is not the former next key")
	}
	// The metadata is now signed by the new key, which SPs already trusted, and still lists
	// the old key (grace period).
	after := fetchIdPMetadata(t, ti2, nextKey)
	if got := idptest.SigningCerts(t, after); len(got) != 2 || !got[0].Equal(nextKey) || !got[1].Equal(oldKey) {
		t.Fatalf("metadata after rollover publishes %d signing keys, want current (former next) then previous", len(got))
	}
	sp2 := ti2.newSP("sp-rollover", false, nil)
	r2, id2 := rolloverSignIn(t, ti2, sp2)

	// The SP that loaded the pre-rollover metadata (old + next keys; same endpoints).
	loadedBefore := *sp2.sp
	loadedBefore.IDPMetadata = idptest.TrustingOnly(after, oldKey, nextKey)
	if _, err := loadedBefore.ParseXMLResponse(r2.xml, []string{id2}, loadedBefore.AcsURL); err != nil {
		t.Errorf("SP with the pre-rollover keys refused the response: %v", err)
	}
	sp2.sp.IDPMetadata = idptest.TrustingOnly(after, nextKey)
	sp2.accept(t, r2, id2)
	onlyOld := *sp2.sp
	onlyOld.IDPMetadata = idptest.TrustingOnly(after, oldKey)
	if _, err := onlyOld.ParseXMLResponse(r2.xml, []string{id2}, onlyOld.AcsURL); err == nil {
		t.Error("after the rollover, an SP trusting only the old key accepted the response")
	}
	if slices.ContainsFunc(idptest.SigningCerts(t, after), func(c *x509.Certificate) bool { return c.Equal(ring2.Encryption.Cert) }) {
		t.Error("the encryption key is published for signing")
	}
}
