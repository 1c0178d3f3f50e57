package idp_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
)

const classPPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

// captured is what a test SP would have sent: the Redirect URL, or the POST form.
type captured struct {
	url  string
	form url.Values
	id   string
}

// recorder is a transport that keeps the request instead of sending it.
type recorder struct {
	mu   sync.Mutex
	last *http.Request
	body string
}

func (rt *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.last = r
	rt.body = ""
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		rt.body = string(b)
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// capture builds the AuthnRequest ti.send would send, with the same signing code, but keeps
// it instead of sending it.
func capture(t *testing.T, ti *testIdP, sp *testSP, rq request) captured {
	t.Helper()
	rec := &recorder{}
	b := &browser{t: t, c: &http.Client{Transport: rec}}
	_, id := ti.send(b, sp, rq)
	c := captured{id: id, url: rec.last.URL.String()}
	if rec.last.Method == http.MethodPost {
		v, err := url.ParseQuery(rec.body)
		if err != nil {
			t.Fatal(err)
		}
		c.form = v
	}
	return c
}

func (c captured) xml(t *testing.T) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(c.form.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func explain(t *testing.T, ti *testIdP, input string) idp.Explanation {
	t.Helper()
	ex, err := ti.srv.Explain(t.Context(), input)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	return ex
}

func levels(ex idp.Explanation) []string {
	var out []string
	for _, a := range ex.Acceptable {
		out = append(out, a.Level+"="+a.ClassRef)
	}
	return out
}

func qualifying(ex idp.Explanation) []string {
	var out []string
	for _, m := range ex.Methods {
		if m.Qualifies {
			out = append(out, m.Method)
		}
	}
	return out
}

func exact(class string) func(*saml.AuthnRequest) {
	return func(r *saml.AuthnRequest) {
		r.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: "exact", AuthnContextClassRef: class}
	}
}

// TestExplainLevels: the requested level, where each class's level comes from, the acceptable
// levels with the class stated, the methods that qualify and the verdict.
func TestExplainLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		factors     []authn.SecondFactor
		mutate      func(*saml.AuthnRequest)
		wantSource  string // of the first requested class ("" when none is requested)
		wantLevels  []string
		wantMethods []string
		wantSignIn  bool
		wantSub     string
	}{
		{
			name:        "no requested context: the SP's default, low",
			wantLevels:  []string{"low=" + authn.URILow, "substantial=" + authn.URISubstantial, "high=" + authn.URIHigh},
			wantMethods: []string{"password"},
			wantSignIn:  true,
		},
		{
			name:        "minimum substantial with a card",
			factors:     []authn.SecondFactor{&fakeCard{}},
			mutate:      minimum(loaSubstantial),
			wantSource:  idp.SourceEIDAS,
			wantLevels:  []string{"substantial=" + authn.URISubstantial, "high=" + authn.URIHigh},
			wantMethods: []string{"password+coordcard"},
			wantSignIn:  true,
		},
		{
			name:       "minimum substantial without a factor",
			mutate:     minimum(loaSubstantial),
			wantSource: idp.SourceEIDAS,
			wantLevels: []string{"substantial=" + authn.URISubstantial, "high=" + authn.URIHigh},
			wantSub:    "NoAuthnContext",
		},
		{
			name:        "exact legacy PasswordProtectedTransport, mapped by config",
			mutate:      exact(classPPT),
			wantSource:  idp.SourceMapping,
			wantLevels:  []string{"low=" + classPPT},
			wantMethods: []string{"password"},
			wantSignIn:  true,
		},
		{
			name:       "unknown class",
			factors:    []authn.SecondFactor{&fakeCard{}},
			mutate:     exact("urn:example:ac:classes:Telepathy"),
			wantSource: idp.SourceUnknown,
			wantSub:    "NoAuthnContext",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) { d.Factors = tt.factors })
			sp := ti.newSP("sp-one", false, nil)
			c := capture(t, ti, sp, request{binding: "redirect", mutate: tt.mutate})
			ex := explain(t, ti, c.url)

			if ex.SP.EntityID != sp.sp.EntityID || !ex.SP.Known {
				t.Errorf("SP = %+v, want the known %s", ex.SP, sp.sp.EntityID)
			}
			if ex.RequestID != c.id || ex.Input != idp.InputRedirectURL {
				t.Errorf("request ID %q, input %q; want %q, %q", ex.RequestID, ex.Input, c.id, idp.InputRedirectURL)
			}
			if ex.ACS.URL != sp.sp.AcsURL.String() || ex.ACS.Problem != "" {
				t.Errorf("ACS = %+v, want %s", ex.ACS, sp.sp.AcsURL.String())
			}
			if ex.DefaultLevel != "low" {
				t.Errorf("default level = %q, want low", ex.DefaultLevel)
			}
			switch {
			case tt.wantSource == "" && ex.Requested != nil:
				t.Errorf("requested context = %+v, want none", ex.Requested)
			case tt.wantSource != "" && (ex.Requested == nil || len(ex.Requested.ClassRefs) != 1):
				t.Errorf("requested context = %+v, want one class", ex.Requested)
			case tt.wantSource != "" && ex.Requested.ClassRefs[0].Source != tt.wantSource:
				t.Errorf("class source = %q, want %q", ex.Requested.ClassRefs[0].Source, tt.wantSource)
			}
			if got := strings.Join(levels(ex), " "); got != strings.Join(tt.wantLevels, " ") {
				t.Errorf("acceptable = %s, want %s", got, strings.Join(tt.wantLevels, " "))
			}
			if got := strings.Join(qualifying(ex), " "); got != strings.Join(tt.wantMethods, " ") {
				t.Errorf("qualifying methods = %q, want %q", got, strings.Join(tt.wantMethods, " "))
			}
			if ex.Verdict.SignIn != tt.wantSignIn || ex.Verdict.SubStatus != tt.wantSub {
				t.Errorf("verdict = %+v, want sign-in %v, sub-status %q", ex.Verdict, tt.wantSignIn, tt.wantSub)
			}
			if !tt.wantSignIn && (ex.Verdict.Status != "Responder" || ex.LevelProblem == "") {
				t.Errorf("refused: status %q, level problem %q; want Responder and a reason", ex.Verdict.Status, ex.LevelProblem)
			}
		})
	}
}

