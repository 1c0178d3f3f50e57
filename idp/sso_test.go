package idp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
)

const (
	statusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"
	loaLow        = "http://eidas.europa.eu/LoA/low"
)

func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }

// TestSignInBothBindings walks the whole round trip: request, sign-in form, signed response
// accepted by crewjam's SP, for every binding and signing combination.
func TestSignInBothBindings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		binding string
		signed  bool
	}{
		{"redirect/unsigned", "redirect", false},
		{"redirect/signed", "redirect", true},
		{"post/unsigned", "post", false},
		{"post/signed", "post", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ti := newTestIdP(t, nil)
			sp := ti.newSP("sp-one", tc.signed, nil)
			b := newBrowser(t)
			relay := `a'b"c<d>e&f%g+h`
			p, id := ti.send(b, sp, request{binding: tc.binding, sign: tc.signed, relay: &relay})
			if p.status != http.StatusOK || p.form("username") == nil {
				t.Fatalf("want the sign-in form, got HTTP %d: %.400s", p.status, p.body)
			}
			in := p.form("username").inputs
			if in["username"]["autocomplete"] != "username" || in["password"]["autocomplete"] != "current-password" {
				t.Errorf("autocomplete attributes = %q, %q", in["username"]["autocomplete"], in["password"]["autocomplete"])
			}
			p = b.login(p, citizenDNI, citizenPassword)
			r := p.samlResponse(t)
			a := sp.accept(t, r, id)
			if !r.hasRelay || r.relay != relay {
				t.Errorf("RelayState = %q (present %v), want %q byte-exact", r.relay, r.hasRelay, relay)
			}
			if got := classRef(a); got != loaLow {
				t.Errorf("AuthnContextClassRef = %q, want %q", got, loaLow)
			}
			if got := attr(a, "PersonIdentifier"); got != "ES/ES/"+citizenDNI {
				t.Errorf("PersonIdentifier = %q", got)
			}
			if got := attr(a, "FamilyName"); got != "Etxeberria Goñi" {
				t.Errorf("FamilyName = %q", got)
			}
			if a.Subject.NameID.Format != string(saml.TransientNameIDFormat) || strings.Contains(a.Subject.NameID.Value, citizenDNI) {
				t.Errorf("NameID = %q (%s), want a transient that is not the DNI", a.Subject.NameID.Value, a.Subject.NameID.Format)
			}
			csp := p.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "form-action 'self' https://sp-one.test") || !strings.Contains(csp, "script-src 'nonce-") {
				t.Errorf("auto-POST CSP = %q", csp)
			}
			if p.header.Get("Cache-Control") != "no-store" {
				t.Errorf("auto-POST Cache-Control = %q, want no-store", p.header.Get("Cache-Control"))
			}
		})
	}
}

// TestSingleSignOn: a second SP in the same browser gets an assertion without a new prompt;
// persistent NameIDs are stable per SP and differ between SPs.
func TestSingleSignOn(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, func(c *idp.Config) { c.DefaultNameIDFormat = "persistent" })
	one := ti.newSP("sp-one", false, nil)
	two := ti.newSP("sp-two", false, nil)
	one.sp.AuthnNameIDFormat = saml.PersistentNameIDFormat
	two.sp.AuthnNameIDFormat = saml.PersistentNameIDFormat
	b := newBrowser(t)
	p, id := ti.send(b, one, request{binding: "redirect"})
	a1 := one.accept(t, b.login(p, citizenDNI, citizenPassword).samlResponse(t), id)

	p, id = ti.send(b, two, request{binding: "post"})
	if p.form("username") != nil {
		t.Fatal("second SP got a sign-in prompt; want single sign-on")
	}
	a2 := two.accept(t, p.samlResponse(t), id)
	if a1.Subject.NameID.Value == a2.Subject.NameID.Value {
		t.Error("the same persistent NameID went to two SPs: they could link the citizen")
	}
	p, id = ti.send(b, one, request{binding: "redirect"})
	a3 := one.accept(t, p.samlResponse(t), id)
	if a3.Subject.NameID.Value != a1.Subject.NameID.Value {
		t.Errorf("persistent NameID changed: %q then %q", a1.Subject.NameID.Value, a3.Subject.NameID.Value)
	}
	if a3.Subject.NameID.Format != string(saml.PersistentNameIDFormat) {
		t.Errorf("NameID format = %q", a3.Subject.NameID.Format)
	}

	// ForceAuthn prompts again even with a live session.
	p, _ = ti.send(b, one, request{binding: "redirect", mutate: func(r *saml.AuthnRequest) { r.ForceAuthn = boolp(true) }})
	if p.form("username") == nil {
		t.Fatalf("ForceAuthn did not prompt: HTTP %d %.300s", p.status, p.body)
	}
	// IsPassive with a session: no UI, success.
	p, id = ti.send(b, two, request{binding: "redirect", mutate: func(r *saml.AuthnRequest) { r.IsPassive = boolp(true) }})
	two.accept(t, p.samlResponse(t), id)
}

