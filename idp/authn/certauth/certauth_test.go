package certauth_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/certauth"
)

// fixture is a small PKI: a root, an issuing CA under it, and another unrelated CA.
type fixture struct {
	root, sub, other *testCA
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := newRootCA(t, "TEST AC RAIZ DNIE")
	return &fixture{root: root, sub: root.newSubCA(t, "TEST AC DNIE 004"), other: newRootCA(t, "TEST OTHER CA")}
}

func fixedClock() time.Time { return testNow }

// mustNew builds a method trusting f.root, with the clock fixed at testNow.
func mustNew(t *testing.T, cfg certauth.Config) *certauth.Method {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedClock
	}
	m, err := certauth.New(cfg)
	if err != nil {
		t.Fatalf("New() error = %v, want nil", err)
	}
	return m
}

func tlsRequest(chain ...*x509.Certificate) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://idp.example/cert", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: chain}
	return r
}

// assertNoPII fails if an error text reveals the citizen's number or name.
func assertNoPII(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{"48151623", "1234567", "ESPAÑOL", "JUAN"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q, want no DNI or subject in error texts", err, s)
		}
	}
}

func TestAuthenticateTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	valid, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	bare, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"48151623L"}})
	nie, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-X1234567L"}})
	anyEKU, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}, extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	foreign, _ := f.other.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	expired, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}, notBefore: testNow.AddDate(-2, 0, 0), notAfter: testNow.Add(-time.Second)})
	future, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}, notBefore: testNow.Add(time.Hour)})
	noSerial, _ := f.sub.issue(t, leafOpts{})
	garbage, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"hello world"}})
	passport, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"PASES-AB1234567"}})
	wrongLetter, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623A"}})
	twoSerials, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L", "IDCES-X1234567L"}})
	serverOnly, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}, extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	signing, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}, keyUsage: x509.KeyUsageContentCommitment})
	caLeaf, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}, isCA: true, keyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign})
	revoked, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})

	freshCRL := f.sub.crl(t, testNow.Add(-time.Hour), testNow.Add(24*time.Hour), revoked)
	staleCRL := f.sub.crl(t, testNow.AddDate(0, -1, 0), testNow.Add(-time.Minute))
	// The root revoking the issuing CA: every citizen certificate under it fails.
	subRevokedCRL := f.root.crl(t, testNow.Add(-time.Hour), testNow.Add(24*time.Hour), f.sub.cert)

	base := certauth.Config{TrustAnchors: []*x509.Certificate{f.root.cert}}
	// A CRL must be signed by a configured CA, so the issuing CA is configured with it.
	withCRLs := func(crls ...*x509.RevocationList) certauth.Config {
		return certauth.Config{TrustAnchors: base.TrustAnchors, Intermediates: []*x509.Certificate{f.sub.cert}, CRLs: crls}
	}
	withIntermediate := base
	withIntermediate.Intermediates = []*x509.Certificate{f.sub.cert}
	subAsAnchor := certauth.Config{TrustAnchors: []*x509.Certificate{f.sub.cert}}

	tests := []struct {
		name    string
		cfg     certauth.Config
		req     *http.Request
		wantDNI string
		wantErr error
	}{
		{"ok/idces", base, tlsRequest(valid, f.sub.cert), "48151623L", nil},
		{"ok/bare", base, tlsRequest(bare, f.sub.cert), "48151623L", nil},
		{"ok/nie", base, tlsRequest(nie, f.sub.cert), "X1234567L", nil},
		{"ok/any-eku", base, tlsRequest(anyEKU, f.sub.cert), "48151623L", nil},
		{"ok/configured-intermediate", withIntermediate, tlsRequest(valid), "48151623L", nil},
		{"ok/issuing-ca-as-anchor", subAsAnchor, tlsRequest(valid), "48151623L", nil},
		{"ok/crl-not-listing-it", withCRLs(freshCRL), tlsRequest(valid, f.sub.cert), "48151623L", nil},
		{"fail/no-tls", base, httptest.NewRequest(http.MethodGet, "/cert", nil), "", certauth.ErrNoCertificate},
		{"fail/tls-without-cert", base, tlsRequest(), "", certauth.ErrNoCertificate},
		{"fail/other-ca", base, tlsRequest(foreign, f.other.cert), "", certauth.ErrUntrusted},
		{"fail/other-ca-root-sent-by-client", base, tlsRequest(foreign, f.other.cert, f.root.cert), "", certauth.ErrUntrusted},
		{"fail/missing-intermediate", base, tlsRequest(valid), "", certauth.ErrUntrusted},
		{"fail/expired", base, tlsRequest(expired, f.sub.cert), "", certauth.ErrUntrusted},
		{"fail/not-yet-valid", base, tlsRequest(future, f.sub.cert), "", certauth.ErrUntrusted},
		{"fail/revoked", withCRLs(freshCRL), tlsRequest(revoked, f.sub.cert), "", certauth.ErrUntrusted},
		{"fail/issuing-ca-revoked", withCRLs(subRevokedCRL), tlsRequest(valid, f.sub.cert), "", certauth.ErrUntrusted},
		{"fail/stale-crl", withCRLs(staleCRL), tlsRequest(valid, f.sub.cert), "", certauth.ErrUntrusted},
		{"fail/server-auth-only", base, tlsRequest(serverOnly, f.sub.cert), "", certauth.ErrUntrusted},
		{"fail/signing-certificate", base, tlsRequest(signing, f.sub.cert), "", certauth.ErrUntrusted},
		{"fail/ca-as-leaf", base, tlsRequest(caLeaf, f.sub.cert), "", certauth.ErrUntrusted},
		{"fail/no-serial", base, tlsRequest(noSerial, f.sub.cert), "", certauth.ErrNoDNI},
		{"fail/garbage-serial", base, tlsRequest(garbage, f.sub.cert), "", certauth.ErrNoDNI},
		{"fail/passport-serial", base, tlsRequest(passport, f.sub.cert), "", certauth.ErrNoDNI},
		{"fail/wrong-check-letter", base, tlsRequest(wrongLetter, f.sub.cert), "", certauth.ErrNoDNI},
		{"fail/two-serials", base, tlsRequest(twoSerials, f.sub.cert), "", certauth.ErrNoDNI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustNew(t, tt.cfg)
			got, err := m.Authenticate(tt.req)
			assertNoPII(t, err)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Authenticate() = %+v, %v; want error %v", got, err, tt.wantErr)
				}
				if got != (certauth.Identity{}) {
					t.Errorf("Authenticate() identity = %+v with an error, want zero", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate() error = %v, want nil", err)
			}
			if got.DNI != tt.wantDNI {
				t.Errorf("Authenticate().DNI = %q, want %q", got.DNI, tt.wantDNI)
			}
			leaf := tt.req.TLS.PeerCertificates[0]
			sum := sha256.Sum256(leaf.Raw)
			if want := hex.EncodeToString(sum[:]); got.Fingerprint != want {
				t.Errorf("Authenticate().Fingerprint = %q, want %q", got.Fingerprint, want)
			}
			if !got.NotAfter.Equal(leaf.NotAfter) {
				t.Errorf("Authenticate().NotAfter = %v, want %v", got.NotAfter, leaf.NotAfter)
			}
			if got.Subject != leaf.Subject.String() {
				t.Errorf("Authenticate().Subject = %q, want %q", got.Subject, leaf.Subject.String())
			}
		})
	}
}

