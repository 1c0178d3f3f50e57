package storetest

import (
	"slices"
	"time"

	"github.com/ateaidp/atea/idp/store"
)

func expiryCases() []testCase {
	cases := slices.Concat(recordExpiry(sessionKind()), recordExpiry(flowKind()))
	return append(cases,
		testCase{
			name:        "session/list-skips-expired",
			explanation: "ListSessionsBySubject leaves out sessions whose ExpiresAt has been reached",
			run:         listSkipsExpired,
		},
		testCase{
			name:        "once/ttl",
			explanation: "a Once key is spent for ttl from the call that won and usable again after it; a losing Consume does not extend it",
			run:         onceTTL,
		},
		testCase{
			name:        "counter/window",
			explanation: "a counter's window starts at its first Incr and does not slide: once window has passed since then Count is 0 and Incr starts again at 1",
			run:         counterWindow,
		},
	)
}

// recordExpiry is the expiry contract shared by sessions and flows: a record is live while
// the store's clock is before ExpiresAt, and from then on behaves as if it did not exist.
func recordExpiry[T any](k kind[T]) []testCase {
	return []testCase{
		{
			name:        k.name + "/expires",
			explanation: "a " + k.name + " is live before its ExpiresAt and gone from ExpiresAt on: Get and Update fail with ErrNotFound, Delete returns nil",
			run: func(e *env) {
				want := k.sample("a", e.t0, e.ttl)
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, want))
				e.advance(e.ttl / 2)
				got, err := k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a")+" halfway to ExpiresAt", err)
				e.same(k.call("Get", "a")+" halfway to ExpiresAt", got, want)
				e.advance(e.ttl - e.ttl/2)
				_, err = k.get(e.ctx(), e.st, "a")
				e.is(k.call("Get", "a")+" at ExpiresAt", err, store.ErrNotFound)
				called := false
				_, err = k.update(e.ctx(), e.st, "a", func(cur T) (T, error) { called = true; return cur, nil })
				e.is(k.call("Update", "a")+" after ExpiresAt", err, store.ErrNotFound)
				if called {
					e.errorf("%s after ExpiresAt called fn, want not called", k.call("Update", "a"))
				}
				e.must(k.call("Delete", "a")+" after ExpiresAt", k.del(e.ctx(), e.st, "a"))
			},
		},
		{
			name:        k.name + "/reuse-expired-id",
			explanation: "the ID of an expired " + k.name + " is free: Create" + k.title + " on it succeeds and Get returns the new one",
			run: func(e *env) {
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, k.sample("a", e.t0, e.ttl)))
				e.advance(e.ttl)
				want := k.mark(k.sample("a", e.now(), long), 1)
				e.must(k.call("Create", "a")+" after expiry", k.create(e.ctx(), e.st, want))
				got, err := k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a"), err)
				e.same(k.call("Get", "a")+" of the re-created "+k.name, got, want)
			},
		},
		{
			name:        k.name + "/past-expiry",
			explanation: "a " + k.name + " created with ExpiresAt already past is accepted but never visible, and does not hold its ID",
			run: func(e *env) {
				e.must(k.call("Create", "a")+" expired", k.create(e.ctx(), e.st, k.sample("a", e.t0, -time.Second)))
				_, err := k.get(e.ctx(), e.st, "a")
				e.is(k.call("Get", "a"), err, store.ErrNotFound)
				e.must(k.call("Create", "a")+" live", k.create(e.ctx(), e.st, k.sample("a", e.t0, long)))
			},
		},
		{
			name:        k.name + "/extend",
			explanation: "Update" + k.title + " may move ExpiresAt later: the " + k.name + " then outlives its first expiry and ends at the new one",
			run: func(e *env) {
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, k.sample("a", e.t0, e.ttl)))
				_, err := k.update(e.ctx(), e.st, "a", func(cur T) (T, error) { return k.withExpiry(cur, e.t0.Add(2*e.ttl)), nil })
				e.must(k.call("Update", "a"), err)
				e.advance(e.ttl)
				_, err = k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a")+" past the first ExpiresAt", err)
				e.advance(e.ttl)
				_, err = k.get(e.ctx(), e.st, "a")
				e.is(k.call("Get", "a")+" at the new ExpiresAt", err, store.ErrNotFound)
			},
		},
		{
			name:        k.name + "/expire-by-update",
			explanation: "an Update" + k.title + " that moves ExpiresAt into the past expires the " + k.name + " at once",
			run: func(e *env) {
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, k.sample("a", e.t0, long)))
				_, err := k.update(e.ctx(), e.st, "a", func(cur T) (T, error) { return k.withExpiry(cur, e.t0.Add(-time.Second)), nil })
				e.must(k.call("Update", "a"), err)
				_, err = k.get(e.ctx(), e.st, "a")
				e.is(k.call("Get", "a")+" after expiring update", err, store.ErrNotFound)
			},
		},
	}
}

func listSkipsExpired(e *env) {
	k := sessionKind()
	short := k.sample("short", e.t0, e.ttl)
	lasting := k.sample("lasting", e.t0, long)
	lasting.UserID = short.UserID
	e.must(k.call("Create", "short"), e.st.CreateSession(e.ctx(), short))
	e.must(k.call("Create", "lasting"), e.st.CreateSession(e.ctx(), lasting))
	e.advance(e.ttl)
	got, err := e.st.ListSessionsBySubject(e.ctx(), short.UserID)
	e.must("ListSessionsBySubject", err)
	e.same("ListSessionsBySubject after one expired", got, []store.Session{lasting})
}

func onceTTL(e *env) {
	const key = "k"
	consume := func(when string, want bool) {
		e.t.Helper()
		got, err := e.st.Consume(e.ctx(), key, e.ttl)
		if err != nil || got != want {
			e.errorf("Consume(%q) %s = %v, %v, want %v, nil", key, when, got, err, want)
		}
	}
	consume("first", true)
	e.advance(e.ttl / 2)
	consume("within ttl", false)
	e.advance(e.ttl * 3 / 4) // 1.25 ttl after the winner, 0.75 ttl after the loser
	consume("after ttl", true)
	consume("again after ttl", false)
}

func counterWindow(e *env) {
	const key = "c"
	incr := func(when string, want int64) {
		e.t.Helper()
		got, err := e.st.Incr(e.ctx(), key, e.ttl)
		if err != nil || got != want {
			e.errorf("Incr(%q) %s = %d, %v, want %d, nil", key, when, got, err, want)
		}
	}
	count := func(when string, want int64) {
		e.t.Helper()
		got, err := e.st.Count(e.ctx(), key)
		if err != nil || got != want {
			e.errorf("Count(%q) %s = %d, %v, want %d, nil", key, when, got, err, want)
		}
	}
	incr("first", 1)
	e.advance(e.ttl / 2)
	incr("within the window", 2)
	count("within the window", 2)
	e.advance(e.ttl * 3 / 4) // 1.25 windows after the first Incr, 0.75 after the second
	count("after the window", 0)
	incr("after the window", 1)
	count("in the new window", 1)
}
