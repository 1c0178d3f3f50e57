// Package keys loads Atea's key material from the data directory, creating it on first start:
// the key ring (signing keys with their self-signed certificates, and the RSA encryption key)
// and the secret from which the HMAC keys (cookies, CSRF, pairwise NameIDs, replay-cache keys)
// are derived.
//
// # Key ring and rollover
//
// The ring lives in <dataDir>/keys with a JSON state file (ring.json) naming the current
// signing key, an optional next key, an optional previous key with the time it retires, and the
// encryption key. A rollover follows the usual SAML practice (the metadata carries the keys an
// SP should trust; saml-metadata-2.0-os §2.4.1 KeyDescriptor):
//
//  1. `atea keys generate` creates the next key; metadata publishes it next to the current one
//     and SPs that refresh metadata start trusting it, while the current key still signs.
//  2. After the SPs have had time to refresh (at least the metadata cacheDuration, better
//     the validity), `atea keys rollover` makes the next key current. The old one becomes
//     previous and stays in metadata for the grace period, so metadata and messages it signed
//     just before the rollover still verify.
//  3. Restart `atea serve` (every instance sharing the data directory): a server keeps the
//     ring it loaded at start. Re-reading the ring at run time is deliberately not done, so a
//     half-finished operator action can never change the signing key under a running server.
//
// Every change replaces the state file atomically (temporary file, fsync, rename, directory
// fsync) under an flock, and new key files get fresh names, so a crash leaves the old ring or
// the new one. The state records each certificate's SHA-256 fingerprint; a swapped key file
// is an error (ErrState). An existing single-key data directory (keys.keyFile/keys.certFile,
// the layout before the ring) is adopted as is: that key becomes current.
//
// It is not a key-management system: HSM/KMS signers are not supported (what it returns is a
// crypto.Signer so one can be plugged in later), and it never deletes key files. The
// encryption key is not rolled over yet.
package keys
