package idp_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RSA-OAEP mgf1p's hash, what SPs send (not a signature)
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/net/html"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/redisstore"
	"github.com/ateaidp/atea/idp/store/redisstore/redistest"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

const (
	statusPartialLogout    = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
	statusUnknownPrincipal = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
	statusRequester        = "urn:oasis:names:tc:SAML:2.0:status:Requester"
)

// sloSP is a crewjam ServiceProvider living in its own httptest server, with SingleLogoutService
// endpoints that behave as a real SP's: it checks the IdP's signature on each LogoutRequest,
// records it, and answers with a signed LogoutResponse (or, by mode, refuses, never answers,
// or hangs on SOAP).
type sloSP struct {
	t    *testing.T
	ti   *testIdP
	name string
	sp   *saml.ServiceProvider
	key  *rsa.PrivateKey
	srv  *httptest.Server
	idp  []*x509.Certificate
	done chan struct{}

	mu       sync.Mutex
	mode     string // "" answers Success; "refuse", "silent", "hang"
	received []*saml.LogoutRequest
	errs     []error
	// The LogoutResponse the IdP sent this SP as initiator: the raw query or form value.
	respQuery, respForm string
	lastRelay           string // the RelayState of the last LogoutRequest left unanswered
}

// newSLOSP registers an SP whose metadata offers SingleLogoutService on bindings ("redirect",
// "post", "soap", in that order of listing).
func (ti *testIdP) newSLOSP(name string, key *rsa.PrivateKey, bindings ...string) *sloSP {
	t := ti.t.(*testing.T)
	t.Helper()
	s := &sloSP{t: t, ti: ti, name: name, key: key}
	s.done = make(chan struct{})
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	t.Cleanup(func() { close(s.done) }) // runs before Close: cleanups run last-in first-out
	base := s.srv.URL
	md, _ := url.Parse(base + "/saml/metadata")
	acs, _ := url.Parse(base + "/saml/acs")
	slo, _ := url.Parse(base + "/slo")
	var idpMeta saml.EntityDescriptor
	if err := xml.Unmarshal(ti.srv.Metadata(), &idpMeta); err != nil {
		t.Fatal(err)
	}
	// The IdP metadata's SingleLogoutService is published by BuildMetadata (another change);
	// the SP is told of it here so the test does not depend on that.
	idpMeta.IDPSSODescriptors[0].SingleLogoutServices = []saml.Endpoint{
		{Binding: saml.HTTPRedirectBinding, Location: ti.srv.SLOURL()},
		{Binding: saml.HTTPPostBinding, Location: ti.srv.SLOURL()},
	}
	for _, kd := range idpMeta.IDPSSODescriptors[0].KeyDescriptors {
		der, _ := base64.StdEncoding.DecodeString(kd.KeyInfo.X509Data.X509Certificates[0].Data)
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		s.idp = append(s.idp, c)
	}
	cert := selfSigned(t, key, name)
	s.sp = &saml.ServiceProvider{
		EntityID: md.String(), Key: key, Certificate: cert, MetadataURL: *md, AcsURL: *acs, SloURL: *slo,
		IDPMetadata: &idpMeta, AuthnNameIDFormat: saml.TransientNameIDFormat, SignatureMethod: dsig.RSASHA256SignatureMethod,
	}
	ed := s.sp.Metadata()
	var eps []saml.Endpoint
	for _, b := range bindings {
		switch b {
		case "redirect":
			eps = append(eps, saml.Endpoint{Binding: saml.HTTPRedirectBinding, Location: base + "/slo"})
		case "post":
			eps = append(eps, saml.Endpoint{Binding: saml.HTTPPostBinding, Location: base + "/slo"})
		case "soap":
			eps = append(eps, saml.Endpoint{Binding: saml.SOAPBinding, Location: base + "/soap"})
		}
	}
	ed.SPSSODescriptors[0].SingleLogoutServices = eps
	ti.publishSP(name, ed)
	return s
}

func (s *sloSP) setMode(m string) { s.mu.Lock(); s.mode = m; s.mu.Unlock() }

