package idp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
)

// KeySet is the key material the IdP signs, publishes and decrypts with. A running server
// replaces it whole with SetKeys (a key rollover without a restart); New takes the first one
// from Deps.
type KeySet struct {
	// Signer signs responses, logout messages and metadata with the key of Cert.
	Signer *samlxml.Signer
	Cert   *x509.Certificate
	// SigningCerts are published with use="signing": the key ring's current (Cert, which must
	// be among them) and next keys. Nil publishes Cert alone.
	SigningCerts []*x509.Certificate
	// PreviousCert is the signing key a rollover replaced; metadata publishes it until
	// PreviousRetireAfter (by the server's clock).
	PreviousCert        *x509.Certificate
	PreviousRetireAfter time.Time
	// EncryptionKeys decrypt what SPs encrypt to Atea, current first; EncryptionCerts are
	// their certificates, published with use="encryption".
	EncryptionKeys  []crypto.Decrypter
	EncryptionCerts []*x509.Certificate
}

// keySet returns the key material of d.
func (d *Deps) keySet() KeySet {
	return KeySet{Signer: d.Signer, Cert: d.Cert, SigningCerts: d.SigningCerts, PreviousCert: d.PreviousCert,
		PreviousRetireAfter: d.PreviousRetireAfter, EncryptionKeys: d.EncryptionKeys, EncryptionCerts: d.EncryptionCerts}
}

// RingKeySet is the key set of a key ring whose current key signer signs with: the current and
// next keys published for signing, the previous one with its retirement time (the server and
// BuildMetadata stop publishing it by their own clock), the ring's encryption keys.
func RingKeySet(r *keys.Ring, signer *samlxml.Signer) KeySet {
	ks := KeySet{Signer: signer, Cert: r.Current.Cert, SigningCerts: []*x509.Certificate{r.Current.Cert},
		EncryptionKeys: r.EncryptionKeys(), EncryptionCerts: r.EncryptionCerts()}
	if r.Next != nil {
		ks.SigningCerts = append(ks.SigningCerts, r.Next.Cert)
	}
	if r.Previous != nil {
		ks.PreviousCert, ks.PreviousRetireAfter = r.Previous.Cert, r.Previous.RetireAfter
	}
	return ks
}

// Into writes k into the key fields of d (for idp.New, or a twin server built with it).
func (k KeySet) Into(d *Deps) {
	d.Signer, d.Cert, d.SigningCerts = k.Signer, k.Cert, k.SigningCerts
	d.PreviousCert, d.PreviousRetireAfter = k.PreviousCert, k.PreviousRetireAfter
	d.EncryptionKeys, d.EncryptionCerts = k.EncryptionKeys, k.EncryptionCerts
}

// clone copies the slices, so a caller changing its own afterwards cannot change the set a
// server is using (it is read without locks).
func (k KeySet) clone() KeySet {
	k.SigningCerts = slices.Clone(k.SigningCerts)
	k.EncryptionKeys = slices.Clone(k.EncryptionKeys)
	k.EncryptionCerts = slices.Clone(k.EncryptionCerts)
	return k
}

// ErrKeySet: SetKeys refused a key set; the server keeps the one it had.
var ErrKeySet = errors.New("idp: invalid key set")

// check returns the problems of k, as New reports them.
func (k KeySet) check() []error {
	var problems []error
	if k.Signer == nil || k.Cert == nil {
		problems = append(problems, errors.New("idp: no signing key"))
	} else {
		if len(k.SigningCerts) > 0 && !slices.ContainsFunc(k.SigningCerts, k.Cert.Equal) {
			// SPs verify with the certificates in metadata: the signing one must be there.
			problems = append(problems, errors.New("idp: the signing certificate is not among the published ones"))
		}
		if err := signerMatchesCert(k.Signer, k.Cert); err != nil {
			problems = append(problems, err)
		}
	}
	if len(k.EncryptionCerts) != len(k.EncryptionKeys) && len(k.EncryptionCerts) > 0 {
		problems = append(problems, errors.New("idp: encryption certificates do not match the encryption keys"))
	}
	return problems
}

// signerMatchesCert signs a probe with s and verifies it with cert's public key: a signer
// whose key is not the certificate's would sign messages no SP can verify against the
// published certificate, an outage that only shows at the SPs.
func signerMatchesCert(s *samlxml.Signer, cert *x509.Certificate) error {
	const probe = "atea key set probe"
	sigB64, err := s.SignQuery(probe)
	if err != nil {
		return fmt.Errorf("idp: signing key: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return fmt.Errorf("idp: signing key: %w", err)
	}
	var h crypto.Hash
	switch s.Algorithm() {
	case samlxml.AlgRSASHA256, samlxml.AlgECDSASHA256:
		h = crypto.SHA256
	case samlxml.AlgRSASHA384:
		h = crypto.SHA384
	case samlxml.AlgRSASHA512:
		h = crypto.SHA512
	default:
		return fmt.Errorf("idp: signing key: unknown algorithm %q", s.Algorithm())
	}
	d := h.New()
	d.Write([]byte(probe))
	sum := d.Sum(nil)
	mismatch := errors.New("idp: the signing key is not the signing certificate's")
	switch pk := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pk, h, sum, sig) != nil {
			return mismatch
		}
	case *ecdsa.PublicKey:
		// SignQuery writes r||s, each half the signature (XML-DSig, RFC 4050 §3.3).
		n := len(sig) / 2
		if n == 0 || !ecdsa.Verify(pk, sum, new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])) {
			return mismatch
		}
	default:
		return fmt.Errorf("idp: signing certificate: unsupported key type %T", pk)
	}
	return nil
}

// keyState is one installed KeySet with the signed metadata document that publishes it.
// Both are replaced by one atomic store, so a request sees either the old set or the new one:
// a response is signed by the key whose certificate the metadata served with it publishes.
type keyState struct {
	set      KeySet
	metadata *metadataCache
}

// newKeyState validates k and signs its metadata once, so a set whose metadata cannot be
// signed is refused up front rather than served as a 503 on the next fetch.
func (s *Server) newKeyState(k KeySet) (*keyState, error) {
	if err := errors.Join(k.check()...); err != nil {
		return nil, err
	}
	k = k.clone()
	st := &keyState{set: k, metadata: &metadataCache{cfg: s.cfg, inputs: metadataInputs(k, s.deps), signer: k.Signer}}
	if _, err := st.metadata.get(s.now()); err != nil {
		return nil, err
	}
	return st, nil
}

// currentKeys returns the key set in use. Each request loads it once and uses that one
// value throughout, so a SetKeys in the middle of a request cannot mix two sets.
func (s *Server) currentKeys() *keyState { return s.keys.Load() }

// Keys returns a copy of the key set in use.
func (s *Server) Keys() KeySet { return s.currentKeys().set.clone() }

// SetKeys replaces the key material of the running server: from the next request on, it
// signs with k.Signer and /saml/metadata publishes k's certificates (a freshly signed
// document, not the cached one). Requests in flight finish with the set they loaded. k is
// checked as New checks Deps; when it is refused (the error wraps ErrKeySet) the server keeps
// the set it had.
func (s *Server) SetKeys(k KeySet) error {
	s.setKeysMu.Lock() // orders concurrent callers; readers never take it
	defer s.setKeysMu.Unlock()
	st, err := s.newKeyState(k)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKeySet, err)
	}
	s.keys.Store(st)
	return nil
}
