// Package directory is Atea's durable, embedded user directory: one bbolt file holding each
// citizen's identity data, credential type, status and password hash.
//
// It is responsible for:
//
//   - validating user data on Add (DNI/NIE via package dni, names, birth date, contact data);
//
//   - the password policy on Add (length, not the DNI, not a common password: SECURITY.md §4.16,
//     ASVS 4.0.3 2.1.7, NIST SP 800-63B §5.1.1.2);
//
//   - hashing passwords with argon2id (RFC 9106) at configurable cost, stored in PHC string form so
//     the cost can be raised later, with bounded concurrency so hashing is no DoS lever;
//
//   - Authenticate, shaped so that an unknown DNI, a wrong password and a locked account cost the
//     same work (SECURITY.md §4.7, §4.9), and the consecutive-failure lockout, kept durably;
//
//   - persisting each user's coordinate card (B@kQ): the cells' keyed hashes (never the
//     values), the pending challenge kept per account, and the card's failure counters and
//     lock, each change one transaction (IssueCard, CardChallenge, VerifyCard, UnlockCard,
//     RevokeCard; SECURITY.md §4.8);
//
//   - the credential lifecycle: statuses pending_activation, active, locked and revoked, changed
//     only along the table of CheckTransition (revoked is final) by one function, setStatus
//     (Lock, Unlock, Revoke, Activate and the failure lockout all go through it);
//
//   - audit events for changes it makes (user_added, user_locked, user_unlocked, user_revoked,
//     status_changed, failures_cleared, terms_accepted, password_rehashed, card_issued,
//     card_failed, card_locked, card_unlocked, card_revoked), with the DNI masked (SECURITY.md
//     §4.22), kept in the file in the same transaction as the change (History) and written
//     to Options.Audit after it commits.
//
//   - the one-time codes of the activation journeys (enrol.go): IssueCode makes a code for a
//     pending credential (an activation letter, a desk's e-mailed link) and keeps only its
//     HMAC under a key stored in the file, with expiry, use and mismatch count; CheckCode
//     checks it with the data typed beside it; Enrol consumes it together with the password,
//     the terms, the credential type and the activation in one transaction, so a crash
//     leaves a pending credential with a live code or an active one, never half of each;
//
//   - password changes and the self-service unblock (SetPassword, with unlock), contact
//     changes (SetContact) and the first sign-in inside an enrolment (AuthenticatePending);
//
//   - Check, the cross-bucket invariants, run by `atea user check` and by the kill -9 test.
//
// It is not responsible for per-IP or per-flow attempt limits, the login_failed /
// login_succeeded events, or what a citizen is shown: the IdP's login handler and the
// self-service journeys (idp/selfservice/…) do those. It does not generate, hash or compare
// card values (package coordcard does, and hands the directory opaque hashes and a check
// function).
//
// # Storage layout
//
// Bucket "users" maps the internal user ID to a JSON record (including the PHC hash and the
// card, if any); bucket "by_dni" maps the canonical DNI/NIE to the ID. Bucket "audit" maps a
// time-ordered key (Unix nanoseconds and a sequence number, big-endian) to a JSON Event, and
// "audit_by_user" indexes it by user ID. Bucket "codes" maps a code's HMAC to its record and
// "codes_by_user" maps user ID, NUL, purpose to the live code's HMAC; "meta" holds the
// code-MAC key. Every change is one bbolt Update transaction, so the
// buckets change together or not at all; bbolt is ACID and a kill -9 leaves the file
// consistent. bbolt holds an exclusive flock on the file: a second process (or a second Open in
// the same process) gets ErrBusy after about a second.
package directory
