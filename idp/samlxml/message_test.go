package samlxml

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"
)

type keyPair struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func newKeyPair(t testing.TB, ec bool) keyPair {
	t.Helper()
	var k crypto.Signer
	var err error
	if ec {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return keyPair{k, c}
}

const (
	idpEntity = "https://idp.test/saml/metadata"
	spEntity  = "https://sp.test/saml/metadata"
	acsURL    = "https://sp.test/saml/acs"
)

func sample(now time.Time, reqID string) (Response, *Assertion) {
	r := Response{ID: NewID(), IssueInstant: now, Issuer: idpEntity, Destination: acsURL, InResponseTo: reqID}
	a := &Assertion{
		ID: NewID(), IssueInstant: now, Issuer: idpEntity,
		NameID: "x<y&z\"", NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", SPNameQualifier: spEntity,
		Recipient: acsURL, InResponseTo: reqID,
		NotBefore: now.Add(-time.Minute), NotOnOrAfter: now.Add(5 * time.Minute), Audience: spEntity,
		AuthnInstant: now, SessionIndex: NewID(), ClassRef: "http://eidas.europa.eu/LoA/low",
		Attributes: []Attribute{
			{Name: "http://eidas.europa.eu/attributes/naturalperson/CurrentGivenName", FriendlyName: "FirstName", Values: []string{"Ane\r\n<Miren> & co"}},
			{Name: "urn:oid:0.9.2342.19200300.100.1.3", FriendlyName: "mail", Values: []string{"a@b.test", "c@d.test"}},
		},
	}
	return r, a
}

// canonical re-canonicalises el with goxmldsig's exclusive C14N, the reference for our writer.
func canonical(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	c := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	b, err := c.Canonicalize(el)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verify(t *testing.T, el *etree.Element, cert *x509.Certificate) error {
	t.Helper()
	if pk, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
		return verifyECDSA(t, el, pk)
	}
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	_, err := ctx.Validate(el)
	return err
}

func TestResponseIsItsOwnCanonicalFormAndVerifies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ec   bool
		alg  string
	}{{"rsa-sha256", false, AlgRSASHA256}, {"rsa-sha512", false, AlgRSASHA512}, {"ecdsa-sha256", true, AlgECDSASHA256}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kp := newKeyPair(t, tc.ec)
			s, err := NewSigner(kp.key, kp.cert, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			r, a := sample(time.Now(), "id-1")
			out, err := s.BuildResponse(r, a, Options{SignResponse: true, SignAssertion: true})
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(out); err != nil {
				t.Fatalf("output is not XML: %v", err)
			}
			if got := canonical(t, doc.Root()); !bytes.Equal(got, out) {
				t.Fatalf("output differs from its exclusive C14N form:\n got %s\nwant %s", out, got)
			}
			asr := doc.Root().FindElement("./Assertion")
			if err := verify(t, doc.Root().Copy(), kp.cert); err != nil {
				t.Errorf("Response signature: %v", err)
			}
			if err := verify(t, asr.Copy(), kp.cert); err != nil {
				t.Errorf("Assertion signature: %v", err)
			}
			if got := doc.Root().ChildElements()[1].Tag; got != "Signature" {
				t.Errorf("Response child 2 = %s, want Signature right after Issuer", got)
			}
			// A tampered value must not verify.
			bad := bytes.Replace(out, []byte("a@b.test"), []byte("e@b.test"), 1)
			d2 := etree.NewDocument()
			_ = d2.ReadFromBytes(bad)
			if err := verify(t, d2.Root().FindElement("./Assertion"), kp.cert); err == nil {
				t.Error("tampered assertion verified")
			}
		})
	}
}

