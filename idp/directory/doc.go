// Package directory is Atea's durable, embedded user directory: one bbolt file holding each
// citizen's identity data, credential type, status and password hash.
//
// It is responsible for:
//   - validating user data on Add (DNI/NIE via package dni, names, birth date, contact data);
//   - the password policy on Add (length, not the DNI, not a common password: SECURITY.md §4.16,
//     ASVS 4.0.3 2.1.7, NIST SP 800-63B §5.1.1.2);
//   - hashing passwords with argon2id (RFC 9106) at configurable cost, stored in PHC string form so
//     the cost can be raised later, with bounded concurrency so hashing is no DoS lever;
//   - Authenticate, shaped so that an unknown DNI, a wrong password and a locked account cost the
//     same work (SECURITY.md §4.7, §4.9), and the consecutive-failure lockout, kept durably;
//   - persisting each user's coordinate card (B@kQ): the cells' keyed hashes (never the
//     values), the pending challenge kept per account, and the card's failure counters and
//     lock, each change one transaction (IssueCard, CardChallenge, VerifyCard, UnlockCard,
//     RevokeCard; SECURITY.md §4.8);
//   - the credential lifecycle: statuses pending_activation, active, locked and revoked, changed
//     only along the table of CheckTransition (revoked is final) by one function, setStatus
//     (Lock, Unlock, Revoke, Activate and the failure lockout all go through it);
//   - audit events for changes it makes (user_added, user_locked, user_unlocked, user_revoked,
//     status_changed, failures_cleared, terms_accepted, password_rehashed, card_issued,
//     card_failed, card_locked, card_unlocked, card_revoked), with the DNI masked (SECURITY.md
//     §4.22), kept in the file in the same transaction as the change (History) and written
//     to Options.Audit after it commits.
//
// It is not responsible for per-IP or per-flow attempt limits, the login_failed /
// login_succeeded events, or what a citizen is shown: the IdP's login handler does those. It
// does not generate, hash or compare card values (package coordcard does, and hands the
// directory opaque hashes and a check function), and does not implement password change or
// recovery (yet).
//
// # Storage layout
//
// Bucket "users" maps the internal user ID to a JSON record (including the PHC hash and the
// card, if any); bucket "by_dni" maps the canonical DNI/NIE to the ID. Bucket "audit" maps a
// time-ordered key (Unix nanoseconds and a sequence number, big-endian) to a JSON Event, and
// "audit_by_user" indexes it by user ID. Every change is one bbolt Update transaction, so the
// buckets change together or not at all; bbolt is ACID and a kill -9 leaves the file
// consistent. bbolt holds an exclusive flock on the file: a second process (or a second Open in
// the same process) gets ErrBusy after about a second.
package directory