// TestExplainMatchesSignIn: for each request, the verdict is what /saml/sso then does with
// the very same request (explaining it first did not use it up): a sign-in form, or the SAML
// status named.
func TestExplainMatchesSignIn(t *testing.T) {
	t.Parallel()
	for _, binding := range []string{"redirect", "post"} {
		t.Run(binding, func(t *testing.T) {
			t.Parallel()
			ti := newTestIdPWithFactors(t, &fakeCard{})
			sp := ti.newSP("sp-one", false, nil)
			c := capture(t, ti, sp, request{binding: binding, mutate: minimum(loaSubstantial)})
			input := c.url
			if binding == "post" {
				input = c.form.Get("SAMLRequest")
			}
			ex := explain(t, ti, input)
			if !ex.Verdict.SignIn {
				t.Fatalf("verdict = %+v, want a sign-in", ex.Verdict)
			}
			// Twice: explaining never consumes.
			if again := explain(t, ti, input); !again.Verdict.SignIn {
				t.Fatalf("second explanation = %+v", again.Verdict)
			}
			b := newBrowser(t)
			var p *page
			if binding == "post" {
				p = b.postForm(ti.url+"/saml/sso", c.form)
			} else {
				p = b.get(c.url)
			}
			p = b.login(p, bakqDNI, citizenPassword)
			f := p.form("cell_B3")
			if f == nil {
				t.Fatalf("after the password, want the card page; got HTTP %d", p.status)
			}
			a := sp.accept(t, b.submit(p, f, map[string]string{"cell_B3": "123", "cell_D1": "456"}).samlResponse(t), c.id)
			if got := classRef(a); got != loaSubstantial {
				t.Errorf("class = %q, want substantial", got)
			}
			// Now used: the explanation of a replay still says sign-in (it cannot know), but
			// says so in its notes.
			if ex := explain(t, ti, input); !strings.Contains(strings.Join(ex.Notes, " "), "replay not checked") {
				t.Errorf("notes %q lack the replay caveat", ex.Notes)
			}
		})
	}
}

