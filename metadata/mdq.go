package metadata

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of MDQOptions.
const (
	// DefaultMDQMaxBytes caps one MDQ response: one entity's metadata is a few KiB.
	DefaultMDQMaxBytes = MaxFileSize
	// DefaultMDQMaxCache bounds how long an entity is served without asking again.
	DefaultMDQMaxCache = time.Hour
	// DefaultMDQNegativeCache is how long a 404 is remembered.
	DefaultMDQNegativeCache = time.Minute
	// DefaultMDQRetry is how long a failed query is not repeated (the stale copy, if any, is
	// served meanwhile): an MDQ outage must not turn every login into a request to it.
	DefaultMDQRetry = 30 * time.Second
	// DefaultMDQTimeout bounds one Lookup.
	DefaultMDQTimeout = 10 * time.Second
)

// MDQOptions configures an MDQSource.
type MDQOptions struct {
	// Name identifies the source in logs, audit records and SP.Source; defaults to BaseURL.
	Name string
	// BaseURL is the MDQ responder's base URL; queries go to BaseURL + "/entities/" + the
	// percent-encoded entityID (draft-young-md-query, "Request").
	BaseURL string
	// TrustAnchors are the pinned certificates of the responder's signing keys. Required.
	TrustAnchors []*x509.Certificate
	// HTTPClient does the fetching; nil means a plain client (Timeout bounds each Lookup).
	HTTPClient *http.Client
	// MaxBytes caps one response; DefaultMDQMaxBytes when not positive.
	MaxBytes int64
	// MaxCache caps how long an entity is cached; the response's validUntil and cacheDuration
	// shorten it. DefaultMDQMaxCache when not positive.
	MaxCache time.Duration
	// NegativeCache is how long a 404 is remembered; DefaultMDQNegativeCache when not positive.
	NegativeCache time.Duration
	// Retry is how long after a failed query the next one waits; DefaultMDQRetry when not
	// positive.
	Retry time.Duration
	// Timeout bounds Lookup (which has no ctx: it is idp.SPLookup); DefaultMDQTimeout when not
	// positive.
	Timeout time.Duration
	// Now is the clock for validUntil and cache expiry; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Audit receives a "metadata_refreshed" record whenever a query changes a cached entity;
	// nil discards them.
	Audit *slog.Logger
}

// MDQSource looks SPs up one at a time with the Metadata Query Protocol
// (draft-young-md-query) and caches them. Each response must be signed by a trust anchor and
// is verified before use; an entity is cached until the earliest of its validUntil, the
// response's cacheDuration and MaxCache; a 404 is cached for NegativeCache. Concurrent lookups
// of one entity share one query. When a query fails, the cached copy is served while it is
// within its validUntil (keep last good). Safe for concurrent use.
type MDQSource struct {
	name     string
	base     string
	anchors  []*x509.Certificate
	client   *http.Client
	maxBytes int64
	maxCache time.Duration
	negCache time.Duration
	retry    time.Duration
	timeout  time.Duration
	now      func() time.Time
	log      *slog.Logger
	audit    *slog.Logger

	mu        sync.Mutex
	cache     map[string]*mdqEntry
	inflight  map[string]*mdqCall
	negatives int // entries without metadata in cache, as counted by room (an upper bound)
	status    SourceStatus
}

// mdqEntry is what is known about one entity.
type mdqEntry struct {
	sp       *SP       // last good metadata; nil if none (never fetched, or 404)
	notFound bool      // the responder said 404
	fresh    time.Time // until when the entry is used without asking again
	err      error     // the last query's failure, served while fresh when sp is nil
}

// mdqCall is one query in flight; waiters block on done.
type mdqCall struct {
	done chan struct{}
}

var (
	_ EntitySource = (*MDQSource)(nil)
	_ multiLister  = (*MDQSource)(nil)
)

