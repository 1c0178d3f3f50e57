package redisstore

import (
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/redisstore/redistest"
)

// BenchmarkSSOPath measures the store calls of an SSO with a live session: the replay check
// (Consume), the session read, and recording the SP (UpdateSession).
func BenchmarkSSOPath(b *testing.B) {
	srv := redistest.Require(b, shared)
	st := mustNew(b, newOptions(b, srv.Client(b)))
	ctx := b.Context()
	if err := st.CreateSession(ctx, sample("s", time.Now().Add(time.Hour))); err != nil {
		b.Fatal(err)
	}
	b.Run("GetSession", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.GetSession(ctx, "s"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Consume", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := st.Consume(ctx, "req-"+itoa(int64(i)), time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpdateSession", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.UpdateSession(ctx, "s", func(s store.Session) (store.Session, error) {
				s.Level = "high"
				return s, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
