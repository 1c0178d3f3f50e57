package metadata

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/ateaidp/atea/metadata/xmlsig"
)

var signKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var out []*rsa.PrivateKey
	for range 2 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		out = append(out, k)
	}
	return out
})

// testSigner is a minimal RSA-SHA256 EnvelopedSigner written independently of idp/samlxml
// (metadata must not import idp): SignedInfo is written in its canonical form by hand.
type testSigner struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

func newTestSigner(t testing.TB, k *rsa.PrivateKey) testSigner {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "atea-md-test"},
		NotBefore: testNow().Add(-time.Hour), NotAfter: testNow().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{key: k, cert: c}
}

func (s testSigner) SignCanonical(id string, canon []byte) ([]byte, error) {
	const ds = `http://www.w3.org/2000/09/xmldsig#`
	d := sha256.Sum256(canon)
	body := `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>` +
		`<ds:SignatureMethod Algorithm="` + xmlsig.AlgRSASHA256 + `"></ds:SignatureMethod>` +
		`<ds:Reference URI="#` + id + `"><ds:Transforms>` +
		`<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>` +
		`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform></ds:Transforms>` +
		`<ds:DigestMethod Algorithm="` + xmlsig.DigestSHA256 + `"></ds:DigestMethod>` +
		`<ds:DigestValue>` + base64.StdEncoding.EncodeToString(d[:]) + `</ds:DigestValue></ds:Reference>`
	h := sha256.Sum256([]byte(`<ds:SignedInfo xmlns:ds="` + ds + `">` + body + `</ds:SignedInfo>`))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, h[:])
	if err != nil {
		return nil, err
	}
	return []byte(`<ds:Signature xmlns:ds="` + ds + `"><ds:SignedInfo>` + body + `</ds:SignedInfo>` +
		`<ds:SignatureValue>` + base64.StdEncoding.EncodeToString(sig) + `</ds:SignatureValue>` +
		`<ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64(s.cert) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`), nil
}

func signedInfo(t testing.TB) IdPInfo {
	t.Helper()
	i := idpInfo(t)
	i.ID = "_feedc0de"
	i.ValidUntil = testNow().Add(7 * 24 * time.Hour)
	i.CacheDuration = time.Hour
	i.SLOURL = "https://atea.example.test/saml/slo"
	i.EncryptionCerts = []*x509.Certificate{loadCert(t, "sp2-rsa2048.crt")}
	i.EIDAS = &EIDASInfo{NodeCountry: "ES", Levels: []string{"http://eidas.europa.eu/LoA/low"},
		SigningMethods: []string{xmlsig.AlgRSASHA256}, DigestMethods: []string{xmlsig.DigestSHA256}}
	return i
}

func TestBuildSignedIdPMetadataVerifies(t *testing.T) {
	t.Parallel()
	s := newTestSigner(t, signKeys()[0])
	info := signedInfo(t)
	raw, err := BuildSignedIdPMetadata(info, s)
	if err != nil {
		t.Fatalf("BuildSignedIdPMetadata() error = %v", err)
	}
	unsigned, err := BuildIdPMetadata(info)
	if err != nil {
		t.Fatal(err)
	}
	// The signature is the root's first child and nothing else changed.
	start := bytes.Index(raw, []byte("<ds:Signature"))
	end := bytes.Index(raw, []byte("</ds:Signature>")) + len("</ds:Signature>")
	if start < 0 || !bytes.Equal(append(append([]byte(nil), raw[:start]...), raw[end:]...), unsigned) {
		t.Fatal("signed document is not the unsigned one with a signature inserted")
	}
	if !bytes.HasSuffix(bytes.TrimSpace(raw[:start]), []byte(`validUntil="2026-03-08T12:00:00Z">`)) {
		t.Errorf("signature is not right after the root start tag: %q", raw[start-60:start])
	}

	if _, err := xmlsig.VerifyEnveloped(raw, []*x509.Certificate{s.cert}, testNow); err != nil {
		t.Fatalf("xmlsig.VerifyEnveloped() = %v", err)
	}
	other := newTestSigner(t, signKeys()[1])
	if _, err := xmlsig.VerifyEnveloped(raw, []*x509.Certificate{other.cert}, testNow); err == nil {
		t.Error("VerifyEnveloped() with another key = nil, want an error")
	}
	tampered := bytes.Replace(raw, []byte("https://atea.example.test/saml/sso"), []byte("https://evil.example.test/saml/sso"), 1)
	if _, err := xmlsig.VerifyEnveloped(tampered, []*x509.Certificate{s.cert}, testNow); err == nil {
		t.Error("VerifyEnveloped(tampered) = nil, want an error")
	}

	// crewjam still loads it, sees the signature, the freshness and both SLO bindings.
	ed, err := samlsp.ParseMetadata(raw)
	if err != nil {
		t.Fatalf("samlsp.ParseMetadata() = %v", err)
	}
	if ed.Signature == nil || ed.ID != info.ID {
		t.Errorf("crewjam: Signature = %v, ID = %q; want a signature and %q", ed.Signature != nil, ed.ID, info.ID)
	}
	if !ed.ValidUntil.Equal(info.ValidUntil) || ed.CacheDuration != info.CacheDuration {
		t.Errorf("crewjam: validUntil %v cacheDuration %v; want %v %v", ed.ValidUntil, ed.CacheDuration, info.ValidUntil, info.CacheDuration)
	}
	md, _ := url.Parse("https://sp.test/md")
	sp := &saml.ServiceProvider{EntityID: md.String(), MetadataURL: *md, IDPMetadata: ed}
	for _, b := range []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding} {
		if got := sp.GetSLOBindingLocation(b); got != info.SLOURL {
			t.Errorf("GetSLOBindingLocation(%s) = %q, want %q", b, got, info.SLOURL)
		}
		if got := sp.GetSSOBindingLocation(b); got != info.SSOURL {
			t.Errorf("GetSSOBindingLocation(%s) = %q, want %q", b, got, info.SSOURL)
		}
	}
	uses := map[string]int{}
	for _, kd := range ed.IDPSSODescriptors[0].KeyDescriptors {
		uses[kd.Use]++
	}
	if uses["signing"] != 2 || uses["encryption"] != 1 {
		t.Errorf("KeyDescriptor uses = %v, want 2 signing and 1 encryption", uses)
	}
}

