package idp

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/metadata/xmlgate"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// SAML 2.0 protocol constants used while reading requests.
const (
	nsSAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDS    = "http://www.w3.org/2000/09/xmldsig#"

	bindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	bindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

	// Limits on what an SP may send (SECURITY.md §2.9): a real AuthnRequest is a few KiB.
	maxQueryBytes   = 16 << 10
	maxPOSTBytes    = 256 << 10
	maxInflateBytes = 64 << 10
	maxRequestID    = 256
)

// authnRequest is the part of samlp:AuthnRequest (saml-core-2.0-os §3.4.1) that Atea reads.
// Atea does not use crewjam's AuthnRequest type: it keeps one AuthnContextClassRef where the
// schema allows several, and its Validate path is the one Atea must not reach.
type authnRequest struct {
	XMLName                     xml.Name
	ID                          string                    `xml:",attr"`
	Version                     string                    `xml:",attr"`
	IssueInstant                string                    `xml:",attr"`
	Destination                 string                    `xml:",attr"`
	ForceAuthn                  string                    `xml:",attr"`
	IsPassive                   string                    `xml:",attr"`
	AssertionConsumerServiceURL string                    `xml:",attr"`
	ACSIndex                    string                    `xml:"AssertionConsumerServiceIndex,attr"`
	ProtocolBinding             string                    `xml:",attr"`
	ProviderName                string                    `xml:",attr"`
	Issuer                      *reqIssuer                `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
	NameIDPolicy                *reqNameIDPolicy          `xml:"urn:oasis:names:tc:SAML:2.0:protocol NameIDPolicy"`
	RequestedAuthnContext       *reqRequestedAuthnContext `xml:"urn:oasis:names:tc:SAML:2.0:protocol RequestedAuthnContext"`
	// Signature is non-nil when the root carries a ds:Signature child: the same fact
	// hasEnvelopedSignature reports, read in the one decoding pass. Its content is skipped;
	// xmlsig reads the signature itself.
	Signature *struct{} `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
}

// The parts of authnRequest below the root.
type (
	reqIssuer struct {
		Value string `xml:",chardata"`
	}
	reqNameIDPolicy struct {
		Format      string `xml:",attr"`
		AllowCreate string `xml:",attr"`
	}
	reqRequestedAuthnContext struct {
		Comparison string   `xml:",attr"`
		ClassRefs  []string `xml:"urn:oasis:names:tc:SAML:2.0:assertion AuthnContextClassRef"`
		DeclRefs   []string `xml:"urn:oasis:names:tc:SAML:2.0:assertion AuthnContextDeclRef"`
	}
)

// decodeAuthnRequest fills req from raw exactly as xml.Unmarshal(raw, req) does, on the same
// decoder and tokens, without the reflection: every SSO reads one request. The rules it
// keeps: the first start element is the root; an attribute field takes the last attribute
// with its local name, whatever the namespace; a child element matches by namespace and
// local name, and a repeated one fills the same struct again (text replaced, attributes
// overwritten only where present, lists appended); text is the element's own character
// data, not that of its children; everything else is skipped. A differential fuzz test
// (FuzzDecodeAuthnRequest) holds it to xml.Unmarshal.
func decodeAuthnRequest(raw []byte, req *authnRequest) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	var root xml.StartElement
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		if t, ok := tok.(xml.StartElement); ok {
			root = t
			break
		}
	}
	req.XMLName = root.Name
	setAttrs(root.Attr,
		attrField{"ID", &req.ID},
		attrField{"Version", &req.Version},
		attrField{"IssueInstant", &req.IssueInstant},
		attrField{"Destination", &req.Destination},
		attrField{"ForceAuthn", &req.ForceAuthn},
		attrField{"IsPassive", &req.IsPassive},
		attrField{"AssertionConsumerServiceURL", &req.AssertionConsumerServiceURL},
		attrField{"AssertionConsumerServiceIndex", &req.ACSIndex},
		attrField{"ProtocolBinding", &req.ProtocolBinding},
		attrField{"ProviderName", &req.ProviderName})
	return eachChild(d, func(t xml.StartElement) error {
		switch {
		case t.Name.Space == nsSAML && t.Name.Local == "Issuer":
			var err error
			filled(&req.Issuer).Value, err = elementText(d)
			return err
		case t.Name.Space == nsSAMLP && t.Name.Local == "NameIDPolicy":
			p := filled(&req.NameIDPolicy)
			setAttrs(t.Attr, attrField{"Format", &p.Format}, attrField{"AllowCreate", &p.AllowCreate})
		case t.Name.Space == nsSAMLP && t.Name.Local == "RequestedAuthnContext":
			return decodeRequestedAuthnContext(d, t, filled(&req.RequestedAuthnContext))
		case t.Name.Space == nsDS && t.Name.Local == "Signature":
			filled(&req.Signature)
		}
		return d.Skip()
	})
}