// TestAuthenticateClock checks the injected clock decides validity: one certificate, two
// readings of the clock.
func TestAuthenticateClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	leaf, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{"ok/within-validity", leaf.NotAfter.Add(-time.Minute), nil},
		{"fail/after-not-after", leaf.NotAfter.Add(time.Minute), certauth.ErrUntrusted},
		{"fail/before-not-before", leaf.NotBefore.Add(-time.Minute), certauth.ErrUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mustNew(t, certauth.Config{TrustAnchors: []*x509.Certificate{f.root.cert}, Now: func() time.Time { return tt.now }})
			_, err := m.Authenticate(tlsRequest(leaf, f.sub.cert))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Authenticate() at %v error = %v, want %v", tt.now, err, tt.wantErr)
			}
		})
	}
}

// escapeAll percent-escapes every byte but ASCII letters and digits, as the strictest proxies
// (encodeURIComponent style) do.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAuthenticateProxyHeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	leaf, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	tlsLeaf, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-X1234567L"}})
	foreign, _ := f.other.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})

	const header = "X-Client-Cert"
	pemLeaf := string(pemOf(leaf))
	nginxEscaped := escapeAll(pemLeaf)                             // $ssl_client_escaped_cert style: '+', '/', '=', ' ' and newlines escaped
	pathEscaped := url.PathEscape(string(pemOf(leaf, f.sub.cert))) // keeps '+', '=' literal
	b64 := base64.StdEncoding.EncodeToString(leaf.Raw)
	b64URL := base64.RawURLEncoding.EncodeToString(leaf.Raw)

	tests := []struct {
		name    string
		remote  string
		values  []string // header values; nil: no header
		tls     []*x509.Certificate
		wantDNI string
		wantErr error
		wantLog bool // a Warn about an untrusted sender is expected
	}{
		{"ok/escaped-pem", "10.1.2.3:40000", []string{nginxEscaped}, nil, "48151623L", nil, false},
		{"ok/path-escaped-pem-chain", "10.1.2.3:40000", []string{pathEscaped}, nil, "48151623L", nil, false},
		{"ok/base64-der", "10.1.2.3:40000", []string{b64}, nil, "48151623L", nil, false},
		{"ok/base64url-der", "10.1.2.3:40000", []string{b64URL}, nil, "48151623L", nil, false},
		{"ok/ipv6-proxy", "[2001:db8::5]:443", []string{b64}, nil, "48151623L", nil, false},
		{"ok/ipv4-mapped-proxy", "[::ffff:10.0.0.7]:443", []string{b64}, nil, "48151623L", nil, false},
		{"ok/header-ignored-tls-used", "192.0.2.9:5000", []string{b64}, []*x509.Certificate{tlsLeaf}, "X1234567L", nil, true},
		{"ok/proxy-header-wins-over-proxy-tls", "10.1.2.3:40000", []string{b64}, []*x509.Certificate{tlsLeaf}, "48151623L", nil, false},
		{"fail/untrusted-ip", "192.0.2.9:5000", []string{nginxEscaped}, nil, "", certauth.ErrNoCertificate, true},
		{"fail/untrusted-ip-near-range", "11.0.0.1:5000", []string{b64}, nil, "", certauth.ErrNoCertificate, true},
		{"fail/unparsable-remote", "not-an-address", []string{b64}, nil, "", certauth.ErrNoCertificate, true},
		{"fail/proxy-without-header", "10.1.2.3:40000", nil, nil, "", certauth.ErrNoCertificate, false},
		{"fail/proxy-empty-header", "10.1.2.3:40000", []string{""}, nil, "", certauth.ErrNoCertificate, false},
		{"fail/proxy-garbage", "10.1.2.3:40000", []string{"not a certificate"}, nil, "", certauth.ErrUntrusted, false},
		{"fail/proxy-bad-escape", "10.1.2.3:40000", []string{"%zz"}, nil, "", certauth.ErrUntrusted, false},
		{"fail/proxy-pem-trailing-junk", "10.1.2.3:40000", []string{escapeAll(pemLeaf + "junk")}, nil, "", certauth.ErrUntrusted, false},
		{"fail/proxy-other-ca", "10.1.2.3:40000", []string{base64.StdEncoding.EncodeToString(foreign.Raw)}, nil, "", certauth.ErrUntrusted, false},
		{"fail/proxy-two-headers", "10.1.2.3:40000", []string{b64, b64}, nil, "", certauth.ErrUntrusted, false},
		{"fail/proxy-oversized", "10.1.2.3:40000", []string{strings.Repeat("A", 70<<10)}, nil, "", certauth.ErrUntrusted, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			m := mustNew(t, certauth.Config{
				TrustAnchors:   []*x509.Certificate{f.root.cert},
				Intermediates:  []*x509.Certificate{f.sub.cert},
				ProxyHeader:    header,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/64")},
				Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
			})
			r := httptest.NewRequest(http.MethodGet, "/cert", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.values {
				r.Header.Add(strings.ToLower(header), v)
			}
			if tt.tls != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: tt.tls}
			}
			got, err := m.Authenticate(r)
			assertNoPII(t, err)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Authenticate() = %+v, %v; want error %v", got, err, tt.wantErr)
				}
			} else if err != nil || got.DNI != tt.wantDNI {
				t.Errorf("Authenticate() = %q, %v; want %q, nil", got.DNI, err, tt.wantDNI)
			}
			out := logs.String()
			if gotLog := strings.Contains(out, "level=WARN"); gotLog != tt.wantLog {
				t.Errorf("warned = %v (log %q), want %v", gotLog, out, tt.wantLog)
			}
			if strings.Contains(out, "48151623") || strings.Contains(out, b64[:40]) {
				t.Errorf("log %q contains the DNI or the certificate, want neither", out)
			}
		})
	}
}

