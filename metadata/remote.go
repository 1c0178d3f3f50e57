package metadata

import (
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"

	"github.com/ateaidp/atea/metadata/xmlgate"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

const (
	// DefaultRemoteMaxBytes caps one document fetched by a URLSource when URLOptions.MaxBytes
	// is not positive. A large federation aggregate (eduGAIN) is about 100–200 MB.
	DefaultRemoteMaxBytes = 256 << 20
	// DefaultRemoteInterval is the refresh period of URLSource.Run when URLOptions.Interval is
	// not positive.
	DefaultRemoteInterval = time.Hour
	// DefaultRemoteMinInterval is the shortest delay between two refreshes of a URLSource when
	// URLOptions.MinInterval is not positive: a tiny cacheDuration or a failing server must not
	// turn Run into a tight loop against the publisher.
	DefaultRemoteMinInterval = time.Minute
	// defaultFetchTimeout bounds one HTTP exchange of the default client. Callers with other
	// needs pass their own HTTPClient (and a ctx deadline).
	defaultFetchTimeout = 5 * time.Minute
)

// Errors of remote sources (URLSource, MDQSource). They are wrapped with context; branch with
// errors.Is.
var (
	// ErrUntrusted means a remote document's signature is missing, malformed, or made with a key
	// that is not one of the source's trust anchors. The xmlsig sentinel is wrapped as well.
	ErrUntrusted = errors.New("metadata: document signature not trusted")
	// ErrDocumentExpired means a remote document's root validUntil has passed
	// (saml-metadata-2.0-os §2.3.1: metadata must not be used past its validUntil).
	ErrDocumentExpired = errors.New("metadata: document validUntil has passed")
	// ErrNoValidUntil means a source requires a root validUntil and the document has none.
	ErrNoValidUntil = errors.New("metadata: document has no validUntil")
	// ErrTooLarge means a fetched document exceeds the source's byte budget.
	ErrTooLarge = errors.New("metadata: document too large")
	// ErrFetch means the HTTP exchange failed: transport error or unexpected status.
	ErrFetch = errors.New("metadata: fetch failed")
)

// errMissingAnchors is returned by constructors of remote sources configured without trust
// anchors: unsigned remote metadata is never acceptable (SECURITY.md §4.11).
var errMissingAnchors = errors.New("no trust anchors: a remote source needs the publisher's signing certificates")

// URLOptions configures a URLSource.
type URLOptions struct {
	// Name identifies the source in logs, audit records and SP.Source; defaults to URL.
	Name string
	// URL is the http(s) address of one EntityDescriptor or an EntitiesDescriptor aggregate.
	URL string
	// TrustAnchors are the pinned certificates of the publisher's signing keys (several during a
	// key rollover). Required.
	TrustAnchors []*x509.Certificate
	// HTTPClient does the fetching; nil means a client with a 5-minute timeout.
	HTTPClient *http.Client
	// MaxBytes caps the document; DefaultRemoteMaxBytes when not positive.
	MaxBytes int64
	// Interval is the refresh period of Run; DefaultRemoteInterval when not positive. The
	// document's cacheDuration may shorten it (saml-metadata-2.0-os §2.3.1), never below
	// MinInterval.
	Interval time.Duration
	// MinInterval is the shortest delay between refreshes, and the first retry delay after a
	// failure (doubling up to Interval); DefaultRemoteMinInterval when not positive.
	MinInterval time.Duration
	// RequireValidUntil refuses documents without a root validUntil: without one, an old signed
	// document could be replayed forever (SECURITY.md §4.11).
	RequireValidUntil bool
	// Now is the clock for validUntil checks; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Audit receives one "metadata_refreshed" record per refresh that changes the entities;
	// nil discards them.
	Audit *slog.Logger
	// CacheFile, when set, receives every accepted document as fetched (signature included),
	// for LoadFile after a restart. It must not be in the SP-metadata directory, which loads
	// files without signature checks.
	CacheFile string
}

// SourceStatus is what a remote source reports for metrics (issue 6: "metrics per source").
type SourceStatus struct {
	// Name is the source's name.
	Name string
	// LastSuccess is when a refresh last succeeded (a 304 Not Modified counts); zero if never.
	LastSuccess time.Time
	// LastFailure is when a refresh last failed; zero if never.
	LastFailure time.Time
	// LastError is the error of the last refresh, "" when it succeeded.
	LastError string
	// Entities is the number of entities in the current snapshot.
	Entities int
	// EarliestValidUntil is the earliest validUntil among those entities (including the
	// document's own); zero if none has one.
	EarliestValidUntil time.Time
	// RefreshFailures counts the failed refreshes (queries, for MDQ) since the source was
	// created.
	RefreshFailures int64
	// Expired is set while the last refresh failed because the document was past its
	// validUntil (issue 6: "an expired document is not used, and says so loudly"): the
	// publisher must act, or every SP of the source stops working.
	Expired bool
}

// URLSource serves the SPs of one signed metadata document fetched over HTTP: a single
// md:EntityDescriptor or an md:EntitiesDescriptor aggregate, told apart by the root element
// (as Parse does). Every refresh verifies the document's enveloped signature against the
// configured trust anchors before reading anything from it, and reads the SPs only from what
// was verified (SECURITY.md R5). A refresh that fails for any reason keeps the last good
// snapshot. Lookup and Entities read an immutable snapshot through an atomic pointer: they are
// lock-free and safe for concurrent use with Refresh; Refresh calls are serialised.
type URLSource struct {
	name        string
	url         string
	anchors     []*x509.Certificate
	client      *http.Client
	maxBytes    int64
	interval    time.Duration
	minInterval time.Duration
	requireVU   bool
	cacheFile   string
	now         func() time.Time
	log         *slog.Logger
	audit       *slog.Logger

	mu           sync.Mutex // serialises Refresh; guards the fields below
	etag         string     // validators of the last accepted 200 response
	lastModified string
	cacheFor     time.Duration // the accepted document's cacheDuration; 0 if none
	docExpiry    time.Time     // the accepted document's root validUntil; zero if none
	failures     int           // consecutive failed refreshes
	next         time.Duration // delay before Run's next refresh; 0 before the first one

	snap   atomic.Pointer[snapshot]
	status atomic.Pointer[SourceStatus] // replaced, never modified
}

var _ EntitySource = (*URLSource)(nil)

// NewURLSource validates o and returns a URLSource. It fetches nothing until Refresh or Run.
// Missing trust anchors, a missing or non-http(s) URL are errors, reported together.
func NewURLSource(o URLOptions) (*URLSource, error) {
	var errs []error
	u, err := url.Parse(o.URL)
	if o.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("URL %q is not an absolute http(s) URL", clip(o.URL, 200)))
	}
	if len(o.TrustAnchors) == 0 {
		errs = append(errs, errMissingAnchors)
	}
	for i, c := range o.TrustAnchors {
		if c == nil {
			errs = append(errs, fmt.Errorf("trust anchor %d is nil", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("metadata: url source %q: %w", clip(o.Name, 100), err)
	}
	s := &URLSource{
		name:        o.Name,
		url:         o.URL,
		anchors:     append([]*x509.Certificate(nil), o.TrustAnchors...),
		client:      o.HTTPClient,
		maxBytes:    o.MaxBytes,
		interval:    o.Interval,
		minInterval: o.MinInterval,
		requireVU:   o.RequireValidUntil,
		cacheFile:   o.CacheFile,
		now:         o.Now,
	}
	if s.name == "" {
		s.name = o.URL
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: defaultFetchTimeout}
	}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultRemoteMaxBytes
	}
	if s.interval <= 0 {
		s.interval = DefaultRemoteInterval
	}
	if s.minInterval <= 0 {
		s.minInterval = DefaultRemoteMinInterval
	}
	if s.minInterval > s.interval {
		s.minInterval = s.interval
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.log = remoteLogger(o.Logger).With(slog.Group("source", "type", "url", "name", s.name))
	s.audit = remoteLogger(o.Audit)
	s.snap.Store(&snapshot{byID: map[string]*SP{}})
	s.status.Store(&SourceStatus{Name: s.name})
	return s, nil
}

// Name returns the source's name.
func (s *URLSource) Name() string { return s.name }

// Lookup returns the metadata of entityID, or an error matching ErrUnknownEntity when the
// document does not hold it (or held it, but it has passed its validUntil). The SP is shared
// and must not be modified. It never blocks.
func (s *URLSource) Lookup(entityID string) (*SP, error) {
	return lookupSnapshot(s.snap.Load(), entityID, s.now())
}

// Entities returns every SP that Lookup would return, sorted by EntityID.
func (s *URLSource) Entities() []*SP { return entitiesSnapshot(s.snap.Load(), s.now()) }

// Status returns the source's state for metrics. It never blocks. Entities and
// EarliestValidUntil are counted now, so an entity that expired since the last refresh is
// no longer counted.
func (s *URLSource) Status() SourceStatus {
	st := *s.status.Load()
	st.Entities, st.EarliestValidUntil = countLive(s.snap.Load(), s.now())
	return st
}

// countLive is the number of entities of snap that Lookup would return at now, and their
// earliest validUntil.
func countLive(snap *snapshot, now time.Time) (int, time.Time) {
	n, vu := 0, time.Time{}
	for _, sp := range snap.sorted {
		if sp.ValidUntil.IsZero() || sp.ValidUntil.After(now) {
			n++
			vu = earliest(vu, sp.ValidUntil)
		}
	}
	return n, vu
}

// Run calls Refresh until ctx is done: first immediately (unless Refresh has already run),
// then after Interval, shortened by the document's cacheDuration and validUntil, never below
// MinInterval; after a failure it retries after MinInterval, doubling up to Interval.
func (s *URLSource) Run(ctx context.Context) {
	for {
		t := time.NewTimer(s.delay())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			_ = s.Refresh(ctx) // logged by Refresh
		}
	}
}