func TestIsPassiveWithoutSession(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	for _, binding := range []string{"redirect", "post"} {
		p, _ := ti.send(newBrowser(t), sp, request{binding: binding, mutate: func(r *saml.AuthnRequest) { r.IsPassive = boolp(true) }})
		r := p.samlResponse(t)
		if r == nil {
			t.Fatalf("%s: IsPassive without session: want a SAML Response, got HTTP %d", binding, p.status)
		}
		if top, sub := r.status(t); top != samlxml.StatusResponder || sub != samlxml.StatusNoPassive {
			t.Errorf("%s: status = %s/%s, want Responder/NoPassive", binding, top, sub)
		}
	}
}

func TestEncryptedAssertion(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, func(c *idp.Config) {
		c.SPs["https://sp-one.test/saml/metadata"] = idp.SPSettings{EncryptAssertions: true, Encryption: "aes128-gcm"}
	})
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect"})
	r := b.login(p, citizenDNI, citizenPassword).samlResponse(t)
	if !strings.Contains(string(r.xml), "EncryptedAssertion") || strings.Contains(string(r.xml), "ES/ES/") {
		t.Fatal("assertion not encrypted")
	}
	if !strings.Contains(string(r.xml), "aes128-gcm") {
		t.Error("not AES-GCM")
	}
	a := sp.accept(t, r, id)
	if attr(a, "PersonIdentifier") != "ES/ES/"+citizenDNI {
		t.Error("decrypted assertion lacks attributes")
	}
}

// TestLevels: legacy class refs map onto levels, an unmeetable level is refused with
// NoAuthnContext and never answered with a lower assertion.
func TestLevels(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	for _, tc := range []struct {
		name, comparison, class string
		wantClass               string // "" means NoAuthnContext
	}{
		{"legacy exact", "exact", "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
		{"eidas minimum low", "minimum", loaLow, loaLow},
		{"eidas minimum substantial", "minimum", "http://eidas.europa.eu/LoA/substantial", ""},
		{"eidas exact high", "exact", "http://eidas.europa.eu/LoA/high", ""},
		{"unknown class", "exact", "urn:example:unknown", ""},
		{"maximum substantial", "maximum", "http://eidas.europa.eu/LoA/substantial", loaLow},
		{"better low", "better", loaLow, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t)
			p, id := ti.send(b, sp, request{binding: "redirect", mutate: func(r *saml.AuthnRequest) {
				r.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: tc.comparison, AuthnContextClassRef: tc.class}
			}})
			if tc.wantClass == "" {
				r := p.samlResponse(t)
				if r == nil {
					t.Fatalf("want a NoAuthnContext Response, got HTTP %d %.200s", p.status, p.body)
				}
				if top, sub := r.status(t); top != samlxml.StatusResponder || sub != samlxml.StatusNoAuthnContext {
					t.Errorf("status = %s/%s, want Responder/NoAuthnContext", top, sub)
				}
				return
			}
			a := sp.accept(t, b.login(p, citizenDNI, citizenPassword).samlResponse(t), id)
			if got := classRef(a); got != tc.wantClass {
				t.Errorf("class = %q, want %q", got, tc.wantClass)
			}
		})
	}
}

