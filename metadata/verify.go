package metadata

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// VerifiedDocument is what VerifyDocument read from a document it accepted.
type VerifiedDocument struct {
	// ValidUntil is the root element's validUntil; zero if none.
	ValidUntil time.Time
	// CacheDuration is the root's cacheDuration; 0 if none or unusable.
	CacheDuration time.Duration
	// SPs are the service providers that would be used, in document order.
	SPs []*SP
	// Problems are the entities that would not be used, each matching ErrInvalidEntity.
	Problems []error
	// NotSPs counts the entities without an SP role (an aggregate's IdPs), which sources
	// ignore silently.
	NotSPs int
}

// VerifyDocument applies to raw exactly the checks a remote source (URLSource, MDQSource)
// applies before it uses a document, for tools such as `atea metadata verify`: the XML gate
// within maxBytes (DefaultRemoteMaxBytes when not positive), the enveloped signature made
// with one of anchors, a metadata root element, the root's validUntil at now; then it parses
// the verified element only (SECURITY.md R5). Errors match ErrTooLarge, ErrUntrusted (and
// the xmlsig sentinel), ErrNotMetadata or ErrDocumentExpired; with ErrDocumentExpired the
// signature was good and the result carries ValidUntil.
func VerifyDocument(raw []byte, anchors []*x509.Certificate, maxBytes int64, now time.Time) (VerifiedDocument, error) {
	if len(anchors) == 0 {
		return VerifiedDocument{}, errMissingAnchors
	}
	if maxBytes <= 0 {
		maxBytes = DefaultRemoteMaxBytes
	}
	if int64(len(raw)) > maxBytes {
		return VerifiedDocument{}, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(raw), maxBytes)
	}
	clock := func() time.Time { return now }
	vd, err := verifyRemoteDocument(raw, anchors, maxBytes, now, clock)
	out := VerifiedDocument{ValidUntil: vd.validUntil, CacheDuration: vd.cacheDuration}
	if err != nil {
		return out, err
	}
	sps, problems, err := parseWithLimits(vd.raw, now, vd.limits)
	if err != nil {
		return out, err
	}
	out.SPs = sps
	for _, p := range problems {
		if errors.Is(p, errNoSPSSO) {
			out.NotSPs++
			continue
		}
		out.Problems = append(out.Problems, p)
	}
	return out, nil
}
