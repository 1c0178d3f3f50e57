package idp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/memstore"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/metadata/xmlgate"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// ErrUndecodable is returned (wrapped, with what could not be read) by [Server.Explain] when
// its input is not an AuthnRequest in any of the forms it accepts.
var ErrUndecodable = errors.New("idp: explain: input is not a readable AuthnRequest")

// How [Server.Explain] read its input (Explanation.Input).
const (
	InputXML           = "xml"            // the AuthnRequest XML itself (treated as HTTP-POST)
	InputPOSTValue     = "post-value"     // base64 of the XML: the HTTP-POST SAMLRequest value
	InputPOSTForm      = "post-form"      // an HTTP-POST form body (SAMLRequest=…&RelayState=…)
	InputRedirectURL   = "redirect-url"   // a whole HTTP-Redirect URL
	InputRedirectQuery = "redirect-query" // its query string (SAMLRequest=…&SigAlg=…&Signature=…)
	InputRedirectValue = "redirect-value" // the (URL-encoded) DEFLATEd+base64 SAMLRequest value
)

// Signature states (SignatureInfo.Status).
const (
	SignatureValid     = "valid"     // signed, and verified with the SP's metadata keys
	SignatureUnsigned  = "unsigned"  // not signed, and nothing requires a signature
	SignatureMissing   = "missing"   // not signed, but a signature is required
	SignatureInvalid   = "invalid"   // signed, but the signature does not verify
	SignatureUnchecked = "unchecked" // the SP is unknown: there is no key to check with
)

// Where a requested AuthnContextClassRef's level comes from (ClassRefLevel.Source).
const (
	SourceEIDAS   = "eIDAS LoA URI"
	SourceMapping = "config saml.classMapping"
	SourceUnknown = "unknown: ignored"
)

// maxExplainInput bounds what Explain reads: the largest form a browser may POST.
const maxExplainInput = maxPOSTBytes

// Explanation says what Atea would do with one AuthnRequest, and why: which SP, which level
// it asks for, which methods reach it, and whether the citizen would be offered a sign-in.
// It is for administrators ("why this level?") and holds no citizen data.
type Explanation struct {
	// Input is how the input was read (InputXML, InputRedirectURL, …); Binding is the
	// binding URI the request is treated as having arrived on.
	Input   string `json:"input"`
	Binding string `json:"binding"`

	RequestID    string `json:"requestID"`
	IssueInstant string `json:"issueInstant,omitempty"`
	Destination  string `json:"destination,omitempty"`
	// HasRelayState reports whether a RelayState came with the request (its value is the
	// SP's and is not repeated here).
	HasRelayState bool `json:"hasRelayState"`

	SP        SPInfo        `json:"sp"`
	Signature SignatureInfo `json:"signature"`
	ACS       ACSChoice     `json:"acs"`
	NameID    NameIDChoice  `json:"nameID"`

	ForceAuthn bool `json:"forceAuthn"`
	IsPassive  bool `json:"isPassive"`

	// Requested is the RequestedAuthnContext; nil when the request has none and the SP's
	// default level applies.
	Requested *RequestedContext `json:"requestedAuthnContext,omitempty"`
	// DefaultLevel is the SP's default level (used when nothing is requested) and
	// DefaultLevelFrom the setting it comes from.
	DefaultLevel     string `json:"defaultLevel"`
	DefaultLevelFrom string `json:"defaultLevelFrom"`
	// Acceptable are the levels an assertion may state, each with the class it would state
	// (saml-core-2.0-os §3.3.2.2.1); LevelProblem says why there are none.
	Acceptable   []AcceptableLevel `json:"acceptableLevels"`
	LevelProblem string            `json:"levelProblem,omitempty"`
	// Methods are every sign-in method Atea runs, each with whether it reaches an acceptable
	// level.
	Methods []MethodLevel `json:"methods"`

	Verdict Verdict `json:"verdict"`
	// Notes are caveats of the explanation (what it did not check).
	Notes []string `json:"notes,omitempty"`
}

