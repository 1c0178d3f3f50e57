package storetest_test

import (
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/memstore"
	"github.com/ateaidp/atea/idp/store/storetest"
)

// A backend's conformance test is a few lines; this is memstore's. memstore takes an
// injected clock, so WithClock gives every store a manual one. A backend on the real clock
// (Redis) fills in Harness itself instead: New with a unique key prefix per test, Advance
// that sleeps, Now left nil, and a short TTL.
func ExampleRun() {
	testConformance := func(t *testing.T) {
		storetest.Run(t, storetest.WithClock(func(t *testing.T, now func() time.Time) store.Store {
			st := memstore.New(now)
			t.Cleanup(func() { _ = st.Close() }) // the Closed cases close it first
			return st
		}))
	}
	_ = testConformance // in a _test.go file: func TestConformance(t *testing.T) { … }
}
