package idp_test

import (
	"crypto"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlsp"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

func getMetadata(t *testing.T, ti *testIdP) []byte {
	t.Helper()
	resp, err := http.Get(ti.url + "/saml/metadata") //nolint:noctx // loopback test
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("GET /saml/metadata = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return raw
}

// TestMetadataServedSignedAndFresh: /saml/metadata is signed by the current key, verifiable
// by xmlsig and loadable by crewjam; its validUntil follows the injected clock (re-signed
// when half the validity has passed), and the previous key disappears at its retirement
// without a restart.
func TestMetadataServedSignedAndFresh(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Now()}
	prevKey := testKeys()[3]
	prevCert := selfSigned(t, prevKey, "atea-previous")
	var cert *x509.Certificate
	ti := newTestIdPWithDeps(t, func(c *idp.Config) {
		c.Now = clock.Now
		c.Metadata = idp.MetadataConfig{Validity: 48 * time.Hour, CacheDuration: 2 * time.Hour, ContactEmail: "ops@atea.test",
			DisplayNames: map[string]string{"es": "Atea ES", "eu": "Atea EU", "en": "Atea EN"}, EIDASNodeCountry: "ES"}
	}, func(d *idp.Deps) {
		cert = d.Cert
		d.PreviousCert, d.PreviousRetireAfter = prevCert, clock.Now().Add(30*time.Hour)
		d.EncryptionKeys = []crypto.Decrypter{testKeys()[2]}
		d.EncryptionCerts = []*x509.Certificate{selfSigned(t, testKeys()[2], "atea-encryption")}
	})

	raw := getMetadata(t, ti)
	if _, err := xmlsig.VerifyEnveloped(raw, []*x509.Certificate{cert}, clock.Now); err != nil {
		t.Fatalf("served metadata does not verify with the signing key: %v", err)
	}
	if _, err := xmlsig.VerifyEnveloped(raw, []*x509.Certificate{prevCert}, clock.Now); err == nil {
		t.Error("served metadata verifies with the previous key")
	}
	ed, err := samlsp.ParseMetadata(raw)
	if err != nil {
		t.Fatalf("samlsp.ParseMetadata() = %v", err)
	}
	want := clock.Now().Add(48 * time.Hour)
	if d := ed.ValidUntil.Sub(want); d > time.Second || d < -time.Second {
		t.Errorf("validUntil = %v, want about %v", ed.ValidUntil, want)
	}
	if ed.CacheDuration != 2*time.Hour {
		t.Errorf("cacheDuration = %v, want 2h", ed.CacheDuration)
	}
	s := string(raw)
	for _, part := range []string{
		`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + ti.url + `/saml/slo"/>`,
		`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + ti.url + `/saml/slo"/>`,
		`<mdui:DisplayName xml:lang="eu">Atea EU</mdui:DisplayName>`,
		`<md:EmailAddress>mailto:ops@atea.test</md:EmailAddress>`,
		`<eidas:NodeCountry>ES</eidas:NodeCountry>`,
		`<saml:AttributeValue>http://eidas.europa.eu/LoA/low</saml:AttributeValue>`,
		`<alg:SigningMethod Algorithm="` + xmlsig.AlgRSASHA256 + `"/>`,
		// The encryption key names what Atea decrypts, AES-GCM and RSA-OAEP only.
		`<md:KeyDescriptor use="encryption">`,
		`<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>`,
		`<md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>`,
	} {
		if !strings.Contains(s, part) {
			t.Errorf("served metadata lacks %s", part)
		}
		if strings.Contains(s, "-cbc") || strings.Contains(s, "rsa-1_5") {
			t.Error("served metadata offers CBC or PKCS#1 v1.5 encryption")
		}
	}
	if strings.Contains(s, "LoA/substantial") {
		t.Error("level substantial published without a second factor")
	}
	if n := len(ed.IDPSSODescriptors[0].KeyDescriptors); n != 3 {
		t.Errorf("%d KeyDescriptors, want current and previous signing, and encryption", n)
	}

	// Within half the validity the same document is served.
	clock.Advance(23 * time.Hour)
	if again := getMetadata(t, ti); string(again) != string(raw) {
		t.Error("metadata re-signed before half its validity passed")
	}
	// Past it, a fresh document whose validUntil moved on.
	clock.Advance(2 * time.Hour)
	fresh := getMetadata(t, ti)
	ed2, err := samlsp.ParseMetadata(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if ed2.ID == ed.ID || !ed2.ValidUntil.After(ed.ValidUntil) {
		t.Errorf("not re-signed: ID %q → %q, validUntil %v → %v", ed.ID, ed2.ID, ed.ValidUntil, ed2.ValidUntil)
	}
	if _, err := xmlsig.VerifyEnveloped(fresh, []*x509.Certificate{cert}, clock.Now); err != nil {
		t.Errorf("re-signed metadata does not verify: %v", err)
	}
	// The previous key retires at 30h: withdrawn then, although the document is younger than
	// half its validity.
	clock.Advance(5*time.Hour + time.Second)
	retired, err := samlsp.ParseMetadata(getMetadata(t, ti))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(retired.IDPSSODescriptors[0].KeyDescriptors); n != 2 {
		t.Errorf("%d KeyDescriptors after the previous key retired, want the current signing key and the encryption key", n)
	}
	// Server.Metadata is the served document.
	if !strings.Contains(string(ti.srv.Metadata()), retired.ID) {
		t.Error("Server.Metadata() is not the served document")
	}
}

// TestMetadataRefusesUnpublishedSigner: the signing certificate must be among the published
// ones, or SPs could not verify anything Atea signs.
func TestMetadataRefusesUnpublishedSigner(t *testing.T) {
	t.Parallel()
	var cfg idp.Config
	var deps idp.Deps
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) { deps = *d })
	cfg = ti.cfg
	deps.SigningCerts = []*x509.Certificate{selfSigned(t, testKeys()[3], "someone else")}
	if _, err := idp.New(cfg, deps); err == nil || !strings.Contains(err.Error(), "not among the published") {
		t.Errorf("idp.New with the signing certificate unpublished = %v, want an error", err)
	}
	deps.SigningCerts = []*x509.Certificate{selfSigned(t, testKeys()[3], "next"), deps.Cert}
	if _, err := idp.New(cfg, deps); err != nil {
		t.Errorf("idp.New with current among the published = %v", err)
	}
}