func (s *sloSP) fail(w http.ResponseWriter, err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (s *sloSP) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode := s.mode
	s.mu.Unlock()
	switch {
	case r.URL.Path == "/soap":
		s.serveSOAP(w, r, mode)
		return
	case r.URL.Path == "/saml/acs":
		// A signed-in landing page (the browser test waits for it; the assertion itself is
		// checked by the tests that go through ti.send).
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>`+s.name+`</title><p id="acs">signed in to `+s.name+`</p>`)
		return
	case r.URL.Path != "/slo":
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodGet && r.URL.Query().Has("SAMLResponse") {
		s.mu.Lock()
		s.respQuery = r.URL.RawQuery
		s.mu.Unlock()
		s.signedOutPage(w)
		return
	}
	_ = r.ParseForm()
	if v := r.PostForm.Get("SAMLResponse"); v != "" {
		s.mu.Lock()
		s.respForm = v
		s.mu.Unlock()
		s.signedOutPage(w)
		return
	}
	// A LogoutRequest from the IdP: check its signature as the binding says.
	var raw []byte
	relay := ""
	if r.Method == http.MethodGet {
		p, err := xmlsig.ParseRedirectQuery(r.URL.RawQuery)
		if err != nil {
			s.fail(w, err)
			return
		}
		if err := p.Verify(s.idp); err != nil {
			s.fail(w, err)
			return
		}
		d, _ := base64.StdEncoding.DecodeString(p.Message)
		raw, err = io.ReadAll(flate.NewReader(bytes.NewReader(d)))
		if err != nil {
			s.fail(w, err)
			return
		}
		relay = p.RelayState
	} else {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLRequest")); err != nil {
			s.fail(w, err)
			return
		}
		if _, err := xmlsig.VerifyEnveloped(raw, s.idp, nil); err != nil {
			s.fail(w, err)
			return
		}
		relay = r.PostForm.Get("RelayState")
	}
	lr, ok := s.record(w, raw)
	if !ok {
		return
	}
	if mode == "silent" {
		s.mu.Lock()
		s.lastRelay = relay
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>`+s.name+`</title><p id="sp-silent">this service is having a bad day</p>`)
		return
	}
	resp := s.logoutResponse(lr.ID, s.ti.srv.SLOURL(), mode)
	if r.Method == http.MethodGet {
		http.Redirect(w, r, resp.Redirect(relay).String(), http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write(resp.Post(relay))
}

// record keeps the LogoutRequest raw (its signature already checked) as received; ok is
// false when it does not parse, and the refusal has been answered.
func (s *sloSP) record(w http.ResponseWriter, raw []byte) (lr *saml.LogoutRequest, ok bool) {
	lr = new(saml.LogoutRequest)
	if err := xml.Unmarshal(raw, lr); err != nil {
		s.fail(w, err)
		return nil, false
	}
	s.mu.Lock()
	s.received = append(s.received, lr)
	s.mu.Unlock()
	return lr, true
}

// signedOutPage is the SP's page once a LogoutResponse has come back to it.
func (s *sloSP) signedOutPage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, `<!doctype html><title>`+s.name+`</title><p id="sp-signed-out">signed out of `+s.name+`</p>`)
}

func (s *sloSP) logoutResponse(inResponseTo, dest, mode string) *saml.LogoutResponse {
	resp, err := s.sp.MakeLogoutResponse(dest, inResponseTo)
	if err != nil {
		s.t.Error(err)
		return resp
	}
	if mode == "unsigned" {
		resp.Signature = nil // an SP that must sign sends an unsigned answer: not a confirmation
	}
	if mode == "refuse" {
		resp.Status.StatusCode.Value = saml.StatusResponder
		resp.Signature = nil
		if err := s.sp.SignLogoutResponse(resp); err != nil {
			s.t.Error(err)
		}
	}
	return resp
}

func (s *sloSP) serveSOAP(w http.ResponseWriter, r *http.Request, mode string) {
	if mode == "hang" {
		// Read the body so the server notices the client hanging up; the IdP's client gives
		// up first, and the test's end releases the handler in any case.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		s.fail(w, err)
		return
	}
	el := doc.FindElement("//LogoutRequest")
	if el == nil {
		s.fail(w, errors.New("no LogoutRequest in SOAP body"))
		return
	}
	x := etree.NewDocument()
	el = el.Copy()
	x.SetRoot(el)
	raw, _ := x.WriteToBytes()
	if _, err := xmlsig.VerifyEnveloped(raw, s.idp, nil); err != nil {
		s.fail(w, err)
		return
	}
	lr, ok := s.record(w, raw)
	if !ok {
		return
	}
	resp := s.logoutResponse(lr.ID, "", mode)
	rd := etree.NewDocument()
	env := rd.CreateElement("soap:Envelope")
	env.CreateAttr("xmlns:soap", "http://schemas.xmlsoap.org/soap/envelope/")
	env.CreateElement("soap:Body").AddChild(resp.Element())
	w.Header().Set("Content-Type", "text/xml")
	_, _ = rd.WriteTo(w)
}

// signIn runs SSO for s in browser b (signing in if the browser has no session) and returns
// the NameID and SessionIndex the SP received.
func (s *sloSP) signIn(b *browser) (nameID, sessionIndex string) {
	s.t.Helper()
	ts := &testSP{sp: s.sp, key: s.key}
	p, id := s.ti.send(b, ts, request{binding: "redirect", sign: true})
	if p.form("username") != nil {
		p = b.login(p, citizenDNI, citizenPassword)
	}
	a := ts.accept(s.t, p.samlResponse(s.t), id)
	return a.Subject.NameID.Value, a.AuthnStatements[0].SessionIndex
}

// logoutRequest makes this SP's LogoutRequest for the IdP.
func (s *sloSP) logoutRequest(nameID, sessionIndex string) *saml.LogoutRequest {
	s.t.Helper()
	lr, err := s.sp.MakeLogoutRequest(s.ti.srv.SLOURL(), nameID)
	if err != nil {
		s.t.Fatal(err)
	}
	lr.Signature = nil
	if sessionIndex != "" {
		lr.SessionIndex = &saml.SessionIndex{Value: sessionIndex}
	}
	return lr
}

// sloSend is how a test sends a LogoutRequest.
type sloSend struct {
	binding string               // "redirect" (query signature), "redirect-xml" (crewjam's enveloped signature), "post"
	key     *rsa.PrivateKey      // signing key; nil: unsigned
	relay   string               // "" sends none
	edit    func(*etree.Element) // changes the XML before signing
}

// send delivers lr from this SP through the browser's cookie jar and returns the IdP's first
// answer (not followed).
func (s *sloSP) send(d *sloBrowser, lr *saml.LogoutRequest, o sloSend) *page {
	s.t.Helper()
	el := lr.Element()
	if o.edit != nil {
		o.edit(el)
	}
	if o.key != nil && o.binding != "redirect" {
		el = signEnveloped(s.t, el, o.key)
	}
	x := xmlBytes(s.t, el)
	if o.binding == "post" {
		v := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(x)}}
		if o.relay != "" {
			v.Set("RelayState", o.relay)
		}
		return d.post(s.ti.srv.SLOURL(), v)
	}
	return d.get(s.ti.srv.SLOURL() + "?" + signedQuery(s.t, x, o.relay, o.key, o.binding == "redirect"))
}

