package storetest

import (
	"slices"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp/store"
)

func crudCases() []testCase {
	cases := slices.Concat(recordCRUD(sessionKind()), recordCRUD(flowKind()))
	return append(cases,
		testCase{
			name:        "session/list-by-subject",
			explanation: "ListSessionsBySubject returns exactly the live sessions of that user, and an empty list with a nil error for a user without any",
			run:         listBySubject,
		},
		testCase{
			name:        "session/list-follows-changes",
			explanation: "ListSessionsBySubject follows UpdateSession (including a changed UserID) and DeleteSession",
			run:         listFollowsChanges,
		},
		testCase{
			name:        "session/list-deep-copy",
			explanation: "sessions returned by ListSessionsBySubject are deep copies: mutating their SPs never changes the stored session",
			run:         listDeepCopy,
		},
		testCase{
			name:        "keyspaces",
			explanation: "sessions, flows, Once keys and counters are separate keyspaces: one string used in all four never collides",
			run:         keyspaces,
		},
		testCase{
			name:        "ping",
			explanation: "Ping of an open store returns nil",
			run: func(e *env) {
				e.must("Ping", e.st.Ping(e.ctx()))
			},
		},
	)
}

// recordCRUD is the CRUD contract shared by sessions and flows.
func recordCRUD[T any](k kind[T]) []testCase {
	return []testCase{
		{
			name:        k.name + "/create-get",
			explanation: "Get" + k.title + " returns the " + k.name + " exactly as Create" + k.title + " stored it",
			run: func(e *env) {
				want := k.sample("a", e.t0, long)
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, want))
				got, err := k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a"), err)
				e.same(k.call("Get", "a"), got, want)
			},
		},
		{
			name:        k.name + "/create-exists",
			explanation: "Create" + k.title + " of an ID held by a live " + k.name + " fails with ErrExists and leaves the stored one unchanged",
			run: func(e *env) {
				want := k.sample("a", e.t0, long)
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, want))
				e.is(k.call("Create", "a")+" again", k.create(e.ctx(), e.st, k.mark(k.sample("a", e.t0, 2*long), 1)), store.ErrExists)
				got, err := k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a"), err)
				e.same(k.call("Get", "a"), got, want)
			},
		},
		{
			name:        k.name + "/get-missing",
			explanation: "Get" + k.title + " of an ID never stored fails with ErrNotFound",
			run: func(e *env) {
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, k.sample("a", e.t0, long)))
				for _, id := range []string{"b", "A", ""} {
					_, err := k.get(e.ctx(), e.st, id)
					e.is(k.call("Get", id), err, store.ErrNotFound)
				}
			},
		},
		{
			name:        k.name + "/update",
			explanation: "Update" + k.title + " passes fn the stored " + k.name + ", stores fn's result and returns it",
			run: func(e *env) {
				orig := k.sample("a", e.t0, long)
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, orig))
				want := k.mark(k.sample("a", e.t0, long), 1)
				got, err := k.update(e.ctx(), e.st, "a", func(cur T) (T, error) {
					e.same("the value fn was passed", cur, orig)
					return k.mark(cur, 1), nil
				})
				e.must(k.call("Update", "a"), err)
				e.same(k.call("Update", "a")+" result", got, want)
				got, err = k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a"), err)
				e.same(k.call("Get", "a")+" after update", got, want)
			},
		},
		{
			name:        k.name + "/update-missing",
			explanation: "Update" + k.title + " of a missing " + k.name + " fails with ErrNotFound without calling fn or creating anything",
			run: func(e *env) {
				called := false
				_, err := k.update(e.ctx(), e.st, "a", func(cur T) (T, error) {
					called = true
					return k.sample("a", e.t0, long), nil
				})
				e.is(k.call("Update", "a"), err, store.ErrNotFound)
				if called {
					e.errorf("%s called fn, want not called", k.call("Update", "a"))
				}
				_, err = k.get(e.ctx(), e.st, "a")
				e.is(k.call("Get", "a")+" after update", err, store.ErrNotFound)
			},
		},
		{
			name:        k.name + "/delete",
			explanation: "Delete" + k.title + " removes the " + k.name + ": Get then fails with ErrNotFound and the ID can be created again",
			run: func(e *env) {
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, k.sample("a", e.t0, long)))
				e.must(k.call("Create", "b"), k.create(e.ctx(), e.st, k.sample("b", e.t0, long)))
				e.must(k.call("Delete", "a"), k.del(e.ctx(), e.st, "a"))
				_, err := k.get(e.ctx(), e.st, "a")
				e.is(k.call("Get", "a")+" after delete", err, store.ErrNotFound)
				_, err = k.get(e.ctx(), e.st, "b")
				e.must(k.call("Get", "b")+" after deleting a", err)
				e.must(k.call("Create", "a")+" after delete", k.create(e.ctx(), e.st, k.sample("a", e.t0, long)))
			},
		},
		{
			name:        k.name + "/delete-missing",
			explanation: "Delete" + k.title + " of a missing " + k.name + " is a no-op returning nil, so deleting twice is harmless",
			run: func(e *env) {
				e.must(k.call("Delete", "never"), k.del(e.ctx(), e.st, "never"))
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, k.sample("a", e.t0, long)))
				e.must(k.call("Delete", "a"), k.del(e.ctx(), e.st, "a"))
				e.must(k.call("Delete", "a")+" twice", k.del(e.ctx(), e.st, "a"))
			},
		},
		{
			name:        k.name + "/create-invalid",
			explanation: "Create" + k.title + " refuses an empty ID and a zero ExpiresAt with ErrInvalid: a record without an expiry would live forever",
			run: func(e *env) {
				e.is(k.call("Create", ""), k.create(e.ctx(), e.st, k.sample("", e.t0, long)), store.ErrInvalid)
				e.is(k.call("Create", "a")+" with zero ExpiresAt", k.create(e.ctx(), e.st, k.withExpiry(k.sample("a", e.t0, long), time.Time{})), store.ErrInvalid)
				_, err := k.get(e.ctx(), e.st, "a")
				e.is(k.call("Get", "a")+" after refused create", err, store.ErrNotFound)
			},
		},
		{
			name:        k.name + "/update-invalid",
			explanation: "Update" + k.title + " refuses an fn that changes the ID or clears ExpiresAt with ErrInvalid, and stores nothing",
			run: func(e *env) {
				want := k.sample("a", e.t0, long)
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, want))
				_, err := k.update(e.ctx(), e.st, "a", func(cur T) (T, error) { return k.withID(k.mark(cur, 1), "b"), nil })
				e.is(k.call("Update", "a")+" changing the ID", err, store.ErrInvalid)
				_, err = k.update(e.ctx(), e.st, "a", func(cur T) (T, error) { return k.withExpiry(k.mark(cur, 2), time.Time{}), nil })
				e.is(k.call("Update", "a")+" clearing ExpiresAt", err, store.ErrInvalid)
				got, err := k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a"), err)
				e.same(k.call("Get", "a")+" after refused updates", got, want)
				_, err = k.get(e.ctx(), e.st, "b")
				e.is(k.call("Get", "b"), err, store.ErrNotFound)
			},
		},
		{
			name:        k.name + "/deep-copy",
			explanation: k.name + "s passed to and returned by the store are deep copies: mutating a caller's slice, or fn's argument, never changes the stored " + k.name,
			run:         func(e *env) { deepCopy(e, k) },
		},
	}
}

