// Package storetest is the conformance suite for [store.Store] backends: the executable form
// of the contracts documented in package store, in the manner of testing/slogtest and dex's
// storage/conformance.
//
// A backend's test calls [Run] with a [Harness] that makes fresh stores and moves their clock.
// The cases run as subtests grouped by guarantee (CRUD, Expiry, Atomic, Consume, Counters,
// Context, Closed), in parallel, and every failure message ends with the one-line rule the
// case checks, so a failure says which part of the contract was broken. Run the suite with
// -race: the concurrency cases exist to catch unlocked maps as much as lost updates.
//
// The package is responsible for checking behaviour that any caller of store.Store may rely
// on. It is not responsible for a backend's own concerns (key prefixes, connection handling,
// garbage collection); those belong in the backend's tests. [WithClock] builds the Harness
// for backends that take an injected clock, such as memstore.
package storetest
