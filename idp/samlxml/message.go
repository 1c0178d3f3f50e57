package samlxml

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Status codes (saml-core-2.0-os §3.2.2.2).
const (
	StatusSuccess           = "urn:oasis:names:tc:SAML:2.0:status:Success"
	StatusRequester         = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	StatusResponder         = "urn:oasis:names:tc:SAML:2.0:status:Responder"
	StatusVersionMismatch   = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch"
	StatusNoAuthnContext    = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
	StatusNoPassive         = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
	StatusRequestDenied     = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
	StatusInvalidNameIDPol  = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
	StatusRequestUnsupport  = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported"
	StatusAuthnFailed       = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
	StatusUnsupportedBindng = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding"

	// AttrNameFormatURI is the NameFormat of every attribute Atea releases.
	AttrNameFormatURI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	// BearerMethod is the only SubjectConfirmation method of the Web Browser SSO profile.
	BearerMethod = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// NewID returns a fresh SAML ID: 160 random bits, hex, prefixed with "_" so that it is an
// xs:NCName (saml-core-2.0-os §1.3.4 requires xs:ID values to be NCNames).
func NewID() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ it cannot return an error).
		panic(fmt.Sprintf("samlxml: crypto/rand: %v", err))
	}
	// Built in place: a response takes four IDs, and this is one allocation each.
	var id [1 + 2*len(b)]byte
	id[0] = '_'
	hex.Encode(id[1:], b[:])
	return string(id[:])
}

// Attribute is one saml:Attribute with NameFormat uri.
type Attribute struct {
	Name, FriendlyName string
	Values             []string
}

// Assertion is what goes into one saml:Assertion (saml-core-2.0-os §2.3.3; the Web Browser SSO
// profile, saml-profiles-2.0-os §4.1.4.2).
type Assertion struct {
	ID           string
	IssueInstant time.Time
	Issuer       string

	NameID          string
	NameIDFormat    string
	NameQualifier   string
	SPNameQualifier string

	// SubjectConfirmationData: the ACS URL, the request ID and the bearer deadline.
	Recipient    string
	InResponseTo string

	NotBefore    time.Time
	NotOnOrAfter time.Time
	Audience     string

	AuthnInstant        time.Time
	SessionIndex        string
	SessionNotOnOrAfter time.Time
	ClassRef            string

	Attributes []Attribute
}

// Response is the samlp:Response envelope.
type Response struct {
	ID           string
	IssueInstant time.Time
	Issuer       string
	Destination  string
	InResponseTo string

	StatusCode    string // top level; empty means Success
	SubStatusCode string
	StatusMessage string
}

// Options chooses what is signed and whether the assertion is encrypted.
type Options struct {
	SignResponse  bool
	SignAssertion bool
	Encrypt       *Encryption // nil: plain assertion
}

// ErrNothingSigned guards against a configuration that would send an unsigned Success.
var ErrNothingSigned = errors.New("samlxml: neither response nor assertion would be signed")

// BuildResponse writes a complete samlp:Response carrying a (only) assertion a, or a status-only
// Response when a is nil. An error Response (a == nil) is always signed: an SP must be able to
// trust a failure status as much as a success.
func (s *Signer) BuildResponse(r Response, a *Assertion, o Options) ([]byte, error) {
	var inner []byte
	if a != nil {
		if !o.SignResponse && !o.SignAssertion {
			return nil, ErrNothingSigned
		}
		if !o.SignAssertion && o.Encrypt == nil {
			// A plain, unsigned assertion is written straight into the response: the same
			// bytes s.assertion(a, false) makes, without building and copying them apart.
			return s.statusResponseWith("samlp:Response", r, nil, a, o.SignResponse)
		}
		var err error
		inner, err = s.assertion(a, o.SignAssertion)
		if err != nil {
			return nil, err
		}
		if o.Encrypt != nil {
			if inner, err = o.Encrypt.encryptAssertion(inner); err != nil {
				return nil, err
			}
		}
	} else {
		o.SignResponse = true
	}

	return s.statusResponse("samlp:Response", r, inner, o.SignResponse)
}

// statusResponse writes r as the StatusResponseType element name (saml-core-2.0-os §3.2.2):
// Issuer, Status, then inner (a Response's assertion; nothing for a LogoutResponse), with an
// enveloped signature when sign is set.
func (s *Signer) statusResponse(name string, r Response, inner []byte, sign bool) ([]byte, error) {
	return s.statusResponseWith(name, r, inner, nil, sign)
}

