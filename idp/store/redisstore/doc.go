// Package redisstore is the Redis backend of [store.Store], built on go-redis/v9, for
// several Atea instances behind a load balancer that must serve one citizen as one: a single
// server, Sentinel or Cluster ([NewClient] builds the client from a [ClientConfig]).
//
// # What is in Redis
//
// A dump of the keyspace reveals nothing usable (SECURITY.md §4.15). Every key is
//
//	<prefix><kind>:{<base64url HMAC-SHA256(KeySecret, kind, caller's ID or key)>}
//
// so neither session cookie hashes, flow IDs (which appear in URLs), request IDs, user IDs
// nor attacker-chosen strings appear in key names. Sessions and flows are JSON sealed with
// AES-256-GCM under RecordKey, a fresh random nonce per write and the key as additional data,
// so a record copied under another key does not decrypt. The only clear text next to a
// record is its expiry instant, which Lua scripts need to tell a live record from an expired
// one and which PTTL reveals anyway. Once keys hold "1", counters their count, and a user's
// session index holds session-key hashes scored by expiry. Every key has a TTL: no TTL <= 0
// ever reaches go-redis, where 0 means "never expire" and -1 is KeepTTL.
//
// # Atomicity and round trips
//
// Every operation touches a single key per command or script, so it works on Cluster
// without CROSSSLOT errors. GetSession is one GET; Consume is one SET NX PX; Incr is one
// script (INCR, and PEXPIRE only for a new key: a fixed window); Create is one script that
// refuses an ID held by a live record; UpdateSession is a GET and a compare-and-set script
// that writes only if the stored value is still what was read, re-running fn on conflict
// (bounded, then [store.ErrConflict]). Creating a session, or moving one to another user or
// a later expiry, also updates the user's index first; ListSessionsBySubject reads the
// index, GETs the sessions in one pipeline and skips what is gone or moved. Scripts run by
// EVALSHA, falling back to EVAL.
//
// # Time and errors
//
// Expiry of records is judged on every read against the injected clock at nanosecond
// precision (Redis expiry is only to the millisecond and on its own clock); Redis TTLs,
// rounded up, reclaim the memory. Consume and counter windows run on Redis's clock. Every
// call runs under Options.OpTimeout as well as the caller's context; redis.Nil becomes
// [store.ErrNotFound], a done caller context keeps errors.Is(err, context.Canceled or
// DeadlineExceeded), and a server that cannot be reached, is loading, failing over or out of
// memory, or that does not answer within OpTimeout, gives an error wrapping [ErrUnavailable]
// so that callers fail closed with a 503.
//
// # Redis requirements
//
// Redis 6.2 or later (ZADD GT). An ACL user confined to the prefix needs, on keys
// ~<prefix>*: get set del eval evalsha, and inside the scripts incr pexpire pttl zadd zrange
// zremrangebyscore; besides ping, and cluster|slots on Cluster. KEYS, SCAN, FLUSH*, CONFIG
// and DEBUG are never used and can be denied (SECURITY.md §4.15).
//
// The package is not responsible for Redis hardening (ACLs, TLS, persistence,
// maxmemory-policy noeviction: SECURITY.md §4.15), for choosing lifetimes, or for rotating
// KeySecret or RecordKey: after a change, existing records are simply not found.
package redisstore
