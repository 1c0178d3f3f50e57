package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ateaidp/atea/idp/store"
)

// writers is how many goroutines race in the concurrency cases.
const writers = 50

func atomicCases() []testCase {
	return slices.Concat(recordAtomic(sessionKind()), recordAtomic(flowKind()))
}

// recordAtomic checks that updates and creates are atomic, for sessions and flows alike.
func recordAtomic[T any](k kind[T]) []testCase {
	return []testCase{
		{
			name:        k.name + "/concurrent-update",
			explanation: fmt.Sprintf("concurrent Update%s calls are atomic: %d goroutines each appending one element lose none", k.title, writers),
			run: func(e *env) {
				orig := k.sample("a", e.t0, long)
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, orig))
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range writers {
					wg.Go(func() {
						<-start
						if _, err := k.update(e.ctx(), e.st, "a", func(cur T) (T, error) { return k.mark(cur, i), nil }); err != nil {
							e.errorf("%s in goroutine %d error = %v, want nil", k.call("Update", "a"), i, err)
						}
					})
				}
				close(start)
				wg.Wait()
				got, err := k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a"), err)
				want := orig
				for i := range writers {
					want = k.mark(want, i)
				}
				// Each goroutine's element exactly once, in whatever order they ran.
				e.same(k.call("Get", "a")+" elements after concurrent updates", sorted(k.marks(got)), sorted(k.marks(want)))
			},
		},
		{
			name:        k.name + "/concurrent-create",
			explanation: fmt.Sprintf("Create%s is atomic: of %d concurrent creates of one ID exactly one succeeds, the rest fail with ErrExists, and the winner's record is stored", k.title, writers),
			run: func(e *env) {
				start := make(chan struct{})
				var (
					wg      sync.WaitGroup
					mu      sync.Mutex
					winners []int
				)
				for i := range writers {
					wg.Go(func() {
						<-start
						err := k.create(e.ctx(), e.st, k.mark(k.sample("a", e.t0, long), i))
						switch {
						case err == nil:
							mu.Lock()
							winners = append(winners, i)
							mu.Unlock()
						case !errors.Is(err, store.ErrExists):
							e.errorf("%s in goroutine %d error = %v, want nil or ErrExists", k.call("Create", "a"), i, err)
						}
					})
				}
				close(start)
				wg.Wait()
				if len(winners) != 1 {
					e.fatalf("%d concurrent %s succeeded (goroutines %v), want exactly 1", writers, k.call("Create", "a"), winners)
				}
				got, err := k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a"), err)
				e.same(k.call("Get", "a")+" after concurrent creates", got, k.mark(k.sample("a", e.t0, long), winners[0]))
			},
		},
		{
			name:        k.name + "/fn-error",
			explanation: "an error from fn aborts Update" + k.title + ": it is returned wrapped (errors.Is finds it) and the stored " + k.name + " is unchanged",
			run: func(e *env) {
				want := k.sample("a", e.t0, long)
				e.must(k.call("Create", "a"), k.create(e.ctx(), e.st, want))
				_, err := k.update(e.ctx(), e.st, "a", func(cur T) (T, error) { return k.mark(cur, 1), errFn })
				if !errors.Is(err, errFn) {
					e.errorf("%s with failing fn error = %v, want an error wrapping %v", k.call("Update", "a"), err, errFn)
				}
				got, err := k.get(e.ctx(), e.st, "a")
				e.must(k.call("Get", "a"), err)
				e.same(k.call("Get", "a")+" after failed update", got, want)
			},
		},
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