// TestExplainUnknownSP: an Issuer without metadata is explained (levels included), and the
// verdict is Atea's error page, never a SAML response.
func TestExplainUnknownSP(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	c := capture(t, ti, sp, request{binding: "redirect", mutate: func(r *saml.AuthnRequest) {
		r.Issuer.Value = "https://stranger.test/sp"
		exact(classPPT)(r)
	}})
	ex := explain(t, ti, c.url)
	if ex.SP.Known || ex.SP.EntityID != "https://stranger.test/sp" || ex.SP.Problem == "" {
		t.Errorf("SP = %+v, want unknown with a reason", ex.SP)
	}
	if ex.Verdict.SignIn || ex.Verdict.ErrorPage != "error.unknownsp" || ex.Verdict.Status != "" {
		t.Errorf("verdict = %+v, want the unknown-SP page and no SAML status", ex.Verdict)
	}
	if ex.Signature.Status != idp.SignatureUnchecked || ex.ACS.URL != "" {
		t.Errorf("signature %q, ACS %q: want unchecked and none", ex.Signature.Status, ex.ACS.URL)
	}
	if got := strings.Join(levels(ex), " "); got != "low="+classPPT {
		t.Errorf("acceptable = %s, want low stated as PasswordProtectedTransport", got)
	}
}

// TestExplainSignatures: a signed Redirect URL verifies with the SP's metadata key; a
// tampered one, one signed with another key, and an unsigned one where the metadata demands
// signatures are each explained as such, with Atea's signature error page.
func TestExplainSignatures(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", true, nil)

	signed := capture(t, ti, sp, request{binding: "redirect", sign: true})
	other := capture(t, ti, sp, request{binding: "redirect", sign: true, signWith: testKeys()[3]})
	unsigned := capture(t, ti, sp, request{binding: "redirect"})
	post := capture(t, ti, sp, request{binding: "post", sign: true})
	u, err := url.Parse(signed.url)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(signed.url, "&SigAlg=", "&RelayState=x&SigAlg=", 1)

	tests := []struct {
		name, input string
		wantStatus  string
		wantSignIn  bool
	}{
		{"redirect URL", signed.url, idp.SignatureValid, true},
		{"redirect query", u.RawQuery, idp.SignatureValid, true},
		{"enveloped XML", post.xml(t), idp.SignatureValid, true},
		{"tampered", tampered, idp.SignatureInvalid, false},
		{"other key", other.url, idp.SignatureInvalid, false},
		{"unsigned but required", unsigned.url, idp.SignatureMissing, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ex := explain(t, ti, tt.input)
			if ex.Signature.Status != tt.wantStatus {
				t.Errorf("signature = %+v, want %s", ex.Signature, tt.wantStatus)
			}
			if len(ex.Signature.RequiredBy) == 0 {
				t.Error("signature not reported as required by the SP's metadata (AuthnRequestsSigned)")
			}
			if ex.Verdict.SignIn != tt.wantSignIn {
				t.Errorf("verdict = %+v, want sign-in %v", ex.Verdict, tt.wantSignIn)
			}
			if !tt.wantSignIn && ex.Verdict.ErrorPage != "error.signature" {
				t.Errorf("error page = %q, want error.signature", ex.Verdict.ErrorPage)
			}
		})
	}
	if ex := explain(t, ti, signed.url); ex.Signature.Kind != "redirect" || ex.Signature.SigAlg == "" {
		t.Errorf("signature = %+v, want the redirect kind and its SigAlg", ex.Signature)
	}
}