// TestMutualTLS runs the method's TLSConfig on a real TLS listener.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	leaf, leafKey := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	foreign, foreignKey := f.other.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	m := mustNew(t, certauth.Config{TrustAnchors: []*x509.Certificate{f.root.cert}})

	srvCert, srvPool := serverCert(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := m.Authenticate(r)
		switch {
		case errors.Is(err, certauth.ErrNoCertificate):
			http.Error(w, "no-certificate", http.StatusUnauthorized)
		case err != nil:
			http.Error(w, "refused", http.StatusForbidden)
		default:
			_, _ = w.Write([]byte(id.DNI))
		}
	}))
	srv.TLS = m.TLSConfig(srvCert)
	srv.Config.ErrorLog = slog.NewLogLogger(slog.NewTextHandler(t.Output(), nil), slog.LevelDebug)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	chainOf := func(c *x509.Certificate, key any, issuers ...*x509.Certificate) []tls.Certificate {
		tc := tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key, Leaf: c}
		for _, i := range issuers {
			tc.Certificate = append(tc.Certificate, i.Raw)
		}
		return []tls.Certificate{tc}
	}
	tests := []struct {
		name       string
		certs      []tls.Certificate
		wantStatus int
		wantBody   string
		force      bool // send the certificate even if the server's CA hint does not match it
		wantErr    bool // the handshake fails
	}{
		{"ok/citizen", chainOf(leaf, leafKey, f.sub.cert), http.StatusOK, "48151623L", false, false},
		{"fail/no-certificate", nil, http.StatusUnauthorized, "no-certificate", false, false},
		// The acceptable-CA hint keeps the client from offering a foreign certificate ...
		{"fail/other-ca-not-offered", chainOf(foreign, foreignKey, f.other.cert), http.StatusUnauthorized, "no-certificate", false, false},
		// ... and one sent anyway ends the handshake.
		{"fail/other-ca-forced", chainOf(foreign, foreignKey, f.other.cert), 0, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc := &tls.Config{RootCAs: srvPool, Certificates: tt.certs, MinVersion: tls.VersionTLS12}
			if tt.force {
				// Go's client, like browsers, sends nothing when the server's acceptable-CA
				// list does not name the issuer; force it to see what the server does.
				cc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tt.certs[0], nil }
			}
			tr := &http.Transport{TLSClientConfig: cc}
			t.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			resp, err := client.Do(req)
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("Do() status = %d, want a failed handshake", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do() error = %v, want nil", err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			if _, err := body.ReadFrom(resp.Body); err != nil {
				t.Fatalf("read body: %v", err)
			}
			if got := strings.TrimSpace(body.String()); resp.StatusCode != tt.wantStatus || got != tt.wantBody {
				t.Errorf("response = %d %q, want %d %q", resp.StatusCode, got, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := mustNew(t, certauth.Config{TrustAnchors: []*x509.Certificate{f.root.cert}})
	srvCert, _ := serverCert(t)
	c := m.TLSConfig(srvCert)
	if c.ClientAuth != tls.RequestClientCert {
		t.Errorf("ClientAuth = %v, want RequestClientCert (verification is ours)", c.ClientAuth)
	}
	if c.MinVersion < tls.VersionTLS12 {
		t.Errorf("MinVersion = %#x, want at least TLS 1.2", c.MinVersion)
	}
	if c.VerifyConnection == nil {
		t.Fatal("VerifyConnection = nil, want the chain verified at the handshake")
	}
	if err := c.VerifyConnection(tls.ConnectionState{}); err != nil {
		t.Errorf("VerifyConnection(no certificate) = %v, want nil (Authenticate reports it)", err)
	}
	foreign, _ := f.other.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	if err := c.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{foreign}}); !errors.Is(err, certauth.ErrUntrusted) {
		t.Errorf("VerifyConnection(foreign) = %v, want ErrUntrusted", err)
	}
}