func (s *URLSource) delay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Refresh fetches the document now. A 304 Not Modified answer to the conditional GET keeps the
// snapshot and is a success. Any failure (transport, status, size, XML gate, signature,
// expired document) keeps the last good snapshot and is returned. When the document is used
// but some entities in it are not (invalid, or duplicated: the first occurrence wins, as in
// Parse), those keep their last good version if they had one and their problems are returned
// joined, each matching ErrInvalidEntity; entities that are not SPs (an aggregate's IdPs) are
// ignored silently.
func (s *URLSource) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	problems, err := s.refresh(ctx)
	now := s.now()
	st := *s.status.Load()
	cur := s.snap.Load()
	st.Entities, st.EarliestValidUntil = countLive(cur, now)
	st.Expired = errors.Is(err, ErrDocumentExpired)
	if err != nil {
		s.failures++
		s.next = remoteBackoff(s.minInterval, s.interval, s.failures)
		st.LastFailure, st.LastError = now, err.Error()
		st.RefreshFailures++
		s.status.Store(&st)
		s.log.WarnContext(ctx, "sp metadata: remote document not used, keeping the last good entities",
			"url", s.url, "kept", len(cur.sorted), "err", err)
		return err
	}
	s.failures = 0
	s.next = remoteNextRefresh(s.interval, s.minInterval, s.cacheFor, s.docExpiry, now)
	st.LastSuccess, st.LastError = now, ""
	s.status.Store(&st)
	return errors.Join(problems...)
}