// TestExplainInputForms: every accepted spelling of the same request gives the same answer.
func TestExplainInputForms(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	relay := "state-1"
	redir := capture(t, ti, sp, request{binding: "redirect", relay: &relay})
	post := capture(t, ti, sp, request{binding: "post", relay: &relay})
	u, _ := url.Parse(redir.url)
	value := u.Query().Get("SAMLRequest")

	tests := []struct{ name, input, wantKind string }{
		{"xml", "\n" + post.xml(t) + "\n", idp.InputXML},
		{"post value", post.form.Get("SAMLRequest"), idp.InputPOSTValue},
		{"post value, wrapped", wrap(post.form.Get("SAMLRequest")), idp.InputPOSTValue},
		{"post form", post.form.Encode(), idp.InputPOSTForm},
		{"redirect URL", redir.url, idp.InputRedirectURL},
		{"redirect path", u.RequestURI(), idp.InputRedirectURL},
		{"redirect query", "?" + u.RawQuery, idp.InputRedirectQuery},
		{"redirect value", value, idp.InputRedirectValue},
		{"redirect value, URL-encoded", url.QueryEscape(value), idp.InputRedirectValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ex := explain(t, ti, tt.input)
			if ex.Input != tt.wantKind {
				t.Errorf("input read as %q, want %q", ex.Input, tt.wantKind)
			}
			if !ex.Verdict.SignIn || !ex.SP.Known || ex.NameID.Resolved == "" {
				t.Errorf("verdict %+v, SP known %v, NameID %+v: want a sign-in", ex.Verdict, ex.SP.Known, ex.NameID)
			}
			wantRelay := tt.wantKind != idp.InputXML && tt.wantKind != idp.InputPOSTValue && tt.wantKind != idp.InputRedirectValue
			if ex.HasRelayState != wantRelay {
				t.Errorf("has RelayState = %v, want %v", ex.HasRelayState, wantRelay)
			}
		})
	}
}

