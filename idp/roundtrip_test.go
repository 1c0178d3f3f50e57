package idp_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/store"
)

// countingStore counts the store calls an SSO makes; each is one Redis round trip in
// production (the Redis backend's UpdateSession is two).
type countingStore struct {
	store.Store
	calls atomic.Int64
}

func (c *countingStore) Consume(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	c.calls.Add(1)
	return c.Store.Consume(ctx, key, ttl)
}

func (c *countingStore) GetSession(ctx context.Context, id string) (store.Session, error) {
	c.calls.Add(1)
	return c.Store.GetSession(ctx, id)
}

func (c *countingStore) UpdateSession(ctx context.Context, id string, fn func(store.Session) (store.Session, error)) (store.Session, error) {
	c.calls.Add(2)
	return c.Store.UpdateSession(ctx, id, fn)
}

func (c *countingStore) GetFlow(ctx context.Context, id string) (store.Flow, error) {
	c.calls.Add(1)
	return c.Store.GetFlow(ctx, id)
}

func (c *countingStore) CreateFlow(ctx context.Context, f store.Flow) error {
	c.calls.Add(1)
	return c.Store.CreateFlow(ctx, f)
}

// TestSSORoundTrips: SP-initiated SSO with an existing session (Redirect binding) costs the
// store at most two round trips (issue: Redis state, performance), and a repeated SSO to the
// same SP keeps its transient NameID and SessionIndex for logout.
func TestSSORoundTrips(t *testing.T) {
	t.Parallel()
	var cs *countingStore
	ti := newTestIdPWith(t, nil, func(s store.Store) store.Store { cs = &countingStore{Store: s}; return cs })
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect"})
	a1 := sp.accept(t, b.login(p, citizenDNI, citizenPassword).samlResponse(t), id)
	for i := 0; i < 3; i++ {
		before := cs.calls.Load()
		p, id = ti.send(b, sp, request{binding: "redirect"})
		a := sp.accept(t, p.samlResponse(t), id)
		if n := cs.calls.Load() - before; n > 2 {
			t.Errorf("SSO %d with a session made %d store round trips, want ≤ 2", i, n)
		}
		if a.Subject.NameID.Value != a1.Subject.NameID.Value {
			t.Errorf("transient NameID changed within one session: %q then %q", a1.Subject.NameID.Value, a.Subject.NameID.Value)
		}
		if a.AuthnStatements[0].SessionIndex != a1.AuthnStatements[0].SessionIndex {
			t.Errorf("SessionIndex changed within one session")
		}
	}
}
