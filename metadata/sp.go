package metadata

import (
	"crypto/x509"
	"errors"
	"sort"
	"strings"
	"time"
)

// ErrUnknownEntity is returned (possibly wrapped) by [DirSource.Lookup] when no valid metadata is
// loaded for an entityID, including when the metadata that was loaded has since expired.
var ErrUnknownEntity = errors.New("metadata: unknown entity")

// Binding URIs (saml-bindings-2.0-os §3.4 and §3.5).
const (
	BindingHTTPPost     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	BindingHTTPRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	// BindingSOAP is the SAML SOAP binding (saml-bindings-2.0-os §3.2), the back channel of
	// single logout.
	BindingSOAP = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"
)

// Endpoint is one indexed endpoint of an SP (saml-metadata-2.0-os §2.2.3 IndexedEndpointType).
type Endpoint struct {
	Binding   string
	Location  string
	Index     int
	IsDefault bool
	// ResponseLocation is where responses go when it differs from Location
	// (saml-metadata-2.0-os §2.2.2); only SingleLogoutService endpoints have one, "" otherwise.
	ResponseLocation string
}

// SP is the validated metadata of one service provider: only what Atea uses, taken from its
// SAML 2.0 SPSSODescriptor. Values returned by [Parse] and [DirSource.Lookup] are shared and
// must be treated as read-only.
type SP struct {
	// EntityID is the SP's entityID (saml-metadata-2.0-os §2.3.2).
	EntityID string
	// AuthnRequestsSigned is the SPSSODescriptor's AuthnRequestsSigned attribute: when true,
	// the IdP must refuse unsigned AuthnRequests (saml-metadata-2.0-os §2.4.4).
	AuthnRequestsSigned bool
	// SigningCerts are the certificates of KeyDescriptors with use="signing" or no use.
	SigningCerts []*x509.Certificate
	// EncryptionCerts are the certificates of KeyDescriptors with use="encryption" or no use.
	EncryptionCerts []*x509.Certificate
	// ACS holds the HTTP-POST AssertionConsumerService endpoints only, in document order: the
	// Web Browser SSO profile never sends a Response with HTTP-Redirect (saml-profiles-2.0-os
	// §4.1.2), so other bindings are never candidates.
	ACS []Endpoint
	// SLO holds the SingleLogoutService endpoints of the bindings Atea speaks (HTTP-Redirect,
	// HTTP-POST, SOAP), in document order; Index is unused. Their Location and
	// ResponseLocation are validated like ACS locations (saml-metadata-2.0-os §2.4.2).
	SLO []Endpoint
	// NameIDFormats are the SPSSODescriptor's NameIDFormat values, in document order.
	NameIDFormats []string
	// DisplayNames maps a lower-cased xml:lang to the mdui:UIInfo/mdui:DisplayName in that
	// language (SAML V2.0 Metadata Extensions for Login and Discovery UI §2.1.2), if any.
	DisplayNames map[string]string
	// ValidUntil is the earliest validUntil of the entity, its SPSSODescriptor and any
	// enclosing EntitiesDescriptor; zero when there is none.
	ValidUntil time.Time
	// Source is the file the metadata came from ("" when parsed from memory).
	Source string

	// defaultPos is the 1-based position in ACS of the default endpoint chosen by the rule of
	// saml-metadata-2.0-os §2.2.3, which needs to know whether isDefault was absent or
	// explicitly "false" (Endpoint.IsDefault cannot say). 0 for an SP not built by Parse.
	defaultPos int
}

// ACSByURL returns the HTTP-POST ACS whose Location is exactly u. The comparison is byte for
// byte, never by prefix or after normalisation: any latitude lets an attacker steer the
// assertion to a URL the SP did not register (SECURITY.md §4.1, saml-core-2.0-os §3.4.1).
func (sp *SP) ACSByURL(u string) (Endpoint, bool) {
	for _, e := range sp.ACS {
		if e.Location == u {
			return e, true
		}
	}
	return Endpoint{}, false
}

// ACSByIndex returns the HTTP-POST ACS with the given index (AssertionConsumerServiceIndex,
// saml-core-2.0-os §3.4.1). An index that names an endpoint of another binding is not found.
func (sp *SP) ACSByIndex(i int) (Endpoint, bool) {
	for _, e := range sp.ACS {
		if e.Index == i {
			return e, true
		}
	}
	return Endpoint{}, false
}

// DefaultACS returns the default HTTP-POST ACS by the rule of saml-metadata-2.0-os §2.2.3: the
// endpoint with isDefault="true", else the first without isDefault="false", else the first.
func (sp *SP) DefaultACS() (Endpoint, bool) {
	if sp.defaultPos > 0 && sp.defaultPos <= len(sp.ACS) {
		return sp.ACS[sp.defaultPos-1], true
	}
	// An SP built by hand rather than by Parse: the absent/false distinction is unknown.
	for _, e := range sp.ACS {
		if e.IsDefault {
			return e, true
		}
	}
	if len(sp.ACS) > 0 {
		return sp.ACS[0], true
	}
	return Endpoint{}, false
}

// SLOEndpoint returns the first SingleLogoutService of the first binding in bindings that the
// SP offers: callers list the bindings in their order of preference.
func (sp *SP) SLOEndpoint(bindings ...string) (Endpoint, bool) {
	for _, b := range bindings {
		for _, e := range sp.SLO {
			if e.Binding == b {
				return e, true
			}
		}
	}
	return Endpoint{}, false
}

// DisplayName returns the SP's display name in lang (an xml:lang tag such as "es" or "eu-ES";
// compared case-insensitively, then by its primary subtag), else in "en", else in any language
// (the alphabetically first, so the choice is stable), else the EntityID.
func (sp *SP) DisplayName(lang string) string {
	lang = strings.ToLower(lang)
	if n, ok := sp.DisplayNames[lang]; ok {
		return n
	}
	if primary, _, ok := strings.Cut(lang, "-"); ok {
		if n, ok := sp.DisplayNames[primary]; ok {
			return n
		}
	}
	if n, ok := sp.DisplayNames["en"]; ok {
		return n
	}
	if len(sp.DisplayNames) > 0 {
		keys := make([]string, 0, len(sp.DisplayNames))
		for k := range sp.DisplayNames {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return sp.DisplayNames[keys[0]]
	}
	return sp.EntityID
}

// defaultPosition computes SP.defaultPos for the POST endpoints eps, where explicitFalse[i]
// says whether eps[i] carried isDefault="false" (saml-metadata-2.0-os §2.2.3).
func defaultPosition(eps []Endpoint, explicitFalse []bool) int {
	for i, e := range eps {
		if e.IsDefault {
			return i + 1
		}
	}
	for i := range eps {
		if !explicitFalse[i] {
			return i + 1
		}
	}
	if len(eps) > 0 {
		return 1
	}
	return 0
}