// refresh does one conditional GET and, on a 200, verifies and swaps in the document.
func (s *URLSource) refresh(ctx context.Context) ([]error, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	req.Header.Set("Accept", acceptMetadata)
	// Conditional GET (RFC 9110 §13.1): validators only from a response we accepted, so a
	// refused document is fetched in full again next time.
	if s.etag != "" {
		req.Header.Set("If-None-Match", s.etag)
	}
	if s.lastModified != "" {
		req.Header.Set("If-Modified-Since", s.lastModified)
	}
	resp, raw, err := remoteFetch(s.client, req, s.maxBytes)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotModified {
		if s.etag == "" && s.lastModified == "" {
			return nil, fmt.Errorf("%w: GET %s: 304 to an unconditional request", ErrFetch, clip(s.url, 200))
		}
		if now := s.now(); !s.docExpiry.IsZero() && !s.docExpiry.After(now) {
			// The publisher keeps serving the document we hold and it has expired: as loud as
			// a freshly fetched expired one. Forget the validators so the next refresh fetches
			// in full rather than trusting "not modified" again.
			s.etag, s.lastModified = "", ""
			s.log.ErrorContext(ctx, "sp metadata: remote document expired (server says not modified), not used",
				"url", s.url, "valid_until", s.docExpiry, "now", now)
			return nil, fmt.Errorf("%w (%s; not modified since)", ErrDocumentExpired, s.docExpiry.UTC().Format(time.RFC3339))
		}
		s.log.DebugContext(ctx, "sp metadata: remote document not modified", "url", s.url)
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: status %d", ErrFetch, clip(s.url, 200), resp.StatusCode)
	}

	problems, err := s.accept(ctx, raw, s.url)
	if err != nil {
		return nil, err
	}
	s.etag, s.lastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if s.cacheFile != "" {
		if err := writeFileAtomic(s.cacheFile, raw); err != nil {
			// Not fatal: the document is in use; only a restart during an outage would miss it.
			s.log.WarnContext(ctx, "sp metadata: could not save the last good copy", "cache_file", s.cacheFile, "err", err)
		}
	}
	return problems, nil
}

