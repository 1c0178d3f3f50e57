package metadata

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/metadata/xmlsig"
)

const (
	remoteOne = "https://one.example.test/sp"
	remoteTwo = "https://two.example.test/sp"
)

// remoteTwoSPs is a signed aggregate of two SPs and one IdP, valid for a day.
func remoteTwoSPs(t testing.TB) []byte {
	t.Helper()
	return signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(remoteValidFor(24*time.Hour),
		remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs"),
		remoteIdPXML,
		remoteSPXML(t, remoteTwo, "sp2-rsa2048.crt", "https://two.example.test/acs")))
}

type urlFixture struct {
	t     *testing.T
	srv   *remoteServer
	src   *URLSource
	clock *fakeClock
	log   *syncBuffer
	audit *syncBuffer
}

func newURLFixture(t *testing.T, body []byte, mod func(*URLOptions)) *urlFixture {
	t.Helper()
	f := &urlFixture{t: t, srv: newRemoteServer(t, body), clock: &fakeClock{t: testNow()}, log: &syncBuffer{}, audit: &syncBuffer{}}
	o := URLOptions{
		Name:         "federation",
		URL:          f.srv.URL + "/metadata.xml",
		TrustAnchors: []*x509.Certificate{remoteTestSigner(t, "anchor-a").cert, remoteTestSigner(t, "anchor-b").cert},
		HTTPClient:   f.srv.Client(),
		Interval:     time.Hour,
		MinInterval:  time.Minute,
		Now:          f.clock.Now,
		Logger:       slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Audit:        slog.New(slog.NewJSONHandler(f.audit, nil)),
	}
	if mod != nil {
		mod(&o)
	}
	src, err := NewURLSource(o)
	if err != nil {
		t.Fatal(err)
	}
	f.src = src
	return f
}

func (f *urlFixture) mustRefresh() {
	f.t.Helper()
	if err := f.src.Refresh(f.t.Context()); err != nil {
		f.t.Fatalf("Refresh() = %v, want nil", err)
	}
}

func (f *urlFixture) ids() []string {
	var out []string
	for _, sp := range f.src.Entities() {
		out = append(out, sp.EntityID)
	}
	return out
}

func TestURLSourceSignedAggregate(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), nil)
	if _, err := f.src.Lookup(remoteOne); !errors.Is(err, ErrUnknownEntity) {
		t.Fatalf("Lookup before Refresh = %v, want ErrUnknownEntity", err)
	}
	f.mustRefresh() // the IdP entity is not a problem
	if got, want := strings.Join(f.ids(), " "), remoteOne+" "+remoteTwo; got != want {
		t.Fatalf("Entities() = %s, want %s", got, want)
	}
	sp, err := f.src.Lookup(remoteTwo)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Source != "federation" || len(sp.ACS) != 1 || sp.ACS[0].Location != "https://two.example.test/acs" {
		t.Errorf("Lookup(%s) = %+v", remoteTwo, sp)
	}
	if !sp.SigningCerts[0].Equal(loadCert(t, "sp2-rsa2048.crt")) {
		t.Error("signing certificate not read from the document")
	}
	st := f.src.Status()
	if st.Name != "federation" || !st.LastSuccess.Equal(testNow()) || st.Entities != 2 || st.LastError != "" ||
		!st.EarliestValidUntil.Equal(testNow().Add(24*time.Hour)) {
		t.Errorf("Status() = %+v", st)
	}
	if _, err := f.src.Lookup("https://idp.example.test/idp"); !errors.Is(err, ErrUnknownEntity) {
		t.Errorf("Lookup(IdP) = %v, want ErrUnknownEntity", err)
	}
}

func TestURLSourceSingleEntity(t *testing.T) {
	doc := `<EntityDescriptor ` + remoteNSDecls + ` ID="e1" entityID="` + remoteOne + `" ` + remoteValidFor(time.Hour) + `>
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
   <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://one.example.test/acs" index="0"/>
  </SPSSODescriptor>
</EntityDescriptor>`
	f := newURLFixture(t, signRemoteXML(t, remoteTestSigner(t, "anchor-b"), doc), nil)
	f.mustRefresh()
	if got := f.ids(); len(got) != 1 || got[0] != remoteOne {
		t.Fatalf("Entities() = %v", got)
	}
}

