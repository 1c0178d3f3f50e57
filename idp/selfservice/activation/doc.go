// Package activation is journey 1 of BRIEF.md: a citizen activates a B@k credential with
// the one-time code of a letter, without an in-person step (issue 5).
//
// The administrator creates the pending credential and its code (`atea activation issue`,
// directory.IssueCode); the letter carries the code and the URL <baseURL>/activate. The
// journey is a flow of the IdP (idp.Kit): bound to the browser, with a CSRF token per flow,
// and these states:
//
//	enter     GET /activate starts the flow. The citizen types the code, the DNI/NIE and the
//	          ID document's expiry date (01/01/9999 for a permanent DNI); the page's script
//	          (static/activation-pow.js) solves a proof of work. POST /activate/enter checks,
//	          in this order: the limit per client address, the proof of work (single use),
//	          the fields, the limit per code, then directory.CheckCode. A bad code or data
//	          that does not match shows the form again with its own alert (the directory
//	          counts mismatches and burns the code at the 5th); a used or expired code and a
//	          credential without a mobile end the flow on their own page. Success sends the
//	          temporary password and moves to sms.
//	sms       The temporary password went by SMS to the registered mobile (the page shows it
//	          masked). POST /activate/sms checks it (attempts counted before comparing,
//	          MaxTempAttempts per flow, TempPasswordTTL); POST /activate/resend sends a new
//	          one after ResendCooldown, at most MaxSends per flow and UserSMSLimit per
//	          credential. Success moves to password.
//	password  One page sets the personal password (typed twice) and accepts the terms: POST
//	          /activate/password calls directory.Enrol once, which consumes the code, sets
//	          the password and the terms and activates the credential in one transaction. A
//	          policy error (directory.ErrWeakPassword) shows the rule broken. A code used in
//	          the meantime (another browser finished first) ends on the "already used" page.
//	done      B@k is active; GET /activate/signin sends the browser through Atea's sign-in.
//
// Why password and terms are one step: the new password must never wait in the store in
// clear between two requests, and Enrol applies both atomically (a kill -9 leaves a pending
// credential with a live code, never half an activation).
//
// Secrets in the flow: the temporary password is kept only as a keyed MAC (idp.Kit.MAC); the
// activation code, which Enrol needs at the end to consume it, is kept sealed with AES-GCM
// under a key derived from the IdP's MAC secret and the flow ID, so a copy of the store
// yields neither (SECURITY.md §4.21: initial secrets are never revealed again).
//
// The anti-automation check needs no outside service (issue 5): fixed-window counters per
// client address and per code in the shared store (SECURITY.md §4.7: 20 attempts per address
// in 10 minutes), plus a proof of work. The challenge is random, kept in the flow's data (so
// it is bound to the flow and cannot be forged), replaced after every submission, and its
// MAC is consumed in the store's single-use set, so an answer works once. The browser finds
// a nonce such that SHA-256(challenge || nonce) has PoWBits leading zero bits (about 2^18
// hashes by default: a second or two with crypto.subtle, one hash for the server).
//
// Every step writes an audit line (idp.Kit.Audit) with the masked DNI/NIE only; codes,
// passwords and phone numbers are never logged.
package activation
