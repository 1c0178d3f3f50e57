// Package coordcard is the coordinate-card second factor of B@kQ: a printed 4×4 grid of
// cells A1…D4, each holding a short random number, of which the sign-in page asks for a few.
//
// It is responsible for:
//   - issuing cards: uniform random digits from crypto/rand, returned in clear exactly once
//     (to be printed or e-mailed) and handed to the store only as per-cell keyed hashes,
//     HMAC-SHA256(key, user ID ‖ position ‖ value) (SECURITY.md §4.8, ASVS 5.0 V6.5.2);
//   - choosing the positions of a challenge uniformly at random, and keeping them fixed for
//     the account until answered correctly, across reloads, flows, browsers, SPs and restarts,
//     so nobody can "shop" for positions they know (SECURITY.md §4.8);
//   - checking answers: the attempt counted before comparing, every asked cell compared in
//     constant time, the card locked after Config.MaxFailures consecutive wrong answers (and
//     after Config.MaxRecentFailures within Config.RecentWindow), a correct answer consumed
//     atomically (STYLE.md §B7; kratos persister_code.go).
//
// It is not responsible for persistence (the Store: package directory implements it, one
// bbolt transaction per step), for delivering the card to the citizen, for deciding which
// citizens get a card or which levels a flow needs (the IdP), or for the pages.
//
// A reusable 16-cell card cannot meet NIST SP 800-63B §5.1.2.2 ("each look-up secret used
// once"); the sticky challenge, two or more cells per challenge and the lock are the
// compensating controls SECURITY.md §4.8 asks for. With the defaults (two 3-digit cells,
// 20 bits) an attacker who already holds the password wins with probability 3/10^6 before the
// card locks.
package coordcard
