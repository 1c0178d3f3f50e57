// Package recovery is the "Forgotten or blocked password?" journey of Atea (issue 5, BRIEF.md
// journey 5): a citizen proves who they are with the DNI/NIE, the expiry date of the ID
// document and a code sent by SMS to the mobile on record, and chooses a new password. A
// credential blocked after too many wrong passwords is unblocked the same way.
//
// # Pages and states
//
// The journey is one browser-bound flow (idp.Kit, journey "recovery") with two states:
//
//	GET  /recover                 StateStart: the form (DNI/NIE + document expiry)
//	POST /recover                 StateStart → StateCode; 303 to GET /recover/code
//	GET  /recover/code            StateCode: code + new password + repeat
//	POST /recover/code            StateCode → done (the flow ends) or the page again
//	POST /recover/code/resend     StateCode: "I did not receive the SMS"
//	GET  /recover/signin          Atea's own sign-in, back to /recover/welcome
//	GET  /recover/welcome         "you signed in with your new password"
//
// The flow's Data holds: "dni", the canonical DNI/NIE typed (whether or not it exists: the
// resend repeats the first request's work with it); "uid", the directory ID of the citizen
// ("" when the data did not match); "m", "1" when they matched; "c", Kit.MAC of the code
// (never the code); "exp" and "resend", the code's expiry and the earliest resend (Unix
// seconds); "sends", codes made in this flow; "gen", the generation of the single-use key (see
// below). The flow counts code attempts in store.Flow.Attempts. The rate-limit counters are
// keyed by Kit.MAC of the client address and of the DNI/NIE, so the store names neither.
//
// # Not telling whether an ID exists
//
// SECURITY.md §4.7 and ASVS 5.0 V6.3.8: the answer to POST /recover is the same page (the
// same text, status and headers) whether the DNI/NIE is unknown, the expiry does not match,
// the credential is revoked or pending, has no mobile, or everything matches. The work is the
// same too: both rate-limit counters, one directory Get, a fresh random code and its MAC, and
// one flow update of the same shape. Only a matching request hands the SMS to the sender, and
// it does so in the background (Handler.Wait), so the time a slow SMS gateway takes is not in
// the answer. A non-matching flow also has a code: one nobody ever receives, so every code
// typed is simply wrong ("m" makes sure of it even against a lucky guess), and resend, expiry
// and the attempt limit behave exactly as for a real one.
//
// # The code
//
// CodeDigits random digits (8 by default, ≈26.6 bits: above ASVS 5.0 V6.5.4's 20), valid for
// CodeTTL, bound to the flow by the MAC. Attempts are counted before comparing, at most
// MaxAttempts per flow across resends; the comparison is in constant time. A correct code is
// single use: Kit.Store().Consume of a key naming the flow, the code and the generation is
// taken before the password is set, so of two concurrent submissions only one proceeds. A
// password refused by the policy (directory.ErrWeakPassword) moves to the next generation and
// gives the attempt back, so the citizen may try another password with the same code;
// nothing else reuses it. ResendCooldown and MaxSends bound the SMS of one flow; the per-DNI
// counter bounds them across flows.
//
// # The end
//
// directory.SetPassword with unlock (a locked credential becomes active; a revoked one is
// never revived: ErrTransition, shown as a failure page), Kit.ClearFailures (the shared
// store's failure counter), every SSO session of the citizen ended (a reset is what a citizen
// does when someone else may know the old password), an audit event with the masked DNI, and
// an SMS notice to the mobile on record (ASVS 4.0.3 2.5.5). The citizen is not signed in by
// the recovery: the next sign-in runs the ordinary pages, second factor included for B@kQ, so
// a reset never bypasses it (ASVS 5.0 V6.4.3).
package recovery
