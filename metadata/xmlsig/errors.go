package xmlsig

import "errors"

// Sentinel errors. Every error from this package wraps exactly one of them.
var (
	// ErrAlgorithm means a signature, digest or query SigAlg algorithm is outside the
	// allow-list (SECURITY.md R3), SHA-1 in particular.
	ErrAlgorithm = errors.New("xmlsig: algorithm not allowed")
	// ErrSignature means the signature does not verify with any of the given keys, or no given
	// key is usable, or the signature value is malformed.
	ErrSignature = errors.New("xmlsig: invalid signature")
	// ErrProfile means the signature's shape violates the SAML signature profile
	// (saml-core-2.0-os §5.4, SECURITY.md R2).
	ErrProfile = errors.New("xmlsig: signature profile violated")
	// ErrNoSignature means there is no signature to verify.
	ErrNoSignature = errors.New("xmlsig: no signature")
	// ErrMalformed means the input could not be read at all: an unparseable document or a
	// Redirect query with missing or repeated SAML parameters.
	ErrMalformed = errors.New("xmlsig: malformed input")
)
