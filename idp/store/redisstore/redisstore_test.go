package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/redisstore/redistest"
	"github.com/ateaidp/atea/idp/store/storetest"
)

// shared is the package's private redis-server, started by TestMain. Tests share it by
// giving every store its own random key prefix; none of them flushes it.
var shared *redistest.Server

func TestMain(m *testing.M) {
	s, stop, err := redistest.StartMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared = s
	code := m.Run()
	stop()
	os.Exit(code)
}

const (
	// suiteTTL is the record lifetime of the suite's expiry cases, which sleep for real:
	// far above Redis's millisecond resolution and a few round trips, even on a loaded
	// 2-core machine under -race (300 ms once lost a halfway read to scheduling delay).
	suiteTTL = time.Second
	// suiteOpTimeout is generous because the suite races 50–64 goroutines per case, many
	// cases at once, under -race, on one server; OpTimeout itself is tested on its own.
	suiteOpTimeout = 15 * time.Second
)

// randomBytes returns n bytes from crypto/rand.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newOptions returns valid options over c with fresh keys and a unique prefix, so tests on
// one server never see each other's keys.
func newOptions(t testing.TB, c redis.UniversalClient) Options {
	t.Helper()
	return Options{
		Client:    c,
		Prefix:    "t" + hex.EncodeToString(randomBytes(t, 8)) + ":",
		KeySecret: randomBytes(t, 32),
		RecordKey: randomBytes(t, 32),
		OpTimeout: suiteOpTimeout,
	}
}

// mustNew is New that fails t on error and closes the store at cleanup.
func mustNew(t testing.TB, o Options) *Store {
	t.Helper()
	st, err := New(o)
	if err != nil {
		t.Fatalf("New error = %v, want nil", err)
	}
	t.Cleanup(func() { _ = st.Close() }) // some tests close it first
	return st
}

// harness runs the conformance suite on the real clock against the client client(t) gives.
func harness(client func(t *testing.T) redis.UniversalClient) storetest.Harness {
	return storetest.Harness{
		New: func(t *testing.T) store.Store {
			return mustNew(t, newOptions(t, client(t)))
		},
		Advance: func(_ *testing.T, d time.Duration) { time.Sleep(d) }, // Redis runs on the real clock
		TTL:     suiteTTL,
	}
}

// TestConformance runs the store contract suite against a single private redis-server.
func TestConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	storetest.Run(t, harness(func(t *testing.T) redis.UniversalClient { return srv.Client(t) }))
}

// TestConformanceCluster runs the suite against a three-node Redis Cluster: every
// operation must work without CROSSSLOT errors.
func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t)
	c := cl.Client(t)
	storetest.Run(t, harness(func(*testing.T) redis.UniversalClient { return c }))
}

// clock is a manual clock for the tests that check expiry against the injected clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// sample is a session whose every field is a string that must never appear in Redis.
func sample(id string, exp time.Time) store.Session {
	return store.Session{
		ID: id, UserID: "user-42", Level: "substantial", Method: "password+smsotp",
		AuthnInstant: exp.Add(-time.Hour), CreatedAt: exp.Add(-time.Hour), ExpiresAt: exp,
		SPs: []store.SPParticipation{{
			EntityID: "https://sp-secret.example/metadata", NameID: "nameid-secret-1",
			NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", SessionIndex: "_sessidx-1",
		}},
	}
}

// keysOf lists the keys under prefix on the single server c.
func keysOf(t *testing.T, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(t.Context(), 0, prefix+"*", 100).Iterator()
	for iter.Next(t.Context()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN error = %v", err)
	}
	return keys
}

// values returns what key holds, as strings: the value, or a sorted set's members.
func values(t *testing.T, c redis.UniversalClient, key string) []string {
	t.Helper()
	ctx := t.Context()
	typ, err := c.Type(ctx, key).Result()
	if err != nil {
		t.Fatalf("TYPE error = %v", err)
	}
	switch typ {
	case "string":
		v, err := c.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("GET error = %v", err)
		}
		return []string{v}
	case "zset":
		v, err := c.ZRange(ctx, key, 0, -1).Result()
		if err != nil {
			t.Fatalf("ZRANGE error = %v", err)
		}
		return v
	}
	t.Fatalf("key of type %s, want string or zset", typ)
	return nil
}

