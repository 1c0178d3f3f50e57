package samlxml

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384/512 for crypto.Hash
)

// XML-DSig algorithm URIs (xmldsig-core1 §6; RFC 6931 §2.1, §2.3).
const (
	AlgRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA384   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	AlgECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"

	digSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	digSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	digSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

	algExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// ErrAlgorithm is returned for a signature algorithm Atea does not sign with (SHA-1 never).
var ErrAlgorithm = errors.New("samlxml: unsupported signature algorithm")

// AlgorithmByName maps config names (rsa-sha256, …) to XML-DSig URIs.
func AlgorithmByName(name string) (string, error) {
	switch name {
	case "rsa-sha256", "":
		return AlgRSASHA256, nil
	case "rsa-sha384":
		return AlgRSASHA384, nil
	case "rsa-sha512":
		return AlgRSASHA512, nil
	case "ecdsa-sha256":
		return AlgECDSASHA256, nil
	}
	return "", fmt.Errorf("%w: %q", ErrAlgorithm, name)
}

// Signer signs SAML elements with one key. It is safe for concurrent use.
type Signer struct {
	key     crypto.Signer
	alg     string
	hash    crypto.Hash
	digAlg  string
	ecdsa   bool
	size    int    // ECDSA field size in bytes, for the r||s encoding
	certB64 string // the certificate, base64, computed once
}

// NewSigner returns a Signer for key (RSA or ECDSA) and its certificate, signing with alg (an
// XML-DSig URI). The algorithm must fit the key: an RSA key cannot make ECDSA signatures.
func NewSigner(key crypto.Signer, cert *x509.Certificate, alg string) (*Signer, error) {
	s := &Signer{key: key, alg: alg, certB64: base64.StdEncoding.EncodeToString(cert.Raw)}
	switch alg {
	case AlgRSASHA256, AlgECDSASHA256:
		s.hash, s.digAlg = crypto.SHA256, digSHA256
	case AlgRSASHA384:
		s.hash, s.digAlg = crypto.SHA384, digSHA384
	case AlgRSASHA512:
		s.hash, s.digAlg = crypto.SHA512, digSHA512
	default:
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	switch pk := key.Public().(type) {
	case *rsa.PublicKey:
		if alg == AlgECDSASHA256 {
			return nil, fmt.Errorf("%w: ECDSA algorithm with an RSA key", ErrAlgorithm)
		}
	case *ecdsa.PublicKey:
		if alg != AlgECDSASHA256 {
			return nil, fmt.Errorf("%w: an ECDSA key signs with ecdsa-sha256", ErrAlgorithm)
		}
		s.ecdsa, s.size = true, (pk.Curve.Params().BitSize+7)/8
	default:
		return nil, fmt.Errorf("%w: unsupported key type %T", ErrAlgorithm, pk)
	}
	return s, nil
}

// Algorithm returns the signature method URI.
func (s *Signer) Algorithm() string { return s.alg }

// sign returns the enveloped ds:Signature element for the element whose ID is id and whose
// canonical form (without the signature: the enveloped-signature transform) is the
// concatenation of canon: the parts are hashed in turn, so the caller need not join them.
func (s *Signer) sign(id string, canon ...[]byte) ([]byte, error) {
	h := s.hash.New()
	for _, c := range canon {
		h.Write(c)
	}
	var sumBuf [64]byte
	digest := base64.StdEncoding.EncodeToString(h.Sum(sumBuf[:0]))

	// SignedInfo, canonicalised as its own apex (xml-exc-c14n §3): it declares ds itself.
	// Inside ds:Signature the declaration is inherited, so the embedded copy is the same
	// bytes without it (siOpen is where the two differ).
	var si writer
	si.b = make([]byte, 0, 700)
	s.signedInfo(&si, id, digest)
	h.Reset()
	h.Write(si.b)
	sum := h.Sum(sumBuf[:0])
	sig, err := s.key.Sign(rand.Reader, sum, s.hash)
	if err != nil {
		return nil, fmt.Errorf("samlxml: sign: %w", err)
	}
	if s.ecdsa {
		// XML-DSig wants r||s, each left-padded to the field size (RFC 4050 §3.3); crypto.Signer
		// returns ASN.1 DER.
		if sig, err = derToRS(sig, s.size); err != nil {
			return nil, err
		}
	}

	var w writer
	w.b = make([]byte, 0, 1400+len(s.certB64))
	w.open("ds:Signature", "xmlns:ds", nsDS)
	w.b = append(w.b, siOpen...)
	w.b = append(w.b, si.b[len(siOpenApex):]...)
	w.open("ds:SignatureValue")
	w.b = base64.StdEncoding.AppendEncode(w.b, sig) // base64 needs no escaping
	w.close("ds:SignatureValue")
	// KeyInfo is kept so SPs that trust two certificates during a rollover can pick the key
	// (goxmldsig fails "Missing x509 Element" without it; SECURITY.md §4.17).
	w.open("ds:KeyInfo")
	w.open("ds:X509Data")
	w.elem("ds:X509Certificate", s.certB64)
	w.close("ds:X509Data")
	w.close("ds:KeyInfo")
	w.close("ds:Signature")
	return w.b, nil
}

// The SignedInfo start tag as its own apex and inside ds:Signature.
const (
	siOpenApex = `<ds:SignedInfo xmlns:ds="` + nsDS + `">`
	siOpen     = `<ds:SignedInfo>`
)

// signedInfo writes ds:SignedInfo as its own apex (declaring ds).
func (s *Signer) signedInfo(w *writer, id, digest string) {
	w.b = append(w.b, siOpenApex...)
	w.elem("ds:CanonicalizationMethod", "", "Algorithm", algExcC14N)
	w.elem("ds:SignatureMethod", "", "Algorithm", s.alg)
	w.b = append(w.b, `<ds:Reference URI="#`...)
	w.b = appendAttr(w.b, id)
	w.b = append(w.b, `">`...)
	w.open("ds:Transforms")
	w.elem("ds:Transform", "", "Algorithm", algEnveloped)
	w.elem("ds:Transform", "", "Algorithm", algExcC14N)
	w.close("ds:Transforms")
	w.elem("ds:DigestMethod", "", "Algorithm", s.digAlg)
	w.elem("ds:DigestValue", digest)
	w.close("ds:Reference")
	w.close("ds:SignedInfo")
}

func derToRS(der []byte, size int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		return nil, fmt.Errorf("samlxml: ecdsa signature: %w", err)
	}
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}
