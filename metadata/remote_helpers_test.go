package metadata

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// remoteSigner is a publisher's signing key with a self-signed certificate (the trust anchor).
type remoteSigner struct {
	key  crypto.Signer
	cert *x509.Certificate
}

// remoteTestKeys loads the fixed keys of testdata/remote once (see its README): generating RSA
// keys per test is slow under -race.
var remoteTestKeys = sync.OnceValues(func() (map[string]remoteSigner, error) {
	out := map[string]remoteSigner{}
	for _, name := range []string{"anchor-a", "anchor-b", "stranger"} {
		b, err := os.ReadFile(filepath.Join("testdata", "remote", name+".pem"))
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM block", name)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		key := k.(crypto.Signer)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "federation " + name},
			NotBefore: testNow().Add(-time.Hour), NotAfter: testNow().Add(365 * 24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		out[name] = remoteSigner{key: key, cert: c}
	}
	return out, nil
})

func remoteTestSigner(t testing.TB, name string) remoteSigner {
	t.Helper()
	m, err := remoteTestKeys()
	if err != nil {
		t.Fatal(err)
	}
	return m[name]
}

// remoteSPXML is one SP EntityDescriptor (in the md default namespace) with a signing certificate
// from testdata and one HTTP-POST ACS.
func remoteSPXML(t testing.TB, entityID, certFile, acs string) string {
	t.Helper()
	return `<EntityDescriptor entityID="` + entityID + `">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
   <KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64(loadCert(t, certFile)) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
   <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + acs + `" index="0"/>
  </SPSSODescriptor>
 </EntityDescriptor>`
}

// remoteIdPXML is an IdP entity, as federation aggregates hold many: not an SP, ignored silently.
const remoteIdPXML = `<EntityDescriptor entityID="https://idp.example.test/idp">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
   <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/>
  </IDPSSODescriptor>
 </EntityDescriptor>`

const remoteNSDecls = `xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"`

// remoteAggregateXML is an EntitiesDescriptor around entities; rootAttrs are extra attributes
// (validUntil, cacheDuration).
func remoteAggregateXML(rootAttrs string, entities ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<EntitiesDescriptor ` + remoteNSDecls + ` ID="agg-1" Name="urn:example:federation" ` + rootAttrs + `>
 ` + strings.Join(entities, "\n ") + `
</EntitiesDescriptor>`
}

// remoteValidFor is a validUntil attribute d after the tests' clock.
func remoteValidFor(d time.Duration) string {
	return `validUntil="` + testNow().Add(d).UTC().Format(time.RFC3339) + `"`
}

// signRemoteXML signs the root of doc with s the way federations do (enveloped, exclusive C14N,
// RSA-SHA256, the ds:Signature as the root's first child: saml-metadata-2.0-os §2.3.1/§2.3.2
// put it before md:Extensions).
func signRemoteXML(t testing.TB, s remoteSigner, doc string) []byte {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		t.Fatal(err)
	}
	root := d.Root()
	ctx, err := dsig.NewSigningContext(s.key, [][]byte{s.cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	sig, err := ctx.ConstructSignature(root, true)
	if err != nil {
		t.Fatal(err)
	}
	root.InsertChildAt(0, sig)
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// remoteServer is an httptest server publishing one metadata document with an ETag, answering
// conditional GETs with 304, and recording what it was asked.
type remoteServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	etag   string
	status int // when non-zero, answer this instead
	inm    []string
	hits   atomic.Int32
}

func newRemoteServer(t *testing.T, body []byte) *remoteServer {
	t.Helper()
	s := &remoteServer{body: body, etag: `"v1"`}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *remoteServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inm = append(s.inm, r.Header.Get("If-None-Match"))
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	w.Header().Set("ETag", s.etag)
	if r.Header.Get("If-None-Match") == s.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(s.body)
}

// publish replaces the document and its ETag.
func (s *remoteServer) publish(body []byte, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag, s.status = body, etag, 0
}

func (s *remoteServer) fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

func (s *remoteServer) ifNoneMatch() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.inm...)
}
