package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ateaidp/atea/idp/store"
)

// Consume implements [store.Once]: one SET key 1 NX PX ttl, so exactly one caller wins
// however many race, on one instance or many. ttl is rounded up to whole milliseconds and
// runs on Redis's clock. If go-redis resends the SET after losing the reply, the resend
// loses: the key is spent and the caller is told it was not first, which fails closed.
func (st *Store) Consume(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var first bool
	err := st.do(ctx, "consume", func(ctx context.Context) error {
		if key == "" || ttl <= 0 {
			return fmt.Errorf("%w: empty key or ttl not positive", store.ErrInvalid)
		}
		ok, err := st.c.SetNX(ctx, st.key(kindOnce, key), "1", time.Duration(ttlMillis(ttl))*time.Millisecond).Result()
		if err != nil {
			return backend(err)
		}
		first = ok
		return nil
	})
	return first, err
}

// Incr implements [store.Counters]: one script that INCRs and sets the window's expiry only
// for a new key, so the window is fixed from the first Incr. window is rounded up to whole
// milliseconds and runs on Redis's clock.
func (st *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	var n int64
	err := st.do(ctx, "incr", func(ctx context.Context) error {
		if key == "" || window <= 0 {
			return fmt.Errorf("%w: empty key or window not positive", store.ErrInvalid)
		}
		res, err := st.incrScript.Run(ctx, st.c, []string{st.key(kindCounter, key)}, ttlMillis(window)).Result()
		if err != nil {
			return backend(err)
		}
		v, ok := res.(int64)
		if !ok {
			return fmt.Errorf("counter script returned %T", res)
		}
		n = v
		return nil
	})
	return n, err
}

// Count implements [store.Counters]: one GET; a missing or expired counter is 0.
func (st *Store) Count(ctx context.Context, key string) (int64, error) {
	var n int64
	err := st.do(ctx, "count", func(ctx context.Context) error {
		raw, err := st.c.Get(ctx, st.key(kindCounter, key)).Result()
		if isMiss(err) {
			return nil
		}
		if err != nil {
			return backend(err)
		}
		if n, err = strconv.ParseInt(raw, 10, 64); err != nil {
			return fmt.Errorf("counter holds a non-number: %w", err)
		}
		return nil
	})
	return n, err
}

// ResetCounter implements [store.Counters]: one DEL, so the next Incr opens a new window.
func (st *Store) ResetCounter(ctx context.Context, key string) error {
	return st.do(ctx, "reset counter", func(ctx context.Context) error {
		if key == "" {
			return fmt.Errorf("%w: empty key", store.ErrInvalid)
		}
		return backend(st.c.Del(ctx, st.key(kindCounter, key)).Err())
	})
}