// TestURLSourceRefused serves a good document, then a bad one: the bad one is refused with the
// right error and the entities of the good one stay (keep last good).
func TestURLSourceRefused(t *testing.T) {
	anchor := remoteTestSigner(t, "anchor-a")
	good := remoteAggregateXML(remoteValidFor(24*time.Hour), remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs"))
	tests := []struct {
		name    string
		body    func(t *testing.T) []byte
		status  int
		maxSize int64
		want    error
	}{
		{name: "fail/unsigned", body: func(t *testing.T) []byte { return []byte(good) }, want: xmlsig.ErrNoSignature},
		{name: "fail/tampered", body: func(t *testing.T) []byte {
			return bytes.Replace(signRemoteXML(t, anchor, good), []byte("https://one.example.test/acs"), []byte("https://evil.example.test/acs"), 1)
		}, want: xmlsig.ErrSignature},
		{name: "fail/not-an-anchor", body: func(t *testing.T) []byte { return signRemoteXML(t, remoteTestSigner(t, "stranger"), good) }, want: xmlsig.ErrSignature},
		{name: "fail/expired", body: func(t *testing.T) []byte {
			return signRemoteXML(t, anchor, remoteAggregateXML(remoteValidFor(-time.Minute), remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs")))
		}, want: ErrDocumentExpired},
		{name: "fail/oversized", maxSize: 8 << 10, body: func(t *testing.T) []byte {
			var many []string
			for range 5 {
				many = append(many, remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs"))
			}
			return signRemoteXML(t, anchor, remoteAggregateXML(remoteValidFor(time.Hour), many...))
		}, want: ErrTooLarge},
		{name: "fail/not-metadata", body: func(t *testing.T) []byte {
			return signRemoteXML(t, anchor, `<md:Other xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="x1"/>`)
		}, want: ErrNotMetadata},
		{name: "fail/status", status: http.StatusInternalServerError, want: ErrFetch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newURLFixture(t, signRemoteXML(t, anchor, good), func(o *URLOptions) {
				if tc.maxSize > 0 {
					o.MaxBytes = tc.maxSize
				}
			})
			f.mustRefresh()
			f.clock.Set(testNow().Add(time.Minute))
			if tc.status != 0 {
				f.srv.fail(tc.status)
			} else {
				f.srv.publish(tc.body(t), `"v2"`)
			}
			err := f.src.Refresh(t.Context())
			if !errors.Is(err, tc.want) {
				t.Fatalf("Refresh() = %v, want %v", err, tc.want)
			}
			if tc.want == xmlsig.ErrNoSignature || tc.want == xmlsig.ErrSignature {
				if !errors.Is(err, ErrUntrusted) {
					t.Errorf("Refresh() = %v, want ErrUntrusted too", err)
				}
			}
			if _, err := f.src.Lookup(remoteOne); err != nil {
				t.Errorf("Lookup after a refused refresh = %v, want the last good entity", err)
			}
			st := f.src.Status()
			if !st.LastSuccess.Equal(testNow()) || !st.LastFailure.Equal(testNow().Add(time.Minute)) || st.LastError == "" || st.Entities != 1 {
				t.Errorf("Status() = %+v", st)
			}
			if !strings.Contains(f.log.String(), "keeping the last good entities") {
				t.Errorf("log = %s, want the refusal", f.log)
			}
		})
	}
}

// TestURLSourceRefusedFirst: a source whose first document is bad serves nothing.
func TestURLSourceRefusedFirst(t *testing.T) {
	good := remoteAggregateXML(remoteValidFor(time.Hour), remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs"))
	f := newURLFixture(t, signRemoteXML(t, remoteTestSigner(t, "stranger"), good), nil)
	if err := f.src.Refresh(t.Context()); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("Refresh() = %v, want ErrUntrusted", err)
	}
	if got := f.ids(); len(got) != 0 {
		t.Errorf("Entities() = %v, want none", got)
	}
	if !f.src.Status().LastSuccess.IsZero() {
		t.Error("LastSuccess set by a failure")
	}
}

func TestURLSourceExpiredIsLoud(t *testing.T) {
	doc := signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(`validUntil="2026-02-01T00:00:00Z"`,
		remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs")))
	f := newURLFixture(t, doc, nil)
	if err := f.src.Refresh(t.Context()); !errors.Is(err, ErrDocumentExpired) {
		t.Fatalf("Refresh() = %v, want ErrDocumentExpired", err)
	}
	var line string
	for _, l := range strings.Split(f.log.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			line = l
		}
	}
	for _, want := range []string{"source.name=federation", "valid_until=2026-02-01T00:00:00.000Z", "expired"} {
		if !strings.Contains(line, want) {
			t.Errorf("error log line %q lacks %q", line, want)
		}
	}
}

func TestURLSourceConditionalGET(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), nil)
	f.mustRefresh()
	before := f.src.snap.Load()
	f.clock.Set(testNow().Add(time.Hour))
	f.mustRefresh()
	if got := f.srv.ifNoneMatch(); len(got) != 2 || got[0] != "" || got[1] != `"v1"` {
		t.Fatalf("server saw If-None-Match %q, want none then \"v1\"", got)
	}
	if f.src.snap.Load() != before {
		t.Error("a 304 replaced the snapshot")
	}
	if st := f.src.Status(); !st.LastSuccess.Equal(testNow().Add(time.Hour)) || st.Entities != 2 {
		t.Errorf("Status() after 304 = %+v", st)
	}
	if strings.Count(f.audit.String(), "metadata_refreshed") != 2 { // message and event of the first load
		t.Errorf("audit = %s, want only the first load", f.audit)
	}

	// A refused document does not update the validators: the next request is unconditional
	// again rather than pinning the old ETag.
	f.srv.publish([]byte(remoteAggregateXML("")), `"v2"`)
	if err := f.src.Refresh(t.Context()); err == nil {
		t.Fatal("unsigned document accepted")
	}
	if got := f.srv.ifNoneMatch(); got[2] != `"v1"` {
		t.Errorf("If-None-Match after refusal = %q, want the last good \"v1\"", got[2])
	}
}

// refreshAudit is the JSON of one "metadata_refreshed" line.
type refreshAudit struct {
	Event      string   `json:"event"`
	Source     string   `json:"source"`
	Entities   int      `json:"entities"`
	Added      int      `json:"added"`
	Removed    int      `json:"removed"`
	Changed    int      `json:"changed"`
	AddedIDs   []string `json:"added_ids"`
	RemovedIDs []string `json:"removed_ids"`
	ChangedIDs []string `json:"changed_ids"`
	Truncated  bool     `json:"truncated"`
}

func refreshAudits(t *testing.T, s string) []refreshAudit {
	t.Helper()
	var out []refreshAudit
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var r refreshAudit
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

func TestURLSourceDiffAudit(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), nil)
	f.mustRefresh()
	const remoteThree = "https://three.example.test/sp"
	// two removed, three added, one's signing key rolled over.
	f.srv.publish(signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(remoteValidFor(24*time.Hour),
		remoteSPXML(t, remoteOne, "sp2-rsa2048.crt", "https://one.example.test/acs"),
		remoteSPXML(t, remoteThree, "sp-rsa2048.crt", "https://three.example.test/acs"))), `"v2"`)
	f.mustRefresh()
	// the same entities again under a new ETag: no record.
	f.srv.publish(signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(remoteValidFor(25*time.Hour),
		remoteSPXML(t, remoteOne, "sp2-rsa2048.crt", "https://one.example.test/acs"),
		remoteSPXML(t, remoteThree, "sp-rsa2048.crt", "https://three.example.test/acs"))), `"v3"`)
	f.mustRefresh()

	recs := refreshAudits(t, f.audit.String())
	if len(recs) != 2 {
		t.Fatalf("audit records = %+v, want 2", recs)
	}
	first, second := recs[0], recs[1]
	if first.Event != "metadata_refreshed" || first.Source != "federation" || first.Added != 2 || first.Entities != 2 ||
		strings.Join(first.AddedIDs, " ") != remoteOne+" "+remoteTwo {
		t.Errorf("first record = %+v", first)
	}
	if second.Added != 1 || second.AddedIDs[0] != remoteThree || second.Removed != 1 || second.RemovedIDs[0] != remoteTwo ||
		second.Changed != 1 || second.ChangedIDs[0] != remoteOne+" (signing keys)" || second.Truncated {
		t.Errorf("second record = %+v", second)
	}
}

