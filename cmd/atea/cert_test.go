package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// TestCertificateSignInThroughProxy runs `atea serve` with certificate sign-in behind a
// trusted proxy (here: the test client on 127.0.0.1, which passes the citizen's certificate
// in the configured header as nginx's $ssl_client_escaped_cert would): a request for level
// high goes straight to certificate sign-in and the SP receives an assertion at high for the
// citizen named by the certificate's serialNumber; a certificate from another CA is refused.
func TestCertificateSignInThroughProxy(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newTestCA(t, "Atea test citizen CA")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "atea.yaml")
	cfg := fmt.Sprintf("baseURL: http://%s\nlisten: %s\ncertificate:\n  enabled: true\n  trustAnchorsFile: %s\n  proxyHeader: X-Client-Cert\n  trustedProxies: [\"127.0.0.1/32\"]\n",
		addr, addr, caFile)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, data := startServeAt(t, addr, "--config", cfgPath)
	var idpMD saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(fetch(t, http.DefaultClient, base+"/saml/metadata").body), &idpMD); err != nil {
		t.Fatal(err)
	}
	sp := newCLISP(t, "cert-sp", &idpMD, filepath.Join(data, "sp-metadata"))
	waitKnown(t, base, sp)

	high := func(client *http.Client) fetched {
		req, err := sp.sp.MakeAuthenticationRequest(sp.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		req.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: "minimum", AuthnContextClassRef: "http://eidas.europa.eu/LoA/high"}
		u, err := req.Redirect("", sp.sp)
		if err != nil {
			t.Fatal(err)
		}
		sp.ids = append(sp.ids, req.ID)
		return fetch(t, client, u.String())
	}
	citizen := citizenCert(t, ca, caKey, "IDCES-"+demoDNI)
	c := newJarClient(t)
	c.Transport = proxyHeader{url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: citizen.Raw})))}
	p := high(c)
	if !strings.Contains(p.body, `name="SAMLResponse"`) {
		t.Fatalf("certificate sign-in at high: HTTP %d %.300s", p.status, p.body)
	}
	a := sp.accept(t, p)
	if got := a.AuthnStatements[0].AuthnContext.AuthnContextClassRef.Value; got != "http://eidas.europa.eu/LoA/high" {
		t.Errorf("certificate sign-in stated %q, want LoA high", got)
	}

	other, otherKey := newTestCA(t, "Someone else's CA")
	foreign := citizenCert(t, other, otherKey, "IDCES-"+demoDNI)
	c = newJarClient(t)
	c.Transport = proxyHeader{url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: foreign.Raw})))}
	if p := high(c); strings.Contains(p.body, "SAMLResponse") || p.status < 400 || p.status >= 500 {
		t.Errorf("certificate from another CA: HTTP %d (SAMLResponse %v), want a 4xx page", p.status, strings.Contains(p.body, "SAMLResponse"))
	}
}

// proxyHeader plays the TLS-terminating proxy: it adds the client certificate header.
type proxyHeader struct{ escapedPEM string }

func (p proxyHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Client-Cert", p.escapedPEM)
	return http.DefaultTransport.RoundTrip(r)
}

func newTestCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// citizenCert issues a citizen certificate whose subject serialNumber (OID 2.5.4.5) is serial.
func citizenCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:   pkix.Name{CommonName: "ETXEBERRIA GOÑI, ANE", ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 5}, Value: serial}}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
