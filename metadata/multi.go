package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// EntitySource finds an SP's validated metadata by entityID. It is idp.SPLookup; DirSource,
// URLSource, MDQSource and Multi implement it. An unknown entity is an error matching
// ErrUnknownEntity.
type EntitySource interface {
	Lookup(entityID string) (*SP, error)
}

// multiLister is the optional capability of sources that can enumerate what they hold
// (DirSource, URLSource; MDQSource lists its cache). Multi uses it to find conflicts.
type multiLister interface {
	Entities() []*SP
}

// multiRefresher is the optional capability of sources that reload on demand.
type multiRefresher interface {
	Refresh(ctx context.Context) error
}

// multiStatuser is the optional capability of sources that report their refreshes
// (URLSource, MDQSource).
type multiStatuser interface {
	Status() SourceStatus
}

var (
	_ EntitySource   = (*DirSource)(nil)
	_ EntitySource   = (*Multi)(nil)
	_ multiLister    = (*DirSource)(nil)
	_ multiRefresher = (*DirSource)(nil)
	_ multiStatuser  = (*URLSource)(nil)
	_ multiStatuser  = (*MDQSource)(nil)
)

// MultiSource is one member of a Multi.
type MultiSource struct {
	// Name identifies the source in logs and in Conflicts.
	Name string
	// Source is the member.
	Source EntitySource
}

// Conflict is an entityID present in more than one source.
type Conflict struct {
	EntityID string
	// Winner is the name of the highest-priority source holding it: the one Lookup uses.
	Winner string
	// Shadowed are the names of the other sources holding it, in priority order.
	Shadowed []string
}

// Multi combines sources in priority order (issue 6: "the same entityID from two sources: a
// configured priority decides, with a warning"). Lookup asks each source in order and returns
// the first that knows the entity; it never logs, so a conflict costs nothing per request.
// Conflicts are found among the sources that can list their entities, by Refresh or
// Reconcile. A conflict is warned about once per refresh: Refresh warns about every standing
// conflict; Reconcile, which may run often, warns about a conflict when it first appears, when
// the sources holding the entity change, or when one of those sources has refreshed since
// (a new LastSuccess in its Status).
type Multi struct {
	sources []MultiSource
	log     *slog.Logger

	mu        sync.Mutex // guards the fields below
	conflicts []Conflict
	warned    map[string]string    // entityID -> holders when last warned about
	seen      map[string]time.Time // source name -> LastSuccess at the last Reconcile
}