// TestURLSourceDuplicateEntity: in an aggregate the first occurrence of an entityID wins and
// the second is a per-entity problem (as Parse decides); the document is still used.
func TestURLSourceDuplicateEntity(t *testing.T) {
	f := newURLFixture(t, signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(remoteValidFor(time.Hour),
		remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs"),
		remoteSPXML(t, remoteOne, "sp2-rsa2048.crt", "https://evil.example.test/acs"),
		remoteSPXML(t, remoteTwo, "sp2-rsa2048.crt", "https://two.example.test/acs"))), nil)
	err := f.src.Refresh(t.Context())
	if !errors.Is(err, ErrInvalidEntity) || !errors.Is(err, errDuplicateEntity) {
		t.Fatalf("Refresh() = %v, want the duplicate reported", err)
	}
	sp, err := f.src.Lookup(remoteOne)
	if err != nil || sp.ACS[0].Location != "https://one.example.test/acs" {
		t.Fatalf("Lookup(%s) = %+v, %v; want the first occurrence", remoteOne, sp, err)
	}
	if got := f.ids(); len(got) != 2 {
		t.Errorf("Entities() = %v", got)
	}
	if st := f.src.Status(); st.LastSuccess.IsZero() || st.LastError != "" {
		t.Errorf("Status() = %+v: a used document is a success", st)
	}
}