// signedQuery is the HTTP-Redirect query carrying message x, with a query signature by key
// (RSA-SHA256) when sign is set (saml-bindings-2.0-os §3.4.4.1).
func signedQuery(t *testing.T, x []byte, relay string, key *rsa.PrivateKey, sign bool) string {
	t.Helper()
	var r *string
	if relay != "" {
		r = &relay
	}
	sigAlg := ""
	if key != nil && sign {
		sigAlg = dsig.RSASHA256SignatureMethod
	}
	return redirectQuery(t, x, r, key, sigAlg)
}

func signEnveloped(t *testing.T, el *etree.Element, key *rsa.PrivateKey) *etree.Element {
	t.Helper()
	return signEnvelopedWith(t, el, key, selfSigned(t, key, "signer"), dsig.RSASHA256SignatureMethod)
}

// received returns the LogoutRequests the SP got from the IdP, failing on any it refused.
func (s *sloSP) gotRequests() []*saml.LogoutRequest {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.errs {
		s.t.Errorf("%s refused a message from the IdP: %v", s.name, err)
	}
	return append([]*saml.LogoutRequest(nil), s.received...)
}

// checkResponse validates, as the initiating SP, the LogoutResponse the IdP sent: crewjam's
// own validation for HTTP-POST (XML signature), the query signature for HTTP-Redirect. It
// returns the top- and second-level status.
func (s *sloSP) checkResponse(inResponseTo string) (top, sub string) {
	s.t.Helper()
	s.mu.Lock()
	form, query := s.respForm, s.respQuery
	s.respForm, s.respQuery = "", "" // each check reads the latest response only
	s.mu.Unlock()
	var raw []byte
	switch {
	case form != "":
		raw, _ = base64.StdEncoding.DecodeString(form)
		if _, err := xmlsig.VerifyEnveloped(raw, s.idp, nil); err != nil {
			s.t.Fatalf("LogoutResponse XML signature: %v", err)
		}
		// crewjam refuses any non-Success top-level status; Atea's PartialLogout is a
		// second-level code under Success, so a Success must pass crewjam's own checks.
		if bytes.Contains(raw, []byte(`<samlp:StatusCode Value="`+statusSuccess+`">`)) {
			if err := s.sp.ValidateLogoutResponseForm(form); err != nil {
				var ire *saml.InvalidResponseError
				if errors.As(err, &ire) {
					err = ire.PrivateErr
				}
				s.t.Fatalf("crewjam refused the LogoutResponse: %v", err)
			}
		}
	case query != "":
		p, err := xmlsig.ParseRedirectQuery(query)
		if err != nil {
			s.t.Fatal(err)
		}
		if err := p.Verify(s.idp); err != nil {
			s.t.Fatalf("LogoutResponse query signature: %v", err)
		}
		d, _ := base64.StdEncoding.DecodeString(p.Message)
		raw, _ = io.ReadAll(flate.NewReader(bytes.NewReader(d)))
	default:
		s.t.Fatalf("%s received no LogoutResponse", s.name)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		s.t.Fatal(err)
	}
	root := doc.Root()
	if got := root.SelectAttrValue("InResponseTo", ""); got != inResponseTo {
		s.t.Errorf("InResponseTo = %q, want %q", got, inResponseTo)
	}
	if got := root.SelectAttrValue("Destination", ""); got != s.sp.SloURL.String() {
		s.t.Errorf("Destination = %q, want %q", got, s.sp.SloURL.String())
	}
	sc := root.FindElement("./Status/StatusCode")
	if sc == nil {
		s.t.Fatalf("no status: %s", raw)
	}
	if c := sc.FindElement("./StatusCode"); c != nil {
		sub = c.SelectAttrValue("Value", "")
	}
	return sc.SelectAttrValue("Value", ""), sub
}

// wantStatus checks, as checkResponse does, the LogoutResponse the IdP sent this SP, and
// reports an error unless its top- and second-level status are top and sub ("" for none).
func (s *sloSP) wantStatus(inResponseTo, top, sub string) {
	s.t.Helper()
	if gotTop, gotSub := s.checkResponse(inResponseTo); gotTop != top || gotSub != sub {
		s.t.Errorf("%s: LogoutResponse status %q / %q, want %q / %q", s.name, gotTop, gotSub, top, sub)
	}
}

// sloBrowser shares a browser's cookie jar but stops at every response, and walks logout
// chains as a browser with JavaScript would. Its requests go through a browser whose client
// never follows redirects, so run sees every hop.
type sloBrowser struct {
	t        *testing.T
	nav      *browser
	lastSkip string // the "continue without this service" link of the last hop page
}

func newSLOBrowser(t *testing.T) (*browser, *sloBrowser) {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, c: &http.Client{Jar: jar}}
	nav := &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	return b, &sloBrowser{t: t, nav: nav}
}

func (d *sloBrowser) get(u string) *page {
	d.t.Helper()
	return d.nav.get(u)
}

func (d *sloBrowser) post(u string, v url.Values) *page {
	d.t.Helper()
	return d.nav.postForm(u, v)
}

