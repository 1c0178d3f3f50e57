package metadata

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mdqServer is an MDQ responder: GET /entities/{id} answers a signed EntityDescriptor for the
// entities it knows, 404 otherwise.
type mdqServer struct {
	*httptest.Server
	t        *testing.T
	mu       sync.Mutex
	docs     map[string][]byte // by decoded entityID
	status   int               // when non-zero, answer this
	paths    []string          // escaped paths asked for
	accept   []string
	hits     atomic.Int32
	gate     chan struct{} // when non-nil, each request waits for it to close
	started  chan struct{} // receives one value per request, when non-nil
	stopOnce sync.Once
}

func newMDQServer(t *testing.T) *mdqServer {
	s := &mdqServer{t: t, docs: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() { s.release(); s.Close() })
	return s
}

func (s *mdqServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	gate, started := s.gate, s.started
	s.paths = append(s.paths, r.URL.EscapedPath())
	s.accept = append(s.accept, r.Header.Get("Accept"))
	s.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/entities/")
	doc, known := s.docs[id]
	if !ok || !known {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(doc)
}

func (s *mdqServer) release() {
	s.mu.Lock()
	g := s.gate
	s.mu.Unlock()
	if g != nil {
		s.stopOnce.Do(func() { close(g) })
	}
}

func (s *mdqServer) set(f func(s *mdqServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// mdqEntityDoc is a signed EntityDescriptor for entityID; attrs go on the root.
func mdqEntityDoc(t testing.TB, signerName, entityID, certFile, attrs string) []byte {
	t.Helper()
	return signRemoteXML(t, remoteTestSigner(t, signerName), mdqEntityXML(t, entityID, certFile, attrs))
}

func mdqEntityXML(t testing.TB, entityID, certFile, attrs string) string {
	t.Helper()
	return `<EntityDescriptor ` + remoteNSDecls + ` ID="e1" entityID="` + entityID + `" ` + attrs + `>
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
   <KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64(loadCert(t, certFile)) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
   <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://mdq-sp.example.test/acs" index="0"/>
  </SPSSODescriptor>
</EntityDescriptor>`
}

const mdqSP = "https://mdq-sp.example.test/sp"

type mdqFixture struct {
	srv   *mdqServer
	src   *MDQSource
	clock *fakeClock
	audit *syncBuffer
}

func newMDQFixture(t *testing.T, mod func(*MDQOptions)) *mdqFixture {
	t.Helper()
	f := &mdqFixture{srv: newMDQServer(t), clock: &fakeClock{t: testNow()}, audit: &syncBuffer{}}
	o := MDQOptions{
		Name:          "mdq",
		BaseURL:       f.srv.URL + "/",
		TrustAnchors:  []*x509.Certificate{remoteTestSigner(t, "anchor-a").cert},
		HTTPClient:    f.srv.Client(),
		MaxCache:      time.Hour,
		NegativeCache: time.Minute,
		Retry:         30 * time.Second,
		Timeout:       5 * time.Second,
		Now:           f.clock.Now,
		Logger:        testLogger(t),
		Audit:         slog.New(slog.NewJSONHandler(f.audit, nil)),
	}
	if mod != nil {
		mod(&o)
	}
	src, err := NewMDQSource(o)
	if err != nil {
		t.Fatal(err)
	}
	f.src = src
	return f
}

func TestMDQCacheHit(t *testing.T) {
	f := newMDQFixture(t, nil)
	f.srv.docs[mdqSP] = mdqEntityDoc(t, "anchor-a", mdqSP, "sp-rsa2048.crt", remoteValidFor(24*time.Hour)+` cacheDuration="PT10M"`)
	for range 3 {
		sp, err := f.src.Lookup(mdqSP)
		if err != nil {
			t.Fatal(err)
		}
		if sp.EntityID != mdqSP || sp.Source != "mdq" {
			t.Fatalf("Lookup = %+v", sp)
		}
	}
	if n := f.srv.hits.Load(); n != 1 {
		t.Errorf("responder hit %d times, want 1 (cached)", n)
	}
	if got := f.srv.paths[0]; got != "/entities/https%3A%2F%2Fmdq-sp.example.test%2Fsp" {
		t.Errorf("path = %s, want the percent-encoded entityID", got)
	}
	if got := f.srv.accept[0]; got != "application/samlmetadata+xml" {
		t.Errorf("Accept = %q", got)
	}
	// cacheDuration (10 min) is shorter than MaxCache (1 h): asked again after it.
	f.clock.Set(testNow().Add(11 * time.Minute))
	if _, err := f.src.Lookup(mdqSP); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.hits.Load(); n != 2 {
		t.Errorf("responder hit %d times after cacheDuration, want 2", n)
	}
	if got := f.src.Entities(); len(got) != 1 {
		t.Errorf("Entities() = %v", got)
	}
	if st := f.src.Status(); st.Entities != 1 || st.LastSuccess.IsZero() || !st.EarliestValidUntil.Equal(testNow().Add(24*time.Hour)) {
		t.Errorf("Status() = %+v", st)
	}
	if recs := refreshAudits(t, f.audit.String()); len(recs) != 1 || recs[0].Added != 1 || recs[0].Source != "mdq" {
		t.Errorf("audit = %+v, want one record for the first fetch", recs)
	}
}

func TestMDQCacheBoundedByValidUntil(t *testing.T) {
	f := newMDQFixture(t, nil)
	f.srv.docs[mdqSP] = mdqEntityDoc(t, "anchor-a", mdqSP, "sp-rsa2048.crt", remoteValidFor(5*time.Minute))
	if _, err := f.src.Lookup(mdqSP); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(testNow().Add(6 * time.Minute))
	f.srv.docs[mdqSP] = mdqEntityDoc(t, "anchor-a", mdqSP, "sp-rsa2048.crt", remoteValidFor(time.Hour))
	if _, err := f.src.Lookup(mdqSP); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.hits.Load(); n != 2 {
		t.Errorf("responder hit %d times, want 2 (validUntil ends the cache)", n)
	}
}

func TestMDQNegativeCache(t *testing.T) {
	f := newMDQFixture(t, nil)
	for range 2 {
		if _, err := f.src.Lookup("https://nobody.example.test"); !errors.Is(err, ErrUnknownEntity) {
			t.Fatalf("Lookup(unknown) = %v, want ErrUnknownEntity", err)
		}
	}
	if n := f.srv.hits.Load(); n != 1 {
		t.Errorf("responder hit %d times, want 1 (404 cached)", n)
	}
	f.clock.Set(testNow().Add(2 * time.Minute))
	_, _ = f.src.Lookup("https://nobody.example.test")
	if n := f.srv.hits.Load(); n != 2 {
		t.Errorf("responder hit %d times after NegativeCache, want 2", n)
	}
}

// TestMDQ404RemovesEntity: 404 is authoritative; the stale copy is not served.
func TestMDQ404RemovesEntity(t *testing.T) {
	f := newMDQFixture(t, nil)
	f.srv.docs[mdqSP] = mdqEntityDoc(t, "anchor-a", mdqSP, "sp-rsa2048.crt", remoteValidFor(24*time.Hour))
	if _, err := f.src.Lookup(mdqSP); err != nil {
		t.Fatal(err)
	}
	f.srv.set(func(s *mdqServer) { delete(s.docs, mdqSP) })
	f.clock.Set(testNow().Add(2 * time.Hour))
	if _, err := f.src.Lookup(mdqSP); !errors.Is(err, ErrUnknownEntity) {
		t.Errorf("Lookup after 404 = %v, want ErrUnknownEntity", err)
	}
}

func TestMDQStaleOnError(t *testing.T) {
	f := newMDQFixture(t, nil)
	f.srv.docs[mdqSP] = mdqEntityDoc(t, "anchor-a", mdqSP, "sp-rsa2048.crt", remoteValidFor(24*time.Hour))
	if _, err := f.src.Lookup(mdqSP); err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(s *mdqServer){
		"fail/status": func(s *mdqServer) { s.status = http.StatusBadGateway },
		"fail/unsigned": func(s *mdqServer) {
			s.status = 0
			s.docs[mdqSP] = []byte(mdqEntityXML(t, mdqSP, "sp-rsa2048.crt", remoteValidFor(24*time.Hour)))
		},
	} {
		t.Run(name, func(t *testing.T) {
			f.srv.set(breakIt)
			f.clock.Set(f.clock.Now().Add(2 * time.Hour)) // past MaxCache
			before := f.srv.hits.Load()
			sp, err := f.src.Lookup(mdqSP)
			if err != nil || sp.EntityID != mdqSP {
				t.Fatalf("Lookup during failure = %v, %v; want the stale copy", sp, err)
			}
			if f.srv.hits.Load() != before+1 {
				t.Fatal("no query made")
			}
			// Within Retry the responder is not asked again.
			f.clock.Set(f.clock.Now().Add(10 * time.Second))
			if _, err := f.src.Lookup(mdqSP); err != nil {
				t.Fatal(err)
			}
			if f.srv.hits.Load() != before+1 {
				t.Error("queried again within Retry")
			}
			if st := f.src.Status(); st.LastFailure.IsZero() || st.LastError == "" {
				t.Errorf("Status() = %+v", st)
			}
		})
	}
	// Once the stale copy's validUntil has passed it is not served.
	f.clock.Set(testNow().Add(25 * time.Hour))
	if _, err := f.src.Lookup(mdqSP); err == nil {
		t.Error("expired stale copy served")
	}
}

func TestMDQRefused(t *testing.T) {
	tests := map[string]struct {
		doc  func(t *testing.T) []byte
		want error
	}{
		"fail/not-an-anchor": {func(t *testing.T) []byte {
			return mdqEntityDoc(t, "stranger", mdqSP, "sp-rsa2048.crt", remoteValidFor(time.Hour))
		}, ErrUntrusted},
		"fail/other-entity": {func(t *testing.T) []byte {
			return mdqEntityDoc(t, "anchor-a", "https://other.example.test/sp", "sp-rsa2048.crt", remoteValidFor(time.Hour))
		}, ErrInvalidEntity},
		"fail/expired": {func(t *testing.T) []byte {
			return mdqEntityDoc(t, "anchor-a", mdqSP, "sp-rsa2048.crt", remoteValidFor(-time.Hour))
		}, ErrDocumentExpired},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newMDQFixture(t, nil)
			f.srv.docs[mdqSP] = tc.doc(t)
			if _, err := f.src.Lookup(mdqSP); !errors.Is(err, tc.want) {
				t.Errorf("Lookup = %v, want %v", err, tc.want)
			}
			if got := f.src.Entities(); len(got) != 0 {
				t.Errorf("Entities() = %v, want none cached", got)
			}
		})
	}
}

func TestMDQSingleFlight(t *testing.T) {
	f := newMDQFixture(t, nil)
	f.srv.docs[mdqSP] = mdqEntityDoc(t, "anchor-a", mdqSP, "sp-rsa2048.crt", remoteValidFor(24*time.Hour))
	f.srv.set(func(s *mdqServer) { s.gate = make(chan struct{}); s.started = make(chan struct{}, 16) })
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := f.src.Lookup(mdqSP)
			errs <- err
		})
	}
	<-f.srv.started // the one query is at the responder
	// Wait until every caller is either waiting on that query or not yet started; none can
	// start a second one while it is in flight.
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.src.mu.Lock()
		inflight := len(f.src.inflight)
		f.src.mu.Unlock()
		if inflight == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the other callers reach the wait
	f.srv.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := f.srv.hits.Load(); got != 1 {
		t.Errorf("%d concurrent lookups made %d queries, want 1", n, got)
	}
}

func TestMDQTimeout(t *testing.T) {
	// The hung query outlives the Lookup by design (bounded by Timeout): nothing of it may log
	// into the test's output after the test ends.
	f := newMDQFixture(t, func(o *MDQOptions) { o.Timeout, o.Logger, o.Audit = 50*time.Millisecond, nil, nil })
	f.srv.set(func(s *mdqServer) { s.gate = make(chan struct{}) })
	start := time.Now()
	_, err := f.src.Lookup(mdqSP)
	if !errors.Is(err, ErrFetch) {
		t.Errorf("Lookup against a hung responder = %v, want ErrFetch", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Lookup took %s, want about the 50ms timeout", d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := f.src.LookupContext(ctx, "https://another.example.test"); !errors.Is(err, context.Canceled) {
		t.Errorf("LookupContext(canceled) = %v, want context.Canceled", err)
	}
}

func TestNewMDQSourceErrors(t *testing.T) {
	_, err := NewMDQSource(MDQOptions{BaseURL: "https://mdq.test/?x=1"})
	if err == nil || !strings.Contains(err.Error(), "trust anchors") || !strings.Contains(err.Error(), "base URL") {
		t.Errorf("NewMDQSource = %v, want both problems", err)
	}
}