// accept verifies raw (fetched from, or read from the file, from) as every document of the
// source is verified, and swaps it in; s.mu is held.
func (s *URLSource) accept(ctx context.Context, raw []byte, from string) ([]error, error) {
	now := s.now()
	vd, err := verifyRemoteDocument(raw, s.anchors, s.maxBytes, now, s.now)
	if err != nil {
		if errors.Is(err, ErrDocumentExpired) {
			// Loud on purpose: nothing is wrong with Atea, but every SP of this source will stop
			// working at its entities' validUntil unless the publisher acts (issue 6: "an expired
			// document is not used, and says so loudly").
			s.log.ErrorContext(ctx, "sp metadata: remote document expired, not used",
				"url", from, "valid_until", vd.validUntil, "now", now)
		}
		return nil, err
	}
	if s.requireVU && vd.validUntil.IsZero() {
		return nil, fmt.Errorf("%w: %s", ErrNoValidUntil, clip(from, 200))
	}
	sps, problems, err := parseWithLimits(vd.raw, now, vd.limits)
	if err != nil {
		return nil, err
	}
	old := s.snap.Load()
	next, problems := mergeLastGood(sps, problems, old.sorted, s.name, s.log)
	snap := remoteSnapshot(next, now, s.log)
	s.snap.Store(snap)
	s.cacheFor, s.docExpiry = vd.cacheDuration, vd.validUntil
	ch := Diff(old.sorted, snap.sorted)
	recordRefresh(ctx, s.audit, s.name, ch, len(snap.sorted))
	s.log.InfoContext(ctx, "sp metadata: remote document loaded", "url", from,
		"entities", len(snap.sorted), "skipped", len(problems), "added", len(ch.Added),
		"removed", len(ch.Removed), "changed", len(ch.Changed))
	return problems, nil
}

