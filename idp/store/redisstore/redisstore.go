package redisstore

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ateaidp/atea/idp/store"
)

// Sentinel errors of this backend, in addition to those of package store.
var (
	// ErrUnavailable reports that Redis could not serve the call: it cannot be reached, did
	// not answer within Options.OpTimeout, or refused for a transient reason (loading,
	// failover, cluster down, out of memory, authentication). Callers fail closed and show
	// a 503 (SECURITY.md §4.15).
	ErrUnavailable = errors.New("redisstore: redis unavailable")

	// ErrUnreadable reports a record that does not decrypt or decode: written under another
	// key, with another RecordKey, or tampered with. It always comes together with
	// store.ErrNotFound, so callers treat it as absent (a rotated RecordKey logs everyone
	// out rather than failing every request), while logs can tell it apart.
	ErrUnreadable = errors.New("redisstore: record cannot be decrypted")
)

const (
	// DefaultOpTimeout bounds every call when Options.OpTimeout is zero.
	DefaultOpTimeout = 500 * time.Millisecond

	// MinKeySecret is the least length of Options.KeySecret: SHA-256's output length, below
	// which RFC 2104 §3 strongly discourages HMAC keys.
	MinKeySecret = 32

	// RecordKeySize is the length of Options.RecordKey: an AES-256 key.
	RecordKeySize = 32

	// maxUpdateAttempts bounds the optimistic retries of an update. Each conflict means
	// another writer succeeded, so n concurrent writers need at most n attempts each.
	maxUpdateAttempts = 100
)

// Options configures a [Store].
type Options struct {
	// Client is the Redis client: single server, Sentinel or Cluster. It must have
	// ContextTimeoutEnabled set, so that context deadlines, and with them OpTimeout, bound
	// socket reads and writes ([NewClient] sets it).
	Client redis.UniversalClient
	// OwnClient makes Close close Client.
	OwnClient bool
	// Prefix starts every key, e.g. "atea:", so the keyspace can be confined by an ACL
	// (~atea:*). It must not be empty and must not contain '{' or '}', which would change
	// the Cluster hash tags.
	Prefix string
	// KeySecret, at least 32 bytes, is the HMAC key that derives Redis keys from IDs.
	KeySecret []byte
	// RecordKey, exactly 32 bytes, is the AES-256-GCM key that seals sessions and flows. It
	// must differ from KeySecret.
	RecordKey []byte
	// OpTimeout bounds each call, in addition to the caller's context; 0 means 500ms.
	OpTimeout time.Duration
	// Now is the clock that judges record expiry; nil means time.Now.
	Now func() time.Time
}

// Store is a [store.Store] in Redis. It is safe for concurrent use; make it with [New].
type Store struct {
	c         redis.UniversalClient
	ownClient bool
	prefix    string
	keySecret []byte
	aead      cipher.AEAD
	opTimeout time.Duration
	now       func() time.Time
	closed    atomic.Bool

	createScript *redis.Script
	casScript    *redis.Script
	indexScript  *redis.Script
	listScript   *redis.Script
	incrScript   *redis.Script
}

var _ store.Store = (*Store)(nil)

// New returns a Store over o.Client. It checks o and names every problem at once; it does
// not connect (use [Store.Ping] for that).
func New(o Options) (*Store, error) {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	switch c := o.Client.(type) {
	case nil:
		bad("Client is nil")
	case *redis.Client:
		if !c.Options().ContextTimeoutEnabled {
			bad("Client: ContextTimeoutEnabled is false, so OpTimeout could not bound calls")
		}
	case *redis.ClusterClient:
		if !c.Options().ContextTimeoutEnabled {
			bad("Client: ContextTimeoutEnabled is false, so OpTimeout could not bound calls")
		}
	}
	if o.Prefix == "" {
		bad("Prefix is empty")
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		bad("Prefix contains '{' or '}', which would change the Cluster hash tags")
	}
	if len(o.KeySecret) < MinKeySecret {
		bad("KeySecret has %d bytes, want at least %d", len(o.KeySecret), MinKeySecret)
	}
	if len(o.RecordKey) != RecordKeySize {
		bad("RecordKey has %d bytes, want exactly %d", len(o.RecordKey), RecordKeySize)
	}
	if len(o.KeySecret) > 0 && bytes.Equal(o.KeySecret, o.RecordKey) {
		bad("KeySecret and RecordKey are equal; use independent keys")
	}
	if o.OpTimeout < 0 {
		bad("OpTimeout is negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("redisstore: invalid options: %w", errors.Join(problems...))
	}

	block, err := aes.NewCipher(o.RecordKey)
	if err != nil {
		return nil, fmt.Errorf("redisstore: record key: %w", err)
	}
	// A random 96-bit nonce per Seal, drawn from crypto/rand and prepended to the
	// ciphertext: the key seals far fewer than the 2^32 messages NIST SP 800-38D §8.3
	// allows for random nonces before it is rotated.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("redisstore: record key: %w", err)
	}
	st := &Store{
		c:            o.Client,
		ownClient:    o.OwnClient,
		prefix:       o.Prefix,
		keySecret:    bytes.Clone(o.KeySecret),
		aead:         aead,
		opTimeout:    o.OpTimeout,
		now:          o.Now,
		createScript: redis.NewScript(createScript),
		casScript:    redis.NewScript(casScript),
		indexScript:  redis.NewScript(indexScript),
		listScript:   redis.NewScript(listScript),
		incrScript:   redis.NewScript(incrScript),
	}
	if st.opTimeout == 0 {
		st.opTimeout = DefaultOpTimeout
	}
	if st.now == nil {
		st.now = time.Now
	}
	return st, nil
}