func deepCopy[T any](e *env, k kind[T]) {
	want := k.sample("a", e.t0, long)
	in := k.sample("a", e.t0, long)
	e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, in))
	check := func(after string) {
		e.t.Helper()
		got, err := k.get(e.ctx(), e.st, "a")
		e.must(k.call("Get", "a"), err)
		e.same(k.call("Get", "a")+" after "+after, got, want)
	}

	k.scribble(in)
	check("mutating the value passed to Create")

	got, err := k.get(e.ctx(), e.st, "a")
	e.must(k.call("Get", "a"), err)
	k.scribble(got)
	check("mutating the value Get returned")

	upd, err := k.update(e.ctx(), e.st, "a", func(cur T) (T, error) { return cur, nil })
	e.must(k.call("Update", "a"), err)
	k.scribble(upd)
	check("mutating the value Update returned")

	_, err = k.update(e.ctx(), e.st, "a", func(cur T) (T, error) {
		k.scribble(cur)
		return cur, errFn
	})
	e.is(k.call("Update", "a")+" with failing fn", err, errFn)
	check("fn mutated its argument and failed")

	// fn's result shares its slice with mine; the store must copy it.
	mine := k.sample("a", e.t0, long)
	_, err = k.update(e.ctx(), e.st, "a", func(T) (T, error) { return mine, nil })
	e.must(k.call("Update", "a"), err)
	k.scribble(mine)
	check("mutating the value fn returned")
}

