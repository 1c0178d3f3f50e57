package idp_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/net/html"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/memstore"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/templates"
)

const (
	citizenDNI      = "48151623L"
	citizenPassword = "a good password"
)

// testKeys are generated once: RSA generation is slow and the keys carry no test state.
var testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	ks := make([]*rsa.PrivateKey, 4)
	for i := range ks {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ks[i] = k
	}
	return ks
})

func selfSigned(t testing.TB, k crypto.Signer, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testIdP is a real Atea IdP behind httptest with a memory store, a directory holding one
// citizen, and an SP-metadata directory.
type testIdP struct {
	t       testing.TB
	srv     *idp.Server
	ts      *httptest.Server
	url     string
	mdDir   string
	sps     *metadata.DirSource
	dir     *directory.Directory
	cfg     idp.Config
	idpMeta *saml.EntityDescriptor
	store   *memstore.Store
	clock   *testClock
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestIdP(t testing.TB, update func(*idp.Config)) *testIdP {
	t.Helper()
	return newTestIdPWith(t, update, nil)
}

// newTestIdPWith is newTestIdP with the store wrapped (for counting or failing calls).
func newTestIdPWith(t testing.TB, update func(*idp.Config), wrap func(store.Store) store.Store) *testIdP {
	t.Helper()
	return newTestIdPFull(t, update, wrap, nil)
}

// newTestIdPWithDeps is newTestIdP with the dependencies changed (second factors).
func newTestIdPWithDeps(t testing.TB, update func(*idp.Config), deps func(*idp.Deps)) *testIdP {
	t.Helper()
	return newTestIdPFull(t, update, nil, deps)
}

func newTestIdPFull(t testing.TB, update func(*idp.Config), wrap func(store.Store) store.Store, changeDeps func(*idp.Deps)) *testIdP {
	t.Helper()
	dir := t.TempDir()
	// The IdP runs on real time: crewjam's SP validates against its own time.Now. Tests
	// that need another time move it with cfg.Now.
	clock := &testClock{t: time.Now()}

	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()

	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, fuzz := t.(*testing.F); fuzz {
		// A fuzz target's inputs run in worker processes after its own setup: writing to the
		// F's output from there blocks the worker, and every input logs a refusal.
		logger = slog.New(slog.DiscardHandler)
	}
	d, err := directory.Open(filepath.Join(dir, "directory.db"), directory.Options{
		Params:      directory.Params{MemoryKiB: 64, Time: 1, Threads: 1},
		MaxFailures: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Add(t.Context(), directory.User{
		DNI: citizenDNI, GivenName: "Ane", FamilyName: "Etxeberria Goñi", BirthDate: "1990-05-17",
		Email: "ane@example.eus", Phone: "+34600000707", Credential: "bak",
	}, citizenPassword); err != nil {
		t.Fatal(err)
	}
	mdDir := filepath.Join(dir, "sp-metadata")
	if err := os.MkdirAll(mdDir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := metadata.NewDirSource(metadata.DirOptions{Dir: mdDir, Interval: time.Hour, Logger: logger})
	k := testKeys()[0]
	cert := selfSigned(t, k, "atea-test")
	signer, err := samlxml.NewSigner(k, cert, samlxml.AlgRSASHA256)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load(templates.FS())
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New(time.Now)
	var wrapped store.Store = st
	if wrap != nil {
		wrapped = wrap(st)
	}
	cfg := idp.Config{
		EntityID:            base + "/saml/metadata",
		BaseURL:             base,
		CookieName:          "atea_sso",
		FlowCookieName:      "atea_flow",
		CookieSecure:        false,
		SessionLifetime:     8 * time.Hour,
		FlowLifetime:        15 * time.Minute,
		AssertionLifetime:   5 * time.Minute,
		NotBeforeSkew:       time.Minute,
		ClockSkew:           3 * time.Minute,
		MaxRequestAge:       5 * time.Minute,
		MaxRelayState:       80,
		DefaultNameIDFormat: "transient",
		MaxPasswordFailures: 5,
		Sign:                "both",
		DefaultLevel:        authn.LevelLow,
		ClassMapping: map[string]authn.Level{
			"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport": authn.LevelLow,
		},
		SPs: map[string]idp.SPSettings{},
	}
	if update != nil {
		update(&cfg)
	}
	deps := idp.Deps{
		Store: wrapped, Directory: d, SPs: src, Signer: signer, Cert: cert,
		Secrets: keys.DeriveSecrets([]byte("0123456789abcdef0123456789abcdef")), Templates: tmpl,
		Logger: logger,
	}
	if changeDeps != nil {
		changeDeps(&deps)
	}
	srv, err := idp.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(srv.Metadata(), &ed); err != nil {
		t.Fatalf("IdP metadata: %v", err)
	}
	return &testIdP{t: t, srv: srv, ts: ts, url: base, mdDir: mdDir, sps: src, dir: d, cfg: cfg, idpMeta: &ed, store: st, clock: clock}
}

// testSP is a crewjam ServiceProvider registered with the IdP through a metadata file.
type testSP struct {
	sp  *saml.ServiceProvider
	key *rsa.PrivateKey
}

func (ti *testIdP) newSP(name string, signed bool, mutate func(*saml.EntityDescriptor)) *testSP {
	t := ti.t
	t.Helper()
	k := testKeys()[1]
	if name == "sp-two" {
		k = testKeys()[2]
	}
	cert := selfSigned(t, k, name)
	base := "https://" + name + ".test"
	md, _ := url.Parse(base + "/saml/metadata")
	acs, _ := url.Parse(base + "/saml/acs")
	sp := &saml.ServiceProvider{
		EntityID: md.String(), Key: k, Certificate: cert, MetadataURL: *md, AcsURL: *acs,
		IDPMetadata: ti.idpMeta, AuthnNameIDFormat: saml.TransientNameIDFormat,
	}
	if signed {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	ed := sp.Metadata()
	if mutate != nil {
		mutate(ed)
	}
	ti.publishSP(name, ed)
	return &testSP{sp: sp, key: k}
}

// publishSP writes ed into the IdP's SP-metadata directory as name.xml and has the IdP
// read the directory again, so the SP is known to it when this returns.
func (ti *testIdP) publishSP(name string, ed *saml.EntityDescriptor) {
	t := ti.t
	t.Helper()
	b, err := xml.MarshalIndent(ed, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ti.mdDir, name+".xml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ti.sps.Refresh(t.Context()); err != nil {
		t.Fatalf("metadata refresh: %v", err)
	}
}

// browser is a cookie-keeping HTTP client that stops at every page (no redirects to other hosts).
type browser struct {
	t testing.TB
	c *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 5 {
			return errors.New("too many redirects")
		}
		return nil
	}}}
}

type page struct {
	status int
	body   string
	header http.Header
	url    *url.URL
	forms  []form
}

type form struct {
	action, method string
	fields         url.Values
	inputs         map[string]map[string]string // name -> attributes
}

func (p *page) form(field string) *form {
	for i := range p.forms {
		if _, ok := p.forms[i].fields[field]; ok {
			return &p.forms[i]
		}
		if _, ok := p.forms[i].inputs[field]; ok {
			return &p.forms[i]
		}
	}
	return nil
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	if req.Header.Get("Accept-Language") == "" {
		req.Header.Set("Accept-Language", "en")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := &page{status: resp.StatusCode, body: string(body), header: resp.Header, url: resp.Request.URL}
	parseForms(p)
	return p
}

func (b *browser) get(u string) *page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) postForm(u string, v url.Values) *page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// submit posts form f of page p with extra values set.
func (b *browser) submit(p *page, f *form, set map[string]string) *page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range f.fields {
		v[k] = append([]string(nil), vs...)
	}
	for k, s := range set {
		v.Set(k, s)
	}
	action, err := p.url.Parse(f.action)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.postForm(action.String(), v)
}

func parseForms(p *page) {
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		return
	}
	var cur *form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
			}
			switch n.Data {
			case "form":
				p.forms = append(p.forms, form{action: attrs["action"], method: strings.ToUpper(attrs["method"]), fields: url.Values{}, inputs: map[string]map[string]string{}})
				cur = &p.forms[len(p.forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input":
				if cur != nil && attrs["name"] != "" {
					cur.inputs[attrs["name"]] = attrs
					if attrs["type"] == "hidden" {
						cur.fields.Add(attrs["name"], attrs["value"])
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

// samlResult is what the auto-POST page carried.
type samlResult struct {
	action, response, relay string
	hasRelay                bool
	xml                     []byte
}

func (p *page) samlResponse(t *testing.T) *samlResult {
	t.Helper()
	f := p.form("SAMLResponse")
	if f == nil {
		return nil
	}
	r := &samlResult{action: f.action, response: f.fields.Get("SAMLResponse")}
	if _, ok := f.fields["RelayState"]; ok {
		r.relay, r.hasRelay = f.fields.Get("RelayState"), true
	}
	x, err := base64.StdEncoding.DecodeString(r.response)
	if err != nil {
		t.Fatalf("SAMLResponse not base64: %v", err)
	}
	r.xml = x
	return r
}

// status returns the top-level and second-level status codes of a Response.
func (r *samlResult) status(t *testing.T) (string, string) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(r.xml); err != nil {
		t.Fatal(err)
	}
	top := doc.FindElement("/Response/Status/StatusCode")
	if top == nil {
		t.Fatalf("no StatusCode in %s", r.xml)
	}
	sub := ""
	if s := top.FindElement("./StatusCode"); s != nil {
		sub = s.SelectAttrValue("Value", "")
	}
	return top.SelectAttrValue("Value", ""), sub
}

// request is how the test SP sends an AuthnRequest.
type request struct {
	binding  string // "redirect" or "post"
	relay    *string
	mutate   func(*saml.AuthnRequest)
	rawXML   func([]byte) []byte // applied to the XML before encoding/signing
	signWith *rsa.PrivateKey     // sign with this key (nil: the SP's own when sign is set)
	sign     bool
	sigAlg   string // redirect SigAlg URI (default RSA-SHA256)
}

// send builds an AuthnRequest from sp and sends it to the IdP through browser b, returning
// the first page and the request ID.
func (ti *testIdP) send(b *browser, s *testSP, rq request) (*page, string) {
	t := ti.t
	t.Helper()
	req, err := s.sp.MakeAuthenticationRequest(ti.url+"/saml/sso", saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	if rq.mutate != nil {
		rq.mutate(req)
	}
	req.Signature = nil
	key := rq.signWith
	if key == nil {
		key = s.key
	}
	sigAlg := rq.sigAlg
	if sigAlg == "" {
		sigAlg = dsig.RSASHA256SignatureMethod
	}
	el := req.Element()
	switch rq.binding {
	case "post":
		if rq.sign {
			cert := s.sp.Certificate
			if rq.signWith != nil {
				cert = selfSigned(t, key, "other")
			}
			el = signEnvelopedWith(t, el, key, cert, sigAlg)
		}
		x := xmlBytes(t, el)
		if rq.rawXML != nil {
			x = rq.rawXML(x)
		}
		v := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(x)}}
		if rq.relay != nil {
			v.Set("RelayState", *rq.relay)
		}
		return b.postForm(ti.url+"/saml/sso", v), req.ID
	default:
		x := xmlBytes(t, el)
		if rq.rawXML != nil {
			x = rq.rawXML(x)
		}
		if !rq.sign {
			sigAlg = ""
		}
		return b.get(ti.url + "/saml/sso?" + redirectQuery(t, x, rq.relay, key, sigAlg)), req.ID
	}
}

// signEnvelopedWith signs el with key by an enveloped signature whose KeyInfo carries cert,
// and moves the signature right after Issuer, where the schema wants it
// (saml-core-2.0-os §3.2.1).
func signEnvelopedWith(t testing.TB, el *etree.Element, key *rsa.PrivateKey, cert *x509.Certificate, sigAlg string) *etree.Element {
	t.Helper()
	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(sigAlg); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	// goxmldsig appends the signature without setting its etree index, so etree's
	// RemoveChild misses it: drop the last token by position and insert a copy.
	sig := signed.ChildElements()[len(signed.ChildElements())-1].Copy()
	signed.RemoveChildAt(len(signed.Child) - 1)
	signed.InsertChildAt(1, sig)
	return signed
}

// redirectQuery is the HTTP-Redirect query carrying the request x, DEFLATE-encoded, with
// RelayState when relay is set, and signed by key with sigAlg unless sigAlg is empty
// (saml-bindings-2.0-os §3.4.4.1).
func redirectQuery(t testing.TB, x []byte, relay *string, key *rsa.PrivateKey, sigAlg string) string {
	t.Helper()
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = fw.Write(x)
	_ = fw.Close()
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if relay != nil {
		q += "&RelayState=" + url.QueryEscape(*relay)
	}
	if sigAlg != "" {
		q += "&SigAlg=" + url.QueryEscape(sigAlg)
		h := crypto.SHA256
		if strings.HasSuffix(sigAlg, "rsa-sha1") {
			h = crypto.SHA1
		}
		hh := h.New()
		hh.Write([]byte(q))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, hh.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	return q
}

func xmlBytes(t testing.TB, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// login fills the sign-in form on p.
func (b *browser) login(p *page, id, password string) *page {
	b.t.Helper()
	f := p.form("username")
	if f == nil {
		b.t.Fatalf("no sign-in form on page (HTTP %d): %.300s", p.status, p.body)
	}
	return b.submit(p, f, map[string]string{"username": id, "password": password})
}

// accept runs the response through crewjam's SP, the real relying party.
func (s *testSP) accept(t *testing.T, r *samlResult, reqID string) *saml.Assertion {
	t.Helper()
	if r == nil {
		t.Fatal("no SAMLResponse")
	}
	if r.action != s.sp.AcsURL.String() {
		t.Fatalf("SAMLResponse posted to %q, want the metadata ACS %q", r.action, s.sp.AcsURL.String())
	}
	a, err := s.sp.ParseXMLResponse(r.xml, []string{reqID}, s.sp.AcsURL)
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			t.Fatalf("SP refused the response: %v\n%s", ire.PrivateErr, r.xml)
		}
		t.Fatalf("SP refused the response: %v", err)
	}
	return a
}

func classRef(a *saml.Assertion) string {
	for _, st := range a.AuthnStatements {
		if st.AuthnContext.AuthnContextClassRef != nil {
			return st.AuthnContext.AuthnContextClassRef.Value
		}
	}
	return ""
}

func attr(a *saml.Assertion, friendly string) string {
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.FriendlyName == friendly && len(at.Values) > 0 {
				return at.Values[0].Value
			}
		}
	}
	return ""
}