// TestWrongPasswordAndLockout: unknown ID and wrong password look the same; after 5 failures
// even the right password is refused until an unlock.
func TestWrongPasswordAndLockout(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, _ := ti.send(b, sp, request{binding: "redirect"})
	unknown := b.login(p, "12345678Z", "whatever pw")
	wrong := b.login(unknown, citizenDNI, "wrong password")
	if unknown.status != wrong.status || alertText(unknown) != alertText(wrong) || alertText(wrong) == "" {
		t.Errorf("unknown ID and wrong password differ: %d %q vs %d %q", unknown.status, alertText(unknown), wrong.status, alertText(wrong))
	}
	letter := b.login(wrong, "48151623X", "pw")
	if !strings.Contains(alertText(letter), "48151623") || !strings.Contains(alertText(letter), "L") {
		t.Errorf("mistyped letter hint = %q", alertText(letter))
	}
	p = letter
	for i := 0; i < 4; i++ {
		p = b.login(p, citizenDNI, "wrong password")
	}
	p = b.login(p, citizenDNI, citizenPassword)
	if p.samlResponse(t) != nil {
		t.Fatal("locked account signed in")
	}
	if alertText(p) != alertText(wrong) {
		t.Errorf("locked account message %q differs from wrong-password message %q", alertText(p), alertText(wrong))
	}
	if err := ti.dir.Unlock(t.Context(), citizenDNI); err != nil {
		t.Fatal(err)
	}
	// Still blocked: the failures are also counted in the shared store.
	p, _ = ti.send(b, sp, request{binding: "redirect"})
	if b.login(p, citizenDNI, citizenPassword).samlResponse(t) != nil {
		t.Fatal("signed in while the shared failure count still blocks the account")
	}
	if err := ti.srv.ClearFailures(t.Context(), citizenDNI); err != nil {
		t.Fatal(err)
	}
	p, id := ti.send(b, sp, request{binding: "redirect"})
	sp.accept(t, b.login(p, citizenDNI, citizenPassword).samlResponse(t), id)
}

