// Package idptest builds a real Atea IdP behind httptest for the tests of other packages (the
// self-service journeys under idp/selfservice): a memory store, a directory file in a
// temporary directory, the embedded templates, a signing key, both second factors (the
// coordinate card first, then SMS codes to a recording sender) and a browser-like client with
// a cookie jar. It is support code for tests only (dex server/helpers_test.go's
// newTestServerWith, exported because the journeys live in their own packages).
package idptest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/authn/smsotp/smsotptest"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store/memstore"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/templates"
)

// The demo citizen every IdP starts with: an active B@kQ holder with a coordinate card.
const (
	CitizenDNI      = "48151623L"
	CitizenPassword = "a good password"
	CitizenPhone    = "+34600000707"
	CitizenEmail    = "ane@example.eus"
	CitizenExpiry   = "2031-05-17"
)

// Clock is a settable clock shared by the IdP, the directory and the store.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// IdP is a running test IdP.
type IdP struct {
	T           testing.TB
	Server      *idp.Server
	HTTP        *httptest.Server
	URL         string // base URL, no trailing slash
	Directory   *directory.Directory
	Store       *memstore.Store
	SMS         *smsotptest.Recorder // every SMS and e-mail the IdP's factors send
	Card        *coordcard.Method
	CitizenCard coordcard.Card // the demo citizen's card
	Templates   *templates.Renderer
	Clock       *Clock
	DataDir     string
	Logger      *slog.Logger
	// EncryptionCert is the certificate of EncryptionKey() the IdP publishes.
	EncryptionCert *x509.Certificate
}

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// testEncryptionKey is the IdP's encryption key (the key ring's encryption role): SPs encrypt
// to its certificate, published in metadata with use="encryption". One per process, like
// testKey, because RSA generation is slow and the key carries no test state.
var testEncryptionKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// EncryptionKey returns the test IdP's encryption key; IdP.EncryptionCert is its certificate.
func EncryptionKey() *rsa.PrivateKey { return testEncryptionKey() }

// New starts an IdP; update may change the configuration before it starts. The journey's
// handlers are mounted by the caller with IdP.Server.Handle (before the first request).
func New(t testing.TB, update func(*idp.Config)) *IdP {
	t.Helper()
	return NewWithDeps(t, update, nil)
}