func decodeRequestedAuthnContext(d *xml.Decoder, start xml.StartElement, rac *reqRequestedAuthnContext) error {
	setAttrs(start.Attr, attrField{"Comparison", &rac.Comparison})
	return eachChild(d, func(t xml.StartElement) error {
		switch {
		case t.Name.Space == nsSAML && t.Name.Local == "AuthnContextClassRef":
			return appendText(d, &rac.ClassRefs)
		case t.Name.Space == nsSAML && t.Name.Local == "AuthnContextDeclRef":
			return appendText(d, &rac.DeclRefs)
		}
		return d.Skip()
	})
}

// attrField is a string field filled from the attribute with local name local.
type attrField struct {
	local string
	dst   *string
}

// setAttrs fills each field from the last of attrs with its local name, whatever the
// namespace: what xml.Unmarshal does for an `xml:",attr"` field.
func setAttrs(attrs []xml.Attr, fields ...attrField) {
	for _, a := range attrs {
		for _, f := range fields {
			if a.Name.Local == f.local {
				*f.dst = a.Value
			}
		}
	}
}

// filled returns *p, allocating it first if nil: a repeated child element fills the same
// struct again, as xml.Unmarshal does with a pointer field.
func filled[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

// eachChild reads up to the end of the element just started, calling child with each child
// element's start; child must read that element to its end. Character data, comments and
// processing instructions between children are passed over.
func eachChild(d *xml.Decoder, child func(xml.StartElement) error) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if err := child(t); err != nil {
				return err
			}
		}
	}
}

// appendText reads the element just started and appends its own character data to *list,
// as xml.Unmarshal does for a []string field.
func appendText(d *xml.Decoder, list *[]string) error {
	v, err := elementText(d)
	if err == nil {
		*list = append(*list, v)
	}
	return err
}

// elementText reads up to the end of the element just started and returns its own character
// data; child elements are skipped, comments and processing instructions ignored.
func elementText(d *xml.Decoder) (string, error) {
	var data []byte
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return string(data), nil
		case xml.StartElement:
			if err := d.Skip(); err != nil {
				return "", err
			}
		case xml.CharData:
			data = append(data, t...)
		}
	}
}

// inbound is a decoded, gated and signature-checked AuthnRequest with the SP that sent it.
type inbound struct {
	req      authnRequest
	sp       *metadata.SP
	binding  string
	relay    string
	hasRelay bool
	signed   bool
}

// xmlBool parses xs:boolean ("true", "false", "1", "0"); absent is false.
func xmlBool(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, fmt.Errorf("not an xs:boolean: %q", s)
}