// TestNothingInClear writes a session, a flow, a Once key and a counter, and checks that no
// ID, user ID, cookie-derived value or other field appears in any key or value: a dump of
// Redis reveals nothing usable (SECURITY.md §4.15).
func TestNothingInClear(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	o := newOptions(t, c)
	st := mustNew(t, o)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	if err := st.CreateSession(ctx, sample("cookie-value-123", exp)); err != nil {
		t.Fatalf("CreateSession error = %v", err)
	}
	if _, err := st.UpdateSession(ctx, "cookie-value-123", func(s store.Session) (store.Session, error) {
		s.SPs = append(s.SPs, store.SPParticipation{EntityID: "https://sp-secret.example/two", NameID: "nameid-secret-2"})
		return s, nil
	}); err != nil {
		t.Fatalf("UpdateSession error = %v", err)
	}
	f := store.Flow{ID: "flow-abc", State: "await-password", BrowserHash: "browser-hash-secret", ExpiresAt: exp,
		Request: store.PendingRequest{SPEntityID: "https://sp-secret.example/metadata", RequestID: "_request-id-secret",
			ACSURL: "https://sp-secret.example/acs", RelayState: "relay-state-secret"}}
	if err := st.CreateFlow(ctx, f); err != nil {
		t.Fatalf("CreateFlow error = %v", err)
	}
	if _, err := st.Consume(ctx, "authnreq:_request-id-secret", time.Hour); err != nil {
		t.Fatalf("Consume error = %v", err)
	}
	if _, err := st.Incr(ctx, "ip:192.0.2.77", time.Hour); err != nil {
		t.Fatalf("Incr error = %v", err)
	}

	secrets := []string{"cookie-value-123", "user-42", "flow-abc", "nameid-secret", "_sessidx-1", "sp-secret",
		"browser-hash-secret", "_request-id-secret", "relay-state-secret", "192.0.2.77", "substantial",
		"password+smsotp", `"userID"`, `"id"`}
	keys := keysOf(t, c, o.Prefix)
	if got, want := len(keys), 5; got != want { // session, index, flow, once, counter
		t.Errorf("%d keys under the prefix, want %d: %q", got, want, keys)
	}
	for _, k := range keys {
		for _, s := range secrets {
			if strings.Contains(k, s) {
				t.Errorf("key %q contains %q", k, s)
			}
		}
		for _, v := range values(t, c, k) {
			for _, s := range secrets {
				if strings.Contains(v, s) {
					t.Errorf("value of key %q contains %q", k, s)
				}
			}
		}
	}
}