// NewMDQSource validates o and returns an MDQSource.
func NewMDQSource(o MDQOptions) (*MDQSource, error) {
	var errs []error
	u, err := url.Parse(o.BaseURL)
	if o.BaseURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("base URL %q is not an absolute http(s) URL without query", clip(o.BaseURL, 200)))
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
		return nil, fmt.Errorf("metadata: mdq source %q: %w", clip(o.Name, 100), err)
	}
	m := &MDQSource{
		name:     o.Name,
		base:     strings.TrimRight(o.BaseURL, "/"),
		anchors:  append([]*x509.Certificate(nil), o.TrustAnchors...),
		client:   o.HTTPClient,
		maxBytes: o.MaxBytes,
		maxCache: o.MaxCache,
		negCache: o.NegativeCache,
		retry:    o.Retry,
		timeout:  o.Timeout,
		now:      o.Now,
		cache:    map[string]*mdqEntry{},
		inflight: map[string]*mdqCall{},
	}
	if m.name == "" {
		m.name = o.BaseURL
	}
	if m.client == nil {
		m.client = &http.Client{}
	}
	if m.maxBytes <= 0 {
		m.maxBytes = DefaultMDQMaxBytes
	}
	if m.maxCache <= 0 {
		m.maxCache = DefaultMDQMaxCache
	}
	if m.negCache <= 0 {
		m.negCache = DefaultMDQNegativeCache
	}
	if m.retry <= 0 {
		m.retry = DefaultMDQRetry
	}
	if m.timeout <= 0 {
		m.timeout = DefaultMDQTimeout
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.log = remoteLogger(o.Logger).With(slog.Group("source", "type", "mdq", "name", m.name))
	m.audit = remoteLogger(o.Audit)
	m.status.Name = m.name
	return m, nil
}

// Name returns the source's name.
func (m *MDQSource) Name() string { return m.name }

// Lookup is LookupContext without a caller context; it waits at most Timeout.
func (m *MDQSource) Lookup(entityID string) (*SP, error) {
	return m.LookupContext(context.Background(), entityID)
}

// LookupContext returns entityID's metadata from the cache or, when the cached entry is no
// longer fresh, from the responder. It waits at most Timeout, or until ctx is done. An entity
// the responder does not know is an error matching ErrUnknownEntity; when a query fails, the
// cached copy is returned if it is still within its validUntil, else the failure.
func (m *MDQSource) LookupContext(ctx context.Context, entityID string) (*SP, error) {
	if entityID == "" || len(entityID) > maxEntityIDLen {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEntity, clip(entityID, 200))
	}
	m.mu.Lock()
	now := m.now()
	if e := m.cache[entityID]; e != nil && now.Before(e.fresh) {
		m.mu.Unlock()
		return m.answer(entityID, e, now)
	}
	call := m.inflight[entityID]
	if call == nil {
		// Single flight: the first caller starts the query, later ones wait for it. The query
		// runs detached from any one caller's ctx (but bounded by Timeout), so a caller that
		// gives up does not fail the others.
		call = &mdqCall{done: make(chan struct{})}
		m.inflight[entityID] = call
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout)
		go func() {
			defer cancel()
			m.query(qctx, entityID, call)
		}()
	}
	m.mu.Unlock()

	t := time.NewTimer(m.timeout)
	defer t.Stop()
	select {
	case <-call.done:
	case <-ctx.Done():
		return m.stale(entityID, ctx.Err())
	case <-t.C:
		return m.stale(entityID, fmt.Errorf("%w: mdq query for %q: timed out after %s", ErrFetch, clip(entityID, 200), m.timeout))
	}
	m.mu.Lock()
	e := m.cache[entityID]
	now = m.now()
	m.mu.Unlock()
	return m.answer(entityID, e, now)
}

