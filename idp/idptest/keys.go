package idptest

import (
	"crypto/x509"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/crewjam/saml"
)

// Helpers for key rollover tests: which keys signed a message, which keys the IdP's metadata
// publishes, and an SP that trusts only some of them.

// reX509Cert finds the certificates Atea writes into the KeyInfo of its ds:Signatures.
var reX509Cert = regexp.MustCompile(`<ds:X509Certificate>([^<]+)</ds:X509Certificate>`)

// SignatureCerts returns the certificates in the KeyInfo of every ds:Signature of x (a
// Response or a metadata document as Atea wrote it), in document order.
func SignatureCerts(t testing.TB, x []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, m := range reX509Cert.FindAllSubmatch(x, -1) {
		out = append(out, parseCertB64(t, string(m[1])))
	}
	return out
}

// SigningCerts returns the signing certificates that the IdP metadata ed publishes, in order.
func SigningCerts(t testing.TB, ed *saml.EntityDescriptor) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, kd := range ed.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use != "signing" {
			continue
		}
		out = append(out, parseCertB64(t, kd.KeyInfo.X509Data.X509Certificates[0].Data))
	}
	return out
}

// TrustingOnly returns a copy of the IdP metadata ed whose signing keys are exactly certs:
// the metadata of an SP configured with only those keys.
func TrustingOnly(ed *saml.EntityDescriptor, certs ...*x509.Certificate) *saml.EntityDescriptor {
	cp := *ed
	d := cp.IDPSSODescriptors[0]
	var kds []saml.KeyDescriptor
	for _, c := range certs {
		kds = append(kds, saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
			X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(c.Raw)}}}}})
	}
	d.KeyDescriptors = kds
	cp.IDPSSODescriptors = []saml.IDPSSODescriptor{d}
	return &cp
}

func parseCertB64(t testing.TB, s string) *x509.Certificate {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