// run follows redirects, auto-submitting forms and the hop pages' script navigation until a
// page a person would have to act on.
func (d *sloBrowser) run(p *page) *page {
	d.t.Helper()
	for range 40 {
		switch {
		case p.status >= 300 && p.status < 400:
			loc, err := p.url.Parse(p.header.Get("Location"))
			if err != nil {
				d.t.Fatal(err)
			}
			p = d.get(loc.String())
			continue
		case strings.Contains(p.body, ".submit()"):
			f := p.form("SAMLRequest")
			if f == nil {
				f = p.form("SAMLResponse")
			}
			if f == nil {
				return p
			}
			if s := linkByID(p.body, "logout-skip"); s != "" {
				d.lastSkip = absURL(p, s)
			}
			action, _ := p.url.Parse(f.action)
			p = d.post(action.String(), f.fields)
			continue
		case strings.Contains(p.body, "location.replace"):
			if s := linkByID(p.body, "logout-skip"); s != "" {
				d.lastSkip = absURL(p, s)
			}
			p = d.get(absURL(p, linkByID(p.body, "logout-hop")))
			continue
		}
		return p
	}
	d.t.Fatal("logout chain did not end")
	return nil
}

func absURL(p *page, ref string) string {
	u, err := p.url.Parse(ref)
	if err != nil {
		return ref
	}
	return u.String()
}

// linkByID returns the href of the <a> with the given id.
func linkByID(body, id string) string {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return ""
	}
	var found string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" {
			var nid, href string
			for _, a := range n.Attr {
				switch a.Key {
				case "id":
					nid = a.Val
				case "href":
					href = a.Val
				}
			}
			if nid == id {
				found = href
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return found
}

// returnToSP presses the result page's "back to the service" button (the LogoutResponse).
func (d *sloBrowser) returnToSP(p *page) *page {
	d.t.Helper()
	if f := p.form("SAMLResponse"); f != nil {
		action, _ := p.url.Parse(f.action)
		return d.post(action.String(), f.fields)
	}
	if l := linkByID(p.body, "logout-return"); l != "" {
		return d.get(absURL(p, l))
	}
	d.t.Fatalf("no way back to the service on the result page: %.600s", p.body)
	return nil
}

func (ti *testIdP) citizenSessions(t *testing.T, st store.Store) []store.Session {
	t.Helper()
	u, err := ti.dir.Get(t.Context(), citizenDNI)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := st.ListSessionsBySubject(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// assertSignedOut checks that the IdP keeps no session for the citizen and that this browser
// must sign in again.
func assertSignedOut(t *testing.T, ti *testIdP, st store.Store, sp *sloSP, b *browser) {
	t.Helper()
	if ss := ti.citizenSessions(t, st); len(ss) != 0 {
		t.Errorf("%d sessions left in the store after logout: %+v", len(ss), ss)
	}
	p, _ := ti.send(b, &testSP{sp: sp.sp, key: sp.key}, request{binding: "redirect", sign: true})
	if p.form("username") == nil {
		t.Errorf("after logout the browser was not asked to sign in again (HTTP %d): %.300s", p.status, p.body)
	}
}

func resultStates(t *testing.T, p *page) string {
	t.Helper()
	i := strings.Index(p.body, `<ul id="logout-results">`)
	if i < 0 {
		return ""
	}
	j := strings.Index(p.body[i:], "</ul>")
	return p.body[i : i+j]
}

// TestSLOPropagates is the SLO profile end to end with two crewjam SPs, for each binding of
// the initiator's request and of the other SP's endpoint: the request is verified, SP two
// gets a signed LogoutRequest with the NameID and SessionIndex of its own assertion, its
// LogoutResponse comes back, and SP one gets a signed Success; the session is gone.
func TestSLOPropagates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name             string
		send             string
		initiator, other []string
	}{
		{"redirect query signature, other redirect", "redirect", []string{"redirect"}, []string{"redirect"}},
		{"redirect xml signature, other post", "redirect-xml", []string{"redirect", "post"}, []string{"post"}},
		{"post, other redirect", "post", []string{"post"}, []string{"redirect", "post"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ti := newTestIdP(t, nil)
			sp1 := ti.newSLOSP("sp-one", testKeys()[1], tc.initiator...)
			sp2 := ti.newSLOSP("sp-two", testKeys()[2], tc.other...)
			b, d := newSLOBrowser(t)
			nid1, idx1 := sp1.signIn(b)
			nid2, idx2 := sp2.signIn(b)

			lr := sp1.logoutRequest(nid1, idx1)
			p := d.run(sp1.send(d, lr, sloSend{binding: tc.send, key: sp1.key, relay: "back-to=/home"}))
			got := sp2.gotRequests()
			if len(got) != 1 {
				t.Fatalf("SP two got %d LogoutRequests, want 1; last page HTTP %d: %.500s", len(got), p.status, p.body)
			}
			if got[0].NameID == nil || got[0].NameID.Value != nid2 || got[0].SessionIndex == nil || got[0].SessionIndex.Value != idx2 {
				t.Errorf("SP two's LogoutRequest names %+v / %+v, want its NameID %q and SessionIndex %q", got[0].NameID, got[0].SessionIndex, nid2, idx2)
			}
			if got[0].Destination != sp2.sp.SloURL.String() || got[0].Issuer == nil || got[0].Issuer.Value != ti.cfg.EntityID {
				t.Errorf("SP two's LogoutRequest Destination %q Issuer %+v", got[0].Destination, got[0].Issuer)
			}
			if !strings.Contains(resultStates(t, p), sp2.sp.EntityID+"</strong>: signed out") {
				t.Errorf("result page does not list SP two as signed out: %.800s", p.body)
			}
			if strings.Contains(p.body, `id="logout-partial"`) {
				t.Errorf("result page says some services did not confirm: %.800s", p.body)
			}
			d.returnToSP(p)
			top, sub := sp1.checkResponse(lr.ID)
			if top != statusSuccess || sub != "" {
				t.Errorf("LogoutResponse status %q / %q, want Success alone", top, sub)
			}
			if len(sp1.gotRequests()) != 0 {
				t.Error("the initiating SP was sent a LogoutRequest too")
			}
			assertSignedOut(t, ti, ti.store, sp1, b)
		})
	}
}

