package xmlsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// testKey is a signing key with a self-signed certificate, as an SP would publish in metadata.
type testKey struct {
	signer crypto.Signer
	cert   *x509.Certificate
}

// The certificates are valid only during 2020: VerifyEnveloped must not care (explicit key
// trust), which every test below exercises.
var (
	certNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	certNotAfter  = time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
)

// makeTestKey panics on failure: it runs inside sync.OnceValue, outside any test, and can only
// fail on a programming error.
func makeTestKey(signer crypto.Signer) testKey {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sp.example.com"},
		NotBefore:    certNotBefore,
		NotAfter:     certNotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return testKey{signer: signer, cert: cert}
}

// keys are loaded once for the package from testdata/keys (see its README).
type keySet struct {
	rsa, rsa2, attacker, ec, ec384, weak testKey
}

var testKeys = sync.OnceValue(func() keySet {
	load := func(name string) testKey {
		b, err := os.ReadFile(filepath.Join("testdata", "keys", name))
		if err != nil {
			panic(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			panic("no PEM block in " + name)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			panic(err)
		}
		return makeTestKey(k.(crypto.Signer))
	}
	return keySet{
		rsa:      load("rsa-a.pem"),
		rsa2:     load("rsa-b.pem"),
		attacker: load("rsa-attacker.pem"),
		ec:       load("ec-p256.pem"),
		ec384:    load("ec-p384.pem"),
		weak:     load("rsa-1024-weak.pem"),
	}
})

const (
	nsSAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	testID  = "id-4f1c2a9e0b7d4c3a8e6f"
)

// newAuthnRequest builds an AuthnRequest shaped like crewjam's, without a signature.
func newAuthnRequest() *etree.Element {
	root := etree.NewElement("samlp:AuthnRequest")
	root.CreateAttr("xmlns:saml", nsSAML)
	root.CreateAttr("xmlns:samlp", nsSAMLP)
	root.CreateAttr("ID", testID)
	root.CreateAttr("Version", "2.0")
	root.CreateAttr("IssueInstant", "2026-01-02T03:04:05Z")
	root.CreateAttr("Destination", "https://idp.example.org/saml/sso")
	root.CreateAttr("AssertionConsumerServiceURL", "https://sp.example.com/saml/acs")
	iss := root.CreateElement("saml:Issuer")
	iss.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity")
	iss.SetText("https://sp.example.com/saml/metadata")
	pol := root.CreateElement("samlp:NameIDPolicy")
	pol.CreateAttr("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient")
	pol.CreateAttr("AllowCreate", "true")
	return root
}

// signOpts vary how a test document is signed.
type signOpts struct {
	method        string             // default RSA-SHA256 or ECDSA-SHA256 by key type
	canonicalizer dsig.Canonicalizer // default exclusive C14N
	idAttr        string             // default "ID"; another name makes goxmldsig sign with URI=""
	noKeyInfo     bool
	keyInfoCert   *x509.Certificate // put this certificate in KeyInfo instead of the signer's
	build         func() *etree.Element
}

// sign returns a document whose root is signed by k the way crewjam signs: signature inserted
// right after Issuer.
func sign(t testing.TB, k testKey, o signOpts) []byte {
	t.Helper()
	build := o.build
	if build == nil {
		build = newAuthnRequest
	}
	root := build()
	kiCert := k.cert
	if o.keyInfoCert != nil {
		kiCert = o.keyInfoCert
	}
	ctx, err := dsig.NewSigningContext(k.signer, [][]byte{kiCert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if o.canonicalizer != nil {
		ctx.Canonicalizer = o.canonicalizer
	}
	if o.idAttr != "" {
		ctx.IdAttribute = o.idAttr
	}
	method := o.method
	if method == "" {
		method = dsig.RSASHA256SignatureMethod
		if _, ok := k.signer.Public().(*ecdsa.PublicKey); ok {
			method = dsig.ECDSASHA256SignatureMethod
		}
	}
	if err := ctx.SetSignatureMethod(method); err != nil {
		t.Fatal(err)
	}
	sig, err := ctx.ConstructSignature(root, true)
	if err != nil {
		t.Fatal(err)
	}
	if o.noKeyInfo {
		for _, c := range sig.ChildElements() {
			if c.Tag == "KeyInfo" {
				sig.RemoveChild(c)
			}
		}
	}
	root.InsertChildAt(1, sig)
	return writeDoc(t, root)
}

func writeDoc(t testing.TB, root *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(root)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseRoot(t testing.TB, raw []byte) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// mutate parses raw, applies f to the root and serialises again.
func mutate(t testing.TB, raw []byte, f func(root *etree.Element)) []byte {
	t.Helper()
	root := parseRoot(t, raw)
	f(root)
	return writeDoc(t, root.Copy())
}

// dsChild returns the first child of e in the DSig namespace named local.
func dsChild(t testing.TB, e *etree.Element, local string) *etree.Element {
	t.Helper()
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == nsDSig {
			return c
		}
	}
	t.Fatalf("no ds:%s under %s", local, e.Tag)
	return nil
}

func sigOf(t testing.TB, root *etree.Element) *etree.Element { return dsChild(t, root, "Signature") }

func signedInfoOf(t testing.TB, root *etree.Element) *etree.Element {
	return dsChild(t, sigOf(t, root), "SignedInfo")
}

func referenceOf(t testing.TB, root *etree.Element) *etree.Element {
	return dsChild(t, signedInfoOf(t, root), "Reference")
}

// goxmldsigAlone runs plain goxmldsig on raw with cert trusted, clock inside its validity. Tests
// use it to show that an attack document really is accepted by the library, so that rejecting
// it is this package's doing.
func goxmldsigAlone(t testing.TB, raw []byte, cert *x509.Certificate) error {
	t.Helper()
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	ctx.Clock = dsig.NewFakeClockAt(cert.NotBefore.Add(time.Hour))
	_, err := ctx.Validate(parseRoot(t, raw))
	return err
}

// rawECDSA converts a DER ECDSA signature to the XML-DSig r||s form.
func rawECDSA(t testing.TB, der []byte, size int) []byte {
	t.Helper()
	var v ecdsaSig
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func canonical(t testing.TB, e *etree.Element) []byte {
	t.Helper()
	b, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
