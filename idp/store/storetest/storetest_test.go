package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/memstore"
	"github.com/ateaidp/atea/idp/store/storetest"
)

// brokenEnv names the broken backend TestBrokenBackend runs the suite against.
const brokenEnv = "STORETEST_BROKEN_BACKEND"

// shallow keeps the caller's SPs slice instead of a copy.
type shallow struct {
	store.Store
	mu  sync.Mutex
	sps map[string][]store.SPParticipation
}

func (s *shallow) CreateSession(ctx context.Context, sess store.Session) error {
	s.mu.Lock()
	s.sps[sess.ID] = sess.SPs
	s.mu.Unlock()
	return s.Store.CreateSession(ctx, sess)
}

func (s *shallow) GetSession(ctx context.Context, id string) (store.Session, error) {
	sess, err := s.Store.GetSession(ctx, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sps, ok := s.sps[id]; ok && err == nil {
		sess.SPs = sps
	}
	return sess, err
}

// replayable lets every Consume win.
type replayable struct{ store.Store }

func (r replayable) Consume(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	_, err := r.Store.Consume(ctx, key, ttl)
	return err == nil, err
}

// deaf ignores its context in Ping.
type deaf struct{ store.Store }

func (deaf) Ping(context.Context) error { return nil }

// lossy updates by read, modify, delete and re-create, with nothing atomic about it. It
// yields between read and write, as a networked backend would wait for a round trip, so that
// the racing updates interleave.
type lossy struct{ store.Store }

func (l lossy) UpdateSession(ctx context.Context, id string, fn func(store.Session) (store.Session, error)) (store.Session, error) {
	cur, err := l.GetSession(ctx, id)
	if err != nil {
		return cur, err
	}
	next, err := fn(cur)
	if err != nil {
		return cur, err
	}
	runtime.Gosched()
	if err := l.DeleteSession(ctx, id); err != nil {
		return cur, err
	}
	return next, l.CreateSession(ctx, next)
}

// unclosable ignores Close.
type unclosable struct{ store.Store }

func (unclosable) Close() error { return nil }

// brokenHarness returns the harness for a broken backend, wrapping memstore.
func brokenHarness(name string) (storetest.Harness, bool) {
	wrap := map[string]func(store.Store) store.Store{
		"ok": func(st store.Store) store.Store { return st },
		"shallow": func(st store.Store) store.Store {
			return &shallow{Store: st, sps: map[string][]store.SPParticipation{}}
		},
		"replayable": func(st store.Store) store.Store { return replayable{st} },
		"deaf":       func(st store.Store) store.Store { return deaf{st} },
		"lossy":      func(st store.Store) store.Store { return lossy{st} },
		"unclosable": func(st store.Store) store.Store { return unclosable{st} },
		"ageless":    func(st store.Store) store.Store { return st },
	}[name]
	if wrap == nil {
		return storetest.Harness{}, false
	}
	h := storetest.WithClock(func(t *testing.T, now func() time.Time) store.Store {
		return wrap(memstore.New(now))
	})
	if name == "ageless" {
		h.Advance = func(*testing.T, time.Duration) {} // the clock never moves
	}
	return h, true
}

// TestBrokenBackend runs the suite against the broken backend named in the environment. It
// is the subprocess of TestRunCatchesBrokenBackends, whose failures it is expected to have.
func TestBrokenBackend(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs only as the subprocess of TestRunCatchesBrokenBackends")
	}
	h, ok := brokenHarness(name)
	if !ok {
		t.Fatalf("unknown broken backend %q", name)
	}
	storetest.Run(t, h)
}

// TestRunCatchesBrokenBackends checks that the suite fails each broken backend in the case
// meant to catch it, naming the rule, and passes a correct one.
func TestRunCatchesBrokenBackends(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backend string
		run     string // -test.run pattern below TestBrokenBackend
		wantOK  bool
		rule    string // part of the explanation the failure must print
	}{
		{backend: "ok", run: "CRUD", wantOK: true},
		{backend: "shallow", run: "CRUD/session/deep-copy", rule: "sessions passed to and returned by the store are deep copies"},
		{backend: "replayable", run: "Consume/single-winner", rule: "exactly one gets true"},
		{backend: "deaf", run: "Context/Ping", rule: "errors.Is(err, context.Canceled)"},
		{backend: "lossy", run: "Atomic/session/concurrent-update", rule: "concurrent UpdateSession calls are atomic"},
		{backend: "unclosable", run: "Closed", rule: "after Close every method"},
		{backend: "ageless", run: "Expiry/session/expires", rule: "gone from ExpiresAt on"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			t.Parallel()
			pattern := "^TestBrokenBackend$/^" + strings.ReplaceAll(tc.run, "/", "$/^") + "$"
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+pattern, "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tc.backend)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case err != nil && !errors.As(err, &exit):
				t.Fatalf("running the suite: %v", err)
			case tc.wantOK && err != nil:
				t.Fatalf("suite on a correct backend failed:\n%s", out)
			case tc.wantOK:
				if !strings.Contains(string(out), "PASS") {
					t.Errorf("suite output has no PASS:\n%s", out)
				}
			case err == nil:
				t.Fatalf("suite passed the %s backend, want a failure in %s:\n%s", tc.backend, tc.run, out)
			default:
				if !strings.Contains(string(out), "--- FAIL: TestBrokenBackend/"+tc.run) {
					t.Errorf("failure is not in TestBrokenBackend/%s:\n%s", tc.run, out)
				}
				if !strings.Contains(string(out), "rule: ") || !strings.Contains(string(out), tc.rule) {
					t.Errorf("failure output does not state the rule %q:\n%s", tc.rule, out)
				}
			}
		})
	}
}
