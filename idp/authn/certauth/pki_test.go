package certauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testNow is the injected clock's reading in every test: certificates are issued around it.
var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// testCA is a CA generated for the test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return k
}

func serial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatalf("rand.Int: %v", err)
	}
	return n
}

// newRootCA makes a self-signed root, FNMT-style.
func newRootCA(t *testing.T, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{Country: []string{"ES"}, Organization: []string{"Test FNMT-RCM"}, CommonName: name},
		NotBefore:             testNow.AddDate(-5, 0, 0),
		NotAfter:              testNow.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("CreateCertificate(root): %v", err)
	}
	return &testCA{cert: mustParse(t, der), key: key}
}

// newSubCA makes an issuing CA under ca.
func (ca *testCA) newSubCA(t *testing.T, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{Country: []string{"ES"}, CommonName: name},
		NotBefore:             testNow.AddDate(-2, 0, 0),
		NotAfter:              testNow.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("CreateCertificate(sub CA): %v", err)
	}
	return &testCA{cert: mustParse(t, der), key: key}
}

// leafOpts shapes a citizen certificate; the zero value is a valid authentication certificate.
type leafOpts struct {
	serialNumbers []string // subject serialNumber attributes, in order
	notBefore     time.Time
	notAfter      time.Time
	keyUsage      x509.KeyUsage
	extKeyUsage   []x509.ExtKeyUsage
	isCA          bool
}

// issue makes a citizen certificate under ca and returns it with its key.
func (ca *testCA) issue(t *testing.T, o leafOpts) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	if o.notBefore.IsZero() {
		o.notBefore = testNow.AddDate(-1, 0, 0)
	}
	if o.notAfter.IsZero() {
		o.notAfter = testNow.AddDate(1, 0, 0)
	}
	if o.keyUsage == 0 {
		o.keyUsage = x509.KeyUsageDigitalSignature
	}
	if o.extKeyUsage == nil {
		o.extKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}
	}
	subj := pkix.Name{Country: []string{"ES"}, CommonName: "ESPAÑOL ESPAÑOL, JUAN (AUTENTICACIÓN)"}
	for _, s := range o.serialNumbers {
		subj.ExtraNames = append(subj.ExtraNames, pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 5}, Value: s})
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               subj,
		NotBefore:             o.notBefore,
		NotAfter:              o.notAfter,
		KeyUsage:              o.keyUsage,
		ExtKeyUsage:           o.extKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  o.isCA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("CreateCertificate(leaf): %v", err)
	}
	return mustParse(t, der), key
}

// crl makes a CRL by ca revoking the given certificates, valid from thisUpdate to nextUpdate.
func (ca *testCA) crl(t *testing.T, thisUpdate, nextUpdate time.Time, revoked ...*x509.Certificate) *x509.RevocationList {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatalf("CreateRevocationList: %v", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("ParseRevocationList: %v", err)
	}
	return crl
}

// serverCert makes a TLS server certificate for 127.0.0.1 valid at the real current time (the
// client checks it with the real clock) and a pool trusting it.
func serverCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "atea test server"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("CreateCertificate(server): %v", err)
	}
	c := mustParse(t, der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return c
}

func pemOf(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	return p
}
