package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// certLifetime is the validity of the test CA and server certificate: the test's length
// with a wide margin for clock skew, never long enough to matter if a key leaked.
const certLifetime = 24 * time.Hour

// TLSServer is a private redis-server that listens only on a TLS loopback port (--port 0),
// with a CA and a server certificate for 127.0.0.1 generated for this server alone, and
// persistence off. Clients need no certificate (--tls-auth-clients optional).
type TLSServer struct {
	// Addr is the server's 127.0.0.1:port TLS address.
	Addr string
	// CAs holds only the CA that issued the server's certificate.
	CAs *x509.CertPool
}

// StartTLS starts a private TLS-only redis-server for t and stops it, removing its
// directory, when t ends. If redis-server is missing it skips t, or fails it when CI=true.
func StartTLS(t testing.TB) *TLSServer {
	t.Helper()
	bin := binary(t)
	dir := newDir(t)
	pool, err := writeCerts(dir, time.Now())
	if err != nil {
		t.Fatalf("redistest: TLS certificates: %v", err)
	}
	s := &TLSServer{CAs: pool}
	addr, p, err := startOnPort(bin, dir, "redis.log",
		func(port string) ([]string, error) {
			return append([]string{
				"--port", "0",
				"--bind", "127.0.0.1",
				"--tls-port", port,
				"--tls-cert-file", filepath.Join(dir, "server.crt"),
				"--tls-key-file", filepath.Join(dir, "server.key"),
				"--tls-ca-cert-file", filepath.Join(dir, "ca.crt"),
				"--tls-auth-clients", "optional",
			}, baseArgs(dir)...), nil
		},
		func(addr string) *redis.Options {
			return &redis.Options{Addr: addr, TLSConfig: s.TLSConfig(), DialTimeout: time.Second}
		})
	if err != nil {
		t.Fatalf("redistest: TLS server: %v", err)
	}
	t.Cleanup(p.stop)
	s.Addr = addr
	return s
}

// TLSConfig returns a new client configuration that trusts only the server's CA. The
// server name is left empty: crypto/tls then verifies the dialled host, 127.0.0.1, against
// the certificate's IP SAN.
func (s *TLSServer) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CAs, MinVersion: tls.VersionTLS12}
}

// Client returns a TLS client for the server, closed when t ends. ContextTimeoutEnabled is
// set, so a context deadline bounds every call.
func (s *TLSServer) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:                  s.Addr,
		TLSConfig:             s.TLSConfig(),
		ContextTimeoutEnabled: true,
		DialTimeout:           2 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// writeCerts writes ca.crt, server.crt and server.key (mode 0600) into dir: a fresh
// ECDSA P-256 CA and a server certificate it signs for 127.0.0.1 and localhost. It returns
// a pool holding the CA.
func writeCerts(dir string, now time.Time) (*x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "redistest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	for name, b := range map[string]*pem.Block{
		"ca.crt":     {Type: "CERTIFICATE", Bytes: caDER},
		"server.crt": {Type: "CERTIFICATE", Bytes: der},
		"server.key": {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}

// serial returns a random 128-bit certificate serial number (RFC 5280 §4.1.2.2 asks for
// unique, positive serials of at most 20 octets).
func serial() *big.Int {
	// rand.Int reads crypto/rand, which does not fail on supported platforms (Go 1.24+).
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n.Add(n, big.NewInt(1))
}