// readRedirect splits an HTTP-Redirect query as received, so that a query signature can be
// checked over the exact octets, and returns its message DEFLATE-decoded within
// maxInflateBytes (saml-bindings-2.0-os §3.4.4.1: DEFLATEd, base64ed, URL-encoded).
func (s *Server) readRedirect(rawQuery string) (*xmlsig.RedirectParams, []byte, error) {
	p, err := xmlsig.ParseRedirectQuery(rawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("redirect query: %w", err)
	}
	param := "SAMLResponse"
	if p.IsRequest {
		param = "SAMLRequest"
	}
	deflated, err := base64.StdEncoding.DecodeString(p.Message)
	if err != nil {
		return nil, nil, fmt.Errorf("%s base64: %w", param, err)
	}
	raw, err := s.inflater.Inflate(deflated, maxInflateBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s inflate: %w", param, err)
	}
	return p, raw, nil
}

// parseSAMLForm reads an HTTP-POST binding form (saml-bindings-2.0-os §3.5.4) of at most
// maxPOSTBytes: a larger body is a 413 page, an unreadable one a 400 page.
func parseSAMLForm(r *http.Request) error {
	r.Body = http.MaxBytesReader(nil, r.Body, maxPOSTBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return pageErr(http.StatusRequestEntityTooLarge, "error.badrequest", err)
		}
		return pageErr(http.StatusBadRequest, "error.badrequest", fmt.Errorf("form: %w", err))
	}
	return nil
}

