package memstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ateaidp/atea/idp/store"
)

var _ store.Store = (*Store)(nil)

// Store is an in-memory [store.Store]. The zero value is not usable; call [New]. It is safe
// for concurrent use.
type Store struct {
	now func() time.Time

	mu       sync.Mutex
	closed   bool
	sessions map[string]store.Session
	subjects map[string]map[string]struct{} // UserID → session IDs, for ListSessionsBySubject
	flows    map[string]store.Flow
	once     map[string]time.Time // key → end of its ttl
	counters map[string]counter
}

type counter struct {
	n   int64
	end time.Time // end of the fixed window
}

// New returns an empty store whose expiry decisions use now; a nil now means time.Now.
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:      now,
		sessions: make(map[string]store.Session),
		subjects: make(map[string]map[string]struct{}),
		flows:    make(map[string]store.Flow),
		once:     make(map[string]time.Time),
		counters: make(map[string]counter),
	}
}

// expired reports whether something ending at end is gone at now: records live while now is
// before their end ("ExpiresAt <= now" is expired).
func expired(end, now time.Time) bool { return !now.Before(end) }

// tx runs fn under the lock with the current time, after checking ctx and that the store is
// open, as dex's memory backend does. op names the operation for error messages.
func (st *Store) tx(ctx context.Context, op string, fn func(now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return fmt.Errorf("memstore: %s: %w", op, store.ErrClosed)
	}
	if err := fn(st.now()); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	return nil
}

// cloneSession deep-copies s, so that no slice is shared between the caller and the store.
func cloneSession(s store.Session) store.Session {
	s.SPs = slices.Clone(s.SPs)
	return s
}

// cloneFlow deep-copies f.
func cloneFlow(f store.Flow) store.Flow {
	f.Request.Levels = slices.Clone(f.Request.Levels)
	f.Factor.CodeMAC = slices.Clone(f.Factor.CodeMAC)
	f.Data = maps.Clone(f.Data)
	return f
}

// CreateSession implements [store.Sessions].
func (st *Store) CreateSession(ctx context.Context, s store.Session) error {
	return st.tx(ctx, "create session", func(now time.Time) error {
		if s.ID == "" || s.ExpiresAt.IsZero() {
			return store.ErrInvalid
		}
		if _, ok := st.liveSession(s.ID, now); ok {
			return store.ErrExists
		}
		st.putSession(cloneSession(s), now)
		return nil
	})
}

// GetSession implements [store.Sessions].
func (st *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	var out store.Session
	err := st.tx(ctx, "get session", func(now time.Time) error {
		s, ok := st.liveSession(id, now)
		if !ok {
			return store.ErrNotFound
		}
		out = cloneSession(s)
		return nil
	})
	return out, err
}

// UpdateSession implements [store.Sessions]. fn runs exactly once, under the store's lock.
func (st *Store) UpdateSession(ctx context.Context, id string, fn func(store.Session) (store.Session, error)) (store.Session, error) {
	var out store.Session
	err := st.tx(ctx, "update session", func(now time.Time) error {
		cur, ok := st.liveSession(id, now)
		if !ok {
			return store.ErrNotFound
		}
		next, err := fn(cloneSession(cur))
		if err != nil {
			return err
		}
		if next.ID != id || next.ExpiresAt.IsZero() {
			return store.ErrInvalid
		}
		next = cloneSession(next)
		st.putSession(next, now)
		out = cloneSession(next)
		return nil
	})
	return out, err
}

// DeleteSession implements [store.Sessions].
func (st *Store) DeleteSession(ctx context.Context, id string) error {
	return st.tx(ctx, "delete session", func(time.Time) error {
		st.dropSession(id)
		return nil
	})
}