// TestSLOSingleSP: with no other participant the initiator is answered at once, keeping
// RelayState byte-exact.
func TestSLOSingleSP(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "post")
	b, d := newSLOBrowser(t)
	nid, idx := sp1.signIn(b)
	lr := sp1.logoutRequest(nid, idx)
	relay := `a'b"c<d>&e`
	p := sp1.send(d, lr, sloSend{binding: "redirect", key: sp1.key, relay: relay})
	f := p.form("SAMLResponse")
	if f == nil || f.action != sp1.sp.SloURL.String() || f.fields.Get("RelayState") != relay {
		t.Fatalf("want the auto-POST of the LogoutResponse to the SP with its RelayState, got HTTP %d: %.600s", p.status, p.body)
	}
	d.run(p)
	sp1.wantStatus(lr.ID, statusSuccess, "")
	assertSignedOut(t, ti, ti.store, sp1, b)
}

// TestSLOPartialLogout: an SP that never sends the browser back, one that refuses, and a
// SOAP-only one that hangs are each reported, the citizen is told to close the browser, and
// the initiator gets Success with PartialLogout; the session is gone regardless.
func TestSLOPartialLogout(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, func(c *idp.Config) { c.LogoutTimeout = 2 * time.Second })
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "post")
	silent := ti.newSLOSP("sp-silent", testKeys()[2], "redirect")
	refusing := ti.newSLOSP("sp-refusing", testKeys()[2], "post")
	hanging := ti.newSLOSP("sp-hanging", testKeys()[3], "soap")
	soapOK := ti.newSLOSP("sp-soap", testKeys()[3], "soap")
	unsigned := ti.newSLOSP("sp-unsigned", testKeys()[2], "redirect")
	unsigned.setMode("unsigned")
	silent.setMode("silent")
	refusing.setMode("refuse")
	hanging.setMode("hang")
	b, d := newSLOBrowser(t)
	nid, idx := sp1.signIn(b)
	for _, sp := range []*sloSP{silent, refusing, hanging, soapOK, unsigned} {
		sp.signIn(b)
	}
	lr := sp1.logoutRequest(nid, idx)
	p := d.run(sp1.send(d, lr, sloSend{binding: "redirect", key: sp1.key}))
	if !strings.Contains(p.body, "bad day") || d.lastSkip == "" {
		t.Fatalf("want the silent SP's page with a skip link from the hop before, got HTTP %d: %.400s", p.status, p.body)
	}
	// The citizen comes back and goes on without that service.
	p = d.run(d.get(d.lastSkip))
	res := resultStates(t, p)
	for _, want := range []string{"did not answer", "refused or failed", "signed out"} {
		if !strings.Contains(res, want) {
			t.Errorf("result list lacks %q: %s", want, res)
		}
	}
	if strings.Count(res, "did not answer") != 2 || strings.Count(res, "refused or failed") != 2 || strings.Count(res, ": signed out") != 1 {
		t.Errorf("want the silent and the hanging SP as not answering, the refusing and the unsigned one as failed, the SOAP one signed out: %s", res)
	}
	if !strings.Contains(p.body, `id="logout-partial"`) {
		t.Errorf("no close-the-browser hint: %.800s", p.body)
	}
	for _, sp := range []*sloSP{silent, refusing, hanging, soapOK, unsigned} {
		if sp != hanging && len(sp.gotRequests()) != 1 {
			t.Errorf("%s got %d LogoutRequests, want 1", sp.name, len(sp.gotRequests()))
		}
	}
	d.returnToSP(p)
	sp1.wantStatus(lr.ID, statusSuccess, statusPartialLogout)
	assertSignedOut(t, ti, ti.store, sp1, b)
}