// LoadFile loads a saved copy of the source's document (its CacheFile, or a copy an operator
// kept) and uses it until the next successful refresh. The copy is verified exactly as a
// fetched document (signature, validUntil, RequireValidUntil): a file on disk is trusted no
// more than the network. It does not change the refresh status or the validators, so the
// next Refresh fetches in full. Call it before the first Refresh, so a restart during a
// publisher outage keeps the last good entities (issue 6: "on failure keep the last good
// copy"). A missing file is an error matching fs.ErrNotExist.
func (s *URLSource) LoadFile(ctx context.Context, path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := readFileCapped(path, s.maxBytes)
	if err != nil {
		return fmt.Errorf("metadata: %s: saved copy: %w", s.name, err)
	}
	problems, err := s.accept(ctx, raw, "file "+path)
	if err != nil {
		return fmt.Errorf("metadata: %s: saved copy %s: %w", s.name, path, err)
	}
	return errors.Join(problems...)
}

// readFileCapped reads at most maxBytes of the file at path.
func readFileCapped(path string, maxBytes int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > maxBytes {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", ErrTooLarge, path, maxBytes)
	}
	return raw, nil
}

// writeFileAtomic replaces path with b through a temporary file in the same directory, so a
// reader (or a crash) never sees half a document.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// acceptMetadata is the Accept header of metadata fetches: the SAML metadata media type
// (saml-metadata-2.0-os §4.1.1, draft-young-md-query-saml), then generic XML.
const acceptMetadata = "application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8"

// fetch performs req and reads at most maxBytes of the body. Status codes are the caller's
// business; the body is read (and bounded) only for a 200.
func remoteFetch(client *http.Client, req *http.Request, maxBytes int64) (*http.Response, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: GET %s: %w", ErrFetch, clip(req.URL.String(), 200), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused; never the whole body.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return resp, nil, nil
	}
	// Refuse early when the server announces the size; the limited read below enforces it
	// either way (chunked responses, lying servers).
	if resp.ContentLength > maxBytes {
		return nil, nil, fmt.Errorf("%w: %s announces %d bytes, more than %d", ErrTooLarge, clip(req.URL.String(), 200), resp.ContentLength, maxBytes)
	}
	raw, err := readLimited(resp.Body, resp.ContentLength, maxBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: GET %s: reading body: %w", ErrFetch, clip(req.URL.String(), 200), err)
	}
	if int64(len(raw)) > maxBytes {
		return nil, nil, fmt.Errorf("%w: %s is more than %d bytes", ErrTooLarge, clip(req.URL.String(), 200), maxBytes)
	}
	return resp, raw, nil
}