// ListSessionsBySubject implements [store.Sessions]. The sessions come oldest first.
func (st *Store) ListSessionsBySubject(ctx context.Context, userID string) ([]store.Session, error) {
	out := []store.Session{}
	err := st.tx(ctx, "list sessions", func(now time.Time) error {
		for id := range st.subjects[userID] {
			if s, ok := st.liveSession(id, now); ok {
				out = append(out, cloneSession(s))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// liveSession returns the stored session id if it is live at now, dropping it if it has
// expired (lazy expiry). Callers hold st.mu.
func (st *Store) liveSession(id string, now time.Time) (store.Session, bool) {
	s, ok := st.sessions[id]
	if !ok {
		return store.Session{}, false
	}
	if expired(s.ExpiresAt, now) {
		st.dropSession(id)
		return store.Session{}, false
	}
	return s, true
}

// putSession stores s (already a private copy), keeping the subject index in step. A session
// that is already expired is not kept. Callers hold st.mu.
func (st *Store) putSession(s store.Session, now time.Time) {
	st.dropSession(s.ID)
	if expired(s.ExpiresAt, now) {
		return
	}
	st.sessions[s.ID] = s
	ids := st.subjects[s.UserID]
	if ids == nil {
		ids = make(map[string]struct{})
		st.subjects[s.UserID] = ids
	}
	ids[s.ID] = struct{}{}
}

// dropSession removes session id and its index entry. Callers hold st.mu.
func (st *Store) dropSession(id string) {
	s, ok := st.sessions[id]
	if !ok {
		return
	}
	delete(st.sessions, id)
	if ids := st.subjects[s.UserID]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(st.subjects, s.UserID)
		}
	}
}

// CreateFlow implements [store.Flows].
func (st *Store) CreateFlow(ctx context.Context, f store.Flow) error {
	return st.tx(ctx, "create flow", func(now time.Time) error {
		if f.ID == "" || f.ExpiresAt.IsZero() {
			return store.ErrInvalid
		}
		if _, ok := st.liveFlow(f.ID, now); ok {
			return store.ErrExists
		}
		st.putFlow(cloneFlow(f), now)
		return nil
	})
}

// GetFlow implements [store.Flows].
func (st *Store) GetFlow(ctx context.Context, id string) (store.Flow, error) {
	var out store.Flow
	err := st.tx(ctx, "get flow", func(now time.Time) error {
		f, ok := st.liveFlow(id, now)
		if !ok {
			return store.ErrNotFound
		}
		out = cloneFlow(f)
		return nil
	})
	return out, err
}

// UpdateFlow implements [store.Flows]. fn runs exactly once, under the store's lock.
func (st *Store) UpdateFlow(ctx context.Context, id string, fn func(store.Flow) (store.Flow, error)) (store.Flow, error) {
	var out store.Flow
	err := st.tx(ctx, "update flow", func(now time.Time) error {
		cur, ok := st.liveFlow(id, now)
		if !ok {
			return store.ErrNotFound
		}
		next, err := fn(cloneFlow(cur))
		if err != nil {
			return err
		}
		if next.ID != id || next.ExpiresAt.IsZero() {
			return store.ErrInvalid
		}
		next = cloneFlow(next)
		st.putFlow(next, now)
		out = cloneFlow(next)
		return nil
	})
	return out, err
}

// DeleteFlow implements [store.Flows].
func (st *Store) DeleteFlow(ctx context.Context, id string) error {
	return st.tx(ctx, "delete flow", func(time.Time) error {
		delete(st.flows, id)
		return nil
	})
}

// liveFlow returns the stored flow id if it is live at now, dropping it if it has expired.
// Callers hold st.mu.
func (st *Store) liveFlow(id string, now time.Time) (store.Flow, bool) {
	f, ok := st.flows[id]
	if !ok {
		return store.Flow{}, false
	}
	if expired(f.ExpiresAt, now) {
		delete(st.flows, id)
		return store.Flow{}, false
	}
	return f, true
}

// putFlow stores f (already a private copy) unless it has already expired. Callers hold st.mu.
func (st *Store) putFlow(f store.Flow, now time.Time) {
	if expired(f.ExpiresAt, now) {
		delete(st.flows, f.ID)
		return
	}
	st.flows[f.ID] = f
}

// Consume implements [store.Once].
func (st *Store) Consume(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var first bool
	err := st.tx(ctx, "consume", func(now time.Time) error {
		if key == "" || ttl <= 0 {
			return store.ErrInvalid
		}
		if end, ok := st.once[key]; ok && !expired(end, now) {
			return nil
		}
		st.once[key] = now.Add(ttl)
		first = true
		return nil
	})
	return first, err
}

// Incr implements [store.Counters].
func (st *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	var n int64
	err := st.tx(ctx, "incr", func(now time.Time) error {
		if key == "" || window <= 0 {
			return store.ErrInvalid
		}
		c, ok := st.counters[key]
		if !ok || expired(c.end, now) {
			c = counter{end: now.Add(window)}
		}
		c.n++
		st.counters[key] = c
		n = c.n
		return nil
	})
	return n, err
}

// Count implements [store.Counters].
func (st *Store) Count(ctx context.Context, key string) (int64, error) {
	var n int64
	err := st.tx(ctx, "count", func(now time.Time) error {
		c, ok := st.counters[key]
		if !ok {
			return nil
		}
		if expired(c.end, now) {
			delete(st.counters, key)
			return nil
		}
		n = c.n
		return nil
	})
	return n, err
}

// ResetCounter implements [store.Counters].
func (st *Store) ResetCounter(ctx context.Context, key string) error {
	return st.tx(ctx, "reset counter", func(time.Time) error {
		if key == "" {
			return store.ErrInvalid
		}
		delete(st.counters, key)
		return nil
	})
}

// Ping implements [store.Store]: nil unless the store is closed or ctx is done.
func (st *Store) Ping(ctx context.Context) error {
	return st.tx(ctx, "ping", func(time.Time) error { return nil })
}

// Close implements [store.Store]. It drops every record; every later call, Close included,
// fails with an error wrapping [store.ErrClosed].
func (st *Store) Close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return fmt.Errorf("memstore: close: %w", store.ErrClosed)
	}
	st.closed = true
	st.sessions, st.subjects, st.flows, st.once, st.counters = nil, nil, nil, nil, nil
	return nil
}

// GC drops every record that has expired at now. Reads already ignore expired records, so GC
// only reclaims memory; without it, keys that are never read again (replay-cache entries,
// counters of one-off addresses) would accumulate. It is a no-op on a closed store.
func (st *Store) GC(now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	for id, s := range st.sessions {
		if expired(s.ExpiresAt, now) {
			st.dropSession(id)
		}
	}
	for id, f := range st.flows {
		if expired(f.ExpiresAt, now) {
			delete(st.flows, id)
		}
	}
	for k, end := range st.once {
		if expired(end, now) {
			delete(st.once, k)
		}
	}
	for k, c := range st.counters {
		if expired(c.end, now) {
			delete(st.counters, k)
		}
	}
}