// TestURLSourceKeepsLastGoodEntity: an entity that turns invalid in a new, valid document keeps
// its last good version; one that disappears is removed.
func TestURLSourceKeepsLastGoodEntity(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), nil)
	f.mustRefresh()
	f.srv.publish(signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(remoteValidFor(24*time.Hour),
		remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "javascript:alert(1)"))), `"v2"`)
	if err := f.src.Refresh(t.Context()); !errors.Is(err, errACSLocation) {
		t.Fatalf("Refresh() = %v, want the bad ACS reported", err)
	}
	sp, err := f.src.Lookup(remoteOne)
	if err != nil || sp.ACS[0].Location != "https://one.example.test/acs" {
		t.Errorf("Lookup(%s) = %v, %v; want the last good version", remoteOne, sp, err)
	}
	if _, err := f.src.Lookup(remoteTwo); !errors.Is(err, ErrUnknownEntity) {
		t.Errorf("Lookup(%s) = %v, want removed", remoteTwo, err)
	}
}

func TestURLSourceEntityExpiresBetweenRefreshes(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), nil)
	f.mustRefresh()
	f.clock.Set(testNow().Add(24 * time.Hour))
	if _, err := f.src.Lookup(remoteOne); !errors.Is(err, ErrUnknownEntity) || !errors.Is(err, errExpired) {
		t.Errorf("Lookup after validUntil = %v, want expired", err)
	}
	if got := f.ids(); len(got) != 0 {
		t.Errorf("Entities() after validUntil = %v", got)
	}
}

