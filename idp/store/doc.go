// Package store defines what Atea keeps between HTTP requests: pending AuthnRequests and the
// state of sign-in flows ([Flow]), SSO sessions with the SPs that took part in them
// ([Session]), single-use keys for replay protection ([Once]) and fixed-window counters for
// attempt limits ([Counters]).
//
// The package holds the record types, the interfaces and the sentinel errors, and nothing else.
// It is responsible for the contracts: every backend (memstore, redisstore, …) must satisfy
// them, and the executable form of the contracts is the conformance suite in
// idp/store/storetest. It is not responsible for any backend code, for key naming (callers build
// keys from keyed hashes of attacker input, SECURITY.md §4.15), or for deciding lifetimes, which
// callers pass in.
//
// What is stored must not include secrets in the clear (SECURITY.md §4.15): session IDs are
// keyed hashes of the cookie value, users appear by their internal pseudonymous ID, never by
// DNI, phone or e-mail, and no password or one-time code is ever put here.
//
// Errors are tested with [errors.Is] against [ErrNotFound], [ErrExists], [ErrConflict],
// [ErrInvalid] and [ErrClosed]; backends wrap them with context, and a cancelled context
// surfaces as an error wrapping [context.Canceled] (or [context.DeadlineExceeded]).
package store