// readLimited reads at most max+1 bytes of r. When the server announced the size (sizeHint,
// ≤ max), the body goes into one buffer of that size: io.ReadAll would grow chunk by chunk
// and copy a federation aggregate (hundreds of MB) once more at the end, doubling the peak
// memory of a refresh and starting a GC cycle just for the copy. A hint that is wrong only
// costs growth; the limit holds either way.
func readLimited(r io.Reader, sizeHint, max int64) ([]byte, error) {
	lr := io.LimitReader(r, max+1)
	if sizeHint < 0 || sizeHint > max {
		return io.ReadAll(lr)
	}
	buf := make([]byte, 0, sizeHint+1) // +1: the read that sees EOF needs room
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// verifiedRemoteDoc is a remote document after its signature was verified.
type verifiedRemoteDoc struct {
	raw           []byte         // the verified root element only, serialised again
	limits        xmlgate.Limits // the gate for raw
	validUntil    time.Time      // the root's validUntil; zero if none
	cacheDuration time.Duration  // the root's cacheDuration; 0 if none or unusable
}

// verifyRemoteDocument gates raw, verifies its enveloped signature against anchors and checks the
// root element and its validUntil at now. Only the verified element is kept (SECURITY.md R5:
// nothing outside what was digested is ever read). On ErrDocumentExpired the returned
// verifiedRemoteDoc still carries validUntil, for the log line.
func verifyRemoteDocument(raw []byte, anchors []*x509.Certificate, maxBytes int64, now time.Time, clock func() time.Time) (verifiedRemoteDoc, error) {
	// The stream path (aggregate.go) verifies a federation aggregate in one pass without a
	// DOM; what it does not handle, the DOM path decides.
	vd, fallback, err := verifyStream(raw, anchors, sourceLimits(maxBytes), now)
	if fallback {
		return verifyRemoteDocumentDOM(raw, anchors, maxBytes, now, clock)
	}
	return vd, err
}

// sourceLimits widens xmlgate.MetadataLimits to a remote source's byte budget: an aggregate
// is larger than one SP's metadata, and its token count grows with it.
func sourceLimits(maxBytes int64) xmlgate.Limits {
	lim := xmlgate.MetadataLimits()
	if maxBytes > int64(lim.MaxBytes) {
		lim.MaxBytes = int(min(maxBytes, int64(1<<40)))
		lim.MaxTokens = max(lim.MaxTokens, lim.MaxBytes/4)
	} else {
		lim.MaxBytes = int(maxBytes)
	}
	return lim
}

// parseWithLimits is Parse with the gate of the source rather than MetadataLimits, which is
// sized for one SP's metadata file and would refuse any real aggregate.
func parseWithLimits(raw []byte, now time.Time, lim xmlgate.Limits) ([]*SP, []error, error) {
	// Entities are read with the tokenizer that verified raw, by a pool of workers
	// (aggregate.go); what that path does not handle, the encoding/xml path decides.
	sps, problems, err := parseStream(raw, now, lim)
	if err != nil && xmlsig.IsStreamFallback(err) {
		return parseWithLimitsDOM(raw, now, lim)
	}
	return sps, problems, err
}

// plainAttrs returns e's unprefixed attributes in encoding/xml form, for timeAttr and attr.
func plainAttrs(e *etree.Element) []xml.Attr {
	var out []xml.Attr
	for _, a := range e.Attr {
		if a.Space == "" && a.Key != "xmlns" {
			out = append(out, xml.Attr{Name: xml.Name{Local: a.Key}, Value: a.Value})
		}
	}
	return out
}

// mergeLastGood labels the freshly parsed SPs with the source name and, for each entity the
// new document has but could not use, keeps its last good version from old (as DirSource
// does per file): a publisher's broken entry must not take a working SP down. Entities that
// are not SPs (errNoSPSSO: an aggregate's IdPs, attribute authorities) are dropped from the
// problems: an SP source has no use for them and they are not faults.
func mergeLastGood(sps []*SP, problems []error, old []*SP, name string, log *slog.Logger) ([]*SP, []error) {
	loaded := make(map[string]bool, len(sps))
	out := make([]*SP, 0, len(sps))
	for _, sp := range sps {
		sp.Source = name
		loaded[sp.EntityID] = true
		out = append(out, sp)
	}
	var kept []error
	for _, p := range problems {
		if errors.Is(p, errNoSPSSO) {
			continue
		}
		var ee *EntityError
		id := ""
		if errors.As(p, &ee) {
			id = ee.EntityID
		}
		keep := previous(old, id)
		if keep != nil && !loaded[id] {
			loaded[id] = true
			out = append(out, keep)
		}
		p = fmt.Errorf("metadata: %s: %w", name, p)
		kept = append(kept, p)
		log.Warn("sp metadata: entity skipped", "entityID", clip(id, 200), "kept_last_good", keep != nil, "err", p)
	}
	return out, kept
}

// remoteSnapshot indexes sps (unique entityIDs) and leaves out those already past validUntil.
func remoteSnapshot(sps []*SP, now time.Time, log *slog.Logger) *snapshot {
	s := &snapshot{byID: make(map[string]*SP, len(sps))}
	for _, sp := range sps {
		if _, dup := s.byID[sp.EntityID]; dup {
			continue // mergeLastGood never produces one; keep the first anyway
		}
		if !sp.ValidUntil.IsZero() && !sp.ValidUntil.After(now) {
			log.Warn("sp metadata: entity expired", "entityID", clip(sp.EntityID, 200), "validUntil", sp.ValidUntil)
			continue
		}
		s.byID[sp.EntityID] = sp
		s.sorted = append(s.sorted, sp)
		s.expiry = earliest(s.expiry, sp.ValidUntil)
	}
	sortByEntityID(s.sorted)
	return s
}

// lookupSnapshot is DirSource.Lookup's rule on any snapshot: an entity stops being served at its
// validUntil even between refreshes (SECURITY.md §4.11).
func lookupSnapshot(s *snapshot, entityID string, now time.Time) (*SP, error) {
	sp, ok := s.byID[entityID]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEntity, clip(entityID, 200))
	}
	if !sp.ValidUntil.IsZero() && !sp.ValidUntil.After(now) {
		return nil, fmt.Errorf("%w: %q: %w", ErrUnknownEntity, clip(entityID, 200), errExpired)
	}
	return sp, nil
}