// statusResponseWith is statusResponse with, when a is not nil, a's unsigned assertion written
// after inner.
func (s *Signer) statusResponseWith(name string, r Response, inner []byte, a *Assertion, sign bool) ([]byte, error) {
	// The element declares only samlp: exclusive C14N renders a namespace where it is
	// visibly used, so each saml:-prefixed child declares saml itself. Writing it that way
	// makes these bytes their own canonical form.
	//
	// The tail is written first so that the head can be given room for the signature and the
	// tail: envelop then joins the three without another allocation.
	var head, tail writer
	tail.b = make([]byte, 0, 256+len(inner)+assertionSizeHint(a))
	code := r.StatusCode
	if code == "" {
		code = StatusSuccess
	}
	tail.open("samlp:Status")
	tail.open("samlp:StatusCode", "Value", code)
	if r.SubStatusCode != "" {
		tail.elem("samlp:StatusCode", "", "Value", r.SubStatusCode)
	}
	tail.close("samlp:StatusCode")
	if r.StatusMessage != "" {
		tail.elem("samlp:StatusMessage", r.StatusMessage)
	}
	tail.close("samlp:Status")
	tail.b = append(tail.b, inner...)
	if a != nil {
		writeAssertionHead(&tail, a)
		writeAssertionBody(&tail, a)
	}
	tail.close(name)

	head.b = make([]byte, 0, 512+s.signatureSizeHint(sign)+len(tail.b))
	head.open(name,
		"xmlns:samlp", nsSAMLP,
		"Destination", r.Destination,
		"ID", r.ID,
		"InResponseTo", r.InResponseTo,
		"IssueInstant", fmtTime(r.IssueInstant),
		"Version", "2.0")
	head.elem("saml:Issuer", r.Issuer, "xmlns:saml", nsSAML)
	return s.envelop(r.ID, head.b, tail.b, sign)
}

// signatureSizeHint is about the size of the ds:Signature sign makes (0 when unsigned).
func (s *Signer) signatureSizeHint(sign bool) int {
	if !sign {
		return 0
	}
	return 1400 + len(s.certB64)
}

// assertionSizeHint is about the size of a's assertion without a signature (0 for nil).
func assertionSizeHint(a *Assertion) int {
	if a == nil {
		return 0
	}
	n := 1536
	for _, at := range a.Attributes {
		n += 160 + len(at.Name) + len(at.FriendlyName)
		for _, v := range at.Values {
			n += 48 + len(v)
		}
	}
	return n
}

// envelop joins head and tail, inserting an enveloped signature between them (right after the
// Issuer, where saml-core-2.0-os §5.4.1 and the schemas put it) when sign is set.
func (s *Signer) envelop(id string, head, tail []byte, sign bool) ([]byte, error) {
	if !sign {
		return append(head, tail...), nil
	}
	// The canonical form is head then tail: sign hashes the two in turn. The result is
	// appended to head, which callers allocate with room for the signature and the tail.
	sig, err := s.sign(id, head, tail)
	if err != nil {
		return nil, err
	}
	out := append(head, sig...)
	return append(out, tail...), nil
}

func (s *Signer) assertion(a *Assertion, sign bool) ([]byte, error) {
	var head, tail writer
	tail.b = make([]byte, 0, assertionSizeHint(a))
	writeAssertionBody(&tail, a)
	head.b = make([]byte, 0, 256+s.signatureSizeHint(sign)+len(tail.b))
	writeAssertionHead(&head, a)
	return s.envelop(a.ID, head.b, tail.b, sign)
}

// writeAssertionHead writes the saml:Assertion start tag and its Issuer: what comes before an
// enveloped signature (saml-core-2.0-os §2.3.3).
func writeAssertionHead(w *writer, a *Assertion) {
	w.open("saml:Assertion",
		"xmlns:saml", nsSAML,
		"ID", a.ID,
		"IssueInstant", fmtTime(a.IssueInstant),
		"Version", "2.0")
	w.elem("saml:Issuer", a.Issuer)
}

// writeAssertionBody writes the rest of the assertion, from Subject to the end tag.
func writeAssertionBody(w *writer, a *Assertion) {
	w.open("saml:Subject")
	w.elem("saml:NameID", a.NameID,
		"Format", a.NameIDFormat,
		"NameQualifier", a.NameQualifier,
		"SPNameQualifier", a.SPNameQualifier)
	w.open("saml:SubjectConfirmation", "Method", BearerMethod)
	// No Address: pysaml2 rejects ip:port and a bare IP adds nothing (INTEROP.md).
	w.elem("saml:SubjectConfirmationData", "",
		"InResponseTo", a.InResponseTo,
		"NotOnOrAfter", fmtTime(a.NotOnOrAfter),
		"Recipient", a.Recipient)
	w.close("saml:SubjectConfirmation")
	w.close("saml:Subject")

	w.open("saml:Conditions",
		"NotBefore", fmtTime(a.NotBefore),
		"NotOnOrAfter", fmtTime(a.NotOnOrAfter))
	w.open("saml:AudienceRestriction")
	w.elem("saml:Audience", a.Audience)
	w.close("saml:AudienceRestriction")
	w.close("saml:Conditions")

	sessNOA := ""
	if !a.SessionNotOnOrAfter.IsZero() {
		sessNOA = fmtTime(a.SessionNotOnOrAfter)
	}
	w.open("saml:AuthnStatement",
		"AuthnInstant", fmtTime(a.AuthnInstant),
		"SessionIndex", a.SessionIndex,
		"SessionNotOnOrAfter", sessNOA)
	w.open("saml:AuthnContext")
	w.elem("saml:AuthnContextClassRef", a.ClassRef)
	w.close("saml:AuthnContext")
	w.close("saml:AuthnStatement")

	if len(a.Attributes) > 0 {
		w.open("saml:AttributeStatement")
		for _, at := range a.Attributes {
			w.open("saml:Attribute",
				"FriendlyName", at.FriendlyName,
				"Name", at.Name,
				"NameFormat", AttrNameFormatURI)
			for _, v := range at.Values {
				w.elem("saml:AttributeValue", v)
			}
			w.close("saml:Attribute")
		}
		w.close("saml:AttributeStatement")
	}
	w.close("saml:Assertion")
}
