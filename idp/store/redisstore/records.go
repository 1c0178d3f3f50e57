package redisstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ateaidp/atea/idp/store"
)

// record adapts one record type (sessions, flows) to the shared code below.
type record[T any] struct {
	kind      string
	id        func(*T) string
	expiresAt func(*T) time.Time
	clone     func(T) T // deep copy, so no slice is shared with the caller
	// beforeWrite, if set, runs before an update's compare-and-set (after fn), when the new
	// value will be stored; sessions keep their user's index there.
	beforeWrite func(ctx context.Context, st *Store, cur, next *T, now time.Time) error
}

func sessionRecord() record[store.Session] {
	return record[store.Session]{
		kind:      kindSession,
		id:        func(s *store.Session) string { return s.ID },
		expiresAt: func(s *store.Session) time.Time { return s.ExpiresAt },
		clone: func(s store.Session) store.Session {
			s.SPs = slices.Clone(s.SPs)
			return s
		},
		beforeWrite: func(ctx context.Context, st *Store, cur, next *store.Session, now time.Time) error {
			// The index already covers cur (its user, and an expiry at least cur's); only a
			// new user or a later expiry needs an entry.
			if next.UserID == cur.UserID && !next.ExpiresAt.After(cur.ExpiresAt) {
				return nil
			}
			return st.index(ctx, next, now)
		},
	}
}

func flowRecord() record[store.Flow] {
	return record[store.Flow]{
		kind:      kindFlow,
		id:        func(f *store.Flow) string { return f.ID },
		expiresAt: func(f *store.Flow) time.Time { return f.ExpiresAt },
		clone: func(f store.Flow) store.Flow {
			f.Request.Levels = slices.Clone(f.Request.Levels)
			f.Data = maps.Clone(f.Data)
			return f
		},
	}
}

// create stores v unless a live record holds its ID: one script, which judges "live" by the
// store's clock. A v that has already expired is not written, but frees the key of an
// expired record, as memstore does. index, if set, runs first for a v that will be stored.
func create[T any](ctx context.Context, st *Store, r record[T], v T, index func(context.Context, *T, time.Time) error) error {
	id, exp := r.id(&v), r.expiresAt(&v)
	if id == "" || exp.IsZero() {
		return fmt.Errorf("%w: empty ID or zero ExpiresAt", store.ErrInvalid)
	}
	now := st.now()
	key := st.key(r.kind, id)
	ttl := ttlMillis(exp.Sub(now))
	var raw []byte
	if ttl > 0 {
		var err error
		if raw, err = st.seal(key, exp, v); err != nil {
			return err
		}
		// The index first: an entry without its session is skipped by readers, while a
		// session without its entry would be missed by single logout.
		if index != nil {
			if err := index(ctx, &v, now); err != nil {
				return err
			}
		}
	}
	res, err := st.createScript.Run(ctx, st.c, []string{key},
		now.Unix(), now.Nanosecond(), raw, ttl).Int64()
	if err != nil {
		return backend(err)
	}
	if res == 0 {
		return store.ErrExists
	}
	return nil
}

// get returns the live record id. A record that does not decrypt, names another ID, or has
// expired by the store's clock is not found.
func get[T any](ctx context.Context, st *Store, r record[T], id string) (T, error) {
	var zero T
	now := st.now()
	key := st.key(r.kind, id)
	raw, err := st.c.Get(ctx, key).Bytes()
	if isMiss(err) {
		return zero, store.ErrNotFound
	}
	if err != nil {
		return zero, backend(err)
	}
	return decode(st, r, key, id, raw, now)
}

