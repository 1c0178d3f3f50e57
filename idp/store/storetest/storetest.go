package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ateaidp/atea/idp/store"
)

// Harness tells [Run] how to make and age stores of one backend.
type Harness struct {
	// New returns a fresh, empty store for the test t. The suite calls it once per case,
	// possibly from parallel tests. Some cases Close the store themselves, so a cleanup that
	// closes it again must tolerate an error wrapping store.ErrClosed.
	New func(t *testing.T) store.Store

	// Advance moves the clock of the store made by New(t) forward by d: with a fake clock it
	// adds d, with a real one it sleeps. It is called with the same t that was passed to New.
	Advance func(t *testing.T, d time.Duration)

	// Now returns the current time of the store made by New(t), the clock that Advance moves;
	// the suite reads it to set ExpiresAt. Nil means time.Now, for backends on the real clock.
	Now func(t *testing.T) time.Time

	// TTL is the lifetime the expiry cases give records; they Advance by fractions and
	// multiples of it. Zero means one hour. A backend whose Advance sleeps sets it short, but
	// far above its clock resolution and the latency of a few calls (say 300ms for Redis).
	TTL time.Duration
}

// long is the lifetime of records in cases that are not about expiry: far longer than any test.
const long = 24 * time.Hour

// testCase is one rule of the contract. explanation is the rule, printed with every failure.
type testCase struct {
	name        string
	explanation string
	run         func(e *env)
}

type group struct {
	name  string
	cases []testCase
}

// Run checks the backend described by h against the store contracts, one subtest per group
// and per case. It fails t if h.New or h.Advance is missing.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Advance == nil {
		t.Fatal("storetest: Harness.New and Harness.Advance are required")
	}
	ttl := h.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	groups := []group{
		{"CRUD", crudCases()},
		{"Expiry", expiryCases()},
		{"Atomic", atomicCases()},
		{"Consume", consumeCases()},
		{"Counters", counterCases()},
		{"Context", contextCases()},
		{"Closed", closedCases()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					e := &env{t: t, why: c.explanation, h: h, ttl: ttl}
					e.st = h.New(t)
					e.t0 = e.now()
					c.run(e)
				})
			}
		})
	}
}

// WithClock returns a Harness for a backend that reads time through an injected now func:
// every store gets its own manual clock, starting at a fixed instant, which Advance moves and
// Now reads. newStore makes the store with that clock.
func WithClock(newStore func(t *testing.T, now func() time.Time) store.Store) Harness {
	var mu sync.Mutex
	clocks := make(map[*testing.T]*clock)
	lookup := func(t *testing.T) *clock {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		c, ok := clocks[t]
		if !ok {
			t.Fatal("storetest: clock used with a t that New was not called with")
		}
		return c
	}
	return Harness{
		New: func(t *testing.T) store.Store {
			// Nanoseconds in the start time catch backends that round timestamps.
			c := &clock{now: time.Date(2031, time.March, 4, 5, 6, 7, 891011121, time.UTC)}
			mu.Lock()
			clocks[t] = c
			mu.Unlock()
			t.Cleanup(func() {
				mu.Lock()
				delete(clocks, t)
				mu.Unlock()
			})
			return newStore(t, c.Now)
		},
		Advance: func(t *testing.T, d time.Duration) { lookup(t).advance(d) },
		Now:     func(t *testing.T) time.Time { return lookup(t).Now() },
	}
}

// clock is a manual clock, safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is what a case runs with: the store under test, its clock, and failure reporting that
// appends the case's rule.
type env struct {
	t   *testing.T
	why string
	h   Harness
	st  store.Store
	ttl time.Duration
	t0  time.Time // the store's time when the case started
}

func (e *env) ctx() context.Context { return e.t.Context() }

// cancelled returns a context that is already cancelled.
func (e *env) cancelled() context.Context {
	ctx, cancel := context.WithCancel(e.t.Context())
	cancel()
	return ctx
}

// now is the store's current time, without a monotonic reading (which no backend can store).
func (e *env) now() time.Time {
	if e.h.Now != nil {
		return e.h.Now(e.t).Round(0)
	}
	return time.Now().Round(0)
}

func (e *env) advance(d time.Duration) {
	e.t.Helper()
	e.h.Advance(e.t, d)
}

// errorf reports a failure followed by the rule being checked. It is safe in goroutines.
func (e *env) errorf(format string, args ...any) {
	e.t.Helper()
	e.t.Errorf("%s\n\trule: %s", fmt.Sprintf(format, args...), e.why)
}

// fatalf is errorf that stops the case; only from the case's own goroutine.
func (e *env) fatalf(format string, args ...any) {
	e.t.Helper()
	e.t.Fatalf("%s\n\trule: %s", fmt.Sprintf(format, args...), e.why)
}

// must stops the case if err is not nil.
func (e *env) must(call string, err error) {
	e.t.Helper()
	if err != nil {
		e.fatalf("%s error = %v, want nil", call, err)
	}
}

// is reports whether err wraps target, recording a failure if it does not.
func (e *env) is(call string, err, target error) bool {
	e.t.Helper()
	if !errors.Is(err, target) {
		e.errorf("%s error = %v, want an error wrapping %v", call, err, target)
		return false
	}
	return true
}

// same records a failure if got and want differ. Empty and nil slices are equal (a backend
// that serialises may not keep the difference) and times compare by instant.
func (e *env) same(call string, got, want any) {
	e.t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		e.errorf("%s mismatch (-want +got):\n%s", call, diff)
	}
}

// errFn is the error the cases' update functions fail with.
var errFn = errors.New("storetest: update function failed")
