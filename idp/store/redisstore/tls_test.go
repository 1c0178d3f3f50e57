package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ateaidp/atea/idp/store/redisstore/redistest"
	"github.com/ateaidp/atea/idp/store/storetest"
)

// TestConformanceTLS runs the store contract suite through a NewClient client over TLS,
// verifying the server's certificate against the test CA.
func TestConformanceTLS(t *testing.T) {
	t.Parallel()
	srv := redistest.StartTLS(t)
	c, err := NewClient(ClientConfig{Addrs: []string{srv.Addr}, TLS: srv.TLSConfig()})
	if err != nil {
		t.Fatalf("NewClient error = %v, want nil", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	storetest.Run(t, harness(func(*testing.T) redis.UniversalClient { return c }))
}

// TestTLSRefused checks that a TLS-only server cannot be used without TLS, nor with TLS
// that does not verify its certificate: the store must not fall back to plain TCP or to an
// unverified peer.
func TestTLSRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.StartTLS(t)
	wrongName := srv.TLSConfig()
	wrongName.ServerName = "redis.internal" // the certificate is for 127.0.0.1 and localhost
	for _, tc := range []struct {
		name   string
		tls    *tls.Config
		verify bool // the failure must be a certificate verification error
	}{
		{"plain TCP", nil, false},
		{"untrusted CA", &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}, true},
		{"wrong server name", wrongName, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newDeployStore(t, ClientConfig{Addrs: []string{srv.Addr}, TLS: tc.tls})
			err := st.Ping(t.Context())
			refused(t, "Ping", err)
			var verr *tls.CertificateVerificationError
			if tc.verify && !errors.As(err, &verr) {
				t.Errorf("Ping error = %v, want a *tls.CertificateVerificationError", err)
			}
		})
	}
}

// TestTLSServes runs the smoke test through a NewClient TLS client that names the server
// as in the certificate's DNS SAN.
func TestTLSServes(t *testing.T) {
	t.Parallel()
	srv := redistest.StartTLS(t)
	cfg := srv.TLSConfig()
	cfg.ServerName = "localhost"
	smoke(t, newDeployStore(t, ClientConfig{Addrs: []string{srv.Addr}, TLS: cfg}))
}
