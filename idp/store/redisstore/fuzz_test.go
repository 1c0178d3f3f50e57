package redisstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ateaidp/atea/idp/store"
)

// FuzzOpen feeds arbitrary bytes, as a tampered Redis would hold them, to the record
// decoder: it must never panic and never accept anything but what the store sealed under
// that key (GCM forgeries, header edits and truncations all fail).
func FuzzOpen(f *testing.F) {
	// open needs no server: the client is never used.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	f.Cleanup(func() { _ = c.Close() })
	st, err := New(Options{
		Client:    c,
		Prefix:    "fuzz:",
		KeySecret: bytes.Repeat([]byte{1}, 32),
		RecordKey: bytes.Repeat([]byte{2}, 32),
	})
	if err != nil {
		f.Fatal(err)
	}
	key := st.key(kindSession, "s")
	exp := time.Date(2031, 3, 4, 5, 6, 7, 8, time.UTC)
	good, err := st.seal(key, exp, store.Session{ID: "s", ExpiresAt: exp})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("1962.000000000:"))
	f.Add([]byte(""))
	f.Add([]byte(":"))
	f.Add(append([]byte("1962.000000001:"), good[len(header(exp)):]...))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s store.Session
		err := st.open(key, raw, &s)
		// The only records sealed under key with this RecordKey are the seed's (a fuzzing
		// worker re-runs the setup with a fresh nonce, so its bytes may differ).
		if err == nil && (s.ID != "s" || !s.ExpiresAt.Equal(exp)) {
			t.Fatalf("open accepted %q as %+v, which the store never sealed", raw, s)
		}
	})
}