func TestLevel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := mustNew(t, certauth.Config{TrustAnchors: []*x509.Certificate{f.root.cert}})
	if got := m.Level(); got != authn.LevelHigh {
		t.Errorf("Level() = %v, want %v", got, authn.LevelHigh)
	}
	if got := m.ID(); got != "certificate" {
		t.Errorf("ID() = %q, want %q", got, "certificate")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	leaf, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	otherCRL := f.other.crl(t, testNow, testNow.Add(time.Hour))
	subCRL := f.sub.crl(t, testNow, testNow.Add(time.Hour))
	anchors := []*x509.Certificate{f.root.cert}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name string
		cfg  certauth.Config
		ok   bool
	}{
		{"ok/anchors-only", certauth.Config{TrustAnchors: anchors}, true},
		{"ok/proxy", certauth.Config{TrustAnchors: anchors, ProxyHeader: "X-Client-Cert", TrustedProxies: proxies}, true},
		{"ok/crl-of-intermediate", certauth.Config{TrustAnchors: anchors, Intermediates: []*x509.Certificate{f.sub.cert}, CRLs: []*x509.RevocationList{subCRL}}, true},
		{"fail/empty", certauth.Config{}, false},
		{"fail/nil-anchor", certauth.Config{TrustAnchors: []*x509.Certificate{nil}}, false},
		{"fail/leaf-anchor", certauth.Config{TrustAnchors: []*x509.Certificate{leaf}}, false},
		{"fail/leaf-intermediate", certauth.Config{TrustAnchors: anchors, Intermediates: []*x509.Certificate{leaf}}, false},
		{"fail/crl-of-unknown-ca", certauth.Config{TrustAnchors: anchors, CRLs: []*x509.RevocationList{otherCRL}}, false},
		{"fail/crl-nil", certauth.Config{TrustAnchors: anchors, CRLs: []*x509.RevocationList{nil}}, false},
		{"fail/header-without-proxies", certauth.Config{TrustAnchors: anchors, ProxyHeader: "X-Client-Cert"}, false},
		{"fail/proxies-without-header", certauth.Config{TrustAnchors: anchors, TrustedProxies: proxies}, false},
		{"fail/bad-header-name", certauth.Config{TrustAnchors: anchors, ProxyHeader: "X Client Cert", TrustedProxies: proxies}, false},
		{"fail/invalid-prefix", certauth.Config{TrustAnchors: anchors, ProxyHeader: "X-Client-Cert", TrustedProxies: []netip.Prefix{{}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.ok {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, certauth.ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig", err)
			}
			if _, nerr := certauth.New(tt.cfg); !errors.Is(nerr, certauth.ErrInvalidConfig) {
				t.Errorf("New() error = %v, want ErrInvalidConfig", nerr)
			}
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	t.Parallel()
	err := certauth.Config{ProxyHeader: "bad name"}.Validate()
	// no anchors, header without proxies, bad header name
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 3 {
		t.Errorf("Validate() = %v, want 3 problems reported together", err)
	}
}

func TestIdentityLogValue(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	id := certauth.Identity{DNI: "48151623L", Subject: "CN=ESPAÑOL ESPAÑOL\\, JUAN,SERIALNUMBER=IDCES-48151623L", Fingerprint: "ab12", NotAfter: testNow}
	slog.New(slog.NewTextHandler(&logs, nil)).Info("signed in", "identity", id)
	out := logs.String()
	if strings.Contains(out, "48151623") || strings.Contains(out, "JUAN") {
		t.Errorf("log %q shows the DNI or the subject, want them hidden", out)
	}
	if !strings.Contains(out, "***623L") || !strings.Contains(out, "ab12") {
		t.Errorf("log %q lacks the masked DNI or the fingerprint", out)
	}
}