// readAuthnRequest decodes the request from either binding and authenticates its issuer. Every
// failure here is answered with an error page: until the SP is known and the request is
// trustworthy, nothing may be sent to any address it names (SECURITY.md §4.1).
func (s *Server) readAuthnRequest(r *http.Request) (*inbound, error) {
	var (
		raw    []byte
		in     = &inbound{}
		params *xmlsig.RedirectParams
	)
	switch r.Method {
	case http.MethodGet:
		// saml-bindings-2.0-os §3.4.4: the message is DEFLATEd, base64ed and URL-encoded. The
		// query is read as received so that the signature covers the exact octets.
		if len(r.URL.RawQuery) > maxQueryBytes {
			return nil, pageErr(http.StatusRequestURITooLong, "error.badrequest", errors.New("query too long"))
		}
		p, msg, err := s.readRedirect(r.URL.RawQuery)
		if err == nil && !p.IsRequest {
			err = errors.New("redirect query: a SAMLResponse, not a SAMLRequest")
		}
		if err != nil {
			return nil, pageErr(http.StatusBadRequest, "error.badrequest", err)
		}
		raw, params = msg, p
		in.binding, in.relay, in.hasRelay = bindingRedirect, p.RelayState, p.HasRelay
	case http.MethodPost:
		if err := parseSAMLForm(r); err != nil {
			return nil, err
		}
		vals := r.PostForm["SAMLRequest"]
		relays := r.PostForm["RelayState"]
		if len(vals) != 1 || len(relays) > 1 {
			return nil, pageErr(http.StatusBadRequest, "error.badrequest", errors.New("SAMLRequest missing or repeated"))
		}
		// saml-bindings-2.0-os §3.5.4: base64 of the XML; some SPs wrap lines.
		dec, err := base64.StdEncoding.DecodeString(stripSpace(vals[0]))
		if err != nil {
			return nil, pageErr(http.StatusBadRequest, "error.badrequest", fmt.Errorf("SAMLRequest base64: %w", err))
		}
		raw = dec
		in.binding = bindingPOST
		if len(relays) == 1 {
			in.relay, in.hasRelay = relays[0], true
		}
	default:
		return nil, pageErr(http.StatusMethodNotAllowed, "error.method", errors.New("method"))
	}

	if err := xmlsig.GateCheck(raw, xmlgate.ProtocolLimits()); err != nil {
		return nil, pageErr(http.StatusBadRequest, "error.badrequest", fmt.Errorf("xml gate: %w", err))
	}
	if err := decodeAuthnRequest(raw, &in.req); err != nil {
		return nil, pageErr(http.StatusBadRequest, "error.badrequest", fmt.Errorf("unmarshal: %w", err))
	}
	if in.req.XMLName.Space != nsSAMLP || in.req.XMLName.Local != "AuthnRequest" {
		return nil, pageErr(http.StatusBadRequest, "error.badrequest", fmt.Errorf("root element %s is not samlp:AuthnRequest", in.req.XMLName.Local))
	}
	// crewjam dereferences a missing Issuer and panics; Atea answers before any lookup.
	if in.req.Issuer == nil || strings.TrimSpace(in.req.Issuer.Value) == "" {
		return nil, pageErr(http.StatusBadRequest, "error.badrequest", errors.New("no Issuer"))
	}
	entityID := strings.TrimSpace(in.req.Issuer.Value)
	sp, err := s.deps.SPs.Lookup(entityID)
	if err != nil {
		return nil, pageErr(http.StatusBadRequest, "error.unknownsp", fmt.Errorf("issuer lookup: %w", err))
	}
	in.sp = sp

	// Signatures: only keys from the metadata of the Issuer named in the request (R4).
	enveloped := in.req.Signature != nil
	switch {
	case params != nil && params.Signed():
		if enveloped {
			// Two competing signature regimes in one message (SECURITY.md §4.2).
			return nil, pageErr(http.StatusBadRequest, "error.signature", errors.New("redirect request with enveloped signature"))
		}
		if err := params.Verify(sp.SigningCerts); err != nil {
			return nil, pageErr(http.StatusBadRequest, "error.signature", fmt.Errorf("redirect signature: %w", err))
		}
		in.signed = true
	case enveloped:
		if in.binding == bindingRedirect {
			// saml-bindings-2.0-os §3.4.4.1: a Redirect message's XML signature must be
			// removed by the sender; the query signature is the one that counts.
			return nil, pageErr(http.StatusBadRequest, "error.signature", errors.New("enveloped signature on redirect binding"))
		}
		el, err := xmlsig.VerifyEnveloped(raw, sp.SigningCerts, s.now)
		if err != nil {
			return nil, pageErr(http.StatusBadRequest, "error.signature", fmt.Errorf("post signature: %w", err))
		}
		// R5: read the request again from exactly what was verified.
		doc := etree.NewDocument()
		doc.SetRoot(el)
		verified, err := doc.WriteToBytes()
		if err != nil {
			return nil, pageErr(http.StatusBadRequest, "error.signature", err)
		}
		in.req = authnRequest{}
		if err := decodeAuthnRequest(verified, &in.req); err != nil || in.req.Issuer == nil ||
			strings.TrimSpace(in.req.Issuer.Value) != entityID {
			return nil, pageErr(http.StatusBadRequest, "error.signature", errors.New("verified request differs"))
		}
		in.signed = true
	}
	set := s.spSettings(entityID)
	if !in.signed && (sp.AuthnRequestsSigned || s.cfg.RequireSignedRequests || set.RequireSignedRequests) {
		return nil, pageErr(http.StatusBadRequest, "error.signature", errors.New("unsigned request where a signature is required"))
	}
	return in, nil
}

// hasEnvelopedSignature reports whether the root element carries a ds:Signature child. It is
// only a dispatch hint: xmlsig enforces the exact signature shape.
func hasEnvelopedSignature(raw []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(raw))
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && t.Name.Space == nsDS && t.Name.Local == "Signature" {
				return true
			}
			if depth > 2 {
				if err := d.Skip(); err != nil {
					return false
				}
				depth--
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				return false
			}
		}
	}
}

func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// validNCName reports whether id can be an xs:ID (saml-core-2.0-os §1.3.4), within Atea's
// length bound; IDs are echoed in InResponseTo and used in store keys.
func validNCName(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// parseIssueInstant reads xs:dateTime; SAML requires UTC (saml-core-2.0-os §1.3.3).
func parseIssueInstant(s string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
}

func atoiIndex(s string) (int, bool) {
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0 && i <= 65535
}
