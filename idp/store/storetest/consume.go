package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ateaidp/atea/idp/store"
)

// consumers is how many goroutines race for one Once key: the replay cache must hold under a
// burst of the same AuthnRequest.
const consumers = 64

func consumeCases() []testCase {
	return []testCase{
		{
			name:        "single-winner",
			explanation: fmt.Sprintf("of %d concurrent Consume calls on one key exactly one gets true", consumers),
			run: func(e *env) {
				start := make(chan struct{})
				var (
					wg   sync.WaitGroup
					wins atomic.Int32
				)
				for i := range consumers {
					wg.Go(func() {
						<-start
						first, err := e.st.Consume(e.ctx(), "_request-id", long)
						if err != nil {
							e.errorf("Consume in goroutine %d error = %v, want nil", i, err)
						}
						if first {
							wins.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				if n := wins.Load(); n != 1 {
					e.errorf("%d of %d concurrent Consume calls got true, want exactly 1", n, consumers)
				}
			},
		},
		{
			name:        "sequential",
			explanation: "a second Consume of a key within ttl gets false, and keys are independent of each other",
			run: func(e *env) {
				for _, step := range []struct {
					key  string
					want bool
				}{{"a", true}, {"a", false}, {"b", true}, {"A", true}, {"a", false}, {"b", false}} {
					got, err := e.st.Consume(e.ctx(), step.key, long)
					if err != nil || got != step.want {
						e.errorf("Consume(%q) = %v, %v, want %v, nil", step.key, got, err, step.want)
					}
				}
			},
		},
		{
			name:        "bad-ttl",
			explanation: "Consume refuses ttl <= 0 with ErrInvalid and first=false (a key is never spent forever), and a refused call does not spend the key",
			run: func(e *env) {
				for _, ttl := range []time.Duration{0, -time.Second} {
					first, err := e.st.Consume(e.ctx(), "k", ttl)
					if e.is(fmt.Sprintf("Consume(ttl=%v)", ttl), err, store.ErrInvalid) && first {
						e.errorf("Consume(ttl=%v) first = true, want false", ttl)
					}
				}
				first, err := e.st.Consume(e.ctx(), "k", long)
				if err != nil || !first {
					e.errorf("Consume after refused calls = %v, %v, want true, nil", first, err)
				}
			},
		},
		{
			name:        "empty-key",
			explanation: "Consume refuses an empty key with ErrInvalid, so a caller's bug cannot make every request share one replay entry",
			run: func(e *env) {
				first, err := e.st.Consume(e.ctx(), "", long)
				if e.is(`Consume("")`, err, store.ErrInvalid) && first {
					e.errorf(`Consume("") first = true, want false`)
				}
			},
		},
	}
}