// decode opens raw, stored under key for id, and checks that it is live at now.
func decode[T any](st *Store, r record[T], key, id string, raw []byte, now time.Time) (T, error) {
	var v T
	if err := st.open(key, raw, &v); err != nil {
		return v, fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	if r.id(&v) != id {
		// Cannot happen without a broken HMAC or RecordKey: the key is bound in the AD.
		return v, fmt.Errorf("%w: %w: record names another ID", store.ErrNotFound, ErrUnreadable)
	}
	if expired(r.expiresAt(&v), now) {
		return v, store.ErrNotFound
	}
	return v, nil
}

// update is the optimistic read-modify-write: GET, fn, then casScript, which writes only if
// the key still holds what was read. On conflict the script returns the current value and
// fn runs again on it, up to maxUpdateAttempts times; each conflict means another writer
// succeeded, so every one of many concurrent updates eventually gets through.
func update[T any](ctx context.Context, st *Store, r record[T], id string, fn func(T) (T, error)) (T, error) {
	var zero T
	now := st.now()
	key := st.key(r.kind, id)
	raw, err := st.c.Get(ctx, key).Bytes()
	if isMiss(err) {
		return zero, store.ErrNotFound
	}
	if err != nil {
		return zero, backend(err)
	}
	for range maxUpdateAttempts {
		cur, err := decode(st, r, key, id, raw, now)
		if err != nil {
			return zero, err
		}
		// cur was just decoded, so fn gets a private copy; seal serialises next, so
		// nothing fn keeps a hold of can change what is stored.
		next, err := fn(cur)
		if err != nil {
			return zero, err
		}
		if r.id(&next) != id || r.expiresAt(&next).IsZero() {
			return zero, fmt.Errorf("%w: fn changed the ID or cleared ExpiresAt", store.ErrInvalid)
		}
		exp := r.expiresAt(&next)
		ttl := ttlMillis(exp.Sub(now))
		var newRaw []byte
		if ttl > 0 {
			if newRaw, err = st.seal(key, exp, next); err != nil {
				return zero, err
			}
			if r.beforeWrite != nil {
				if err := r.beforeWrite(ctx, st, &cur, &next, now); err != nil {
					return zero, err
				}
			}
		}
		res, err := st.casScript.Run(ctx, st.c, []string{key}, raw, newRaw, ttl).Result()
		if err != nil {
			return zero, backend(err)
		}
		switch res := res.(type) {
		case int64:
			if res == 1 {
				return r.clone(next), nil
			}
			return zero, store.ErrNotFound
		case string:
			raw = []byte(res) // another writer got in first: start again from its value
		default:
			return zero, fmt.Errorf("compare-and-set script returned %T", res)
		}
	}
	return zero, fmt.Errorf("%w: gave up after %d attempts", store.ErrConflict, maxUpdateAttempts)
}

// del removes the record id; a missing one is no error.
func del(ctx context.Context, st *Store, kind, id string) error {
	return backend(st.c.Del(ctx, st.key(kind, id)).Err())
}

// CreateSession implements [store.Sessions]: the user's index, then one create script.
func (st *Store) CreateSession(ctx context.Context, s store.Session) error {
	return st.do(ctx, "create session", func(ctx context.Context) error {
		return create(ctx, st, sessionRecord(), s, st.index)
	})
}

// GetSession implements [store.Sessions]: one GET.
func (st *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	var out store.Session
	err := st.do(ctx, "get session", func(ctx context.Context) (err error) {
		out, err = get(ctx, st, sessionRecord(), id)
		return err
	})
	return out, err
}

// UpdateSession implements [store.Sessions]: a GET and a compare-and-set script, plus an
// index update first if fn moves the session to another user or a later expiry. fn may run
// more than once.
func (st *Store) UpdateSession(ctx context.Context, id string, fn func(store.Session) (store.Session, error)) (store.Session, error) {
	var out store.Session
	err := st.do(ctx, "update session", func(ctx context.Context) (err error) {
		out, err = update(ctx, st, sessionRecord(), id, fn)
		return err
	})
	return out, err
}

// DeleteSession implements [store.Sessions]: one DEL. The user's index entry stays until
// its score passes; readers skip it meanwhile.
func (st *Store) DeleteSession(ctx context.Context, id string) error {
	return st.do(ctx, "delete session", func(ctx context.Context) error {
		return del(ctx, st, kindSession, id)
	})
}

// ListSessionsBySubject implements [store.Sessions]: one script on the user's index, then
// one pipeline of GETs (split by go-redis across Cluster slots). Entries whose session is
// gone, unreadable, expired or now another user's are skipped; the script drops those whose
// score has passed. The sessions come oldest first.
func (st *Store) ListSessionsBySubject(ctx context.Context, userID string) ([]store.Session, error) {
	out := []store.Session{}
	err := st.do(ctx, "list sessions", func(ctx context.Context) error {
		now := st.now()
		members, err := st.listScript.Run(ctx, st.c, []string{st.key(kindIndex, userID)}, now.UnixMilli()).StringSlice()
		if err != nil {
			return backend(err)
		}
		if len(members) == 0 {
			return nil
		}
		keys := make([]string, len(members))
		cmds := make([]*redis.StringCmd, len(members))
		pipe := st.c.Pipeline()
		for i, m := range members {
			keys[i] = st.keyOf(kindSession, m)
			cmds[i] = pipe.Get(ctx, keys[i])
		}
		// Exec returns the first command's error, redis.Nil included; each is checked below.
		_, _ = pipe.Exec(ctx)
		r := sessionRecord()
		for i, cmd := range cmds {
			raw, err := cmd.Bytes()
			if isMiss(err) {
				continue
			}
			if err != nil {
				return backend(err)
			}
			var s store.Session
			if err := st.open(keys[i], raw, &s); err != nil {
				continue
			}
			if s.UserID != userID || st.hashPart(kindSession, s.ID) != members[i] || expired(s.ExpiresAt, now) {
				continue
			}
			out = append(out, r.clone(s))
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
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// index adds s to its user's index, with s's expiry as score and lifetime (see indexScript).
// Callers only index sessions that are still live at now.
func (st *Store) index(ctx context.Context, s *store.Session, now time.Time) error {
	ttl := ttlMillis(s.ExpiresAt.Sub(now))
	if ttl <= 0 {
		return nil
	}
	err := st.indexScript.Run(ctx, st.c, []string{st.key(kindIndex, s.UserID)},
		st.hashPart(kindSession, s.ID), ceilMillis(s.ExpiresAt), ttl).Err()
	return backend(err)
}

// CreateFlow implements [store.Flows]: one create script.
func (st *Store) CreateFlow(ctx context.Context, f store.Flow) error {
	return st.do(ctx, "create flow", func(ctx context.Context) error {
		return create(ctx, st, flowRecord(), f, nil)
	})
}

// GetFlow implements [store.Flows]: one GET.
func (st *Store) GetFlow(ctx context.Context, id string) (store.Flow, error) {
	var out store.Flow
	err := st.do(ctx, "get flow", func(ctx context.Context) (err error) {
		out, err = get(ctx, st, flowRecord(), id)
		return err
	})
	return out, err
}

// UpdateFlow implements [store.Flows]: a GET and a compare-and-set script; fn may run more
// than once.
func (st *Store) UpdateFlow(ctx context.Context, id string, fn func(store.Flow) (store.Flow, error)) (store.Flow, error) {
	var out store.Flow
	err := st.do(ctx, "update flow", func(ctx context.Context) (err error) {
		out, err = update(ctx, st, flowRecord(), id, fn)
		return err
	})
	return out, err
}

// DeleteFlow implements [store.Flows]: one DEL.
func (st *Store) DeleteFlow(ctx context.Context, id string) error {
	return st.do(ctx, "delete flow", func(ctx context.Context) error {
		return del(ctx, st, kindFlow, id)
	})
}
