// Package memstore is the in-memory backend of [store.Store]: one mutex over a few maps, with
// the clock injected.
//
// It is responsible for the store contracts (checked by idp/store/storetest) within one
// process: expiry is lazy, judged on every read against the injected clock, and [Store.GC]
// reclaims the memory of expired records when the caller runs it. It is not responsible for
// durability or for sharing state between replicas (everything is lost on restart, so a
// multi-instance deployment needs redisstore), and it starts no goroutines: the caller decides
// how often GC runs (cmd/atea does it on a ticker).
package memstore
