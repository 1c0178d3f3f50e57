package redisstore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Key kinds: the letter after the prefix, and part of the HMAC input, so that one string
// used as a session ID, a flow ID, a Once key and a counter key gives four unrelated keys.
const (
	kindSession = "s"
	kindIndex   = "u" // a user's session index
	kindFlow    = "f"
	kindOnce    = "o"
	kindCounter = "c"
)

// hashPart derives the part of a key that stands for the caller's id:
// base64url(HMAC-SHA256(KeySecret, "atea-redisstore-v1" 0 kind 0 id)). Keys built from
// keyed hashes reveal neither cookie values, flow IDs nor attacker-chosen strings, and
// cannot be computed by whoever reads a dump (SECURITY.md §4.15).
func (st *Store) hashPart(kind, id string) string {
	m := hmac.New(sha256.New, st.keySecret)
	m.Write([]byte("atea-redisstore-v1\x00"))
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// keyOf builds the Redis key of kind for a hash part. The hash is the Cluster hash tag, so
// anything later stored for the same record shares its slot.
func (st *Store) keyOf(kind, hash string) string {
	return st.prefix + kind + ":{" + hash + "}"
}

// key is keyOf(kind, hashPart(kind, id)).
func (st *Store) key(kind, id string) string { return st.keyOf(kind, st.hashPart(kind, id)) }

// ttlMillis is the Redis lifetime, in whole milliseconds rounded up, of something with d
// left to live: 0 if d <= 0, meaning it has already expired and must not be written (a zero
// TTL would mean "never expire" to go-redis).
func ttlMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// ceilMillis is t in Unix milliseconds, rounded up.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

// expired reports whether something ending at end is gone at now: records live while now
// is before their end ("ExpiresAt <= now" is expired), as in memstore.
func expired(end, now time.Time) bool { return !now.Before(end) }

// header is the clear prefix of a stored record: its expiry as "<sec>.<nsec>:", which the
// Lua scripts read (see scripts.go).
func header(exp time.Time) []byte {
	return fmt.Appendf(nil, "%d.%09d:", exp.Unix(), exp.Nanosecond())
}

// seal encodes v as JSON and encrypts it with AES-256-GCM. The additional data binds the
// ciphertext to key and to the clear header, so a record moved under another key, or with
// its expiry edited, does not decrypt.
func (st *Store) seal(key string, exp time.Time, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	h := header(exp)
	return st.aead.Seal(h, nil, plain, additionalData(key, h)), nil
}

// open reverses seal into v. Any failure is ErrUnreadable.
func (st *Store) open(key string, raw []byte, v any) error {
	i := bytes.IndexByte(raw, ':')
	if i < 0 {
		return ErrUnreadable
	}
	h, sealed := raw[:i+1], raw[i+1:]
	plain, err := st.aead.Open(nil, nil, sealed, additionalData(key, h))
	if err != nil {
		return ErrUnreadable
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return nil
}

// additionalData is key 0 header: the GCM additional data of a record.
func additionalData(key string, h []byte) []byte {
	ad := make([]byte, 0, len(key)+1+len(h))
	ad = append(ad, key...)
	ad = append(ad, 0)
	return append(ad, h...)
}

// itoa formats a script argument.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
