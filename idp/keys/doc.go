// Package keys loads Atea's key material from the data directory, creating it on first start:
// the IdP signing key with its self-signed certificate, and the secret from which the HMAC keys
// (cookies, CSRF, pairwise NameIDs, replay-cache keys) are derived.
//
// It is not a key-management system: HSM/KMS signers and key rollover arrive with the metadata
// issue; what it returns is a crypto.Signer so either can be plugged in later.
package keys
