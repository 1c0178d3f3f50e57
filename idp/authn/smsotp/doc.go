// Package smsotp is the SMS one-time code of B@kQ (seed 001), the second factor that takes a
// B@k password sign-in to LevelSubstantial, and the message senders that deliver it.
//
// The page says where the code went, masked ("El código se ha enviado a ***707"), and shows
// the first digits of the code ("introduzca los últimos 4 dígitos del código que empieza por
// 869"). The shown prefix binds the SMS to the page: a citizen whose page shows another
// prefix than the SMS is looking at a phishing relay that triggered a different code
// (SECURITY.md §4.8). Defaults: 7 digits, 3 shown, 4 typed.
//
// # Controls (SECURITY.md §4.8, STYLE.md §B7, OWASP ASVS 4.0.3 2.7)
//
//   - Every digit is uniform from crypto/rand (rand.Int, never byte%10).
//   - Only HMAC-SHA256(k, flowID ‖ 0x00 ‖ code) is stored, in the flow record
//     (store.Flow.Factor), so a code is bound to the flow that asked for it (ASVS 2.7.3) and a
//     store dump reveals no code (ASVS 2.7.5). k is derived from the configured key.
//   - A code lives 5 minutes (TTL ≤ 10 min, ASVS 2.7.2) and is consumed atomically: Verify
//     runs inside the store's compare-and-set UpdateFlow, so of two concurrent correct answers
//     exactly one gets nil.
//   - Each check counts the attempt before comparing (in the same atomic update) and compares
//     with hmac.Equal. A code allows 3 attempts, then it is dead (authn.ErrTooManyAttempts)
//     and the citizen must ask for a new one.
//   - "I did not receive the code" (Resend) sends a new code, which replaces the old one, no
//     sooner than 60 s after the previous (authn.ErrCooldown) and at most 5 times per flow
//     (ErrSendLimit). Begin never sends twice: a reload shows the same challenge.
//   - The factor locks (authn.ErrLocked) after 10 failed attempts within 24 h, across codes
//     and flows. The counters live in the store's Counters, keyed by a keyed hash of the user
//     ID (never the ID, DNI or phone). Each check is counted as a failure before it is
//     compared and a success is counted separately, so failures = checks - successes; this
//     keeps the limit exact even when an attacker fires many checks at once across many
//     flows (a check-then-increment would let them all pass the check). A success does not
//     reset the failures: that would let a password thief interleave guesses with the
//     owner's sign-ins. The window is fixed and aligned to multiples of LockWindow; an
//     administrator lifts a lock early with Unlock.
//   - Codes, phone numbers and user IDs never appear in logs or error strings: numbers are
//     masked to their last 3 digits (MaskPhone).
//
// # Guessing odds with the defaults
//
// An attacker who knows the password sees the prefix and must guess the 4 typed digits:
// 10⁴ = 10,000 equally likely values (≈ 13.3 bits, below the 20 bits of ASVS 4.0.3 2.7.6 /
// ASVS 5.0 V6.5.4; the limits below compensate, as SECURITY.md §4.8 allows).
//
//   - Per code: 3 tries → 3/10⁴ = 0.03 %.
//   - Per flow: 5 sends × 3 tries = 15 tries → 15/10⁴ = 0.15 %, but the lock caps this first:
//   - Per account and 24 h window: at most 10 failed tries before ErrLocked, whatever the
//     number of flows or codes → at most 10/10⁴ = 0.1 % per day. (Because the window is
//     fixed, 10 at the end of one window and 10 at the start of the next are possible: at
//     most 20/10⁴ = 0.2 % in any 24 h span.)
//
// Each try also sends the owner an SMS they did not ask for, which is the alarm. With 3
// shown and 6 typed digits (Digits 9) the same limits give 10/10⁶ = 0.001 % per day.
//
// # Delivery
//
// Messages go through the Sender interface: Outbox (the embedded default: one line per
// message in a file of the data directory, read by the demo and the probe), Webhook (an SMS
// gateway over HTTP JSON) and SMTP (e-mail). Route picks one by Message.Kind.
//
// # Not responsible for
//
// Choosing the method or the level a request needs, the pages and their messages (package
// idp), the directory holding the phone number, per-IP and per-destination send caps against
// SMS pumping (the HTTP layer), and verifying that a phone number belongs to the citizen
// (enrolment, SECURITY.md §4.21). Codes go only to the number in the authn.Subject, which
// comes from the directory, never from the request.
package smsotp