// TestRecordBoundToKey checks that a record copied under another key, or with its clear
// expiry edited, does not decrypt: the reader gets ErrNotFound (with ErrUnreadable), never
// the other record.
func TestRecordBoundToKey(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	st := mustNew(t, newOptions(t, c))
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	for _, id := range []string{"victim", "attacker"} {
		if err := st.CreateSession(ctx, sample(id, exp)); err != nil {
			t.Fatalf("CreateSession(%s) error = %v", id, err)
		}
	}
	if err := st.CreateFlow(ctx, store.Flow{ID: "victim", ExpiresAt: exp}); err != nil {
		t.Fatalf("CreateFlow error = %v", err)
	}
	raw, err := c.Get(ctx, st.key(kindSession, "attacker")).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	edited := append([]byte("99999999999"), raw[strings.IndexByte(string(raw), '.'):]...)

	for _, tc := range []struct {
		name string
		key  string
		raw  []byte
		get  func() error
	}{
		{"session moved", st.key(kindSession, "victim"), raw, func() error { _, err := st.GetSession(ctx, "victim"); return err }},
		{"session as flow", st.key(kindFlow, "victim"), raw, func() error { _, err := st.GetFlow(ctx, "victim"); return err }},
		{"expiry edited", st.key(kindSession, "attacker"), edited, func() error { _, err := st.GetSession(ctx, "attacker"); return err }},
	} {
		if err := c.Set(ctx, tc.key, tc.raw, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		err := tc.get()
		if !errors.Is(err, store.ErrNotFound) || !errors.Is(err, ErrUnreadable) {
			t.Errorf("%s: read error = %v, want ErrNotFound and ErrUnreadable", tc.name, err)
		}
	}
	list, err := st.ListSessionsBySubject(ctx, "user-42")
	if err != nil || len(list) != 0 {
		t.Errorf("ListSessionsBySubject after tampering = %d sessions, %v; want none, nil", len(list), err)
	}
}

// TestWrongKeys checks that a store with another RecordKey cannot read records (they are
// not found, and fn never runs), and one with another KeySecret does not even find them.
func TestWrongKeys(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	o := newOptions(t, c)
	st := mustNew(t, o)
	ctx := t.Context()
	if err := st.CreateSession(ctx, sample("s", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	otherRecord, otherSecret := o, o
	otherRecord.RecordKey = randomBytes(t, 32)
	otherSecret.KeySecret = randomBytes(t, 32)
	for _, tc := range []struct {
		name       string
		o          Options
		unreadable bool
	}{
		{"record key", otherRecord, true},
		{"key secret", otherSecret, false},
	} {
		other := mustNew(t, tc.o)
		_, err := other.GetSession(ctx, "s")
		if !errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrUnreadable) != tc.unreadable {
			t.Errorf("%s: GetSession error = %v, want ErrNotFound (ErrUnreadable: %v)", tc.name, err, tc.unreadable)
		}
		called := false
		_, err = other.UpdateSession(ctx, "s", func(s store.Session) (store.Session, error) { called = true; return s, nil })
		if !errors.Is(err, store.ErrNotFound) || called {
			t.Errorf("%s: UpdateSession error = %v, fn called %v; want ErrNotFound, not called", tc.name, err, called)
		}
		if list, err := other.ListSessionsBySubject(ctx, "user-42"); err != nil || len(list) != 0 {
			t.Errorf("%s: ListSessionsBySubject = %d sessions, %v; want none, nil", tc.name, len(list), err)
		}
	}
	if _, err := st.GetSession(ctx, "s"); err != nil {
		t.Errorf("GetSession with the right keys error = %v, want nil", err)
	}
}

// TestEveryKeyExpires checks after each kind of write that every key has a positive TTL
// no longer than the lifetime it was written for: nothing lives forever.
func TestEveryKeyExpires(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	o := newOptions(t, c)
	st := mustNew(t, o)
	ctx := t.Context()
	const life = time.Hour
	exp := time.Now().Add(life)
	steps := []struct {
		name string
		do   func() error
	}{
		{"CreateSession", func() error { return st.CreateSession(ctx, sample("s", exp)) }},
		{"UpdateSession", func() error {
			_, err := st.UpdateSession(ctx, "s", func(s store.Session) (store.Session, error) { s.Level = "high"; return s, nil })
			return err
		}},
		{"UpdateSession moving user", func() error {
			_, err := st.UpdateSession(ctx, "s", func(s store.Session) (store.Session, error) { s.UserID = "other"; return s, nil })
			return err
		}},
		{"ListSessionsBySubject", func() error { _, err := st.ListSessionsBySubject(ctx, "other"); return err }},
		{"CreateFlow", func() error { return st.CreateFlow(ctx, store.Flow{ID: "f", ExpiresAt: exp}) }},
		{"UpdateFlow", func() error {
			_, err := st.UpdateFlow(ctx, "f", func(f store.Flow) (store.Flow, error) { f.State = "x"; return f, nil })
			return err
		}},
		{"Consume", func() error { _, err := st.Consume(ctx, "o", life); return err }},
		{"Incr", func() error { _, err := st.Incr(ctx, "c", life); return err }},
		{"Incr again", func() error { _, err := st.Incr(ctx, "c", life); return err }},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s error = %v", step.name, err)
		}
		for _, k := range keysOf(t, c, o.Prefix) {
			ttl, err := c.PTTL(ctx, k).Result()
			if err != nil {
				t.Fatalf("PTTL error = %v", err)
			}
			if ttl <= 0 || ttl > life+time.Second {
				t.Errorf("after %s: PTTL of %q = %v, want > 0 and <= %v", step.name, k, ttl, life)
			}
		}
	}
}

// TestTinyTTL checks that a ttl under a millisecond is rounded up, not down to the zero
// that go-redis would send as "no expiry".
func TestTinyTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	st := mustNew(t, newOptions(t, c))
	ctx := t.Context()
	if first, err := st.Consume(ctx, "tiny", time.Nanosecond); err != nil || !first {
		t.Fatalf("Consume(1ns) = %v, %v; want true, nil", first, err)
	}
	if _, err := st.Incr(ctx, "tiny", time.Nanosecond); err != nil {
		t.Fatalf("Incr(1ns) error = %v", err)
	}
	for _, k := range []string{st.key(kindOnce, "tiny"), st.key(kindCounter, "tiny")} {
		// 0 or -2: expiring or gone within the millisecond; -1 would be a key without expiry.
		if ttl, err := c.PTTL(ctx, k).Result(); err != nil || ttl == -1 || ttl > time.Millisecond {
			t.Errorf("PTTL after a 1ns lifetime = %v, %v; want at most 1ms", ttl, err)
		}
	}
}

