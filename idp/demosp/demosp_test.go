package demosp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/metadata"
)

func idpMetadata(t *testing.T, certs ...*x509.Certificate) []byte {
	t.Helper()
	md, err := metadata.BuildIdPMetadata(metadata.IdPInfo{
		EntityID: "http://127.0.0.1:8080/saml/metadata", SSOURL: "http://127.0.0.1:8080/saml/sso",
		SigningCerts: certs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := keys.SelfSigned(k, cn, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// trusted returns the IdP signing certificates the SP's crewjam middleware trusts now.
func trusted(t *testing.T, sp *SP) []string {
	t.Helper()
	var out []string
	for _, d := range sp.current().mw.ServiceProvider.IDPMetadata.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				out = append(out, c.Data)
			}
		}
	}
	return out
}

// TestLiveIdPMetadata: after Atea's served metadata changes (a key rollover of the running
// server), the demo SP trusts the new document's keys; an unparsable document keeps the old
// trust; without LiveIdPMetadata the SP keeps its first document.
func TestLiveIdPMetadata(t *testing.T) {
	spKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spCert, err := keys.SelfSigned(spKey, "demo", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	oldIdP, newIdP := selfSigned(t, "old"), selfSigned(t, "new")
	first := idpMetadata(t, oldIdP)
	var live atomic.Pointer[[]byte]
	live.Store(&first)
	opts := Options{Prefix: "/demo", BaseURL: "http://127.0.0.1:8080", Key: spKey, Cert: spCert,
		IdPMetadata: first, LiveIdPMetadata: func() []byte { return *live.Load() }}
	sp, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	static := opts
	static.LiveIdPMetadata = nil
	fixed, err := New(static)
	if err != nil {
		t.Fatal(err)
	}
	if got := trusted(t, sp); len(got) != 1 {
		t.Fatalf("trusted %d keys at start, want 1", len(got))
	}

	rolled := idpMetadata(t, newIdP, oldIdP)
	live.Store(&rolled)
	// Requests in flight while the document changes: -race checks the swap.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			sp.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/demo/saml/metadata", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("SP metadata: status %d", rec.Code)
			}
		})
	}
	wg.Wait()
	if got := trusted(t, sp); len(got) != 2 {
		t.Fatalf("after the IdP metadata changed the SP trusts %d keys, want 2 (new and old)", len(got))
	}
	if got := trusted(t, fixed); len(got) != 1 {
		t.Errorf("an SP without LiveIdPMetadata changed its trust: %d keys", len(got))
	}

	garbage := []byte("<not metadata")
	live.Store(&garbage)
	if got := trusted(t, sp); len(got) != 2 {
		t.Errorf("an unparsable document replaced the trust: %d keys", len(got))
	}
}