// answer turns a cache entry into Lookup's result.
func (m *MDQSource) answer(entityID string, e *mdqEntry, now time.Time) (*SP, error) {
	switch {
	case e == nil:
		return nil, fmt.Errorf("%w: %q", ErrUnknownEntity, clip(entityID, 200))
	case e.sp != nil && (e.sp.ValidUntil.IsZero() || e.sp.ValidUntil.After(now)):
		return e.sp, nil
	case e.notFound:
		return nil, fmt.Errorf("%w: %q", ErrUnknownEntity, clip(entityID, 200))
	case e.sp != nil:
		return nil, fmt.Errorf("%w: %q: %w", ErrUnknownEntity, clip(entityID, 200), errExpired)
	case e.err != nil:
		return nil, e.err
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownEntity, clip(entityID, 200))
}

// stale serves the cached copy when the caller cannot wait for the query.
func (m *MDQSource) stale(entityID string, cause error) (*SP, error) {
	m.mu.Lock()
	e := m.cache[entityID]
	now := m.now()
	m.mu.Unlock()
	if e != nil && e.sp != nil && (e.sp.ValidUntil.IsZero() || e.sp.ValidUntil.After(now)) {
		return e.sp, nil
	}
	return nil, cause
}

// query fetches entityID, updates the cache and releases the waiters of call.
func (m *MDQSource) query(ctx context.Context, entityID string, call *mdqCall) {
	sp, notFound, cacheFor, err := m.fetchEntity(ctx, entityID)
	now := m.now()

	m.mu.Lock()
	prev := m.cache[entityID]
	e := &mdqEntry{}
	switch {
	case err != nil:
		// Keep last good: the old copy stays (Lookup still checks its validUntil); ask again
		// only after Retry.
		if prev != nil {
			e.sp = prev.sp
		}
		e.err, e.fresh = err, now.Add(m.retry)
		m.status.LastFailure, m.status.LastError = now, err.Error()
		m.status.RefreshFailures++
		m.status.Expired = errors.Is(err, ErrDocumentExpired)
	case notFound:
		// 404 is the responder's authoritative "no such entity" (draft-young-md-query,
		// "Responses"): a removed SP stops working.
		e.notFound, e.fresh = true, now.Add(m.negCache)
		m.status.LastSuccess, m.status.LastError, m.status.Expired = now, "", false
	default:
		sp.Source = m.name
		e.sp = sp
		fresh := now.Add(min(m.maxCache, cacheFor))
		if !sp.ValidUntil.IsZero() && sp.ValidUntil.Before(fresh) {
			fresh = sp.ValidUntil
		}
		e.fresh = fresh
		m.status.LastSuccess, m.status.LastError, m.status.Expired = now, "", false
	}
	if e.sp != nil || m.room(now) {
		m.cache[entityID] = e
	} else {
		delete(m.cache, entityID)
	}
	delete(m.inflight, entityID)
	m.updateCounts(now)
	m.mu.Unlock()
	// Log before releasing the waiters: the callers own this goroutine's lifetime, and nothing
	// of it should outlast their Lookup when the query finished in time.
	defer close(call.done)

	if err != nil {
		m.log.WarnContext(ctx, "sp metadata: mdq query failed", "entityID", clip(entityID, 200),
			"serving_stale", e.sp != nil, "err", err)
		return
	}
	var before, after []*SP
	if prev != nil && prev.sp != nil {
		before = []*SP{prev.sp}
	}
	if e.sp != nil {
		after = []*SP{e.sp}
	}
	recordRefresh(ctx, m.audit, m.name, Diff(before, after), len(after))
}

// maxNegativeEntries bounds the cache entries without metadata (404s and failures): the
// entityIDs come from unauthenticated AuthnRequests, so an attacker could otherwise grow the
// cache without limit with made-up ones.
const maxNegativeEntries = 10000

// room reports whether another entry without metadata fits, after dropping those no longer
// fresh if needed; m.mu is held. When it does not, the answer is simply not cached.
func (m *MDQSource) room(now time.Time) bool {
	if m.negatives < maxNegativeEntries {
		m.negatives++
		return true
	}
	m.negatives = 0
	for id, e := range m.cache {
		if e.sp == nil {
			if !now.Before(e.fresh) {
				delete(m.cache, id)
			} else {
				m.negatives++
			}
		}
	}
	if m.negatives < maxNegativeEntries {
		m.negatives++
		return true
	}
	return false
}