// TestSLOEncryptedID: an SP that encrypts the NameID to the IdP's encryption key (as
// Shibboleth does when the IdP metadata publishes one) is understood.
func TestSLOEncryptedID(t *testing.T) {
	t.Parallel()
	encKey := testKeys()[3]
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) { d.EncryptionKeys = []crypto.Decrypter{encKey} })
	encCert := selfSigned(t, encKey, "atea-encryption")
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "post")
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "redirect")
	b, d := newSLOBrowser(t)
	nid, idx := sp1.signIn(b)
	sp2.signIn(b)
	for _, tc := range []struct {
		name    string
		sibling bool   // EncryptedKey beside EncryptedData (saml-core §2.2.4), as OpenSAML sends it
		cbc     bool   // crewjam's own encrypter: RSA-OAEP with AES-256-CBC, which Atea refuses
		binding string // of the LogoutRequest
	}{
		{"GCM, key inside", false, false, "post"},
		{"GCM, key beside with RetrievalMethod", true, false, "redirect"},
		{"CBC refused", false, true, "redirect"},
	} {
		lr := sp1.logoutRequest(nid, idx)
		encrypt := func(el *etree.Element) {
			nidEl := el.FindElement("./NameID")
			plain := xmlBytes(t, nidEl.Copy())
			var data *etree.Element
			if tc.cbc {
				var err error
				if data, err = xmlenc.OAEP().Encrypt(encCert, plain, nil); err != nil {
					t.Fatal(err)
				}
			} else {
				// AES-128-GCM with RSA-OAEP (mgf1p) key transport, written by hand as
				// Shibboleth's SP sends it (crewjam's GCM encrypter does not produce valid
				// ciphertext).
				data = gcmEncryptedData(t, encCert, plain)
			}
			enc := etree.NewElement("saml:EncryptedID")
			enc.AddChild(data)
			if tc.sibling {
				ki := data.FindElement("./KeyInfo")
				ek := ki.FindElement("./EncryptedKey").Copy()
				ek.CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
				ek.CreateAttr("xmlns:ds", "http://www.w3.org/2000/09/xmldsig#")
				ek.CreateAttr("Id", "_ek1")
				for _, c := range ki.ChildElements() {
					ki.RemoveChild(c)
				}
				rm := ki.CreateElement("ds:RetrievalMethod")
				rm.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#EncryptedKey")
				rm.CreateAttr("URI", "#_ek1")
				enc.AddChild(ek)
			}
			el.InsertChildAt(nidEl.Index(), enc)
			el.RemoveChild(nidEl)
		}
		p := d.run(sp1.send(d, lr, sloSend{binding: tc.binding, key: sp1.key, edit: encrypt}))
		if tc.binding == "post" {
			d.returnToSP(p)
		}
		top, sub := sp1.checkResponse(lr.ID)
		if tc.cbc {
			if top != statusRequester {
				t.Errorf("%s: status %q / %q, want Requester", tc.name, top, sub)
			}
			if n := len(ti.citizenSessions(t, ti.store)); n != 1 {
				t.Errorf("%s: %d sessions after a refused request, want the session kept", tc.name, n)
			}
			continue
		}
		if top != statusSuccess || sub != "" {
			t.Fatalf("%s: status %q / %q; page %.500s", tc.name, top, sub, p.body)
		}
		if !tc.sibling && len(sp2.gotRequests()) != 1 {
			t.Error("SP two was not told")
		}
		assertSignedOut(t, ti, ti.store, sp1, b)
		nid, idx = sp1.signIn(b)
	}
}

// gcmEncryptedData encrypts plain as an xenc:EncryptedData (Type Element, AES-128-GCM, IV
// first and tag last as xmlenc-core1 §5.2.4 says) with the key in ds:KeyInfo/xenc:EncryptedKey.
func gcmEncryptedData(t *testing.T, cert *x509.Certificate, plain []byte) *etree.Element {
	t.Helper()
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	block, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(block)
	iv := make([]byte, g.NonceSize())
	_, _ = rand.Read(iv)
	ct := g.Seal(iv, iv, plain, nil)
	ek, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, cert.PublicKey.(*rsa.PublicKey), key, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	err = doc.ReadFromString(`<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">` +
		`<xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/>` +
		`<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>` +
		`<xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>` +
		`<xenc:CipherData><xenc:CipherValue>` + base64.StdEncoding.EncodeToString(ek) + `</xenc:CipherValue></xenc:CipherData>` +
		`</xenc:EncryptedKey></ds:KeyInfo>` +
		`<xenc:CipherData><xenc:CipherValue>` + base64.StdEncoding.EncodeToString(ct) + `</xenc:CipherValue></xenc:CipherData>` +
		`</xenc:EncryptedData>`)
	if err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// TestSLORefusals: what must not end a session — a replayed request, a wrong signature, an
// unsigned request from an SP that must sign, a request for another session, a stale or
// misaddressed one.
func TestSLORefusals(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "post")
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "redirect")
	alive := func(t *testing.T, b *browser, what string) {
		t.Helper()
		if n := len(ti.citizenSessions(t, ti.store)); n != 1 {
			t.Fatalf("%s: %d sessions, want the one still alive", what, n)
		}
		p, _ := ti.send(b, &testSP{sp: sp1.sp, key: sp1.key}, request{binding: "redirect", sign: true})
		if p.samlResponse(t) == nil {
			t.Fatalf("%s: the session no longer signs the browser in (HTTP %d)", what, p.status)
		}
	}

	t.Run("replay", func(t *testing.T) {
		b, d := newSLOBrowser(t)
		nid, idx := sp1.signIn(b)
		sp2.signIn(b)
		lr := sp1.logoutRequest(nid, idx)
		first := sp1.send(d, lr, sloSend{binding: "redirect", key: sp1.key})
		d.run(first)
		// Signed in again, the same request is replayed into the browser.
		sp1.signIn(b)
		p := sp1.send(d, lr, sloSend{binding: "redirect", key: sp1.key})
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "already used") {
			t.Errorf("replayed LogoutRequest: HTTP %d, want 400 'already used': %.300s", p.status, p.body)
		}
		alive(t, b, "after a replay")
		ti.endAll(t)
	})
	t.Run("wrong signature", func(t *testing.T) {
		b, d := newSLOBrowser(t)
		nid, idx := sp1.signIn(b)
		for _, binding := range []string{"redirect", "post"} {
			p := sp1.send(d, sp1.logoutRequest(nid, idx), sloSend{binding: binding, key: testKeys()[3]})
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, "not correctly signed") {
				t.Errorf("%s signed with another key: HTTP %d: %.300s", binding, p.status, p.body)
			}
		}
		alive(t, b, "after bad signatures")
		ti.endAll(t)
	})
	t.Run("unsigned", func(t *testing.T) {
		b, d := newSLOBrowser(t)
		nid, idx := sp1.signIn(b)
		for _, binding := range []string{"redirect", "post"} {
			p := sp1.send(d, sp1.logoutRequest(nid, idx), sloSend{binding: binding})
			if p.status != http.StatusBadRequest {
				t.Errorf("unsigned %s request: HTTP %d, want 400", binding, p.status)
			}
		}
		alive(t, b, "after unsigned requests")
		ti.endAll(t)
	})
	t.Run("other session or stale", func(t *testing.T) {
		b, d := newSLOBrowser(t)
		nid, idx := sp1.signIn(b)
		for name, lr := range map[string]*saml.LogoutRequest{
			"wrong SessionIndex": sp1.logoutRequest(nid, "_not-this-one"),
			"wrong NameID":       sp1.logoutRequest("someone-else", idx),
		} {
			p := sp1.send(d, lr, sloSend{binding: "redirect", key: sp1.key})
			d.run(p)
			if top, sub := sp1.checkResponse(lr.ID); top != "urn:oasis:names:tc:SAML:2.0:status:Requester" || sub != statusUnknownPrincipal {
				t.Errorf("%s: status %q / %q, want Requester / UnknownPrincipal", name, top, sub)
			}
		}
		stale := sp1.logoutRequest(nid, idx)
		stale.IssueInstant = time.Now().Add(-time.Hour)
		d.run(sp1.send(d, stale, sloSend{binding: "redirect", key: sp1.key}))
		if top, _ := sp1.checkResponse(stale.ID); top == statusSuccess {
			t.Error("a request an hour old was honoured")
		}
		misaddressed := sp1.logoutRequest(nid, idx)
		misaddressed.Destination = "https://other-idp.test/slo"
		d.run(sp1.send(d, misaddressed, sloSend{binding: "redirect", key: sp1.key}))
		if top, _ := sp1.checkResponse(misaddressed.ID); top == statusSuccess {
			t.Error("a request for another IdP was honoured")
		}
		alive(t, b, "after requests for another session")
		ti.endAll(t)
	})
}

