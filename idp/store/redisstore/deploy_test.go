package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ateaidp/atea/idp/store"
)

// deployOpTimeout bounds each call of the deployment tests (TLS, ACL, Sentinel): a refused
// handshake or login fails at once, so this only caps a server that never answers.
const deployOpTimeout = 3 * time.Second

// newDeployStore builds a client from cfg with NewClient, and a Store that owns it.
func newDeployStore(t *testing.T, cfg ClientConfig) *Store {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient error = %v, want nil", err)
	}
	o := newOptions(t, c)
	o.OwnClient = true
	o.OpTimeout = deployOpTimeout
	return mustNew(t, o)
}

// smoke checks that st serves the store through its client: Ping, a session's create, read,
// update and delete, a single-winner Consume, and a counter.
func smoke(t *testing.T, st store.Store) {
	t.Helper()
	ctx := t.Context()
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping error = %v, want nil", err)
	}
	s := sample("sess-1", time.Now().Add(time.Hour).Truncate(time.Millisecond))
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatalf("CreateSession error = %v, want nil", err)
	}
	got, err := st.GetSession(ctx, s.ID)
	if err != nil {
		t.Fatalf("GetSession error = %v, want nil", err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("GetSession mismatch (-want +got):\n%s", diff)
	}
	up, err := st.UpdateSession(ctx, s.ID, func(s store.Session) (store.Session, error) {
		s.Level = "high"
		return s, nil
	})
	if err != nil || up.Level != "high" {
		t.Errorf("UpdateSession = level %q, %v; want high, nil", up.Level, err)
	}
	if err := st.DeleteSession(ctx, s.ID); err != nil {
		t.Errorf("DeleteSession error = %v, want nil", err)
	}
	if _, err := st.GetSession(ctx, s.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession after delete error = %v, want ErrNotFound", err)
	}
	for i, want := range []bool{true, false} {
		if first, err := st.Consume(ctx, "req-1", time.Minute); err != nil || first != want {
			t.Errorf("Consume #%d = %v, %v; want %v, nil", i+1, first, err, want)
		}
	}
	for want := int64(1); want <= 2; want++ {
		if n, err := st.Incr(ctx, "ctr", time.Minute); err != nil || n != want {
			t.Errorf("Incr = %d, %v; want %d, nil", n, err, want)
		}
	}
}

// refused checks that err is how the store reports a server it cannot use: ErrUnavailable.
func refused(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("%s error = %v, want one wrapping ErrUnavailable", op, err)
	}
}