// updateCounts refreshes the status's entity figures; m.mu is held.
func (m *MDQSource) updateCounts(now time.Time) {
	n, vu := 0, time.Time{}
	for _, e := range m.cache {
		if e.sp != nil && (e.sp.ValidUntil.IsZero() || e.sp.ValidUntil.After(now)) {
			n++
			vu = earliest(vu, e.sp.ValidUntil)
		}
	}
	m.status.Entities, m.status.EarliestValidUntil = n, vu
}

// fetchEntity runs one MDQ query. cacheFor is how long the answer may be cached by the
// response's cacheDuration (MaxCache if it has none).
func (m *MDQSource) fetchEntity(ctx context.Context, entityID string) (sp *SP, notFound bool, cacheFor time.Duration, err error) {
	u := m.base + "/entities/" + mdqEscape(entityID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, 0, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	// draft-young-md-query-saml: the SAML metadata media type.
	req.Header.Set("Accept", "application/samlmetadata+xml")
	resp, raw, err := remoteFetch(m.client, req, m.maxBytes)
	if err != nil {
		return nil, false, 0, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, true, 0, nil
	default:
		return nil, false, 0, fmt.Errorf("%w: mdq query for %q: status %d", ErrFetch, clip(entityID, 200), resp.StatusCode)
	}
	now := m.now()
	vd, err := verifyRemoteDocument(raw, m.anchors, m.maxBytes, now, m.now)
	if err != nil {
		if errors.Is(err, ErrDocumentExpired) {
			m.log.ErrorContext(ctx, "sp metadata: mdq response expired, not used",
				"entityID", clip(entityID, 200), "valid_until", vd.validUntil, "now", now)
		}
		return nil, false, 0, fmt.Errorf("mdq query for %q: %w", clip(entityID, 200), err)
	}
	sps, problems, err := parseWithLimits(vd.raw, now, vd.limits)
	if err != nil {
		return nil, false, 0, fmt.Errorf("mdq query for %q: %w", clip(entityID, 200), err)
	}
	// The response must be about the entity asked for: a signed response for another entity
	// must never be cached under this entityID.
	for _, s := range sps {
		if s.EntityID == entityID {
			cacheFor = m.maxCache
			if vd.cacheDuration > 0 {
				cacheFor = vd.cacheDuration
			}
			return s, false, cacheFor, nil
		}
	}
	for _, p := range problems {
		var ee *EntityError
		if errors.As(p, &ee) && ee.EntityID == entityID {
			return nil, false, 0, fmt.Errorf("mdq query for %q: %w", clip(entityID, 200), p)
		}
	}
	return nil, false, 0, fmt.Errorf("%w: mdq response for %q does not describe it", ErrInvalidEntity, clip(entityID, 200))
}

// Entities returns the cached SPs that Lookup would return now, sorted by EntityID. It does
// not query the responder: MDQ cannot enumerate.
func (m *MDQSource) Entities() []*SP {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []*SP
	for _, e := range m.cache {
		if e.sp != nil && !e.notFound && (e.sp.ValidUntil.IsZero() || e.sp.ValidUntil.After(now)) {
			out = append(out, e.sp)
		}
	}
	sortByEntityID(out)
	return out
}

// Status returns the source's state for metrics. Entities (the cached SPs) and
// EarliestValidUntil are counted now, so an entry that expired since the last query is no
// longer counted.
func (m *MDQSource) Status() SourceStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.updateCounts(m.now())
	return m.status
}

// mdqEscape percent-encodes an identifier as one path segment (draft-young-md-query,
// "Request"): everything but RFC 3986 unreserved characters is encoded, so an entityID URL
// becomes "https%3A%2F%2Fsp.example.org%2Fmd" as in the draft's examples. url.PathEscape would
// leave ':' and '@' alone, which some responders do not decode.
func mdqEscape(id string) string {
	return strings.ReplaceAll(url.QueryEscape(id), "+", "%20")
}