func TestSignerRejectsSHA1AndMismatchedKeys(t *testing.T) {
	t.Parallel()
	rk, ek := newKeyPair(t, false), newKeyPair(t, true)
	for _, tc := range []struct {
		kp  keyPair
		alg string
	}{
		{rk, "http://www.w3.org/2000/09/xmldsig#rsa-sha1"},
		{rk, AlgECDSASHA256},
		{ek, AlgRSASHA256},
	} {
		if _, err := NewSigner(tc.kp.key, tc.kp.cert, tc.alg); !errors.Is(err, ErrAlgorithm) {
			t.Errorf("NewSigner(%T, %s) = %v, want ErrAlgorithm", tc.kp.key, tc.alg, err)
		}
	}
	if _, err := AlgorithmByName("rsa-sha1"); !errors.Is(err, ErrAlgorithm) {
		t.Error("rsa-sha1 accepted by name")
	}
}

func TestErrorResponseAlwaysSigned(t *testing.T) {
	t.Parallel()
	kp := newKeyPair(t, false)
	s, _ := NewSigner(kp.key, kp.cert, AlgRSASHA256)
	r := Response{ID: NewID(), IssueInstant: time.Now(), Issuer: idpEntity, Destination: acsURL, InResponseTo: "id-9",
		StatusCode: StatusResponder, SubStatusCode: StatusNoAuthnContext, StatusMessage: "level"}
	out, err := s.BuildResponse(r, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	_ = doc.ReadFromBytes(out)
	if err := verify(t, doc.Root(), kp.cert); err != nil {
		t.Fatalf("error Response not signed/verifiable: %v", err)
	}
	if !bytes.Contains(out, []byte(StatusNoAuthnContext)) || bytes.Contains(out, []byte("Assertion")) {
		t.Errorf("unexpected error response: %s", out)
	}
	if _, err := s.BuildResponse(r, &Assertion{ID: "_x"}, Options{}); !errors.Is(err, ErrNothingSigned) {
		t.Errorf("unsigned success = %v, want ErrNothingSigned", err)
	}
}

// aes256GCM lets crewjam's SP decrypt AES-256-GCM: crewjam registers only AES-128-GCM.
type aes256GCM struct{}

func (aes256GCM) KeySize() int      { return 32 }
func (aes256GCM) Algorithm() string { return EncAES256GCM }
func (aes256GCM) Encrypt(key interface{}, plaintext []byte, nonce []byte) (*etree.Element, error) {
	return nil, errors.New("not used")
}
func (aes256GCM) Decrypt(key interface{}, el *etree.Element) ([]byte, error) {
	cv := el.FindElement("./CipherData/CipherValue")
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cv.Text()))
	if err != nil {
		return nil, err
	}
	if pk, ok := key.(*rsa.PrivateKey); ok { // as crewjam's own GCM does: unwrap the key first
		ek := el.FindElement("./KeyInfo/EncryptedKey")
		if ek == nil {
			return nil, errors.New("no EncryptedKey")
		}
		if key, err = xmlenc.Decrypt(pk, ek); err != nil {
			return nil, err
		}
	}
	b, err := aes.NewCipher(key.([]byte))
	if err != nil {
		return nil, err
	}
	g, _ := cipher.NewGCM(b)
	return g.Open(nil, ct[:12], ct[12:], nil)
}