func listBySubject(e *env) {
	k := sessionKind()
	s1 := k.sample("s1", e.t0, long)
	s2 := k.sample("s2", e.t0, long)
	s2.UserID = s1.UserID
	s2.CreatedAt = s1.CreatedAt.Add(time.Second)
	s3 := k.sample("s3", e.t0, long)
	for _, s := range []store.Session{s1, s2, s3} {
		e.must(k.call("Create", s.ID), e.st.CreateSession(e.ctx(), s))
	}
	for _, tc := range []struct {
		user string
		want []store.Session
	}{
		{s1.UserID, []store.Session{s1, s2}},
		{s3.UserID, []store.Session{s3}},
		{"nobody", nil},
		{"", nil},
	} {
		got, err := e.st.ListSessionsBySubject(e.ctx(), tc.user)
		e.must("ListSessionsBySubject("+tc.user+")", err)
		e.same("ListSessionsBySubject("+tc.user+")", sortSessions(got), tc.want)
	}
}

func listFollowsChanges(e *env) {
	k := sessionKind()
	s1 := k.sample("s1", e.t0, long)
	s2 := k.sample("s2", e.t0, long)
	s2.UserID = s1.UserID
	for _, s := range []store.Session{s1, s2} {
		e.must(k.call("Create", s.ID), e.st.CreateSession(e.ctx(), s))
	}
	moved, err := e.st.UpdateSession(e.ctx(), "s2", func(s store.Session) (store.Session, error) {
		s.UserID = "other"
		return s, nil
	})
	e.must(k.call("Update", "s2"), err)
	e.must(k.call("Delete", "s1"), e.st.DeleteSession(e.ctx(), "s1"))
	got, err := e.st.ListSessionsBySubject(e.ctx(), s1.UserID)
	e.must("ListSessionsBySubject(old user)", err)
	e.same("ListSessionsBySubject(old user)", got, []store.Session(nil))
	got, err = e.st.ListSessionsBySubject(e.ctx(), "other")
	e.must("ListSessionsBySubject(other)", err)
	e.same("ListSessionsBySubject(other)", got, []store.Session{moved})
}

func listDeepCopy(e *env) {
	k := sessionKind()
	want := k.sample("s1", e.t0, long)
	e.must(k.call("Create", "s1"), e.st.CreateSession(e.ctx(), want))
	list, err := e.st.ListSessionsBySubject(e.ctx(), want.UserID)
	e.must("ListSessionsBySubject", err)
	if len(list) != 1 {
		e.fatalf("ListSessionsBySubject returned %d sessions, want 1", len(list))
	}
	k.scribble(list[0])
	got, err := e.st.GetSession(e.ctx(), "s1")
	e.must(k.call("Get", "s1"), err)
	e.same(k.call("Get", "s1")+" after mutating the listed session", got, want)
}

func keyspaces(e *env) {
	const key = "k1"
	sk, fk := sessionKind(), flowKind()
	e.must(sk.call("Create", key), e.st.CreateSession(e.ctx(), sk.sample(key, e.t0, long)))
	e.must(fk.call("Create", key), e.st.CreateFlow(e.ctx(), fk.sample(key, e.t0, long)))
	first, err := e.st.Consume(e.ctx(), key, long)
	e.must("Consume", err)
	if !first {
		e.errorf("Consume(%q) of a key only used as a record ID = false, want true", key)
	}
	n, err := e.st.Incr(e.ctx(), key, long)
	e.must("Incr", err)
	if n != 1 {
		e.errorf("Incr(%q) of a key only used elsewhere = %d, want 1", key, n)
	}
	e.must(sk.call("Delete", key), e.st.DeleteSession(e.ctx(), key))
	if _, err := e.st.GetFlow(e.ctx(), key); err != nil {
		e.errorf("GetFlow(%q) after DeleteSession(%q) error = %v, want nil", key, key, err)
	}
	if n, err := e.st.Count(e.ctx(), key); err != nil || n != 1 {
		e.errorf("Count(%q) after DeleteSession = %d, %v, want 1, nil", key, n, err)
	}
	if first, err := e.st.Consume(e.ctx(), key, long); err != nil || first {
		e.errorf("second Consume(%q) = %v, %v, want false, nil", key, first, err)
	}
}

// sortSessions orders sessions by ID, since ListSessionsBySubject promises no order.
func sortSessions(s []store.Session) []store.Session {
	return slices.SortedFunc(slices.Values(s), func(a, b store.Session) int { return strings.Compare(a.ID, b.ID) })
}