func TestURLSourceSchedule(t *testing.T) {
	doc := func(attrs string) []byte {
		return signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(attrs, remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs")))
	}
	tests := []struct {
		name  string
		attrs string
		want  time.Duration
	}{
		{"ok/interval", remoteValidFor(30 * 24 * time.Hour), time.Hour},
		{"ok/cacheDuration", remoteValidFor(30*24*time.Hour) + ` cacheDuration="PT10M"`, 10 * time.Minute},
		{"ok/cacheDuration-below-min", remoteValidFor(30*24*time.Hour) + ` cacheDuration="PT1S"`, time.Minute},
		{"ok/validUntil-near", remoteValidFor(40 * time.Minute), 20 * time.Minute},
		{"ok/bad-cacheDuration-ignored", remoteValidFor(30*24*time.Hour) + ` cacheDuration="soon"`, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newURLFixture(t, doc(tc.attrs), nil)
			if d := f.src.delay(); d != 0 {
				t.Errorf("delay before the first refresh = %s, want 0", d)
			}
			f.mustRefresh()
			if d := f.src.delay(); d != tc.want {
				t.Errorf("delay = %s, want %s", d, tc.want)
			}
		})
	}
	t.Run("fail/backoff", func(t *testing.T) {
		f := newURLFixture(t, doc(""), nil)
		f.srv.fail(http.StatusServiceUnavailable)
		for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute} {
			_ = f.src.Refresh(t.Context())
			if d := f.src.delay(); d != want {
				t.Errorf("delay = %s, want %s", d, want)
			}
		}
	})
}

func TestURLSourceRequireValidUntil(t *testing.T) {
	f := newURLFixture(t, signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML("",
		remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs"))), func(o *URLOptions) { o.RequireValidUntil = true })
	if err := f.src.Refresh(t.Context()); !errors.Is(err, ErrNoValidUntil) {
		t.Fatalf("Refresh() = %v, want ErrNoValidUntil", err)
	}
}

func TestURLSourceRun(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), func(o *URLOptions) { o.Interval, o.MinInterval = 5*time.Millisecond, 5*time.Millisecond })
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { f.src.Run(ctx); close(done) }()
	deadline := time.After(10 * time.Second)
	for f.srv.hits.Load() < 3 {
		select {
		case <-deadline:
			t.Fatalf("Run made %d requests, want 3", f.srv.hits.Load())
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
	if _, err := f.src.Lookup(remoteOne); err != nil {
		t.Error(err)
	}
}

func TestNewURLSourceErrors(t *testing.T) {
	_, err := NewURLSource(URLOptions{URL: "ftp://x"})
	if err == nil || !strings.Contains(err.Error(), "trust anchors") || !strings.Contains(err.Error(), "http(s)") {
		t.Errorf("NewURLSource(no anchors, bad URL) = %v, want both reported", err)
	}
	if _, err := NewURLSource(URLOptions{URL: "https://x.test/md", TrustAnchors: []*x509.Certificate{nil}}); err == nil {
		t.Error("nil anchor accepted")
	}
}

func TestParseXSDuration(t *testing.T) {
	ok := map[string]time.Duration{
		"PT6H": 6 * time.Hour, "P1D": 24 * time.Hour, "P1DT12H": 36 * time.Hour, "PT1.5S": 1500 * time.Millisecond,
		"PT10M": 10 * time.Minute, "P1Y": 365 * 24 * time.Hour, "P1M": 30 * 24 * time.Hour, " PT0S ": 0,
	}
	for in, want := range ok {
		if got, err := parseXSDuration(in); err != nil || got != want {
			t.Errorf("parseXSDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "P", "PT", "-PT1H", "PT1H1H", "P1H", "PT1D", "1H", "P1.5D", "PTM", "P1MT"} {
		if _, err := parseXSDuration(in); err == nil {
			t.Errorf("parseXSDuration(%q) accepted", in)
		}
	}
}

// TestURLSourceOversized checks both guards: the announced Content-Length and the limited read
// of a body that announces nothing (chunked).
func TestURLSourceOversized(t *testing.T) {
	body := remoteTwoSPs(t)
	for _, chunked := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !chunked {
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			}
			_, _ = w.Write(body[:100])
			w.(http.Flusher).Flush()
			_, _ = w.Write(body[100:])
		}))
		t.Cleanup(srv.Close)
		src, err := NewURLSource(URLOptions{URL: srv.URL, TrustAnchors: []*x509.Certificate{remoteTestSigner(t, "anchor-a").cert},
			HTTPClient: srv.Client(), MaxBytes: int64(len(body) - 1), Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Refresh(t.Context()); !errors.Is(err, ErrTooLarge) {
			t.Errorf("chunked=%v: Refresh() = %v, want ErrTooLarge", chunked, err)
		}
	}
}