// Ping implements [store.Store]: one PING under the op timeout.
func (st *Store) Ping(ctx context.Context) error {
	return st.do(ctx, "ping", func(ctx context.Context) error {
		return backend(st.c.Ping(ctx).Err())
	})
}

// Close implements [store.Store]. It closes the client only if the Store owns it
// (Options.OwnClient). Every later call, Close included, fails with an error wrapping
// [store.ErrClosed].
func (st *Store) Close() error {
	if !st.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("redisstore: close: %w", store.ErrClosed)
	}
	if st.ownClient {
		if err := st.c.Close(); err != nil {
			return fmt.Errorf("redisstore: close: %w", err)
		}
	}
	return nil
}

// do runs f under the op timeout after checking ctx and that the store is open, and
// translates what f's Redis calls returned. op names the operation in errors; errors never
// name the ID or key, which may be derived from a cookie (STYLE §B3.6).
func (st *Store) do(ctx context.Context, op string, f func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if st.closed.Load() {
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrClosed)
	}
	opCtx, cancel := context.WithTimeout(ctx, st.opTimeout)
	defer cancel()
	if err := f(opCtx); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, st.translate(ctx, opCtx, err))
	}
	return nil
}

// backendError marks an error returned by go-redis, for translate. It is never returned to
// callers.
type backendError struct{ err error }

func (e *backendError) Error() string { return e.err.Error() }
func (e *backendError) Unwrap() error { return e.err }

// backend marks a go-redis error (nil stays nil). Call sites handle redis.Nil before.
func backend(err error) error {
	if err == nil {
		return nil
	}
	return &backendError{err: err}
}

// translate turns a go-redis error into what callers act on: ErrClosed if Close raced the
// call, the caller's context error if that is why it failed, ErrUnavailable for a timeout
// of our own or a server that cannot serve. Errors that are not from go-redis (the store's
// sentinels, fn's error) pass through.
func (st *Store) translate(ctx, opCtx context.Context, err error) error {
	var be *backendError
	if !errors.As(err, &be) {
		return err
	}
	callerErr := done(ctx)
	switch {
	case st.closed.Load():
		return store.ErrClosed
	case callerErr != nil:
		return callerErr
	case done(opCtx) != nil:
		return fmt.Errorf("%w: no reply within %v: %w", ErrUnavailable, st.opTimeout, context.DeadlineExceeded)
	case unavailable(be.err):
		return fmt.Errorf("%w: %w", ErrUnavailable, be.err)
	default:
		return be.err
	}
}

// done returns ctx's error, or DeadlineExceeded once its deadline has passed even if its
// timer has not fired yet: go-redis sets the socket deadline to the context's, and the
// socket can time out a moment before ctx.Err() says so.
func done(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// unavailable reports whether err means Redis cannot serve now, rather than that it
// refused this command: every transport error (dial, reset, EOF, pool timeout, closed
// client), and the server replies of a store that is loading, failing over, down, full, or
// that does not accept our credentials.
func unavailable(err error) bool {
	if !isMiss(err) && errors.Is(err, redis.Nil) {
		// A wrapped redis.Nil is not a reply: go-redis wraps it when, for example, no
		// sentinel knows the master ("all sentinels … are unreachable: redis: nil").
		return true
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.IsClusterDownError(err) || redis.IsTryAgainError(err) ||
		redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.IsOOMError(err) || redis.IsNoReplicasError(err) ||
		redis.IsAuthError(err) || redis.IsPermissionError(err)
}

// isMiss reports whether err is go-redis's "no such key" reply. It must be the bare redis.Nil:
// go-redis also wraps redis.Nil inside connection errors (no sentinel knows the master), and
// reading those as "missing" would turn an outage into "not found" — a lockout counter of 0,
// a session that is not there — instead of failing closed with ErrUnavailable.
func isMiss(err error) bool {
	return err == redis.Nil //nolint:errorlint // the bare reply only, see above
}
