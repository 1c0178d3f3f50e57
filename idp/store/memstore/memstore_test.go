package memstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/storetest"
)

// TestConformance runs the store contract suite against memstore on a manual clock.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.WithClock(func(t *testing.T, now func() time.Time) store.Store {
		st := New(now)
		t.Cleanup(func() { _ = st.Close() }) // some cases close it first
		return st
	}))
}

// fakeClock is a manual clock for the tests below that look inside the store.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

var t0 = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// size counts every record held, expired or not.
func (st *Store) size() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.sessions) + len(st.subjects) + len(st.flows) + len(st.once) + len(st.counters)
}

func TestGC(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	st := New(clk.Now)
	ctx := t.Context()
	mustNil := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s error = %v, want nil", what, err)
		}
	}
	short, lasting := time.Minute, time.Hour
	mustNil("CreateSession", st.CreateSession(ctx, store.Session{ID: "s-short", UserID: "u", ExpiresAt: t0.Add(short)}))
	mustNil("CreateSession", st.CreateSession(ctx, store.Session{ID: "s-long", UserID: "u", ExpiresAt: t0.Add(lasting)}))
	mustNil("CreateFlow", st.CreateFlow(ctx, store.Flow{ID: "f-short", ExpiresAt: t0.Add(short)}))
	mustNil("CreateFlow", st.CreateFlow(ctx, store.Flow{ID: "f-long", ExpiresAt: t0.Add(lasting)}))
	_, err := st.Consume(ctx, "o-short", short)
	mustNil("Consume", err)
	_, err = st.Consume(ctx, "o-long", lasting)
	mustNil("Consume", err)
	_, err = st.Incr(ctx, "c-short", short)
	mustNil("Incr", err)
	_, err = st.Incr(ctx, "c-long", lasting)
	mustNil("Incr", err)

	// 2 sessions + 1 subject + 2 flows + 2 once keys + 2 counters.
	if got, want := st.size(), 9; got != want {
		t.Fatalf("size before GC = %d, want %d", got, want)
	}
	st.GC(t0.Add(short - time.Nanosecond))
	if got, want := st.size(), 9; got != want {
		t.Errorf("size after GC before any expiry = %d, want %d", got, want)
	}
	// GC judges by the time it is given, not by the store's clock (which has not moved).
	st.GC(t0.Add(short))
	if got, want := st.size(), 5; got != want {
		t.Errorf("size after GC at the short expiry = %d, want %d", got, want)
	}
	if _, err := st.GetSession(ctx, "s-long"); err != nil {
		t.Errorf("GetSession(s-long) after GC error = %v, want nil", err)
	}
	st.GC(t0.Add(lasting))
	if got := st.size(); got != 0 {
		t.Errorf("size after GC at the long expiry = %d, want 0", got)
	}
}

// TestLazyExpiry checks that reads drop the expired records they meet, so memory held by
// records that are read again does not wait for GC.
func TestLazyExpiry(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	st := New(clk.Now)
	ctx := t.Context()
	if err := st.CreateSession(ctx, store.Session{ID: "s", UserID: "u", ExpiresAt: t0.Add(time.Minute)}); err != nil {
		t.Fatalf("CreateSession error = %v, want nil", err)
	}
	clk.now = t0.Add(time.Minute)
	if _, err := st.GetSession(ctx, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession after expiry error = %v, want ErrNotFound", err)
	}
	if got := st.size(); got != 0 {
		t.Errorf("size after reading the expired session = %d, want 0", got)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	st := New(nil)
	if err := st.Ping(t.Context()); err != nil {
		t.Fatalf("Ping of an open store = %v, want nil", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	if err := st.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close = %v, want an error wrapping store.ErrClosed", err)
	}
	st.GC(time.Now()) // must not touch the released maps
	// A cancelled ctx on a closed store: either error is right, but it must be an error.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.Ping(ctx); err == nil {
		t.Errorf("Ping(cancelled) on a closed store = nil, want an error")
	}
}

// TestNewNilClock checks that a nil clock means the real one: a session expiring an hour from
// now is live.
func TestNewNilClock(t *testing.T) {
	t.Parallel()
	st := New(nil)
	if err := st.CreateSession(t.Context(), store.Session{ID: "s", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("CreateSession error = %v, want nil", err)
	}
	if _, err := st.GetSession(t.Context(), "s"); err != nil {
		t.Errorf("GetSession error = %v, want nil", err)
	}
}

// TestErrorsNameNoSecrets checks that errors carry the operation but not the record ID, which
// for sessions is derived from the cookie (STYLE §B3.6).
func TestErrorsNameNoSecrets(t *testing.T) {
	t.Parallel()
	st := New(nil)
	const id = "s_secretcookiehash"
	_, err := st.GetSession(t.Context(), id)
	if err == nil {
		t.Fatal("GetSession of a missing session error = nil, want ErrNotFound")
	}
	if got, want := err.Error(), "memstore: get session: store: not found"; got != want {
		t.Errorf("error text = %q, want %q", got, want)
	}
}