// SPInfo is the SP that sent the request.
type SPInfo struct {
	// EntityID is the request's Issuer.
	EntityID string `json:"entityID"`
	// Known reports whether valid metadata is loaded for it; Problem says why not.
	Known       bool   `json:"known"`
	Problem     string `json:"problem,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	// MetadataFile is the file its metadata came from.
	MetadataFile string `json:"metadataFile,omitempty"`
	// Configured reports whether serviceProviders has settings for it.
	Configured bool `json:"configured"`
}

// SignatureInfo is the request's signature: how it is signed, whether that is required, and
// whether it verifies (saml-bindings-2.0-os §3.4.4.1, §3.5.4; xmldsig-core).
type SignatureInfo struct {
	// Status is one of SignatureValid, SignatureUnsigned, SignatureMissing,
	// SignatureInvalid, SignatureUnchecked.
	Status string `json:"status"`
	Signed bool   `json:"signed"`
	// Kind is "redirect" (SigAlg and Signature in the query) or "enveloped" (ds:Signature in
	// the XML); SigAlg is the redirect's signature algorithm.
	Kind   string `json:"kind,omitempty"`
	SigAlg string `json:"sigAlg,omitempty"`
	// RequiredBy names the settings that require a signature (none: optional).
	RequiredBy []string `json:"requiredBy,omitempty"`
	Problem    string   `json:"problem,omitempty"`
}

// ACSChoice is the AssertionConsumerService the response would go to, always taken from the
// SP's metadata (saml-core-2.0-os §3.4.1, SECURITY.md §4.1).
type ACSChoice struct {
	URL string `json:"url,omitempty"`
	// How is "AssertionConsumerServiceURL", "AssertionConsumerServiceIndex N" or
	// "metadata default".
	How     string `json:"how,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// NameIDChoice is the NameID format the assertion would use (saml-core-2.0-os §3.4.1.1).
type NameIDChoice struct {
	Requested string `json:"requested,omitempty"`
	Resolved  string `json:"resolved,omitempty"`
	// From is "request", "serviceProviders[].nameIDFormat" or "saml.defaultNameIDFormat".
	From    string `json:"from,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// RequestedContext is a RequestedAuthnContext (saml-core-2.0-os §3.3.2.2.1).
type RequestedContext struct {
	// Comparison is as sent ("" means exact).
	Comparison string          `json:"comparison"`
	ClassRefs  []ClassRefLevel `json:"classRefs"`
	DeclRefs   []string        `json:"declRefs,omitempty"`
}

// ClassRefLevel is one requested AuthnContextClassRef and the level it maps to.
type ClassRefLevel struct {
	ClassRef string `json:"classRef"`
	// Level is "low", "substantial", "high", or "" when unknown.
	Level string `json:"level,omitempty"`
	// Source is SourceEIDAS, SourceMapping or SourceUnknown.
	Source string `json:"source"`
}

// AcceptableLevel is a level an assertion may state and the class it would state.
type AcceptableLevel struct {
	Level    string `json:"level"`
	ClassRef string `json:"classRef"`
}

// MethodLevel is one sign-in method, the level it reaches and whether that is acceptable.
type MethodLevel struct {
	// Method is the method's ID: "password", "password+coordcard", "certificate", ….
	Method string `json:"method"`
	Name   string `json:"name"`
	Level  string `json:"level"`
	// Qualifies reports whether the level is acceptable; States is then the class the
	// assertion would state.
	Qualifies bool   `json:"qualifies"`
	States    string `json:"states,omitempty"`
}

// Verdict is the outcome: a sign-in is offered, or the SP gets a SAML status, or (when the SP
// cannot be trusted) the browser gets Atea's error page and the SP nothing.
type Verdict struct {
	SignIn bool `json:"signIn"`
	// Status and SubStatus are the short SAML status codes the SP would get ("Responder",
	// "NoAuthnContext"), saml-core-2.0-os §3.2.2.2.
	Status    string `json:"status,omitempty"`
	SubStatus string `json:"subStatus,omitempty"`
	// ErrorPage is the message key of the error page shown instead of any SAML answer.
	ErrorPage string `json:"errorPage,omitempty"`
	Reason    string `json:"reason"`
}

// decodedInput is an Explain input turned into the HTTP request an SP's browser would send.
type decodedInput struct {
	kind    string
	http    *http.Request
	form    url.Values // the POST form, parsed from a copy of the body
	raw     []byte     // the AuthnRequest XML
	params  *xmlsig.RedirectParams
	binding string
	req     authnRequest
}

// Explain reads an AuthnRequest (its XML, the POST binding's base64, a Redirect-binding URL,
// its query, or the SAMLRequest value alone) and explains what a sign-in for it would do. It
// runs the same reading, signature and validation code as /saml/sso, with the same limits,
// but against a scratch session store: the request ID is not consumed (the request can still
// be used afterwards) and nothing is written anywhere. An input that cannot be decoded gives
// an error wrapping ErrUndecodable; a request Atea would refuse gives an Explanation whose
// Verdict says so.
func (s *Server) Explain(ctx context.Context, input string) (Explanation, error) {
	d, err := s.decodeExplainInput(ctx, input)
	if err != nil {
		return Explanation{}, err
	}
	ex := Explanation{Input: d.kind, Binding: d.binding}
	entityID := strings.TrimSpace(d.req.Issuer.Value)

	// The same reading as /saml/sso: SP lookup, signatures, required signatures.
	in, readErr := s.readAuthnRequest(d.http)
	req := d.req
	var sp *metadata.SP
	if readErr == nil {
		// What the signature covers (R5), when there is one.
		req, sp = in.req, in.sp
	} else if found, err := s.deps.SPs.Lookup(entityID); err == nil {
		sp = found
	} else {
		ex.SP.Problem = err.Error()
	}
	set, configured := s.cfg.SPs[entityID]
	ex.SP.EntityID, ex.SP.Known, ex.SP.Configured = entityID, sp != nil, configured
	if sp != nil {
		ex.SP.DisplayName, ex.SP.MetadataFile = sp.DisplayName("en"), sp.Source
	}
	ex.RequestID, ex.IssueInstant, ex.Destination = req.ID, req.IssueInstant, req.Destination
	if d.params != nil {
		ex.HasRelayState = d.params.HasRelay
	} else {
		ex.HasRelayState = d.form.Has("RelayState")
	}
	ex.Signature = s.explainSignature(d, sp, set, readErr)
	ex.ACS = explainACS(&req, sp)
	ex.NameID = s.explainNameID(&req, set)
	ex.ForceAuthn, _ = xmlBool(req.ForceAuthn)
	ex.IsPassive, _ = xmlBool(req.IsPassive)
	s.explainLevels(&ex, &req, set)

	if readErr != nil {
		ex.Verdict = verdictOf(readErr)
	} else {
		ex.Verdict = s.dryRunValidate(ctx, in, &ex)
	}
	ex.Notes = append(ex.Notes,
		"replay not checked: explain never consumes the request ID; a request already used is refused with Requester/RequestDenied",
		"IssueInstant and Destination are checked against this server's clock and SSO URL "+s.ssoURL)
	return ex, nil
}

// decodeExplainInput recognizes the form of input and decodes it with the limits of
// request.go, down to a gated, parsed samlp:AuthnRequest with an Issuer.
func (s *Server) decodeExplainInput(ctx context.Context, input string) (*decodedInput, error) {
	v := strings.TrimSpace(strings.TrimPrefix(input, "\uFEFF"))
	switch {
	case v == "":
		return nil, fmt.Errorf("%w: empty input", ErrUndecodable)
	case len(v) > maxExplainInput:
		return nil, fmt.Errorf("%w: input of %d bytes (at most %d)", ErrUndecodable, len(v), maxExplainInput)
	}
	d := &decodedInput{}
	var err error
	switch {
	case strings.HasPrefix(v, "<"):
		d.kind = InputXML
		d.http, d.form, err = postRequest(ctx, "SAMLRequest="+url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(v))))
	case strings.Contains(v, "://") || strings.HasPrefix(v, "/") && strings.Contains(v, "?"):
		// Neither ":" nor "?" is in the base64 alphabet, so no SAMLRequest value looks like this.
		u, perr := url.Parse(v)
		if perr != nil {
			return nil, fmt.Errorf("%w: URL: %w", ErrUndecodable, perr)
		}
		if u.RawQuery == "" {
			return nil, fmt.Errorf("%w: URL has no query (no SAMLRequest)", ErrUndecodable)
		}
		d.kind = InputRedirectURL
		d.http, err = getRequest(ctx, u.RawQuery)
	case strings.HasPrefix(v, "?") || strings.Contains(v, "SAMLRequest="):
		q := strings.TrimPrefix(v, "?")
		d.kind = InputRedirectQuery
		d.http, err = getRequest(ctx, q)
		// A POST form body (as a HAR file or a proxy log shows it) looks the same: its
		// SAMLRequest is base64 of the XML, not of DEFLATE.
		if p, perr := xmlsig.ParseRedirectQuery(q); perr == nil && p.IsRequest && !p.Signed() {
			if b, berr := base64.StdEncoding.DecodeString(stripSpace(p.Message)); berr == nil && looksLikeXML(b) {
				d.kind = InputPOSTForm
				d.http, d.form, err = postRequest(ctx, q)
			}
		}
	default:
		val := v
		if strings.Contains(val, "%") {
			if val, err = url.QueryUnescape(val); err != nil {
				return nil, fmt.Errorf("%w: SAMLRequest URL-encoding: %w", ErrUndecodable, err)
			}
		}
		val = stripSpace(val)
		b, berr := base64.StdEncoding.DecodeString(val)
		if berr != nil {
			return nil, fmt.Errorf("%w: not XML, a URL, a query or base64: %w", ErrUndecodable, berr)
		}
		if looksLikeXML(b) {
			d.kind = InputPOSTValue
			d.http, d.form, err = postRequest(ctx, "SAMLRequest="+url.QueryEscape(val))
		} else {
			d.kind = InputRedirectValue
			d.http, err = getRequest(ctx, "SAMLRequest="+url.QueryEscape(val))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	if err := s.decodeMessage(d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	return d, nil
}

// decodeMessage gets the XML out of d.http the way readAuthnRequest does, and parses it; it
// is done here too so that a request from an unknown SP, or with a bad signature, can still
// be explained (readAuthnRequest stops there).
func (s *Server) decodeMessage(d *decodedInput) error {
	if d.http.Method == http.MethodGet {
		d.binding = bindingRedirect
		p, err := xmlsig.ParseRedirectQuery(d.http.URL.RawQuery)
		if err != nil {
			return fmt.Errorf("redirect query: %w", err)
		}
		if !p.IsRequest {
			return errors.New("redirect query carries a SAMLResponse, not a SAMLRequest")
		}
		deflated, err := base64.StdEncoding.DecodeString(p.Message)
		if err != nil {
			return fmt.Errorf("SAMLRequest base64: %w", err)
		}
		if d.raw, err = s.inflater.Inflate(deflated, maxInflateBytes); err != nil {
			return fmt.Errorf("SAMLRequest inflate: %w", err)
		}
		d.params = p
	} else {
		d.binding = bindingPOST
		body := d.form
		vals := body["SAMLRequest"]
		if len(vals) != 1 || len(body["RelayState"]) > 1 {
			return errors.New("SAMLRequest missing or repeated")
		}
		raw, err := base64.StdEncoding.DecodeString(stripSpace(vals[0]))
		if err != nil {
			return fmt.Errorf("SAMLRequest base64: %w", err)
		}
		d.raw = raw
	}
	if err := xmlsig.GateCheck(d.raw, xmlgate.ProtocolLimits()); err != nil {
		return fmt.Errorf("xml gate: %w", err)
	}
	if err := xml.Unmarshal(d.raw, &d.req); err != nil {
		return fmt.Errorf("unmarshal: %w", err)
	}
	if d.req.XMLName.Space != nsSAMLP || d.req.XMLName.Local != "AuthnRequest" {
		return fmt.Errorf("root element %s is not samlp:AuthnRequest", d.req.XMLName.Local)
	}
	if d.req.Issuer == nil || strings.TrimSpace(d.req.Issuer.Value) == "" {
		return errors.New("no Issuer")
	}
	return nil
}

func getRequest(ctx context.Context, rawQuery string) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/saml/sso", nil)
	if err != nil {
		return nil, err
	}
	// Set as is, never re-encoded: the Redirect signature covers these octets.
	r.URL.RawQuery = rawQuery
	return r, nil
}

// postRequest builds the form POST and parses the form from a copy of the body: the request
// handed to readAuthnRequest keeps its whole body and parses it itself, with its own limit.
func postRequest(ctx context.Context, body string) (*http.Request, url.Values, error) {
	vals, err := url.ParseQuery(body)
	if err != nil {
		return nil, nil, fmt.Errorf("form: %w", err)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/saml/sso", strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r, vals, nil
}

func looksLikeXML(b []byte) bool {
	b = bytes.TrimPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("\xEF\xBB\xBF"))
	return len(b) > 0 && b[0] == '<'
}

// explainSignature reports the signature as readAuthnRequest judged it.
func (s *Server) explainSignature(d *decodedInput, sp *metadata.SP, set SPSettings, readErr error) SignatureInfo {
	var si SignatureInfo
	switch {
	case d.params != nil && d.params.Signed():
		si.Signed, si.Kind, si.SigAlg = true, "redirect", d.params.SigAlg
	case hasEnvelopedSignature(d.raw):
		si.Signed, si.Kind = true, "enveloped"
	}
	if sp != nil && sp.AuthnRequestsSigned {
		si.RequiredBy = append(si.RequiredBy, "SP metadata AuthnRequestsSigned")
	}
	if s.cfg.RequireSignedRequests {
		si.RequiredBy = append(si.RequiredBy, "config saml.requireSignedRequests")
	}
	if set.RequireSignedRequests {
		si.RequiredBy = append(si.RequiredBy, "config serviceProviders[].requireSignedRequests")
	}
	var pe *pageError
	switch {
	case readErr == nil && si.Signed:
		si.Status = SignatureValid
	case readErr == nil:
		si.Status = SignatureUnsigned
	case errors.As(readErr, &pe) && pe.key == "error.signature":
		si.Status, si.Problem = SignatureInvalid, pe.err.Error()
		if !si.Signed {
			si.Status = SignatureMissing
		}
	case sp == nil:
		si.Status, si.Problem = SignatureUnchecked, "the SP is unknown: no metadata keys to check with"
	default:
		// The request was refused before its signature was looked at.
		si.Status, si.Problem = SignatureUnchecked, readErr.Error()
	}
	return si
}

// explainACS mirrors the ACS choice of validate (saml-core-2.0-os §3.4.1: URL or index, else
// the metadata default; HTTP-POST only).
func explainACS(req *authnRequest, sp *metadata.SP) ACSChoice {
	var c ACSChoice
	switch {
	case req.AssertionConsumerServiceURL != "" && req.ACSIndex != "":
		c.Problem = "both AssertionConsumerServiceURL and AssertionConsumerServiceIndex (mutually exclusive)"
	case req.ProtocolBinding != "" && req.ProtocolBinding != bindingPOST:
		c.Problem = fmt.Sprintf("ProtocolBinding %q: Atea answers with HTTP-POST only", req.ProtocolBinding)
	case sp == nil:
		c.Problem = "the SP is unknown: no metadata to take the ACS from"
	case req.AssertionConsumerServiceURL != "":
		c.How = "AssertionConsumerServiceURL"
		if ep, ok := sp.ACSByURL(req.AssertionConsumerServiceURL); ok {
			c.URL = ep.Location
		} else {
			c.Problem = fmt.Sprintf("AssertionConsumerServiceURL %q is not an HTTP-POST ACS in the SP's metadata", req.AssertionConsumerServiceURL)
		}
	case req.ACSIndex != "":
		c.How = "AssertionConsumerServiceIndex " + req.ACSIndex
		i, ok := atoiIndex(req.ACSIndex)
		if !ok {
			c.Problem = fmt.Sprintf("AssertionConsumerServiceIndex %q is not an index", req.ACSIndex)
			break
		}
		if ep, ok := sp.ACSByIndex(i); ok {
			c.URL = ep.Location
		} else {
			c.Problem = "no HTTP-POST ACS with index " + strconv.Itoa(i) + " in the SP's metadata"
		}
	default:
		c.How = "metadata default"
		if ep, ok := sp.DefaultACS(); ok {
			c.URL = ep.Location
		} else {
			c.Problem = "the SP's metadata has no HTTP-POST ACS"
		}
	}
	return c
}

func (s *Server) explainNameID(req *authnRequest, set SPSettings) NameIDChoice {
	var c NameIDChoice
	if req.NameIDPolicy != nil {
		c.Requested = req.NameIDPolicy.Format
	}
	switch {
	case c.Requested != "" && c.Requested != nameIDUnspecified:
		c.From = "request"
	case set.NameIDFormat != "":
		c.From = "serviceProviders[].nameIDFormat"
	default:
		c.From = "saml.defaultNameIDFormat"
	}
	f, err := s.nameIDFormat(c.Requested, set)
	if err != nil {
		c.Problem = err.Error()
	}
	c.Resolved = f
	return c
}

// explainLevels fills the requested context, the default and acceptable levels and the
// methods, with acceptableLevels: the very policy validate applies (levels.go).
func (s *Server) explainLevels(ex *Explanation, req *authnRequest, set SPSettings) {
	spDefault, from := s.cfg.DefaultLevel, "config saml.defaultLevel"
	if set.DefaultLevel != authn.LevelNone {
		spDefault, from = set.DefaultLevel, "config serviceProviders[].defaultLevel"
	}
	ex.DefaultLevel, ex.DefaultLevelFrom = spDefault.String(), from
	var comparison string
	var refs []string
	if rac := req.RequestedAuthnContext; rac != nil {
		comparison, refs = rac.Comparison, rac.ClassRefs
		rc := &RequestedContext{Comparison: comparison, ClassRefs: []ClassRefLevel{}, DeclRefs: rac.DeclRefs}
		for _, c := range refs {
			cl := ClassRefLevel{ClassRef: c, Source: SourceUnknown}
			if l, ok := authn.LevelFromEIDASURI(c); ok {
				cl.Level, cl.Source = l.String(), SourceEIDAS
			} else if l, ok := s.cfg.ClassMapping[c]; ok {
				cl.Level, cl.Source = l.String(), SourceMapping
			}
			rc.ClassRefs = append(rc.ClassRefs, cl)
		}
		ex.Requested = rc
	}
	acceptable, err := s.acceptableLevels(comparison, refs, spDefault)
	switch {
	case ex.Requested != nil && len(ex.Requested.DeclRefs) > 0 && len(refs) == 0:
		ex.LevelProblem = "only AuthnContextDeclRef requested: not supported"
		acceptable = nil
	case err != nil:
		ex.LevelProblem = err.Error()
	}
	ex.Acceptable = []AcceptableLevel{}
	for _, a := range acceptable {
		ex.Acceptable = append(ex.Acceptable, AcceptableLevel{Level: a.Level, ClassRef: a.ClassRef})
	}
	ex.Methods = s.explainMethods(acceptable)
	if ex.LevelProblem == "" && !anyQualifies(ex.Methods) {
		ex.LevelProblem = "no configured method reaches an acceptable level"
	}
}

// explainMethods lists the methods of reachableLevels one by one: the password (B@k), the
// password plus each second factor (B@kQ), and the certificate.
func (s *Server) explainMethods(acceptable []store.LevelRef) []MethodLevel {
	type m struct {
		id, name string
		level    authn.Level
	}
	all := []m{{"password", "B@k: DNI/NIE + password", authn.LevelLow}}
	for _, f := range s.deps.Factors {
		all = append(all, m{"password+" + f.ID(), "B@kQ: password + " + factorName(f.ID()), f.Level()})
	}
	if l := s.certLevel(); l > authn.LevelNone {
		all = append(all, m{"certificate", "electronic DNI / qualified certificate", l})
	}
	out := make([]MethodLevel, 0, len(all))
	for _, x := range all {
		ml := MethodLevel{Method: x.id, Name: x.name, Level: x.level.String()}
		if lr, ok := pickLevel(acceptable, x.level); ok {
			ml.Qualifies, ml.States = true, lr.ClassRef
		}
		out = append(out, ml)
	}
	return out
}

func factorName(id string) string {
	switch id {
	case "coordcard":
		return "coordinate card"
	case "smsotp":
		return "SMS code"
	}
	return id
}

func anyQualifies(ms []MethodLevel) bool {
	for _, m := range ms {
		if m.Qualifies {
			return true
		}
	}
	return false
}

// dryRunValidate runs validate, the exact checks of /saml/sso, on a twin of s whose session
// store is a fresh scratch store: validate's replay check consumes the ID there, never in
// the real store, so explaining a request does not use it up.
func (s *Server) dryRunValidate(ctx context.Context, in *inbound, ex *Explanation) Verdict {
	deps := s.deps
	s.currentKeys().set.Into(&deps) // s.deps holds no key material (keyset.go)
	scratch := memstore.New(s.now)
	defer func() { _ = scratch.Close() }()
	deps.Store = scratch
	twin, err := New(s.cfg, deps)
	if err != nil {
		return Verdict{Reason: "could not evaluate: " + err.Error()}
	}
	p, err := twin.validate(ctx, in)
	if err != nil {
		return verdictOf(err)
	}
	if p.IsPassive {
		return Verdict{Status: shortStatus(samlxml.StatusResponder), SubStatus: shortStatus(samlxml.StatusNoPassive),
			Reason: "IsPassive: no sign-in is shown; an existing SSO session at an acceptable level is answered, otherwise Responder/NoPassive"}
	}
	var names []string
	byPassword, byCert := false, false
	for _, m := range ex.Methods {
		if !m.Qualifies {
			continue
		}
		names = append(names, m.Method+" ("+m.Level+")")
		if m.Method == "certificate" {
			byCert = true
		} else {
			byPassword = true
		}
	}
	v := Verdict{SignIn: true, Reason: "sign-in offered with " + strings.Join(names, ", ")}
	switch {
	case byCert && !byPassword:
		v.Reason += "; only the certificate qualifies, so the browser goes straight to certificate sign-in"
	case !ex.Methods[0].Qualifies:
		v.Reason += "; the password is asked first, then the second factor; B@k holders without B@kQ see the page explaining B@kQ"
	}
	if p.ForceAuthn {
		v.Reason += "; ForceAuthn: an existing SSO session is not reused"
	}
	return v
}

// verdictOf turns the error of readAuthnRequest or validate into the answer the SP or the
// browser would get.
func verdictOf(err error) Verdict {
	var se *statusError
	var pe *pageError
	switch {
	case errors.As(err, &se):
		reason := se.msg
		if se.err != nil {
			reason = strings.TrimPrefix(reason+": "+se.err.Error(), ": ")
		}
		return Verdict{Status: shortStatus(se.code), SubStatus: shortStatus(se.sub), Reason: reason}
	case errors.As(err, &pe):
		return Verdict{ErrorPage: pe.key, Reason: pe.err.Error() +
			"; no SAML response is sent: until the SP and its request are trusted, Atea answers with its own error page (SECURITY.md §4.1)"}
	}
	return Verdict{Reason: err.Error()}
}

// shortStatus is the last part of a SAML status URI ("Responder" for …:status:Responder).
func shortStatus(uri string) string {
	return uri[strings.LastIndexByte(uri, ':')+1:]
}