func alertText(p *page) string {
	i := strings.Index(p.body, `role="alert"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(p.body[i:], "</")
	if j < 0 {
		return ""
	}
	s := p.body[i+len(`role="alert"`) : i+j]
	if k := strings.Index(s, ">"); k >= 0 {
		s = s[k+1:]
	}
	return strings.TrimSpace(s)
}

// TestRejections: every hostile or broken request is refused the right way: an error page
// (and nothing sent) before the SP is trusted, a signed SAML error after; never a 5xx.
func TestRejections(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	plain := ti.newSP("sp-one", false, nil)
	signed := ti.newSP("sp-two", true, func(ed *saml.EntityDescriptor) {
		ed.SPSSODescriptors[0].AuthnRequestsSigned = boolp(true)
	})
	wrongKey := testKeys()[3]
	type want int
	const (
		wantPage want = iota
		wantStatus
	)
	for _, tc := range []struct {
		name   string
		sp     *testSP
		rq     request
		want   want
		status string // second-level status when wantStatus
		code   int    // HTTP status of the error page
	}{
		{"acs on another host", plain, request{mutate: func(r *saml.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.test/acs" }}, wantPage, "", 400},
		{"acs with extra query", plain, request{mutate: func(r *saml.AuthnRequest) { r.AssertionConsumerServiceURL += "?next=/x" }}, wantPage, "", 400},
		{"acs redirect binding", plain, request{mutate: func(r *saml.AuthnRequest) { r.ProtocolBinding = saml.HTTPRedirectBinding }}, wantPage, "", 400},
		{"missing issuer", plain, request{mutate: func(r *saml.AuthnRequest) { r.Issuer = nil }}, wantPage, "", 400},
		{"unknown issuer", plain, request{mutate: func(r *saml.AuthnRequest) { r.Issuer.Value = "https://nobody.test" }}, wantPage, "", 400},
		{"doctype redirect", plain, request{rawXML: doctype}, wantPage, "", 400},
		{"doctype post", plain, request{binding: "post", rawXML: doctype}, wantPage, "", 400},
		{"relaystate 81 bytes", plain, request{relay: strp(strings.Repeat("r", 81))}, wantPage, "", 400},
		{"relaystate control char", plain, request{relay: strp("a\nb")}, wantPage, "", 400},
		{"signed sp, unsigned request", signed, request{}, wantPage, "", 400},
		{"signed sp, wrong key redirect", signed, request{sign: true, signWith: wrongKey}, wantPage, "", 400},
		{"signed sp, wrong key post", signed, request{binding: "post", sign: true, signWith: wrongKey}, wantPage, "", 400},
		{"signed sp, sha1 redirect", signed, request{sign: true, sigAlg: "http://www.w3.org/2000/09/xmldsig#rsa-sha1"}, wantPage, "", 400},
		{"signed sp, sha1 post", signed, request{binding: "post", sign: true, sigAlg: "http://www.w3.org/2000/09/xmldsig#rsa-sha1"}, wantPage, "", 400},
		{"signed post, tampered after signing", signed, request{binding: "post", sign: true, mutate: func(r *saml.AuthnRequest) { r.ForceAuthn = boolp(false) }, rawXML: func(x []byte) []byte {
			return []byte(strings.Replace(string(x), `ForceAuthn`, `IsPassive`, 1))
		}}, wantPage, "", 400},
		{"wrong destination", plain, request{mutate: func(r *saml.AuthnRequest) { r.Destination = "https://evil.test/sso" }}, wantStatus, samlxml.StatusRequestDenied, 0},
		{"issued in 2099", plain, request{mutate: func(r *saml.AuthnRequest) { r.IssueInstant = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) }}, wantStatus, samlxml.StatusRequestDenied, 0},
		{"issued an hour ago", plain, request{mutate: func(r *saml.AuthnRequest) { r.IssueInstant = time.Now().Add(-time.Hour) }}, wantStatus, samlxml.StatusRequestDenied, 0},
		{"nameid format unknown", plain, request{mutate: func(r *saml.AuthnRequest) { r.NameIDPolicy.Format = strp("urn:example:format") }}, wantStatus, samlxml.StatusInvalidNameIDPol, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rq.binding == "" {
				tc.rq.binding = "redirect"
			}
			p, _ := ti.send(newBrowser(t), tc.sp, tc.rq)
			if p.status >= 500 {
				t.Fatalf("HTTP %d: a client error must never be a server error", p.status)
			}
			r := p.samlResponse(t)
			switch tc.want {
			case wantPage:
				if r != nil {
					t.Fatalf("got a SAMLResponse to %s; want an error page and nothing sent", r.action)
				}
				if p.status != tc.code {
					t.Errorf("HTTP %d, want %d", p.status, tc.code)
				}
				if !strings.Contains(p.body, `role="alert"`) && !strings.Contains(p.body, "Reference") {
					t.Errorf("error page without explanation: %.300s", p.body)
				}
			case wantStatus:
				if r == nil {
					t.Fatalf("want a SAML error Response, got HTTP %d %.300s", p.status, p.body)
				}
				if r.action != tc.sp.sp.AcsURL.String() {
					t.Errorf("error Response posted to %q, want metadata ACS", r.action)
				}
				if top, sub := r.status(t); top == statusSuccess || sub != tc.status {
					t.Errorf("status = %s/%s, want .../%s", top, sub, tc.status)
				}
			}
		})
	}
}

func doctype(x []byte) []byte {
	return append([]byte(`<!DOCTYPE samlp:AuthnRequest [<!ENTITY x "x">]>`), x...)
}

// TestReplay: the same request ID is served once.
func TestReplay(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	var reqID string
	fixed := func(r *saml.AuthnRequest) {
		if reqID == "" {
			reqID = r.ID
		}
		r.ID = reqID
	}
	b := newBrowser(t)
	p, _ := ti.send(b, sp, request{mutate: fixed})
	sp.accept(t, b.login(p, citizenDNI, citizenPassword).samlResponse(t), reqID)
	p, _ = ti.send(b, sp, request{mutate: fixed})
	r := p.samlResponse(t)
	if r == nil {
		t.Fatalf("replay: want a SAML error, got HTTP %d", p.status)
	}
	if top, sub := r.status(t); top != samlxml.StatusRequester || sub != samlxml.StatusRequestDenied {
		t.Errorf("replay status = %s/%s, want Requester/RequestDenied", top, sub)
	}
}

// TestGarbage: malformed input gets a 4xx page, never a 5xx or a panic.
func TestGarbage(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	b := newBrowser(t)
	for _, q := range []string{
		"", "SAMLRequest=!!!", "SAMLRequest=AAAA", "SAMLRequest=a&SAMLRequest=b",
		"SAMLRequest=" + strings.Repeat("A", 20000),
		"SAMLResponse=AAAA",
	} {
		p := b.get(ti.url + "/saml/sso?" + q)
		if p.status < 400 || p.status >= 500 {
			t.Errorf("GET ?%.40s: HTTP %d, want 4xx", q, p.status)
		}
	}
	for _, path := range []string{"/login", "/login?flow=nope", "/nothing-here"} {
		if p := b.get(ti.url + path); p.status < 400 || p.status >= 500 {
			t.Errorf("GET %s: HTTP %d, want 4xx", path, p.status)
		}
	}
	p := b.postForm(ti.url+"/login", map[string][]string{"flow": {"x"}, "username": {"a"}})
	if p.status < 400 || p.status >= 500 {
		t.Errorf("POST /login garbage: HTTP %d", p.status)
	}
	p = b.postForm(ti.url+"/saml/sso", map[string][]string{"SAMLRequest": {strings.Repeat("QUFB", 100000)}})
	if p.status < 400 || p.status >= 500 {
		t.Errorf("POST oversize: HTTP %d", p.status)
	}
}

// TestLockoutSharedBetweenInstances: two IdPs on one store (two instances behind a load
// balancer, each with its own directory) block an account together.
func TestLockoutSharedBetweenInstances(t *testing.T) {
	t.Parallel()
	a := newTestIdP(t, func(c *idp.Config) { c.MaxPasswordFailures = 5 })
	b := newTestIdPWith(t, func(c *idp.Config) { c.MaxPasswordFailures = 5 }, func(store.Store) store.Store { return a.store })
	spA, spB := a.newSP("sp-one", false, nil), b.newSP("sp-one", false, nil)
	br := newBrowser(t)
	fail := func(ti *testIdP, sp *testSP, n int) {
		p, _ := ti.send(br, sp, request{binding: "redirect"})
		for i := 0; i < n; i++ {
			p = br.login(p, citizenDNI, "wrong password")
		}
	}
	fail(a, spA, 3)
	fail(b, spB, 2)
	for name, inst := range map[string]struct {
		ti *testIdP
		sp *testSP
	}{"a": {a, spA}, "b": {b, spB}} {
		bw := newBrowser(t)
		p, _ := inst.ti.send(bw, inst.sp, request{binding: "redirect"})
		if bw.login(p, citizenDNI, citizenPassword).samlResponse(t) != nil {
			t.Errorf("instance %s signed in after 5 failures spread over two instances", name)
		}
	}
	if err := a.srv.ClearFailures(t.Context(), citizenDNI); err != nil {
		t.Fatal(err)
	}
	bb := newBrowser(t)
	p, id := b.send(bb, spB, request{binding: "redirect"})
	spB.accept(t, bb.login(p, citizenDNI, citizenPassword).samlResponse(t), id)
}

// TestLockedAccountEndsSession: an account locked by an administrator while its session runs
// gets no further assertions: the SP receives AuthnFailed and the session is gone.
func TestLockedAccountEndsSession(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect"})
	sp.accept(t, b.login(p, citizenDNI, citizenPassword).samlResponse(t), id)
	if err := ti.dir.Lock(t.Context(), citizenDNI, "test"); err != nil {
		t.Fatal(err)
	}
	p, _ = ti.send(b, sp, request{binding: "redirect"})
	r := p.samlResponse(t)
	if r == nil {
		t.Fatalf("want a SAML error Response, got HTTP %d", p.status)
	}
	if _, sub := r.status(t); sub != samlxml.StatusAuthnFailed {
		t.Errorf("status %s, want AuthnFailed", sub)
	}
	if p, _ = ti.send(b, sp, request{binding: "redirect"}); p.form("username") == nil {
		t.Error("the session survived: want the sign-in form")
	}
}
