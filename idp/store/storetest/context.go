package storetest

import (
	"context"
	"errors"

	"github.com/ateaidp/atea/idp/store"
)

// call is one method of store.Store invoked with fixed arguments on e.st (seeded by seed),
// and a check, run afterwards with a live context, that the failed call changed nothing.
type call struct {
	name  string
	do    func(ctx context.Context, e *env) error
	check func(e *env)
}

// seed stores the records the calls act on: session and flow "seed".
func seed(e *env) {
	e.t.Helper()
	e.must("CreateSession(seed)", sessionKind().create(e.ctx(), e.st, sessionKind().sample("seed", e.t0, long)))
	e.must("CreateFlow(seed)", flowKind().create(e.ctx(), e.st, flowKind().sample("seed", e.t0, long)))
}

// calls lists every method of store.Store except Close.
func calls() []call {
	cs := append(recordCalls(sessionKind()), recordCalls(flowKind())...)
	return append(cs,
		call{
			name: "ListSessionsBySubject",
			do: func(ctx context.Context, e *env) error {
				_, err := e.st.ListSessionsBySubject(ctx, sessionKind().sample("seed", e.t0, long).UserID)
				return err
			},
		},
		call{
			name: "Consume",
			do: func(ctx context.Context, e *env) error {
				_, err := e.st.Consume(ctx, "k", long)
				return err
			},
			check: func(e *env) {
				if first, err := e.st.Consume(e.ctx(), "k", long); err != nil || !first {
					e.errorf("Consume after the failed call = %v, %v, want true, nil", first, err)
				}
			},
		},
		call{
			name: "Incr",
			do: func(ctx context.Context, e *env) error {
				_, err := e.st.Incr(ctx, "c", long)
				return err
			},
			check: func(e *env) {
				if n, err := e.st.Count(e.ctx(), "c"); err != nil || n != 0 {
					e.errorf("Count after the failed Incr = %d, %v, want 0, nil", n, err)
				}
			},
		},
		call{
			name: "Count",
			do: func(ctx context.Context, e *env) error {
				_, err := e.st.Count(ctx, "c")
				return err
			},
		},
		call{
			name: "ResetCounter",
			do:   func(ctx context.Context, e *env) error { return e.st.ResetCounter(ctx, "c") },
		},
		call{
			name: "Ping",
			do:   func(ctx context.Context, e *env) error { return e.st.Ping(ctx) },
		},
	)
}

func recordCalls[T any](k kind[T]) []call {
	unchanged := func(e *env) {
		e.t.Helper()
		got, err := k.get(e.ctx(), e.st, "seed")
		e.must(k.call("Get", "seed")+" after the failed call", err)
		e.same(k.call("Get", "seed")+" after the failed call", got, k.sample("seed", e.t0, long))
	}
	return []call{
		{
			name: "Create" + k.title,
			do: func(ctx context.Context, e *env) error {
				return k.create(ctx, e.st, k.sample("new", e.t0, long))
			},
			check: func(e *env) {
				_, err := k.get(e.ctx(), e.st, "new")
				e.is(k.call("Get", "new")+" after the failed create", err, store.ErrNotFound)
			},
		},
		{
			name: "Get" + k.title,
			do: func(ctx context.Context, e *env) error {
				_, err := k.get(ctx, e.st, "seed")
				return err
			},
		},
		{
			name: "Update" + k.title,
			do: func(ctx context.Context, e *env) error {
				_, err := k.update(ctx, e.st, "seed", func(cur T) (T, error) { return k.mark(cur, 1), nil })
				return err
			},
			check: unchanged,
		},
		{
			name: "Delete" + k.title,
			do: func(ctx context.Context, e *env) error {
				return k.del(ctx, e.st, "seed")
			},
			check: unchanged,
		},
	}
}

func contextCases() []testCase {
	var cases []testCase
	for _, c := range calls() {
		cases = append(cases, testCase{
			name:        c.name,
			explanation: "a call whose ctx is already cancelled fails with an error satisfying errors.Is(err, context.Canceled) and has no effect",
			run: func(e *env) {
				seed(e)
				err := c.do(e.cancelled(), e)
				if !errors.Is(err, context.Canceled) {
					e.errorf("%s with a cancelled ctx error = %v, want an error wrapping context.Canceled", c.name, err)
				}
				if c.check != nil {
					c.check(e)
				}
			},
		})
	}
	return cases
}

func closedCases() []testCase {
	return []testCase{{
		name:        "every-method",
		explanation: "after Close every method, Ping included, fails with an error satisfying errors.Is(err, store.ErrClosed)",
		run: func(e *env) {
			seed(e)
			e.must("Close", e.st.Close())
			for _, c := range calls() {
				if err := c.do(e.ctx(), e); !errors.Is(err, store.ErrClosed) {
					e.errorf("%s after Close error = %v, want an error wrapping store.ErrClosed", c.name, err)
				}
			}
		},
	}}
}
