package store

import "errors"

// Sentinel errors. Backends return them wrapped (fmt.Errorf("memstore: get session: %w",
// store.ErrNotFound)); callers test them with errors.Is, never with ==.
var (
	// ErrNotFound reports that a record does not exist or has expired. Expired records are
	// indistinguishable from missing ones.
	ErrNotFound = errors.New("store: not found")

	// ErrExists reports that a create named an ID that is already held by a live record.
	ErrExists = errors.New("store: already exists")

	// ErrConflict reports that an atomic update could not be completed because of concurrent
	// writers. Backends that update optimistically (Redis WATCH/MULTI) return it after giving
	// up retrying; the update was not applied.
	ErrConflict = errors.New("store: conflict")

	// ErrInvalid reports an argument the store refuses: an empty ID or key, a record without
	// an expiry, a ttl or window that is not positive, or an update that changes a record's
	// ID. These are programming errors in the caller; they are refused rather than stored
	// because a record without an expiry would live forever.
	ErrInvalid = errors.New("store: invalid argument")

	// ErrClosed reports a call on a store after Close.
	ErrClosed = errors.New("store: closed")
)