// endAll ends every session of the citizen (between subtests).
func (ti *testIdP) endAll(t *testing.T) {
	t.Helper()
	for _, s := range ti.citizenSessions(t, ti.store) {
		_ = ti.store.DeleteSession(t.Context(), s.ID)
	}
}

// TestSLOUnsignedAllowed: an SP allowed to send unsigned LogoutRequests gets a confirmation
// page first (logout CSRF), and the logout runs only when the citizen confirms.
func TestSLOUnsignedAllowed(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "post")
	// The entityID is known once the SP's server runs; the map is the IdP's own (no request
	// has reached the IdP yet).
	ti.cfg.SPs[sp1.sp.EntityID] = idp.SPSettings{AllowUnsignedLogout: true}
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "redirect")
	b, d := newSLOBrowser(t)
	nid, idx := sp1.signIn(b)
	sp2.signIn(b)
	lr := sp1.logoutRequest(nid, idx)
	p := sp1.send(d, lr, sloSend{binding: "post"})
	p = d.run(p)
	f := p.form("csrf")
	if p.status != http.StatusOK || f == nil || f.fields.Get("flow") == "" {
		t.Fatalf("want the confirmation page, got HTTP %d: %.500s", p.status, p.body)
	}
	if n := len(ti.citizenSessions(t, ti.store)); n != 1 {
		t.Fatalf("the session ended before the citizen confirmed (%d sessions)", n)
	}
	if len(sp2.gotRequests()) != 0 {
		t.Fatal("SP two was told before the citizen confirmed")
	}
	// A forged confirmation (no CSRF token) does nothing.
	bad := url.Values{"flow": {f.fields.Get("flow")}}
	action, _ := p.url.Parse(f.action)
	if q := d.post(action.String(), bad); q.status != http.StatusForbidden {
		t.Errorf("confirmation without CSRF token: HTTP %d, want 403", q.status)
	}
	p = d.run(d.post(action.String(), f.fields))
	if len(sp2.gotRequests()) != 1 {
		t.Errorf("SP two got %d LogoutRequests after the confirmation, want 1", len(sp2.gotRequests()))
	}
	d.returnToSP(p)
	sp1.wantStatus(lr.ID, statusSuccess, "")
	assertSignedOut(t, ti, ti.store, sp1, b)
}

// TestSLOIdPInitiated: "sign out everywhere" at Atea: a GET shows what would happen and ends
// nothing; the form (session CSRF) ends the session and tells every SP.
func TestSLOIdPInitiated(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "post")
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "redirect")
	b, d := newSLOBrowser(t)
	sp1.signIn(b)
	sp2.signIn(b)
	p := d.get(ti.url + idp.PathLogout)
	f := p.form("csrf")
	if p.status != http.StatusOK || f == nil || !strings.Contains(p.body, sp1.sp.EntityID) || !strings.Contains(p.body, sp2.sp.EntityID) {
		t.Fatalf("want the confirmation page listing the services, got HTTP %d: %.500s", p.status, p.body)
	}
	if n := len(ti.citizenSessions(t, ti.store)); n != 1 {
		t.Fatal("a GET ended the session")
	}
	if q := d.post(ti.url+idp.PathLogout, url.Values{"csrf": {"forged"}}); q.status != http.StatusForbidden {
		t.Errorf("forged token: HTTP %d, want 403", q.status)
	}
	action, _ := p.url.Parse(f.action)
	p = d.run(d.post(action.String(), f.fields))
	if len(sp1.gotRequests()) != 1 || len(sp2.gotRequests()) != 1 {
		t.Fatalf("SPs got %d and %d LogoutRequests, want 1 each; page %.500s", len(sp1.gotRequests()), len(sp2.gotRequests()), p.body)
	}
	if res := resultStates(t, p); strings.Count(res, "signed out") != 2 || strings.Contains(p.body, `id="logout-partial"`) {
		t.Errorf("result page: %.800s", p.body)
	}
	if p.form("SAMLResponse") != nil {
		t.Error("an IdP-initiated logout answered some SP")
	}
	assertSignedOut(t, ti, ti.store, sp1, b)
	// Signed out already: the page says so, nothing fails.
	if q := d.get(ti.url + idp.PathLogout); q.status != http.StatusOK || q.form("csrf") != nil {
		t.Errorf("logout page without a session: HTTP %d", q.status)
	}
}

