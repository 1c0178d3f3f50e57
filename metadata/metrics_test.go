package metadata

import (
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/metrics"
)

// TestURLSourceExpiredWhileNotModified: the publisher keeps answering 304 to a document we hold
// that has since expired. That is the expired case too: an ERROR line, Status().Expired, the
// failure counted, no entity served, and the next request is unconditional.
func TestURLSourceExpiredWhileNotModified(t *testing.T) {
	doc := signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(remoteValidFor(time.Hour),
		remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs")))
	f := newURLFixture(t, doc, nil)
	f.mustRefresh()
	if st := f.src.Status(); st.Expired || st.RefreshFailures != 0 || st.Entities != 1 {
		t.Fatalf("Status() after a good refresh = %+v", st)
	}
	f.clock.Set(testNow().Add(2 * time.Hour))
	if st := f.src.Status(); st.Entities != 0 {
		t.Errorf("Status().Entities once the document expired = %d, want 0 (counted at the call)", st.Entities)
	}
	err := f.src.Refresh(t.Context())
	if !errors.Is(err, ErrDocumentExpired) {
		t.Fatalf("Refresh() on a 304 for an expired document = %v, want ErrDocumentExpired", err)
	}
	if !strings.Contains(f.log.String(), "level=ERROR") || !strings.Contains(f.log.String(), "expired") {
		t.Errorf("log = %s, want an ERROR line saying expired", f.log)
	}
	st := f.src.Status()
	if !st.Expired || st.RefreshFailures != 1 || !st.LastFailure.Equal(testNow().Add(2*time.Hour)) || st.Entities != 0 {
		t.Errorf("Status() = %+v, want expired, one failure, nothing served", st)
	}
	_ = f.src.Refresh(t.Context())
	if got := f.srv.ifNoneMatch(); len(got) != 3 || got[1] != `"v1"` || got[2] != "" {
		t.Errorf("If-None-Match = %q, want the validators dropped after the expiry", got)
	}

	// A new document from the publisher clears the flag.
	f.srv.publish(signRemoteXML(t, remoteTestSigner(t, "anchor-a"), remoteAggregateXML(
		`validUntil="`+testNow().Add(26*time.Hour).Format(time.RFC3339)+`"`,
		remoteSPXML(t, remoteOne, "sp-rsa2048.crt", "https://one.example.test/acs"))), `"v2"`)
	f.mustRefresh()
	if st := f.src.Status(); st.Expired || st.RefreshFailures != 2 || st.Entities != 1 {
		t.Errorf("Status() after a new document = %+v", st)
	}
}

// TestMultiWarnsOncePerRefresh: a standing conflict is warned about again only after a source
// holding it refreshed, however often Reconcile runs.
func TestMultiWarnsOncePerRefresh(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), nil)
	f.mustRefresh()
	log := &syncBuffer{}
	m, err := NewMulti([]MultiSource{
		{Name: "directory", Source: multiMapSource{sps: multiSPs("directory", remoteOne)}},
		{Name: "federation", Source: f.src},
	}, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	warnings := func() int { return strings.Count(log.String(), "level=WARN") }
	for range 3 {
		m.Reconcile(t.Context())
	}
	if n := warnings(); n != 1 {
		t.Fatalf("three reconciles without a refresh: %d warnings, want 1\n%s", n, log)
	}
	f.clock.Set(testNow().Add(time.Hour))
	f.mustRefresh() // 304: still a refresh
	m.Reconcile(t.Context())
	m.Reconcile(t.Context())
	if n := warnings(); n != 2 {
		t.Errorf("after the federation refreshed: %d warnings, want 2\n%s", n, log)
	}
	if c := m.Conflicts(); len(c) != 1 || c[0].Winner != "directory" || c[0].Shadowed[0] != "federation" {
		t.Errorf("Conflicts() = %+v", c)
	}
}

// TestSourceCollector scrapes /metrics as Prometheus does and checks each source's figures.
func TestSourceCollector(t *testing.T) {
	f := newURLFixture(t, remoteTwoSPs(t), nil)
	f.mustRefresh()
	f.clock.Set(testNow().Add(time.Minute))
	f.srv.fail(500)
	_ = f.src.Refresh(t.Context())
	m, err := NewMulti([]MultiSource{
		{Name: "directory", Source: multiMapSource{sps: multiSPs("directory", remoteOne, "https://local.test/sp")}},
		{Name: "federation", Source: f.src},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Reconcile(t.Context())
	reg := metrics.NewRegistry()
	reg.MustRegister(NewCollector(m))
	srv := httptest.NewServer(metrics.Handler(reg))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`atea_metadata_source_last_success_timestamp_seconds{source="federation"} ` + promFloat(testNow()),
		`atea_metadata_source_last_failure_timestamp_seconds{source="federation"} ` + promFloat(testNow().Add(time.Minute)),
		`atea_metadata_source_refresh_failures_total{source="federation"} 1`,
		`atea_metadata_source_document_expired{source="federation"} 0`,
		`atea_metadata_source_entities{source="federation"} 2`,
		`atea_metadata_source_entities{source="directory"} 2`,
		`atea_metadata_source_valid_until_timestamp_seconds{source="federation"} ` + promFloat(testNow().Add(24*time.Hour)),
		`atea_metadata_source_priority{source="directory"} 0`,
		`atea_metadata_source_priority{source="federation"} 1`,
		"atea_metadata_conflicts 1",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, absent := range []string{
		`atea_metadata_source_last_success_timestamp_seconds{source="directory"}`, // not tracked for the directory
		`atea_metadata_source_valid_until_timestamp_seconds{source="directory"}`,  // no validUntil there
	} {
		if strings.Contains(text, absent) {
			t.Errorf("/metrics has %q", absent)
		}
	}
}

// promFloat is how the text exposition format writes a Unix time in seconds (strconv 'g').
func promFloat(t time.Time) string { return strconv.FormatFloat(float64(t.Unix()), 'g', -1, 64) }