func wrap(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// TestExplainPolicy: the other refusals are explained with the status validate returns.
func TestExplainPolicy(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, func(c *idp.Config) {
		c.SPs = map[string]idp.SPSettings{"https://sp-one.test/saml/metadata": {DefaultLevel: authn.LevelSubstantial}}
	})
	sp := ti.newSP("sp-one", false, nil)
	tests := []struct {
		name     string
		mutate   func(*saml.AuthnRequest)
		check    func(t *testing.T, ex idp.Explanation)
		wantSub  string
		wantPage string
	}{
		{name: "SP default substantial, no factor", wantSub: "NoAuthnContext", check: func(t *testing.T, ex idp.Explanation) {
			if ex.DefaultLevel != "substantial" || !strings.Contains(ex.DefaultLevelFrom, "serviceProviders") {
				t.Errorf("default = %s from %s, want substantial from serviceProviders", ex.DefaultLevel, ex.DefaultLevelFrom)
			}
		}},
		{name: "passive", mutate: func(r *saml.AuthnRequest) { r.IsPassive = ptr(true); exact(classPPT)(r) }, wantSub: "NoPassive"},
		{name: "ACS not in metadata", mutate: func(r *saml.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.test/acs" }, wantPage: "error.acs",
			check: func(t *testing.T, ex idp.Explanation) {
				if ex.ACS.Problem == "" || ex.ACS.URL != "" {
					t.Errorf("ACS = %+v, want a problem and no URL", ex.ACS)
				}
			}},
		{name: "wrong destination", mutate: func(r *saml.AuthnRequest) { r.Destination = "https://other-idp.test/sso"; exact(classPPT)(r) }, wantSub: "RequestDenied"},
		{name: "NameID format", mutate: func(r *saml.AuthnRequest) {
			r.NameIDPolicy.Format = ptr("urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos")
			exact(classPPT)(r)
		}, wantSub: "InvalidNameIDPolicy", check: func(t *testing.T, ex idp.Explanation) {
			if ex.NameID.Problem == "" || ex.NameID.From != "request" {
				t.Errorf("NameID = %+v, want a problem with the requested format", ex.NameID)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := capture(t, ti, sp, request{binding: "redirect", mutate: tt.mutate})
			ex := explain(t, ti, c.url)
			if ex.Verdict.SignIn || ex.Verdict.SubStatus != tt.wantSub || ex.Verdict.ErrorPage != tt.wantPage || ex.Verdict.Reason == "" {
				t.Errorf("verdict = %+v, want sub-status %q, page %q and a reason", ex.Verdict, tt.wantSub, tt.wantPage)
			}
			if tt.check != nil {
				tt.check(t, ex)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestExplainGarbage: input that is not an AuthnRequest is an error naming what could not
// be decoded, never a panic or an explanation.
func TestExplainGarbage(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	deflate := func(s string) string {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		_, _ = fw.Write([]byte(s))
		_ = fw.Close()
		return base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	bomb := deflate("<a>" + strings.Repeat("x", 1<<20))
	tests := []struct{ name, input, want string }{
		{"empty", "  \n", "empty"},
		{"words", "hello world", "base64"},
		{"broken XML", "<samlp:AuthnRequest", "xml gate"},
		{"wrong root", `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`, "not samlp:AuthnRequest"},
		{"no issuer", b64(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" Version="2.0"/>`), "no Issuer"},
		{"DTD", `<!DOCTYPE x [<!ENTITY a "b">]><x/>`, "xml gate"},
		{"base64 of binary", b64("\x00\x01\x02 not deflate"), "inflate"},
		{"inflate bomb", bomb, "inflate"},
		{"URL without query", "https://idp.test/saml/sso", "no query"},
		{"response, not request", "?SAMLResponse=" + url.QueryEscape(deflate("<x/>")), "SAMLResponse"},
		{"repeated SAMLRequest", "SAMLRequest=a&SAMLRequest=b", "redirect query"},
		{"bad percent", "abc%zz", "URL-encoding"},
		{"too large", strings.Repeat("A", 300<<10), "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ti.srv.Explain(t.Context(), tt.input)
			if !errors.Is(err, idp.ErrUndecodable) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Explain(%.40q) error = %v, want ErrUndecodable naming %q", tt.input, err, tt.want)
			}
		})
	}
}

// TestExplainJSON: the explanation serializes with stable field names (atea explain --json).
func TestExplainJSON(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	ex := explain(t, ti, capture(t, ti, sp, request{binding: "redirect"}).url)
	b, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"sp":{"entityID":`, `"acceptableLevels":[`, `"methods":[`, `"verdict":{"signIn":true`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

// FuzzExplain: Explain never panics, and either explains or says what it could not decode.
func FuzzExplain(f *testing.F) {
	ti := newTestIdP(f, nil)
	f.Add("")
	f.Add("<samlp:AuthnRequest/>")
	f.Add("SAMLRequest=fZFNT8MwDIb%2FSuV7m%2FRjsEZrJ")
	f.Add("https://idp.test/saml/sso?SAMLRequest=%3D%3D&SigAlg=x&Signature=y")
	f.Add("PHNhbWxwOkF1dGhuUmVxdWVzdCB4bWxuczpzYW1scD0idXJuOm9hc2lzOm5hbWVzOnRjOlNBTUw6Mi4wOnByb3RvY29sIi8+")
	f.Add(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0"><saml:Issuer>x</saml:Issuer><samlp:RequestedAuthnContext Comparison="better"><saml:AuthnContextClassRef>y</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>`)
	f.Fuzz(func(t *testing.T, input string) {
		ex, err := ti.srv.Explain(t.Context(), input)
		if err != nil {
			if !errors.Is(err, idp.ErrUndecodable) {
				t.Fatalf("error %v does not wrap ErrUndecodable", err)
			}
			return
		}
		if ex.SP.EntityID == "" || ex.Verdict.Reason == "" {
			t.Fatalf("explanation without SP or reason: %+v", ex)
		}
	})
}