func TestBuildSignedIdPMetadataECDSACertsAndDisplayNames(t *testing.T) {
	t.Parallel()
	// Escaped text (the organization name has & " <) and three languages must survive
	// canonicalisation: a verifier recomputes the digest from its own parse.
	s := newTestSigner(t, signKeys()[0])
	info := signedInfo(t)
	info.OrganizationName = `Atea & "Ate" <eus> 'x'`
	raw, err := BuildSignedIdPMetadata(info, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xmlsig.VerifyEnveloped(raw, []*x509.Certificate{s.cert}, testNow); err != nil {
		t.Fatalf("xmlsig.VerifyEnveloped() = %v", err)
	}
}

func TestBuildSignedIdPMetadataNeedsID(t *testing.T) {
	t.Parallel()
	info := signedInfo(t)
	info.ID = ""
	if _, err := BuildSignedIdPMetadata(info, newTestSigner(t, signKeys()[0])); !errors.Is(err, ErrInvalidIdPInfo) {
		t.Errorf("BuildSignedIdPMetadata(no ID) = %v, want ErrInvalidIdPInfo", err)
	}
	info.ID = "1abc"
	if _, err := BuildSignedIdPMetadata(info, newTestSigner(t, signKeys()[0])); !errors.Is(err, ErrInvalidIdPInfo) {
		t.Errorf("BuildSignedIdPMetadata(ID not an NCName) = %v, want ErrInvalidIdPInfo", err)
	}
	info = signedInfo(t)
	info.EIDAS.NodeCountry = "es"
	if _, err := BuildIdPMetadata(info); !errors.Is(err, ErrInvalidIdPInfo) {
		t.Errorf("BuildIdPMetadata(node country es) = %v, want ErrInvalidIdPInfo", err)
	}
}

func TestXSDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "PT1H"}, {90 * time.Minute, "PT1H30M"}, {45 * time.Second, "PT45S"},
		{7 * 24 * time.Hour, "PT168H"}, {0, "PT0S"}, {time.Hour + 500*time.Millisecond, "PT1H1S"},
	} {
		if got := XSDuration(tc.d); got != tc.want {
			t.Errorf("XSDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
		// crewjam reads it back (its Duration type is what SPs built on it use).
		var d saml.Duration
		if err := d.UnmarshalText([]byte(XSDuration(tc.d))); err != nil || time.Duration(d) != tc.d.Round(time.Second) {
			t.Errorf("crewjam reads %q as %v, %v; want %v", XSDuration(tc.d), time.Duration(d), err, tc.d.Round(time.Second))
		}
	}
}

func TestBuildIdPMetadataEIDASShape(t *testing.T) {
	t.Parallel()
	raw, err := BuildIdPMetadata(signedInfo(t))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{
		`<eidas:NodeCountry>ES</eidas:NodeCountry>`,
		`Name="` + AssuranceCertification + `"`,
		`<saml:AttributeValue>http://eidas.europa.eu/LoA/low</saml:AttributeValue>`,
		`<alg:SigningMethod Algorithm="` + xmlsig.AlgRSASHA256 + `"/>`,
		`<alg:DigestMethod Algorithm="` + xmlsig.DigestSHA256 + `"/>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("eIDAS metadata lacks %s", want)
		}
	}
	info := signedInfo(t)
	info.EIDAS = nil
	raw, _ = BuildIdPMetadata(info)
	if strings.Contains(string(raw), "eidas") {
		t.Error("eIDAS extensions published while disabled")
	}
}