// TestSLORedisStore runs a propagated logout on a private redis-server: the session and its
// per-SP records are gone from Redis afterwards, as from memory.
func TestSLORedisStore(t *testing.T) {
	t.Parallel()
	ti, rst := newRedisTestIdP(t, nil)
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "redirect")
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "post")
	b, d := newSLOBrowser(t)
	nid, idx := sp1.signIn(b)
	sp2.signIn(b)
	ss := ti.citizenSessions(t, rst)
	if len(ss) != 1 || len(ss[0].SPs) != 2 {
		t.Fatalf("before logout: %d sessions in Redis (want 1 with 2 SPs)", len(ss))
	}
	lr := sp1.logoutRequest(nid, idx)
	p := d.run(sp1.send(d, lr, sloSend{binding: "redirect", key: sp1.key}))
	d.returnToSP(p)
	sp1.wantStatus(lr.ID, statusSuccess, "")
	if _, err := rst.GetSession(t.Context(), ss[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSession after logout = %v, want ErrNotFound", err)
	}
	assertSignedOut(t, ti, rst, sp1, b)
}

// TestSLOBadInput: garbage at the logout endpoints gets a 4xx page, never a 500 or a panic,
// and ends nothing.
func TestSLOBadInput(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "post")
	b, d := newSLOBrowser(t)
	nid, idx := sp1.signIn(b)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	unknown := sp1.logoutRequest(nid, idx)
	unknown.Issuer.Value = "https://unknown.test/md"
	unknownXML := xmlBytes(t, unknown.Element())
	resp, _ := sp1.sp.MakeLogoutResponse(ti.srv.SLOURL(), "_nothing")
	respXML := xmlBytes(t, resp.Element())
	for name, p := range map[string]*page{
		"no parameters":         d.get(ti.srv.SLOURL()),
		"not base64":            d.get(ti.srv.SLOURL() + "?SAMLRequest=%%%21"),
		"not deflated":          d.get(ti.srv.SLOURL() + "?SAMLRequest=" + url.QueryEscape(b64("hello"))),
		"both messages":         d.post(ti.srv.SLOURL(), url.Values{"SAMLRequest": {b64("<a/>")}, "SAMLResponse": {b64("<a/>")}}),
		"not XML":               d.post(ti.srv.SLOURL(), url.Values{"SAMLRequest": {b64("not xml")}}),
		"wrong root":            d.post(ti.srv.SLOURL(), url.Values{"SAMLRequest": {b64(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`)}}),
		"doctype":               d.post(ti.srv.SLOURL(), url.Values{"SAMLRequest": {b64(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`)}}),
		"unknown issuer":        d.post(ti.srv.SLOURL(), url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(unknownXML)}}),
		"response, no flow":     d.post(ti.srv.SLOURL(), url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(respXML)}, "RelayState": {"fnope"}}),
		"response, no relay":    d.post(ti.srv.SLOURL(), url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(respXML)}}),
		"continue, no flow":     d.get(ti.url + idp.PathSLOContinue + "?flow=fnope"),
		"confirm, no flow":      d.post(ti.url+idp.PathSLOConfirm, url.Values{"csrf": {"x"}}),
		"logout, no csrf":       d.post(ti.url+idp.PathLogout, nil),
		"huge":                  d.post(ti.srv.SLOURL(), url.Values{"SAMLRequest": {strings.Repeat("A", 300<<10)}}),
		"control in RelayState": sp1.send(d, sp1.logoutRequest(nid, idx), sloSend{binding: "redirect", key: sp1.key, relay: "a\x01b"}),
	} {
		if p.status < 400 || p.status >= 500 {
			t.Errorf("%s: HTTP %d, want 4xx: %.300s", name, p.status, p.body)
		}
	}
	if n := len(ti.citizenSessions(t, ti.store)); n != 1 {
		t.Errorf("garbage ended the session (%d sessions)", n)
	}
}

// newRedisTestIdP is a test IdP whose store is Redis, on a private redis-server; it returns
// the store too, to look into.
func newRedisTestIdP(t *testing.T, update func(*idp.Config)) (*testIdP, store.Store) {
	t.Helper()
	rs := redistest.Start(t)
	secret, record := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(secret)
	_, _ = rand.Read(record)
	var rst store.Store
	ti := newTestIdPWith(t, update, func(store.Store) store.Store {
		st, err := redisstore.New(redisstore.Options{Client: rs.Client(t), Prefix: "idp:" + t.Name() + ":", KeySecret: secret, RecordKey: record})
		if err != nil {
			t.Fatal(err)
		}
		rst = st
		return st
	})
	return ti, rst
}