// TestCrewjamServiceProviderAccepts runs the messages through crewjam's SP, a real relying
// party: signatures, audience, recipient, InResponseTo, times, and decryption.
func TestCrewjamServiceProviderAccepts(t *testing.T) {
	xmlenc.RegisterDecrypter(aes256GCM{})
	idp, sp := newKeyPair(t, false), newKeyPair(t, false)
	s, _ := NewSigner(idp.key, idp.cert, AlgRSASHA256)
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"both", Options{SignResponse: true, SignAssertion: true}},
		{"response-only", Options{SignResponse: true}},
		{"assertion-only", Options{SignAssertion: true}},
		{"encrypted-gcm256", Options{SignResponse: true, SignAssertion: true, Encrypt: &Encryption{Cert: sp.cert}}},
		{"encrypted-gcm128", Options{SignAssertion: true, Encrypt: &Encryption{Cert: sp.cert, Algorithm: EncAES128GCM}}},
		{"encrypted-cbc-legacy", Options{SignResponse: true, SignAssertion: true, Encrypt: &Encryption{Cert: sp.cert, Algorithm: EncAES256CBC}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, a := sample(time.Now(), "id-42")
			out, err := s.BuildResponse(r, a, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			csp := crewjamSP(t, sp, idp.cert)
			got, err := csp.ParseXMLResponse(out, []string{"id-42"}, csp.AcsURL)
			if err != nil {
				var ire *saml.InvalidResponseError
				if errors.As(err, &ire) {
					t.Fatalf("crewjam refused: %v", ire.PrivateErr)
				}
				t.Fatalf("crewjam refused: %v", err)
			}
			if got.Subject.NameID.Value != a.NameID {
				t.Errorf("NameID = %q, want %q", got.Subject.NameID.Value, a.NameID)
			}
			// crewjam re-serialises through etree, which turns an escaped CR back into a raw one
			// that XML parsing then normalises (XML 1.0 §2.11): compare without CRs.
			want := strings.ReplaceAll(a.Attributes[0].Values[0], "\r", "")
			if v := got.AttributeStatements[0].Attributes[0].Values[0].Value; v != want {
				t.Errorf("attribute value = %q, want %q", v, want)
			}
			if _, err := csp.ParseXMLResponse(out, []string{"id-other"}, csp.AcsURL); err == nil {
				t.Error("crewjam accepted a response to a request it did not send")
			}
		})
	}
}

func crewjamSP(t *testing.T, sp keyPair, idpCert *x509.Certificate) *saml.ServiceProvider {
	t.Helper()
	md, _ := url.Parse(spEntity)
	acs, _ := url.Parse(acsURL)
	return &saml.ServiceProvider{
		EntityID: spEntity, Key: sp.key.(*rsa.PrivateKey), Certificate: sp.cert,
		MetadataURL: *md, AcsURL: *acs,
		IDPMetadata: &saml.EntityDescriptor{EntityID: idpEntity, IDPSSODescriptors: []saml.IDPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{KeyDescriptors: []saml.KeyDescriptor{{
				Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(idpCert.Raw)}}}},
			}}}},
		}}},
	}
}

func BenchmarkBuildResponse(b *testing.B) {
	kp := newKeyPair(b, false)
	s, _ := NewSigner(kp.key, kp.cert, AlgRSASHA256)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		r, a := sample(now, "id-1")
		if _, err := s.BuildResponse(r, a, Options{SignResponse: true, SignAssertion: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// verifyECDSA checks an ECDSA XML signature in the r||s form of RFC 4050 §3.3 / xmldsig-core1
// §6.4.3, which goxmldsig does not read (it expects ASN.1 DER).
func verifyECDSA(t *testing.T, el *etree.Element, pk *ecdsa.PublicKey) error {
	t.Helper()
	sig := el.FindElement("./Signature")
	si := sig.FindElement("./SignedInfo").Copy()
	si.CreateAttr("xmlns:ds", nsDS)
	c := canonical(t, si)
	sv, err := base64.StdEncoding.DecodeString(sig.FindElement("./SignatureValue").Text())
	if err != nil || len(sv) != 64 {
		return errors.New("bad SignatureValue")
	}
	h := crypto.SHA256.New()
	h.Write(c)
	r, s := new(big.Int).SetBytes(sv[:32]), new(big.Int).SetBytes(sv[32:])
	if !ecdsa.Verify(pk, h.Sum(nil), r, s) {
		return errors.New("ECDSA verification failure")
	}
	// And the digest over the element without its signature.
	body := el.Copy()
	body.RemoveChild(body.FindElement("./Signature"))
	h = crypto.SHA256.New()
	h.Write(canonical(t, body))
	if base64.StdEncoding.EncodeToString(h.Sum(nil)) != sig.FindElement("./SignedInfo/Reference/DigestValue").Text() {
		return errors.New("digest mismatch")
	}
	return nil
}