// NewWithDeps is New with the IdP's dependencies changed before it starts (a sign-in
// recorder, other factors); the directory and store in Deps are the IdP's own.
func NewWithDeps(t testing.TB, update func(*idp.Config), deps func(*idp.Deps)) *IdP {
	t.Helper()
	dir := t.TempDir()
	clock := &Clock{t: time.Now()}
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := directory.Open(filepath.Join(dir, "directory.db"), directory.Options{
		Params: directory.Params{MemoryKiB: 64, Time: 1, Threads: 1}, MaxFailures: 5, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	u, err := d.Add(t.Context(), directory.User{
		DNI: CitizenDNI, GivenName: "Ane", FamilyName: "Etxeberria Goñi", BirthDate: "1990-05-17",
		DocumentExpiry: CitizenExpiry, Email: CitizenEmail, Phone: CitizenPhone, Credential: directory.CredentialBakQ,
	}, CitizenPassword)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New(clock.Now)
	card, err := coordcard.New(coordcard.Config{}, bytes.Repeat([]byte{5}, 32), d)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := card.Issue(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec := &smsotptest.Recorder{}
	sms, err := smsotp.New(smsotp.Config{}, bytes.Repeat([]byte{9}, 32), st, st, rec, clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.Load(templates.FS())
	if err != nil {
		t.Fatal(err)
	}
	k := testKey()
	cert := selfSigned(t, k)
	signer, err := samlxml.NewSigner(k, cert, samlxml.AlgRSASHA256)
	if err != nil {
		t.Fatal(err)
	}
	mdDir := filepath.Join(dir, "sp-metadata")
	src := metadata.NewDirSource(metadata.DirOptions{Dir: mdDir, Interval: time.Hour, Logger: logger})
	cfg := idp.Config{
		EntityID: base + "/saml/metadata", BaseURL: base,
		CookieName: "atea_sso", FlowCookieName: "atea_flow",
		SessionLifetime: 8 * time.Hour, FlowLifetime: 15 * time.Minute,
		AssertionLifetime: 5 * time.Minute, NotBeforeSkew: time.Minute, ClockSkew: 3 * time.Minute,
		MaxRequestAge: 5 * time.Minute, MaxRelayState: 80, DefaultNameIDFormat: "transient",
		MaxPasswordFailures: 5, Sign: "both", DefaultLevel: authn.LevelLow,
		SPs: map[string]idp.SPSettings{}, Now: clock.Now,
	}
	if update != nil {
		update(&cfg)
	}
	encCert := selfSigned(t, testEncryptionKey())
	dp := idp.Deps{
		EncryptionKeys: []crypto.Decrypter{testEncryptionKey()}, EncryptionCerts: []*x509.Certificate{encCert},
		Store: st, Directory: d, SPs: src, Signer: signer, Cert: cert,
		Secrets:   keys.DeriveSecrets([]byte("0123456789abcdef0123456789abcdef")),
		Templates: tmpl, Logger: logger, Factors: []authn.SecondFactor{card, sms},
	}
	if deps != nil {
		deps(&dp)
	}
	srv, err := idp.New(cfg, dp)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	return &IdP{T: t, Server: srv, HTTP: ts, URL: base, Directory: d, Store: st, SMS: rec, Card: card,
		CitizenCard: cc, Templates: tmpl, Clock: clock, DataDir: dir, Logger: logger, EncryptionCert: encCert}
}

func selfSigned(t testing.TB, k *rsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "atea-idptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
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

// Browser is an HTTP client with a cookie jar that does not follow redirects by itself, so
// tests see every hop.
type Browser struct {
	T      testing.TB
	Client *http.Client
	Base   string
	Lang   string // Accept-Language sent with every request ("" → es)
}

// Browser returns a new browser (empty cookie jar) for this IdP.
func (p *IdP) Browser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{T: p.T, Base: p.URL, Client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Page is a response with its body read.
type Page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string // the redirect target, resolved against the request URL
}

func (b *Browser) do(req *http.Request) Page {
	b.T.Helper()
	if b.Lang != "" {
		req.Header.Set("Accept-Language", b.Lang)
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		b.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := Page{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if loc, err := resp.Location(); err == nil {
		p.Location = loc.String()
	}
	return p
}

func (b *Browser) abs(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return b.Base + path
}

// Get fetches path (or an absolute URL).
func (b *Browser) Get(path string) Page {
	b.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.abs(path), nil)
	return b.do(req)
}

// Post submits form to path as a same-origin browser form would.
func (b *Browser) Post(path string, form url.Values) Page {
	b.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.Base)
	return b.do(req)
}

// Follow GETs redirects from p until a page that is not a redirect (at most 10 hops).
func (b *Browser) Follow(p Page) Page {
	b.T.Helper()
	for i := 0; i < 10 && p.Location != "" && p.Status >= 300 && p.Status < 400; i++ {
		p = b.Get(p.Location)
	}
	return p
}

// Form is the first <form> of a page whose action contains actionPart ("" → the first form):
// its action and the values of its inputs (hidden ones and any with a value).
type Form struct {
	Action string
	Values url.Values
}

// FormOf finds a form in p's body; it fails the test if there is none.
func (b *Browser) FormOf(p Page, actionPart string) Form {
	b.T.Helper()
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		b.T.Fatal(err)
	}
	var found *Form
	var walk func(n *html.Node, cur *Form)
	walk = func(n *html.Node, cur *Form) {
		if found != nil && cur == nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "form" && cur == nil {
			action := attr(n, "action")
			if strings.Contains(action, actionPart) {
				f := &Form{Action: action, Values: url.Values{}}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, f)
				}
				found = f
				return
			}
		}
		if cur != nil && n.Type == html.ElementNode && (n.Data == "input" || n.Data == "button") && attr(n, "name") != "" {
			typ := attr(n, "type")
			if (typ != "checkbox" && typ != "radio" && n.Data != "button") || hasAttr(n, "checked") {
				cur.Values.Add(attr(n, "name"), attr(n, "value"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	if found == nil {
		b.T.Fatalf("no form with action containing %q in page (status %d):\n%s", actionPart, p.Status, p.Body)
	}
	return *found
}

// Submit posts form f with the given fields set over its own values.
func (b *Browser) Submit(f Form, set map[string]string) Page {
	b.T.Helper()
	v := url.Values{}
	for k, vs := range f.Values {
		v[k] = append([]string(nil), vs...)
	}
	for k, s := range set {
		v.Set(k, s)
	}
	return b.Post(f.Action, v)
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

// URL parses a URL or fails the test.
func URL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// CardAnswers fills every cell_<position> field of a coordinate-card form from card.
func CardAnswers(f Form, card coordcard.Card) map[string]string {
	out := map[string]string{}
	for k := range f.Values {
		if pos, ok := strings.CutPrefix(k, "cell_"); ok {
			out[k] = card.Cells[pos]
		}
	}
	return out
}

// SignIn completes Atea's sign-in pages from page p (the password form) as the demo citizen,
// answering the coordinate card when the level needs it, and returns the page after the last
// redirect.
func (p *IdP) SignIn(b *Browser, page Page) Page {
	b.T.Helper()
	page = b.Follow(page)
	f := b.FormOf(page, "/login")
	page = b.Follow(b.Submit(f, map[string]string{"username": CitizenDNI, "password": CitizenPassword}))
	if strings.Contains(page.Body, `name="cell_`) {
		f := b.FormOf(page, "/login/factor")
		page = b.Follow(b.Submit(f, CardAnswers(f, p.CitizenCard)))
	}
	return page
}
