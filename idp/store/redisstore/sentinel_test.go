package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/redisstore/redistest"
)

// TestSentinel checks that a NewClient Sentinel client finds the master through the
// sentinel and that the store works through it.
func TestSentinel(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	t.Run("served", func(t *testing.T) {
		t.Parallel()
		smoke(t, newDeployStore(t, ClientConfig{Addrs: []string{s.Addr}, MasterName: s.MasterName}))
	})
	t.Run("unknown master", func(t *testing.T) {
		t.Parallel()
		// A master name the sentinel does not monitor (a misconfiguration) must fail every
		// call: a replay check that cannot reach Redis must not pass (SECURITY.md §4.15).
		st := newDeployStore(t, ClientConfig{Addrs: []string{s.Addr}, MasterName: "no-such-master"})
		ctx := t.Context()
		if err := st.Ping(ctx); err == nil {
			t.Error("Ping error = nil, want an error")
		}
		if first, err := st.Consume(ctx, "req-1", time.Minute); err == nil || first {
			t.Errorf("Consume = %v, %v; want false and an error", first, err)
		}
		// go-redis reports the unknown master as "all sentinels ... unreachable: redis: nil",
		// which wraps redis.Nil: it must read as unavailable, never as a missing key (a
		// lockout counter read as 0 would fail open).
		refused(t, "Ping", st.Ping(ctx))
		if _, err := st.GetSession(ctx, "sess-1"); errors.Is(err, store.ErrNotFound) || !errors.Is(err, ErrUnavailable) {
			t.Errorf("GetSession error = %v, want ErrUnavailable, not ErrNotFound", err)
		}
		if n, err := st.Count(ctx, "ctr"); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Count = %d, %v; want an error wrapping ErrUnavailable", n, err)
		}
	})
}
