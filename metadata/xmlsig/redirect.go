package xmlsig

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// Parameter names of the HTTP-Redirect binding (saml-bindings-2.0-os §3.4.4).
const (
	paramRequest    = "SAMLRequest"
	paramResponse   = "SAMLResponse"
	paramRelayState = "RelayState"
	paramSigAlg     = "SigAlg"
	paramSignature  = "Signature"
)

// RedirectParams are the SAML parameters of an HTTP-Redirect binding query
// (saml-bindings-2.0-os §3.4.4.1), with the raw octets the signature covers.
type RedirectParams struct {
	// IsRequest is true for SAMLRequest, false for SAMLResponse.
	IsRequest bool
	// Message is the URL-decoded value of SAMLRequest or SAMLResponse (still base64 of the
	// DEFLATEd XML).
	Message string
	// RelayState is the URL-decoded RelayState; meaningful when HasRelay.
	RelayState string
	// HasRelay reports whether a RelayState parameter was present.
	HasRelay bool
	// SigAlg is the URL-decoded SigAlg, "" when absent.
	SigAlg string

	// The values exactly as received, still URL-encoded: the signature is over these octets,
	// never over re-encoded values (%2f vs %2F, + vs %20 differ between stacks, SECURITY.md §4.2).
	rawMessage, rawRelay, rawSigAlg string
	hasSigAlg, hasSignature         bool
	// signature is the decoded Signature; sigErr is set if it was not strict base64.
	signature []byte
	sigErr    error
}

// ParseRedirectQuery splits a raw (still URL-encoded) query string into the SAML parameters of the
// HTTP-Redirect binding. It requires exactly one of SAMLRequest and SAMLResponse, refuses any
// SAML parameter given twice (so that no two parsers can pick different values), and ignores
// other parameters. Errors wrap ErrMalformed and never quote the query.
func ParseRedirectQuery(rawQuery string) (*RedirectParams, error) {
	p := &RedirectParams{}
	seen := map[string]bool{}
	var rawSignature string
	for part := range strings.SplitSeq(rawQuery, "&") {
		if part == "" {
			continue
		}
		rawKey, rawVal, hasEq := strings.Cut(part, "=")
		// Keys are decoded so that SAML%52equest cannot smuggle a second SAMLRequest past
		// the duplicate check; the signed octets use the standard spelling of the key.
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in a query parameter name", ErrMalformed)
		}
		switch key {
		case paramRequest, paramResponse, paramRelayState, paramSigAlg, paramSignature:
		default:
			continue
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: %s given more than once", ErrMalformed, key)
		}
		seen[key] = true
		if !hasEq {
			return nil, fmt.Errorf("%w: %s without a value", ErrMalformed, key)
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in %s", ErrMalformed, key)
		}
		switch key {
		case paramRequest:
			p.IsRequest, p.Message, p.rawMessage = true, val, rawVal
		case paramResponse:
			p.Message, p.rawMessage = val, rawVal
		case paramRelayState:
			p.RelayState, p.rawRelay, p.HasRelay = val, rawVal, true
		case paramSigAlg:
			p.SigAlg, p.rawSigAlg, p.hasSigAlg = val, rawVal, true
		case paramSignature:
			rawSignature, p.hasSignature = val, true
		}
	}
	if seen[paramRequest] == seen[paramResponse] {
		return nil, fmt.Errorf("%w: need exactly one of SAMLRequest and SAMLResponse", ErrMalformed)
	}
	if p.hasSignature {
		p.signature, p.sigErr = decodeStrictBase64(rawSignature)
	}
	return p, nil
}

// decodeStrictBase64 decodes standard, padded base64 with no line breaks and zero padding bits
// (SECURITY.md §4.2: base64-decode Signature strictly).
func decodeStrictBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("%w: signature is not strict base64", ErrSignature)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%w: signature is not strict base64", ErrSignature)
	}
	return b, nil
}

// Signed reports whether the query carries a SigAlg or a Signature parameter. A message with
// either must be verified (and fails if the other is missing); it is never treated as unsigned.
func (p *RedirectParams) Signed() bool { return p.hasSigAlg || p.hasSignature }

// signedOctets builds the string the sender signed (saml-bindings-2.0-os §3.4.4.1):
// SAMLRequest=…&RelayState=…&SigAlg=… from the raw received values, in this order whatever
// their order in the query, with RelayState only when present.
func (p *RedirectParams) signedOctets() string {
	var b strings.Builder
	if p.IsRequest {
		b.WriteString(paramRequest)
	} else {
		b.WriteString(paramResponse)
	}
	b.WriteByte('=')
	b.WriteString(p.rawMessage)
	if p.HasRelay {
		b.WriteString("&" + paramRelayState + "=")
		b.WriteString(p.rawRelay)
	}
	b.WriteString("&" + paramSigAlg + "=")
	b.WriteString(p.rawSigAlg)
	return b.String()
}

// Verify checks the query signature with the keys of certs, which must come from the metadata of
// the entity named by the message's Issuer (SECURITY.md R4); it succeeds if any key verifies.
// It returns an error wrapping ErrNoSignature when neither SigAlg nor Signature is present,
// ErrAlgorithm for a SigAlg outside the allow-list (RSA or ECDSA with SHA-256/384/512), and
// ErrSignature otherwise. RSA signatures are PKCS#1 v1.5; ECDSA signatures may be raw r||s or DER.
func (p *RedirectParams) Verify(certs []*x509.Certificate) error {
	switch {
	case !p.hasSigAlg && !p.hasSignature:
		return ErrNoSignature
	case !p.hasSigAlg:
		return fmt.Errorf("%w: Signature without SigAlg", ErrSignature)
	case !p.hasSignature:
		return fmt.Errorf("%w: SigAlg without Signature", ErrSignature)
	}
	alg, ok := signatureAlg(p.SigAlg)
	if !ok {
		return fmt.Errorf("%w: SigAlg not in the allow-list", ErrAlgorithm)
	}
	if p.sigErr != nil {
		return p.sigErr
	}
	h := alg.hash.New()
	h.Write([]byte(p.signedOctets()))
	digest := h.Sum(nil)

	usable := 0
	for _, c := range certs {
		key, err := usableKey(c)
		if err != nil {
			continue
		}
		usable++
		switch k := key.(type) {
		case *rsa.PublicKey:
			if !alg.ecdsa && rsa.VerifyPKCS1v15(k, alg.hash, digest, p.signature) == nil {
				return nil
			}
		case *ecdsa.PublicKey:
			if !alg.ecdsa {
				continue
			}
			for _, der := range ecdsaDERForms(k, p.signature) {
				if ecdsa.VerifyASN1(k, digest, der) {
					return nil
				}
			}
		}
	}
	if usable == 0 {
		return fmt.Errorf("%w: no usable signing key (RSA ≥ 2048 bits or ECDSA P-256/384/521)", ErrSignature)
	}
	return fmt.Errorf("%w: no signing key verifies the query signature", ErrSignature)
}