func entitiesSnapshot(s *snapshot, now time.Time) []*SP {
	var out []*SP
	for _, sp := range s.sorted {
		if sp.ValidUntil.IsZero() || sp.ValidUntil.After(now) {
			out = append(out, sp)
		}
	}
	return out
}

// remoteNextRefresh is the delay after a successful refresh: Interval, or the document's
// cacheDuration if shorter (saml-metadata-2.0-os §2.3.1: "the maximum length of time a consumer
// should cache the metadata"), or half the time left before its validUntil if shorter still, so
// a new document is fetched well before the current one expires; never below minInterval.
func remoteNextRefresh(interval, minInterval, cacheFor time.Duration, validUntil, now time.Time) time.Duration {
	d := interval
	if cacheFor > 0 && cacheFor < d {
		d = cacheFor
	}
	if !validUntil.IsZero() {
		if left := validUntil.Sub(now) / 2; left < d {
			d = left
		}
	}
	return max(d, minInterval)
}

// backoff is the retry delay after the n-th consecutive failure: minInterval doubling up to
// interval.
func remoteBackoff(minInterval, interval time.Duration, n int) time.Duration {
	d := minInterval
	for i := 1; i < n && d < interval; i++ {
		d *= 2
	}
	return min(d, interval)
}

// parseXSDuration reads a non-negative xs:duration (XML Schema Part 2 §3.2.6), e.g. "PT6H" or
// "P1DT12H". Years and months have no fixed length; they count as 365 and 30 days, which is
// good enough for a caching hint.
func parseXSDuration(v string) (time.Duration, error) {
	bad := fmt.Errorf("not a non-negative xs:duration: %q", clip(v, 40))
	s := strings.TrimSpace(v)
	if !strings.HasPrefix(s, "P") || len(s) < 2 || strings.HasSuffix(s, "T") {
		return 0, bad
	}
	s = s[1:]
	const day = 24 * time.Hour
	var total float64
	inTime, seen := false, false
	lastUnit := -1
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return 0, bad
			}
			inTime = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, bad
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, bad
		}
		u := s[i]
		var unit time.Duration
		pos := -1
		switch {
		case !inTime && u == 'Y':
			unit, pos = 365*day, 0
		case !inTime && u == 'M':
			unit, pos = 30*day, 1
		case !inTime && u == 'D':
			unit, pos = day, 2
		case inTime && u == 'H':
			unit, pos = time.Hour, 3
		case inTime && u == 'M':
			unit, pos = time.Minute, 4
		case inTime && u == 'S':
			unit, pos = time.Second, 5
		default:
			return 0, bad
		}
		if pos <= lastUnit || (u != 'S' && strings.Contains(s[:i], ".")) {
			return 0, bad // units out of order or repeated; fractions only on seconds
		}
		lastUnit = pos
		total += n * float64(unit)
		seen = true
		s = s[i+1:]
	}
	if !seen || total > float64(100*365*day) {
		return 0, bad
	}
	return time.Duration(total), nil
}

func remoteLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
