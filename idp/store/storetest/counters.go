package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ateaidp/atea/idp/store"
)

// incrsPerWriter is how many times each of the writers goroutines increments the counter.
const incrsPerWriter = 8

func counterCases() []testCase {
	return []testCase{
		{
			name:        "reset",
			explanation: "ResetCounter drops a counter (the next Incr counts from one), is a no-op for a missing key and refuses an empty key",
			run: func(e *env) {
				for range 3 {
					_, err := e.st.Incr(e.ctx(), "r", long)
					e.must("Incr", err)
				}
				e.must("ResetCounter", e.st.ResetCounter(e.ctx(), "r"))
				if n, err := e.st.Count(e.ctx(), "r"); err != nil || n != 0 {
					e.errorf("Count after ResetCounter = %d, %v; want 0, nil", n, err)
				}
				if n, err := e.st.Incr(e.ctx(), "r", long); err != nil || n != 1 {
					e.errorf("Incr after ResetCounter = %d, %v; want 1, nil", n, err)
				}
				if err := e.st.ResetCounter(e.ctx(), "never-counted"); err != nil {
					e.errorf("ResetCounter of a missing key = %v, want nil", err)
				}
				if err := e.st.ResetCounter(e.ctx(), ""); !errors.Is(err, store.ErrInvalid) {
					e.errorf("ResetCounter(\"\") = %v, want ErrInvalid", err)
				}
			},
		},
		{
			name:        "concurrent",
			explanation: fmt.Sprintf("concurrent Incr calls are atomic: %d goroutines × %d Incr sum exactly and every call sees a distinct count", writers, incrsPerWriter),
			run: func(e *env) {
				const total = writers * incrsPerWriter
				start := make(chan struct{})
				var (
					wg   sync.WaitGroup
					mu   sync.Mutex
					seen []int64
				)
				for i := range writers {
					wg.Go(func() {
						<-start
						for range incrsPerWriter {
							n, err := e.st.Incr(e.ctx(), "c", long)
							if err != nil {
								e.errorf("Incr in goroutine %d error = %v, want nil", i, err)
								return
							}
							mu.Lock()
							seen = append(seen, n)
							mu.Unlock()
						}
					})
				}
				close(start)
				wg.Wait()
				n, err := e.st.Count(e.ctx(), "c")
				e.must("Count", err)
				if n != total {
					e.errorf("Count after %d concurrent Incr = %d, want %d", total, n, total)
				}
				want := make([]int64, total)
				for i := range want {
					want[i] = int64(i + 1)
				}
				e.same("counts returned by concurrent Incr, sorted", slices.Sorted(slices.Values(seen)), want)
			},
		},
		{
			name:        "basics",
			explanation: "Count of an unknown counter is 0; Incr returns the new count, Count agrees, and counters are independent",
			run: func(e *env) {
				for _, step := range []struct {
					op, key string
					want    int64
				}{
					{"Count", "a", 0}, {"Incr", "a", 1}, {"Incr", "a", 2}, {"Count", "a", 2},
					{"Count", "b", 0}, {"Incr", "b", 1}, {"Count", "A", 0}, {"Count", "a", 2},
				} {
					var (
						got int64
						err error
					)
					if step.op == "Incr" {
						got, err = e.st.Incr(e.ctx(), step.key, long)
					} else {
						got, err = e.st.Count(e.ctx(), step.key)
					}
					if err != nil || got != step.want {
						e.errorf("%s(%q) = %d, %v, want %d, nil", step.op, step.key, got, err, step.want)
					}
				}
			},
		},
		{
			name:        "bad-args",
			explanation: "Incr refuses window <= 0 and an empty key with ErrInvalid, and a refused call counts nothing",
			run: func(e *env) {
				for _, w := range []time.Duration{0, -time.Second} {
					_, err := e.st.Incr(e.ctx(), "c", w)
					e.is(fmt.Sprintf("Incr(window=%v)", w), err, store.ErrInvalid)
				}
				_, err := e.st.Incr(e.ctx(), "", long)
				e.is(`Incr("")`, err, store.ErrInvalid)
				if n, err := e.st.Count(e.ctx(), "c"); err != nil || n != 0 {
					e.errorf("Count after refused Incr = %d, %v, want 0, nil", n, err)
				}
			},
		},
	}
}