// NewMulti returns a Multi over sources, highest priority first. Names must be unique and
// non-empty, and every source non-nil.
func NewMulti(sources []MultiSource, logger *slog.Logger) (*Multi, error) {
	var errs []error
	if len(sources) == 0 {
		errs = append(errs, errors.New("no sources"))
	}
	seen := map[string]bool{}
	for i, s := range sources {
		switch {
		case s.Name == "":
			errs = append(errs, fmt.Errorf("source %d has no name", i))
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("source name %q used twice", clip(s.Name, 100)))
		}
		seen[s.Name] = true
		if s.Source == nil {
			errs = append(errs, fmt.Errorf("source %q is nil", clip(s.Name, 100)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("metadata: multi source: %w", err)
	}
	return &Multi{sources: append([]MultiSource(nil), sources...), log: remoteLogger(logger),
		warned: map[string]string{}, seen: map[string]time.Time{}}, nil
}

// Members returns the sources, highest priority first.
func (m *Multi) Members() []MultiSource { return append([]MultiSource(nil), m.sources...) }

// MemberStatus is the state of one member of a Multi, for metrics and tools.
type MemberStatus struct {
	// Priority is the member's position, 0 for the highest.
	Priority int
	// Refreshes is true when Status carries refresh times and failures (remote sources). For
	// other members (DirSource) only Name, Entities and EarliestValidUntil are set.
	Refreshes bool
	Status    SourceStatus
}

// Statuses returns the state of every member in priority order. It asks each member at the
// time of the call (metrics read it at scrape time).
func (m *Multi) Statuses() []MemberStatus {
	out := make([]MemberStatus, 0, len(m.sources))
	for i, s := range m.sources {
		ms := MemberStatus{Priority: i}
		if st, ok := s.Source.(multiStatuser); ok {
			ms.Refreshes, ms.Status = true, st.Status()
		} else if l, ok := s.Source.(multiLister); ok {
			for _, sp := range l.Entities() {
				ms.Status.Entities++
				ms.Status.EarliestValidUntil = earliest(ms.Status.EarliestValidUntil, sp.ValidUntil)
			}
		}
		ms.Status.Name = s.Name
		out = append(out, ms)
	}
	return out
}

// Lookup returns the entity from the highest-priority source that has it. A source failing
// with anything other than ErrUnknownEntity (an MDQ server down with nothing cached) stops the
// search with that error rather than falling through: which copy of an SP's keys and endpoints
// is used must not depend on which servers happen to be reachable. An entity no source knows
// is an error matching ErrUnknownEntity, as DirSource returns.
func (m *Multi) Lookup(entityID string) (*SP, error) {
	for _, s := range m.sources {
		sp, err := s.Source.Lookup(entityID)
		if err == nil {
			return sp, nil
		}
		if !errors.Is(err, ErrUnknownEntity) {
			return nil, fmt.Errorf("metadata: source %s: %w", s.Name, err)
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownEntity, clip(entityID, 200))
}

// Entities returns the entities Lookup would return from the sources that can list theirs,
// each entityID once (from its winning source), sorted by EntityID.
func (m *Multi) Entities() []*SP {
	seen := map[string]bool{}
	var out []*SP
	for _, s := range m.sources {
		l, ok := s.Source.(multiLister)
		if !ok {
			continue
		}
		for _, sp := range l.Entities() {
			if !seen[sp.EntityID] {
				seen[sp.EntityID] = true
				out = append(out, sp)
			}
		}
	}
	sortByEntityID(out)
	return out
}

// Refresh refreshes every source that supports it, in priority order, then calls Reconcile.
// Errors are joined, each naming its source.
func (m *Multi) Refresh(ctx context.Context) error {
	var errs []error
	for _, s := range m.sources {
		if r, ok := s.Source.(multiRefresher); ok {
			if err := r.Refresh(ctx); err != nil {
				errs = append(errs, fmt.Errorf("metadata: source %s: %w", s.Name, err))
			}
		}
	}
	m.mu.Lock()
	clear(m.warned) // an explicit refresh of every source warns about every standing conflict
	m.mu.Unlock()
	m.Reconcile(ctx)
	return errors.Join(errs...)
}

// Reconcile recomputes the conflicts among the sources that can list their entities, logs a
// warning for each conflict that is new, whose holders changed, or one of whose holders has
// refreshed since the last Reconcile, and returns them all (also available from Conflicts).
// Call it periodically while the member sources refresh on their own schedules.
func (m *Multi) Reconcile(ctx context.Context) []Conflict {
	refreshed := map[string]time.Time{}
	for _, s := range m.sources {
		if st, ok := s.Source.(multiStatuser); ok {
			refreshed[s.Name] = st.Status().LastSuccess
		}
	}
	holders := map[string][]string{}
	var order []string
	for _, s := range m.sources {
		l, ok := s.Source.(multiLister)
		if !ok {
			continue
		}
		for _, sp := range l.Entities() {
			if _, ok := holders[sp.EntityID]; !ok {
				order = append(order, sp.EntityID)
			}
			holders[sp.EntityID] = append(holders[sp.EntityID], s.Name)
		}
	}
	var out []Conflict
	for _, id := range order {
		if h := holders[id]; len(h) > 1 {
			out = append(out, Conflict{EntityID: id, Winner: h[0], Shadowed: h[1:]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EntityID < out[j].EntityID })

	m.mu.Lock()
	warned := make(map[string]string, len(out))
	var warn []Conflict
	for _, c := range out {
		holders := strings.Join(append([]string{c.Winner}, c.Shadowed...), "\x00")
		again := false
		for _, name := range append([]string{c.Winner}, c.Shadowed...) {
			if t, ok := refreshed[name]; ok && !t.Equal(m.seen[name]) {
				again = true
			}
		}
		if prev, ok := m.warned[c.EntityID]; !ok || prev != holders || again {
			warn = append(warn, c)
		}
		warned[c.EntityID] = holders
	}
	m.warned, m.seen, m.conflicts = warned, refreshed, out
	m.mu.Unlock()

	for _, c := range warn {
		m.log.WarnContext(ctx, "sp metadata: entityID in several sources, using the higher-priority one",
			"entityID", clip(c.EntityID, 200), "used_from", c.Winner, "ignored_from", c.Shadowed)
	}
	return out
}

// Conflicts returns the conflicts found by the last Refresh or Reconcile, sorted by EntityID.
func (m *Multi) Conflicts() []Conflict {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Conflict, len(m.conflicts))
	copy(out, m.conflicts)
	return out
}
