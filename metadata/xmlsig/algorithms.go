package xmlsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
)

// Algorithm identifiers (xmldsig-core §6, RFC 6931 §2.1.3, §2.3.2, §2.3.6).
const (
	AlgRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA384   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	AlgECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	AlgECDSASHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	AlgECDSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"

	DigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	DigestSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	DigestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"

	// ExcC14N is exclusive canonicalization without comments (xml-exc-c14n §1), the only
	// canonicalization Atea accepts: comments are outside what is signed.
	ExcC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
	// EnvelopedSignature is the enveloped-signature transform (xmldsig-core §6.6.4).
	EnvelopedSignature = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// sigAlg describes one allowed signature method.
type sigAlg struct {
	hash  crypto.Hash
	ecdsa bool
}

// signatureAlg looks a signature method up in the allow-list (SECURITY.md R3). RSA-PSS is not
// in it because goxmldsig 1.6.1 cannot verify it (SECURITY.md §3.3).
func signatureAlg(uri string) (sigAlg, bool) {
	switch uri {
	case AlgRSASHA256:
		return sigAlg{hash: crypto.SHA256}, true
	case AlgRSASHA384:
		return sigAlg{hash: crypto.SHA384}, true
	case AlgRSASHA512:
		return sigAlg{hash: crypto.SHA512}, true
	case AlgECDSASHA256:
		return sigAlg{hash: crypto.SHA256, ecdsa: true}, true
	case AlgECDSASHA384:
		return sigAlg{hash: crypto.SHA384, ecdsa: true}, true
	case AlgECDSASHA512:
		return sigAlg{hash: crypto.SHA512, ecdsa: true}, true
	}
	return sigAlg{}, false
}

// digestAlg looks a digest method up in the allow-list.
func digestAlg(uri string) (crypto.Hash, bool) {
	switch uri {
	case DigestSHA256:
		return crypto.SHA256, true
	case DigestSHA384:
		return crypto.SHA384, true
	case DigestSHA512:
		return crypto.SHA512, true
	}
	return 0, false
}

// RSA moduli outside this range are refused: below 2048 bits is too weak (NIST SP 800-131A),
// above 8192 bits only costs verification time (SECURITY.md §2.9).
const (
	minRSABits = 2048
	maxRSABits = 8192
)

var errUnusableKey = errors.New("xmlsig: unusable key")

// usableKey returns the certificate's public key if Atea accepts its type and size: RSA of at
// least 2048 bits or ECDSA on P-256, P-384 or P-521.
func usableKey(c *x509.Certificate) (crypto.PublicKey, error) {
	if c == nil {
		return nil, errUnusableKey
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return nil, errUnusableKey
		}
		return k, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return k, nil
		}
	}
	return nil, errUnusableKey
}

// ecdsaDERForms returns the ASN.1 DER forms sig may stand for. XML-DSig writes ECDSA
// signatures as the raw concatenation r||s of two field-size integers (RFC 4050 §3.3, RFC 6931
// §2.3.6), while Go, and goxmldsig's own signer, use DER: both are accepted. A value that is
// both valid DER and of raw length yields both candidates; verification decides.
func ecdsaDERForms(k *ecdsa.PublicKey, sig []byte) [][]byte {
	var out [][]byte
	if isDERSig(sig) {
		out = append(out, sig)
	}
	size := (k.Curve.Params().BitSize + 7) / 8
	if len(sig) == 2*size {
		der, err := asn1.Marshal(ecdsaSig{
			R: new(big.Int).SetBytes(sig[:size]),
			S: new(big.Int).SetBytes(sig[size:]),
		})
		if err == nil {
			out = append(out, der)
		}
	}
	return out
}

// ecdsaSig is ECDSA-Sig-Value (RFC 3279 §2.2.3).
type ecdsaSig struct {
	R, S *big.Int
}

func isDERSig(sig []byte) bool {
	var v ecdsaSig
	rest, err := asn1.Unmarshal(sig, &v)
	return err == nil && len(rest) == 0 && v.R != nil && v.S != nil
}
