package idp_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
)

const loaHigh = "http://eidas.europa.eu/LoA/high"

// fakeCerts reads the "certificate" from a test header: certauth's own tests cover the
// certificate checks; these cover the flow around them.
type fakeCerts struct{}

func (fakeCerts) CitizenDNI(r *http.Request) (string, error) {
	if d := r.Header.Get("X-Test-Cert-DNI"); d != "" {
		return d, nil
	}
	return "", errors.New("no certificate")
}

// TestCertificateSignIn: a request for high goes straight to certificate sign-in (the only
// method that reaches it) and the assertion states high; at low, the sign-in page offers the
// certificate next to the password; a valid certificate of an unregistered citizen, or none
// at all, gets an error page and no assertion.
func TestCertificateSignIn(t *testing.T) {
	t.Parallel()
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) { d.Certificates = fakeCerts{} })
	sp := ti.newSP("sp-one", false, nil)

	b := newBrowser(t)
	b.c.Transport = headerTransport{"X-Test-Cert-DNI": citizenDNI}
	p, id := ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaHigh)})
	if got := classRef(sp.accept(t, p.samlResponse(t), id)); got != loaHigh {
		t.Errorf("certificate sign-in class = %q, want high", got)
	}

	// At low, password and certificate both qualify: the chooser lists them; choosing the
	// password gives the sign-in form (which still links the certificate).
	cb := newBrowser(t)
	p, id = ti.send(cb, sp, request{binding: "redirect"})
	f := p.form("csrf") // the chooser's one form; its buttons are name="method"
	if f == nil || !strings.Contains(p.body, `name="method" value="password"`) || !strings.Contains(p.body, `value="cert"`) {
		t.Fatalf("want the method chooser with password and certificate, got HTTP %d %.300s", p.status, p.body)
	}
	p = cb.submit(p, f, map[string]string{"method": "password"})
	if p.form("username") == nil || !strings.Contains(p.body, "/login/cert?flow=") {
		t.Fatalf("choosing the password: want the sign-in form offering the certificate too, got %.300s", p.body)
	}
	sp.accept(t, cb.login(p, citizenDNI, citizenPassword).samlResponse(t), id)

	for name, dni := range map[string]string{"unregistered": "12345678Z", "no certificate": ""} {
		b := newBrowser(t)
		if dni != "" {
			b.c.Transport = headerTransport{"X-Test-Cert-DNI": dni}
		}
		p, _ := ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaHigh)})
		if p.samlResponse(t) != nil || p.status < 400 || p.status >= 500 {
			t.Errorf("%s: HTTP %d (assertion sent: %v), want a 4xx page and nothing sent", name, p.status, p.samlResponse(t) != nil)
		}
	}
}

// headerTransport adds headers to every request (the "certificate" of the fake).
type headerTransport map[string]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestChooseBakQ: choosing B@kQ in the chooser for a request that low would satisfy runs the
// second factor, and the assertion states what was reached (minimum low → substantial).
func TestChooseBakQ(t *testing.T) {
	t.Parallel()
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) {
		d.Certificates = fakeCerts{}
		d.Factors = []authn.SecondFactor{&fakeCard{}}
	})
	addBakQ(t, ti)
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaLow)})
	if !strings.Contains(p.body, `name="method" value="bakq"`) {
		t.Fatalf("the chooser does not offer B@kQ: %.300s", p.body)
	}
	p = b.submit(p, p.form("csrf"), map[string]string{"method": "bakq"})
	p = b.login(p, bakqDNI, citizenPassword)
	f := p.form("cell_B3")
	if f == nil {
		t.Fatalf("after choosing B@kQ and the password, want the card page; got HTTP %d", p.status)
	}
	a := sp.accept(t, b.submit(p, f, map[string]string{"cell_B3": "123", "cell_D1": "456"}).samlResponse(t), id)
	if got := classRef(a); got != loaSubstantial {
		t.Errorf("class = %q, want substantial (what was reached)", got)
	}
}

// TestFlowPostsRefuseCrossSite: every step's form (password, chooser, second factor) refuses
// a post from another site before looking at it (login CSRF, SECURITY.md §4.6).
func TestFlowPostsRefuseCrossSite(t *testing.T) {
	t.Parallel()
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) { d.Certificates = fakeCerts{} })
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, _ := ti.send(b, sp, request{binding: "redirect"})
	f := p.form("csrf")
	if f == nil {
		t.Fatal("no chooser form")
	}
	for _, path := range []string{"/login/choose", "/login", "/login/factor"} {
		v := url.Values{}
		for k, vs := range f.fields {
			v[k] = vs
		}
		v.Set("method", "password")
		req, _ := http.NewRequest(http.MethodPost, ti.url+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		if got := b.do(req); got.status != http.StatusForbidden {
			t.Errorf("cross-site POST %s: HTTP %d, want 403", path, got.status)
		}
	}
}