// TestInjectedClock checks that record expiry follows the injected clock to the
// nanosecond, whatever Redis's TTL says, for reads, creates and the user index.
func TestInjectedClock(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	clk := &clock{now: time.Now().Round(0)}
	t0 := clk.Now()
	o := newOptions(t, c)
	o.Now = clk.Now
	st := mustNew(t, o)
	ctx := t.Context()
	exp := t0.Add(time.Hour + 123) // nanoseconds that a millisecond expiry would lose

	if err := st.CreateSession(ctx, sample("a", exp)); err != nil {
		t.Fatal(err)
	}
	clk.set(exp.Add(-1))
	if _, err := st.GetSession(ctx, "a"); err != nil {
		t.Errorf("GetSession 1ns before ExpiresAt error = %v, want nil", err)
	}
	clk.set(exp)
	if _, err := st.GetSession(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession at ExpiresAt error = %v, want ErrNotFound", err)
	}
	if n, err := c.Exists(ctx, st.key(kindSession, "a")).Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS of the session key = %d, %v; want 1 (Redis still holds it)", n, err)
	}
	called := false
	if _, err := st.UpdateSession(ctx, "a", func(s store.Session) (store.Session, error) { called = true; return s, nil }); !errors.Is(err, store.ErrNotFound) || called {
		t.Errorf("UpdateSession at ExpiresAt error = %v, fn called %v; want ErrNotFound, not called", err, called)
	}
	// A create judges the record Redis still holds by the injected clock: it has expired.
	renewed := sample("a", exp.Add(time.Hour))
	if err := st.CreateSession(ctx, renewed); err != nil {
		t.Errorf("CreateSession over a record expired by the clock error = %v, want nil", err)
	}
	if got, err := st.GetSession(ctx, "a"); err != nil || !got.ExpiresAt.Equal(renewed.ExpiresAt) {
		t.Errorf("GetSession of the re-created session = %v, %v; want ExpiresAt %v", got.ExpiresAt, err, renewed.ExpiresAt)
	}
	// An already-expired create frees the key of a record expired by the clock.
	if err := st.CreateFlow(ctx, store.Flow{ID: "f", ExpiresAt: clk.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clk.set(clk.Now().Add(time.Minute))
	if err := st.CreateFlow(ctx, store.Flow{ID: "f", ExpiresAt: clk.Now().Add(-time.Second)}); err != nil {
		t.Errorf("CreateFlow with a past ExpiresAt error = %v, want nil", err)
	}
	if n, err := c.Exists(ctx, st.key(kindFlow, "f")).Result(); err != nil || n != 0 {
		t.Errorf("EXISTS of the flow key after a past-expiry create = %d, %v; want 0", n, err)
	}
}

// TestIndexCleanup checks that the user index drops the entries whose expiry has passed by
// the injected clock, and keeps skipping deleted sessions until then.
func TestIndexCleanup(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	clk := &clock{now: time.Now().Round(0)}
	t0 := clk.Now()
	o := newOptions(t, c)
	o.Now = clk.Now
	st := mustNew(t, o)
	ctx := t.Context()
	for i, life := range []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour} {
		if err := st.CreateSession(ctx, sample(fmt.Sprint("s", i), t0.Add(life))); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteSession(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	ikey := st.key(kindIndex, "user-42")
	for _, tc := range []struct {
		at      time.Duration
		want    []string
		entries int64
	}{
		{0, []string{"s0", "s1"}, 3},                      // s2 deleted: skipped; its entry waits for its expiry
		{time.Hour, []string{"s1"}, 3},                    // s0 expired; its entry goes once its millisecond has passed
		{time.Hour + time.Millisecond, []string{"s1"}, 2}, // now it has
		{3*time.Hour + time.Millisecond, []string{}, 0},   // everything expired
	} {
		clk.set(t0.Add(tc.at))
		list, err := st.ListSessionsBySubject(ctx, "user-42")
		if err != nil {
			t.Fatalf("at +%v: ListSessionsBySubject error = %v", tc.at, err)
		}
		got := []string{}
		for _, s := range list {
			got = append(got, s.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("at +%v: ListSessionsBySubject = %v, want %v", tc.at, got, tc.want)
		}
		if n, err := c.ZCard(ctx, ikey).Result(); err != nil || n != tc.entries {
			t.Errorf("at +%v: index entries = %d, %v; want %d", tc.at, n, err, tc.entries)
		}
	}
}

// TestUpdateGivesUp checks that an update that loses every compare-and-set stops after
// maxUpdateAttempts runs of fn with ErrConflict, leaving the other writer's value.
func TestUpdateGivesUp(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	o := newOptions(t, c)
	st, rival := mustNew(t, o), mustNew(t, o)
	ctx := t.Context()
	if err := st.CreateSession(ctx, sample("s", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	calls := 0
	_, err := st.UpdateSession(ctx, "s", func(s store.Session) (store.Session, error) {
		calls++
		// Another instance writes between this update's read and its compare-and-set.
		if _, err := rival.UpdateSession(ctx, "s", func(s store.Session) (store.Session, error) {
			s.Method = fmt.Sprint("rival-", calls)
			return s, nil
		}); err != nil {
			t.Errorf("rival UpdateSession error = %v", err)
		}
		s.Level = "mine"
		return s, nil
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateSession losing every race error = %v, want ErrConflict", err)
	}
	if calls != maxUpdateAttempts {
		t.Errorf("fn ran %d times, want %d", calls, maxUpdateAttempts)
	}
	got, err := st.GetSession(ctx, "s")
	if err != nil || got.Level == "mine" || got.Method != fmt.Sprint("rival-", maxUpdateAttempts) {
		t.Errorf("stored session = level %q method %q, %v; want the rival's last write", got.Level, got.Method, err)
	}
}

// TestResentWrites checks that the scripts recognise their own write when go-redis resends
// them after a lost reply: a resent create is not ErrExists, a resent compare-and-set is not
// a conflict (which would run fn twice), while a different value still is.
func TestResentWrites(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c := srv.Client(t)
	st := mustNew(t, newOptions(t, c))
	ctx := t.Context()
	now := time.Now()
	key := st.key(kindSession, "s")
	seal := func(level string) []byte {
		t.Helper()
		s := sample("s", now.Add(time.Hour))
		s.Level = level
		raw, err := st.seal(key, s.ExpiresAt, s)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	first, other := seal("one"), seal("two")
	create := func(raw []byte) int64 {
		t.Helper()
		n, err := st.createScript.Run(ctx, c, []string{key}, now.Unix(), now.Nanosecond(), raw, 3600000).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := create(first); got != 1 {
		t.Errorf("create = %d, want 1", got)
	}
	if got := create(first); got != 1 {
		t.Errorf("resent create = %d, want 1 (its own write)", got)
	}
	if got := create(other); got != 0 {
		t.Errorf("create of another value over a live record = %d, want 0", got)
	}
	cas := func(old, next []byte) any {
		t.Helper()
		res, err := st.casScript.Run(ctx, c, []string{key}, old, next, 3600000).Result()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	updated := seal("three")
	if got := cas(first, updated); got != int64(1) {
		t.Errorf("compare-and-set = %v, want 1", got)
	}
	if got := cas(first, updated); got != int64(1) {
		t.Errorf("resent compare-and-set = %v, want 1 (its own write)", got)
	}
	if got := cas(first, other); got != string(updated) {
		t.Errorf("stale compare-and-set returned %T, want the current value", got)
	}
	if err := c.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if got := cas(updated, other); got != int64(-1) {
		t.Errorf("compare-and-set of a deleted record = %v, want -1", got)
	}
}

// TestOutage stops the server under a live Store: every call fails with ErrUnavailable
// within about OpTimeout (Consume never reports first), and once the server is back the same
// Store works again, with no restart of Atea.
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t) // its own server: this test stops it
	o := newOptions(t, srv.Client(t))
	o.OpTimeout = 300 * time.Millisecond
	st := mustNew(t, o)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	if err := st.CreateSession(ctx, sample("s", exp)); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		do   func() error
	}{
		{"CreateSession", func() error { return st.CreateSession(ctx, sample("new", exp)) }},
		{"GetSession", func() error { _, err := st.GetSession(ctx, "s"); return err }},
		{"UpdateSession", func() error {
			_, err := st.UpdateSession(ctx, "s", func(s store.Session) (store.Session, error) { return s, nil })
			return err
		}},
		{"DeleteSession", func() error { return st.DeleteSession(ctx, "s") }},
		{"ListSessionsBySubject", func() error { _, err := st.ListSessionsBySubject(ctx, "user-42"); return err }},
		{"CreateFlow", func() error { return st.CreateFlow(ctx, store.Flow{ID: "f", ExpiresAt: exp}) }},
		{"GetFlow", func() error { _, err := st.GetFlow(ctx, "f"); return err }},
		{"Consume", func() error {
			first, err := st.Consume(ctx, "k", time.Hour)
			if err != nil && first {
				t.Error("Consume failing with Redis down first = true, want false (fail closed)")
			}
			return err
		}},
		{"Incr", func() error { _, err := st.Incr(ctx, "c", time.Hour); return err }},
		{"Count", func() error { _, err := st.Count(ctx, "c"); return err }},
		{"ResetCounter", func() error { return st.ResetCounter(ctx, "c") }},
		{"Ping", func() error { return st.Ping(ctx) }},
	}

	srv.Stop(t)
	for _, call := range calls {
		start := time.Now()
		err := call.do()
		elapsed := time.Since(start)
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis down error = %v, want ErrUnavailable", call.name, err)
		}
		if limit := o.OpTimeout + 500*time.Millisecond; elapsed > limit {
			t.Errorf("%s with Redis down took %v, want at most about OpTimeout (%v)", call.name, elapsed, o.OpTimeout)
		}
	}

	srv.Restart(t)
	// go-redis reconnects by itself; give its pool a bounded moment to notice.
	deadline := time.Now().Add(5 * time.Second)
	for st.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Ping still failing 5s after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, call := range calls {
		if err := call.do(); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after Redis came back error = %v, want nil or ErrNotFound (the restart lost the data)", call.name, err)
		}
	}
	if first, err := st.Consume(ctx, "fresh", time.Hour); err != nil || !first {
		t.Errorf("Consume after recovery = %v, %v; want true, nil", first, err)
	}
}

// TestOpTimeout stalls the server with CLIENT PAUSE: a call returns after about OpTimeout
// with ErrUnavailable and DeadlineExceeded; a shorter caller deadline wins and is reported as
// the caller's own, not as an outage.
func TestOpTimeout(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t) // its own server: a pause would stall every other test
	ctx := t.Context()
	admin := srv.Client(t)
	o := newOptions(t, srv.Client(t))
	o.OpTimeout = 200 * time.Millisecond
	st := mustNew(t, o)
	if err := st.CreateSession(ctx, sample("s", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	patient := o
	patient.OpTimeout = 10 * time.Second
	stPatient := mustNew(t, patient)
	// Connect the patient store now: a pause stalls commands, not dials, but keep it simple.
	if err := stPatient.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	if err := admin.ClientPause(ctx, 3*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := st.GetSession(ctx, "s")
	elapsed := time.Since(start)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GetSession on a stalled server error = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if elapsed > o.OpTimeout+300*time.Millisecond {
		t.Errorf("GetSession on a stalled server took %v, want about OpTimeout (%v)", elapsed, o.OpTimeout)
	}

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = stPatient.GetSession(short, "s")
	elapsed = time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
		t.Errorf("GetSession with a short caller deadline error = %v, want DeadlineExceeded and not ErrUnavailable", err)
	}
	if elapsed > 500*time.Millisecond {
		t.Errorf("GetSession with a 100ms caller deadline took %v", elapsed)
	}
}

// TestClose checks that Close closes the client only when the Store owns it.
func TestClose(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	ctx := t.Context()
	for _, own := range []bool{false, true} {
		c := srv.Client(t)
		o := newOptions(t, c)
		o.OwnClient = own
		st := mustNew(t, o)
		if err := st.Close(); err != nil {
			t.Fatalf("own=%v: Close error = %v, want nil", own, err)
		}
		if err := st.Close(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("own=%v: second Close error = %v, want ErrClosed", own, err)
		}
		err := c.Ping(ctx).Err()
		if own && !errors.Is(err, redis.ErrClosed) {
			t.Errorf("own=true: client Ping after Close error = %v, want redis.ErrClosed", err)
		}
		if !own && err != nil {
			t.Errorf("own=false: client Ping after Close error = %v, want nil (not ours to close)", err)
		}
	}
}

// TestErrorsNameNoSecrets checks that errors carry the operation but not the ID, which for
// sessions is derived from the cookie (STYLE §B3.6).
func TestErrorsNameNoSecrets(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	st := mustNew(t, newOptions(t, srv.Client(t)))
	_, err := st.GetSession(t.Context(), "s_secretcookiehash")
	if got, want := fmt.Sprint(err), "redisstore: get session: store: not found"; got != want {
		t.Errorf("error text = %q, want %q", got, want)
	}
}

// fakeReply is a Redis error reply, as the server would send it.
type fakeReply string

func (e fakeReply) Error() string { return string(e) }
func (fakeReply) RedisError()     {}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"dial", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"eof", io.EOF, true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"pool timeout", redis.ErrPoolTimeout, true},
		{"client closed", redis.ErrClosed, true},
		{"loading", fakeReply("LOADING Redis is loading the dataset in memory"), true},
		{"readonly", fakeReply("READONLY You can't write against a read only replica."), true},
		{"clusterdown", fakeReply("CLUSTERDOWN The cluster is down"), true},
		{"oom", fakeReply("OOM command not allowed when used memory > 'maxmemory'."), true},
		{"noauth", fakeReply("NOAUTH Authentication required."), true},
		{"noperm", fakeReply("NOPERM this user has no permissions to run the 'eval' command"), true},
		{"wrongtype", fakeReply("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"script", fakeReply("ERR user_script:1: Script attempted to access nonexistent global variable"), false},
	} {
		if got := unavailable(tc.err); got != tc.want {
			t.Errorf("%s: unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	noCtxTimeout := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = noCtxTimeout.Close() })
	good := func() Options {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = c.Close() })
		return Options{Client: c, Prefix: "atea:", KeySecret: randomBytes(t, 32), RecordKey: randomBytes(t, 32)}
	}
	for _, tc := range []struct {
		name   string
		modify func(o *Options)
		want   []string // parts of the error; none means no error
	}{
		{"ok", func(*Options) {}, nil},
		{"ok/long secret", func(o *Options) { o.KeySecret = randomBytes(t, 64) }, nil},
		{"fail/nil client", func(o *Options) { o.Client = nil }, []string{"Client is nil"}},
		{"fail/no context timeouts", func(o *Options) { o.Client = noCtxTimeout }, []string{"ContextTimeoutEnabled"}},
		{"fail/empty prefix", func(o *Options) { o.Prefix = "" }, []string{"Prefix is empty"}},
		{"fail/braces", func(o *Options) { o.Prefix = "atea{x}:" }, []string{"hash tags"}},
		{"fail/short secret", func(o *Options) { o.KeySecret = randomBytes(t, 31) }, []string{"KeySecret has 31 bytes"}},
		{"fail/record key", func(o *Options) { o.RecordKey = randomBytes(t, 16) }, []string{"RecordKey has 16 bytes"}},
		{"fail/same keys", func(o *Options) { o.RecordKey = o.KeySecret }, []string{"KeySecret and RecordKey are equal"}},
		{"fail/negative timeout", func(o *Options) { o.OpTimeout = -time.Second }, []string{"OpTimeout is negative"}},
		{"fail/all at once", func(o *Options) { *o = Options{OpTimeout: -1} }, []string{
			"Client is nil", "Prefix is empty", "KeySecret has 0 bytes", "RecordKey has 0 bytes", "OpTimeout is negative",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.modify(&o)
			st, err := New(o)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("New error = %v, want nil", err)
				}
				if st.opTimeout != DefaultOpTimeout || st.now == nil {
					t.Errorf("defaults: opTimeout %v, now set %v; want %v, true", st.opTimeout, st.now != nil, DefaultOpTimeout)
				}
				return
			}
			if err == nil {
				t.Fatal("New error = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	tc0 := &tls.Config{ServerName: "redis.internal", MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name  string
		cfg   ClientConfig
		check func(t *testing.T, c redis.UniversalClient)
		want  []string
	}{
		{"ok/single", ClientConfig{Addrs: []string{"redis.internal:6379"}, Username: "atea", Password: "pw", DB: 3, TLS: tc0},
			func(t *testing.T, c redis.UniversalClient) {
				o := client(t, c).Options()
				if o.Network != "tcp" || o.Addr != "redis.internal:6379" || o.Username != "atea" || o.DB != 3 {
					t.Errorf("options = %s %s %s db %d", o.Network, o.Addr, o.Username, o.DB)
				}
				if !o.ContextTimeoutEnabled || o.DialTimeout != DefaultDialTimeout || o.ReadTimeout != DefaultReadTimeout || o.WriteTimeout != DefaultWriteTimeout {
					t.Errorf("timeouts = ctx %v dial %v read %v write %v", o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
				}
				if o.TLSConfig == nil || o.TLSConfig == tc0 || o.TLSConfig.ServerName != tc0.ServerName {
					t.Errorf("TLSConfig = %p (caller's %p), want a copy of the caller's", o.TLSConfig, tc0)
				}
			}, nil},
		{"ok/socket", ClientConfig{Addrs: []string{"/run/redis/redis.sock"}, ReadTimeout: 3 * time.Second},
			func(t *testing.T, c redis.UniversalClient) {
				if o := client(t, c).Options(); o.Network != "unix" || o.ReadTimeout != 3*time.Second {
					t.Errorf("network %s read timeout %v, want unix 3s", o.Network, o.ReadTimeout)
				}
			}, nil},
		{"ok/cluster", ClientConfig{Addrs: []string{"a:7000", "b:7000"}, Cluster: true, PoolSize: 7},
			func(t *testing.T, c redis.UniversalClient) {
				cc, ok := c.(*redis.ClusterClient)
				if !ok {
					t.Fatalf("client is %T, want *redis.ClusterClient", c)
				}
				if o := cc.Options(); !o.ContextTimeoutEnabled || len(o.Addrs) != 2 || o.PoolSize != 7 {
					t.Errorf("cluster options: ctx %v addrs %v pool %d", o.ContextTimeoutEnabled, o.Addrs, o.PoolSize)
				}
			}, nil},
		{"ok/sentinel", ClientConfig{Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "mymaster", SentinelPassword: "spw", DB: 1},
			func(t *testing.T, c redis.UniversalClient) {
				if o := client(t, c).Options(); !o.ContextTimeoutEnabled || o.DB != 1 {
					t.Errorf("failover options: ctx %v db %d", o.ContextTimeoutEnabled, o.DB)
				}
			}, nil},
		{"fail/no addrs", ClientConfig{}, nil, []string{"Addrs is empty"}},
		{"fail/empty addr", ClientConfig{Addrs: []string{" "}}, nil, []string{"Addrs[0] is empty"}},
		{"fail/several single", ClientConfig{Addrs: []string{"a:1", "b:1"}}, nil, []string{"set Cluster or MasterName"}},
		{"fail/cluster and sentinel", ClientConfig{Addrs: []string{"a:1"}, Cluster: true, MasterName: "m"}, nil, []string{"exclude each other"}},
		{"fail/cluster db", ClientConfig{Addrs: []string{"a:1"}, Cluster: true, DB: 2}, nil, []string{"Cluster has only database 0"}},
		{"fail/cluster socket", ClientConfig{Addrs: []string{"/tmp/r.sock"}, Cluster: true}, nil, []string{"unix socket"}},
		{"fail/negative", ClientConfig{Addrs: []string{"a:1"}, DB: -1, DialTimeout: -1, PoolSize: -1}, nil,
			[]string{"DB is negative", "timeout is negative", "PoolSize is negative"}},
		{"fail/sentinel password alone", ClientConfig{Addrs: []string{"a:1"}, SentinelPassword: "x"}, nil, []string{"without MasterName"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tc.cfg)
			if len(tc.want) > 0 {
				if err == nil {
					_ = c.Close()
					t.Fatal("NewClient error = nil, want an error")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("NewClient error = %q, want it to mention %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "spw") || strings.Contains(err.Error(), "pw") {
					t.Errorf("NewClient error %q contains a password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClient error = %v, want nil", err)
			}
			t.Cleanup(func() { _ = c.Close() })
			tc.check(t, c)
		})
	}
}

// TestNewClientServes checks a client from NewClient end to end: New accepts it and the
// Store works through it.
func TestNewClientServes(t *testing.T) {
	t.Parallel()
	srv := redistest.Require(t, shared)
	c, err := NewClient(ClientConfig{Addrs: []string{srv.Socket()}})
	if err != nil {
		t.Fatal(err)
	}
	o := newOptions(t, c)
	o.OwnClient = true
	st := mustNew(t, o)
	if err := st.Ping(t.Context()); err != nil {
		t.Errorf("Ping error = %v, want nil", err)
	}
	if first, err := st.Consume(t.Context(), "k", time.Minute); err != nil || !first {
		t.Errorf("Consume = %v, %v; want true, nil", first, err)
	}
}

// client returns c as the *redis.Client NewClient builds for a single server or Sentinel.
func client(t *testing.T, c redis.UniversalClient) *redis.Client {
	t.Helper()
	rc, ok := c.(*redis.Client)
	if !ok {
		t.Fatalf("client is %T, want *redis.Client", c)
	}
	return rc
}
