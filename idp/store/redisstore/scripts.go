package redisstore

// The Lua scripts. Each touches only KEYS[1], so it runs on Cluster without CROSSSLOT
// errors, and Redis runs each atomically. Records are "<sec>.<nsec>:<sealed>", where
// sec.nsec is the record's ExpiresAt (Unix seconds and nanoseconds, exact in Lua's
// doubles), so that a script can tell a live record from an expired one by the store's own
// clock, to the nanosecond, without decrypting it.
//
// go-redis may resend a command whose reply was lost on a broken connection. The scripts
// that write a sealed value therefore treat finding their own value (unique: it has a fresh
// random nonce) as success, so a resent create does not report ErrExists and a resent
// update does not re-run fn.

// createScript creates a record unless a live one holds its key. ARGV: the store's now (sec,
// nsec), the sealed value, its lifetime in ms ("0": already expired, so only free the key
// of an expired record). Returns 1 if created (or freed), 0 if a live record holds the key.
const createScript = `
local cur = redis.call('GET', KEYS[1])
if cur then
  if ARGV[4] ~= '0' and cur == ARGV[3] then return 1 end
  local s, n = string.match(cur, '^(%-?%d+)%.(%d+):')
  s, n = tonumber(s), tonumber(n)
  local ns, nn = tonumber(ARGV[1]), tonumber(ARGV[2])
  if s and n and (s > ns or (s == ns and n > nn)) then return 0 end
end
if ARGV[4] == '0' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1
`

// casScript is the write half of an optimistic update: it stores the new value only if
// the key still holds the value the update read. ARGV: the value read, the new value, its
// lifetime in ms ("0": the update expired the record, so delete it). Returns 1 if written,
// -1 if the record is gone, and otherwise the current value, for the retry to start from
// without another GET.
const casScript = `
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if ARGV[3] ~= '0' and cur == ARGV[2] then return 1 end
if cur ~= ARGV[1] then return cur end
if ARGV[3] == '0' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`

// indexScript adds a session to its user's index, a sorted set of session-key hashes scored
// by ExpiresAt in Unix ms (rounded up). Scores and the set's TTL only ever grow (ZADD GT;
// PEXPIRE only to a later end), so an entry outlives its session whatever order concurrent
// writers run in, and ListSessionsBySubject never drops a live one. ARGV: member, score,
// lifetime in ms.
const indexScript = `
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`

// listScript drops the index entries whose score says their session has expired and
// returns the rest. ARGV: the store's now in Unix ms, rounded down, so an entry scored
// ceil(ExpiresAt) is dropped only once ExpiresAt has passed.
const listScript = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`

// incrScript counts into a fixed window: INCR, and PEXPIRE only when the key is new, so
// later calls do not slide the window. A counter left without a TTL (by hand, or by an
// older writer) gets one rather than living forever. ARGV: window in ms. Returns the count.
const incrScript = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`
