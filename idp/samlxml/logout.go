package samlxml

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"time"
)

// StatusPartialLogout is the second-level status of a LogoutResponse when the session
// authority could not confirm the logout of every session participant (saml-core-2.0-os
// §3.2.2.2, §3.7.3.2). StatusUnknownPrincipal says the principal named is not known.
const (
	StatusPartialLogout    = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
	StatusUnknownPrincipal = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
)

// LogoutReasonUser is the Reason of a logout the principal asked for (saml-core-2.0-os §3.7.3).
const LogoutReasonUser = "urn:oasis:names:tc:SAML:2.0:logout:user"

// LogoutRequest is what goes into one samlp:LogoutRequest that Atea, as session authority,
// sends to a session participant (saml-core-2.0-os §3.7.1; saml-profiles-2.0-os §4.4.4.1).
type LogoutRequest struct {
	ID           string
	IssueInstant time.Time
	NotOnOrAfter time.Time // zero: omitted
	Destination  string
	Issuer       string
	Reason       string

	// The NameID exactly as it was stated in the assertion the participant received.
	NameID          string
	NameIDFormat    string
	SPNameQualifier string
	// SessionIndex is the one of the participant's AuthnStatement ("" omits it).
	SessionIndex string
}

// LogoutResponse is the samlp:LogoutResponse envelope (saml-core-2.0-os §3.7.2): a
// StatusResponseType with nothing more, so the same fields as a [Response].
type LogoutResponse Response

// BuildLogoutRequest writes r, with an enveloped signature when sign is set (HTTP-POST and
// SOAP bindings); for HTTP-Redirect pass sign false and sign the query with [Signer.SignQuery]
// (saml-bindings-2.0-os §3.4.4.1: a Redirect message carries no XML signature).
func (s *Signer) BuildLogoutRequest(r LogoutRequest, sign bool) ([]byte, error) {
	if r.ID == "" || r.Issuer == "" || r.NameID == "" {
		return nil, fmt.Errorf("samlxml: logout request needs ID, Issuer and NameID")
	}
	noa := ""
	if !r.NotOnOrAfter.IsZero() {
		noa = fmtTime(r.NotOnOrAfter)
	}
	var head, tail writer
	head.b = make([]byte, 0, 512)
	head.open("samlp:LogoutRequest",
		"xmlns:samlp", nsSAMLP,
		"Destination", r.Destination,
		"ID", r.ID,
		"IssueInstant", fmtTime(r.IssueInstant),
		"NotOnOrAfter", noa,
		"Reason", r.Reason,
		"Version", "2.0")
	head.elem("saml:Issuer", r.Issuer, "xmlns:saml", nsSAML)

	tail.b = make([]byte, 0, 512)
	tail.elem("saml:NameID", r.NameID,
		"xmlns:saml", nsSAML,
		"Format", r.NameIDFormat,
		"SPNameQualifier", r.SPNameQualifier)
	if r.SessionIndex != "" {
		tail.elem("samlp:SessionIndex", r.SessionIndex)
	}
	tail.close("samlp:LogoutRequest")
	return s.envelop(r.ID, head.b, tail.b, sign)
}

// BuildLogoutResponse writes r, signed enveloped when sign is set (see BuildLogoutRequest).
func (s *Signer) BuildLogoutResponse(r LogoutResponse, sign bool) ([]byte, error) {
	if r.ID == "" || r.Issuer == "" {
		return nil, fmt.Errorf("samlxml: logout response needs ID and Issuer")
	}
	return s.statusResponse("samlp:LogoutResponse", Response(r), nil, sign)
}

// SignQuery signs the octets of an HTTP-Redirect query (saml-bindings-2.0-os §3.4.4.1):
// octets is "SAMLRequest=…[&RelayState=…]&SigAlg=…" exactly as it will be sent, each value
// already URL-encoded, and the result is the base64 Signature value (not yet URL-encoded).
// RSA signatures are PKCS#1 v1.5; ECDSA ones are r||s as XML-DSig writes them.
func (s *Signer) SignQuery(octets string) (string, error) {
	h := s.hash.New()
	h.Write([]byte(octets))
	sig, err := s.key.Sign(rand.Reader, h.Sum(nil), s.hash)
	if err != nil {
		return "", fmt.Errorf("samlxml: sign query: %w", err)
	}
	if s.ecdsa {
		if sig, err = derToRS(sig, s.size); err != nil {
			return "", err
		}
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// RedirectQuery builds the signed query of an HTTP-Redirect message (saml-bindings-2.0-os
// §3.4.4.1): param is "SAMLRequest" or "SAMLResponse", deflated the DEFLATE-compressed
// message; relay is sent when hasRelay. The parameters are in the order the signature covers.
func (s *Signer) RedirectQuery(param string, deflated []byte, relay string, hasRelay bool) (string, error) {
	if param != "SAMLRequest" && param != "SAMLResponse" {
		return "", fmt.Errorf("samlxml: redirect parameter %q", param)
	}
	q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflated))
	if hasRelay {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	q += "&SigAlg=" + url.QueryEscape(s.alg)
	sig, err := s.SignQuery(q)
	if err != nil {
		return "", err
	}
	return q + "&Signature=" + url.QueryEscape(sig), nil
}
