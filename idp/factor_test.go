package idp_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/authn/smsotp/smsotptest"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/samlxml"
)

const loaSubstantial = "http://eidas.europa.eu/LoA/substantial"

// fakeCard is a coordinate-card-shaped second factor: fixed positions, one right answer,
// each flow's answer accepted once. (The real card's rules are tested in coordcard.)
type fakeCard struct {
	mu   sync.Mutex
	used map[string]bool
}

func (c *fakeCard) ID() string         { return "coordcard" }
func (c *fakeCard) Level() authn.Level { return authn.LevelSubstantial }
func (c *fakeCard) Begin(_ context.Context, s authn.Subject, flow string) (authn.Challenge, error) {
	return authn.Challenge{Method: "coordcard", Positions: []string{"B3", "D1"}, Digits: 3, ExpiresAt: time.Now().Add(time.Hour)}, nil
}
func (c *fakeCard) Verify(_ context.Context, s authn.Subject, flow, answer string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if answer != "123 456" {
		return authn.ErrInvalidCredentials
	}
	if c.used == nil {
		c.used = map[string]bool{}
	}
	if c.used[flow] {
		return authn.ErrExpired
	}
	c.used[flow] = true
	return nil
}

func minimum(level string) func(*saml.AuthnRequest) {
	return func(r *saml.AuthnRequest) {
		r.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: "minimum", AuthnContextClassRef: level}
	}
}

// TestSubstantialWithCard: a B@kQ holder asked for substantial signs in with the password and
// then the card; the assertion states substantial. A wrong card answer shows the card page
// again.
func TestSubstantialWithCard(t *testing.T) {
	t.Parallel()
	card := &fakeCard{}
	ti := newTestIdPWithFactors(t, card)
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	p = b.login(p, bakqDNI, citizenPassword)
	f := p.form("cell_B3")
	if f == nil || p.form("cell_D1") == nil {
		t.Fatalf("after the password, want the card page asking B3 and D1; got HTTP %d %.300s", p.status, p.body)
	}
	if ac := f.inputs["cell_B3"]["autocomplete"]; ac != "one-time-code" {
		t.Errorf("card input autocomplete = %q", ac)
	}
	wrong := b.submit(p, f, map[string]string{"cell_B3": "999", "cell_D1": "999"})
	if wrong.form("cell_B3") == nil || alertText(wrong) == "" {
		t.Fatalf("wrong card answer: want the card page with an alert, got HTTP %d", wrong.status)
	}
	r := b.submit(wrong, wrong.form("cell_B3"), map[string]string{"cell_B3": "123", "cell_D1": "456"}).samlResponse(t)
	a := sp.accept(t, r, id)
	if got := classRef(a); got != loaSubstantial {
		t.Errorf("class = %q, want %q", got, loaSubstantial)
	}
	// The session now holds substantial: a second request at substantial is single sign-on.
	p, id = ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	if got := classRef(sp.accept(t, p.samlResponse(t), id)); got != loaSubstantial {
		t.Errorf("SSO class = %q", got)
	}
}

// TestStepUp: a session at low, then a request for substantial asks only for the card (no
// password), and the same session continues.
func TestStepUp(t *testing.T) {
	t.Parallel()
	ti := newTestIdPWithFactors(t, &fakeCard{})
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect"})
	if got := classRef(sp.accept(t, b.login(p, bakqDNI, citizenPassword).samlResponse(t), id)); got != loaLow {
		t.Fatalf("first sign-in class = %q, want low", got)
	}
	p, id = ti.send(b, sp, request{binding: "post", mutate: minimum(loaSubstantial)})
	if p.form("username") != nil {
		t.Fatal("step-up asked for the password again")
	}
	f := p.form("cell_B3")
	if f == nil {
		t.Fatalf("step-up: want the card page, got HTTP %d %.300s", p.status, p.body)
	}
	a := sp.accept(t, b.submit(p, f, map[string]string{"cell_B3": "123", "cell_D1": "456"}).samlResponse(t), id)
	if got := classRef(a); got != loaSubstantial {
		t.Errorf("after step-up class = %q, want substantial", got)
	}
}

// TestBakHolderAskedForSubstantial: a citizen with B@k only gets the page explaining B@kQ
// (journey 2), not a dead end and not an assertion.
func TestBakHolderAskedForSubstantial(t *testing.T) {
	t.Parallel()
	ti := newTestIdPWithFactors(t, &fakeCard{})
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, _ := ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	p = b.login(p, citizenDNI, citizenPassword)
	if p.samlResponse(t) != nil || p.form("cell_B3") != nil {
		t.Fatal("a B@k holder got an assertion or a second factor at substantial")
	}
	if !strings.Contains(p.body, "B@kQ") {
		t.Errorf("upgrade page does not explain B@kQ: %.300s", p.body)
	}
}

// TestNoFactorsNoSubstantial: without second factors configured, substantial cannot be met
// and is refused with NoAuthnContext before any prompt.
func TestNoFactorsNoSubstantial(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, nil)
	sp := ti.newSP("sp-one", false, nil)
	p, _ := ti.send(newBrowser(t), sp, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	r := p.samlResponse(t)
	if r == nil {
		t.Fatalf("want NoAuthnContext, got HTTP %d", p.status)
	}
	if _, sub := r.status(t); sub != samlxml.StatusNoAuthnContext {
		t.Errorf("status %s, want NoAuthnContext", sub)
	}
}

const bakqDNI = "X1234567L"

// newTestIdPWithFactors is newTestIdP with second factors and a B@kQ citizen.
func newTestIdPWithFactors(t *testing.T, fs ...authn.SecondFactor) *testIdP {
	t.Helper()
	ti := newTestIdPWithDeps(t, func(c *idp.Config) {}, func(d *idp.Deps) { d.Factors = fs })
	addBakQ(t, ti)
	return ti
}

// TestSubstantialWithSMS runs the real SMS factor: the page says where the code went and
// shows its first digits (seed 001), the citizen types the rest; a reload sends nothing new;
// "I did not receive the code" before the cooldown is refused with a message.
func TestSubstantialWithSMS(t *testing.T) {
	t.Parallel()
	rec := &smsotptest.Recorder{}
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) {
		m, err := smsotp.New(smsotp.Config{}, bytes.Repeat([]byte{9}, 32), d.Store, d.Store, rec, time.Now, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.Factors = []authn.SecondFactor{m}
	})
	addBakQ(t, ti)
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	p = b.login(p, bakqDNI, citizenPassword)
	f := p.form("code")
	if f == nil {
		t.Fatalf("want the SMS page, got HTTP %d %.300s", p.status, p.body)
	}
	code, ok := rec.LastCode("+34600123707")
	if !ok || len(code) != 7 {
		t.Fatalf("SMS code sent = %q, %v", code, ok)
	}
	if !strings.Contains(p.body, "***707") || !strings.Contains(p.body, code[:3]) {
		t.Errorf("SMS page lacks the masked number or the prefix %s", code[:3])
	}
	if strings.Contains(p.body, code[3:]) {
		t.Error("SMS page shows the digits the citizen must type")
	}
	// A reload shows the same code's page and sends nothing.
	reload := b.get(ti.url + "/login?flow=" + f.fields.Get("flow"))
	if reload.form("code") == nil || rec.Count("+34600123707") != 1 {
		t.Errorf("reload: form present %v, SMS sent %d times, want the same page and one SMS", reload.form("code") != nil, rec.Count("+34600123707"))
	}
	a := sp.accept(t, b.submit(p, f, map[string]string{"code": code[3:]}).samlResponse(t), id)
	if got := classRef(a); got != loaSubstantial {
		t.Errorf("class = %q, want substantial", got)
	}
}

func addBakQ(t *testing.T, ti *testIdP) {
	t.Helper()
	if _, err := ti.dir.Add(t.Context(), directory.User{DNI: bakqDNI, GivenName: "Jon", FamilyName: "Agirre", BirthDate: "1980-03-04",
		Phone: "+34600123707", Credential: "bakq"}, citizenPassword); err != nil {
		t.Fatal(err)
	}
}

// TestReauthPolicy: an SP whose policy forbids session reuse from substantial gets a fresh
// authentication even with a substantial session; another SP reuses that session.
func TestReauthPolicy(t *testing.T) {
	t.Parallel()
	ti := newTestIdPWithDeps(t, func(c *idp.Config) {
		c.SPs["https://sp-two.test/saml/metadata"] = idp.SPSettings{ReauthFrom: authn.LevelSubstantial}
	}, func(d *idp.Deps) { d.Factors = []authn.SecondFactor{&fakeCard{}} })
	addBakQ(t, ti)
	one, two := ti.newSP("sp-one", false, nil), ti.newSP("sp-two", false, nil)
	b := newBrowser(t)
	p, id := ti.send(b, one, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	p = b.login(p, bakqDNI, citizenPassword)
	one.accept(t, b.submit(p, p.form("cell_B3"), map[string]string{"cell_B3": "123", "cell_D1": "456"}).samlResponse(t), id)
	p, _ = ti.send(b, two, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	if p.form("username") == nil {
		t.Errorf("sp-two (reauthenticateFrom substantial) reused the session: HTTP %d", p.status)
	}
	p, id = ti.send(b, one, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	one.accept(t, p.samlResponse(t), id)
}

// TestSMSFlowErrors runs the real SMS factor through the pages: a wrong code shows the page
// again with an alert; "I did not receive the code" before the cooldown says to wait, after
// it sends a new code and the old one no longer works; too many wrong codes end the code.
func TestSMSFlowErrors(t *testing.T) {
	t.Parallel()
	rec := &smsotptest.Recorder{}
	clock := &testClock{t: time.Now()}
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) {
		m, err := smsotp.New(smsotp.Config{}, bytes.Repeat([]byte{9}, 32), d.Store, d.Store, rec, clock.Now, nil)
		if err != nil {
			t.Fatal(err)
		}
		d.Factors = []authn.SecondFactor{m}
	})
	addBakQ(t, ti)
	sp := ti.newSP("sp-one", false, nil)
	const phone = "+34600123707"
	b := newBrowser(t)
	p, id := ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	p = b.login(p, bakqDNI, citizenPassword)
	first, _ := rec.LastCode(phone)
	wrong := b.submit(p, p.form("code"), map[string]string{"code": "0000"})
	if first[3:] == "0000" || wrong.form("code") == nil || alertText(wrong) == "" {
		t.Fatalf("wrong code: want the SMS page with an alert, got HTTP %d", wrong.status)
	}
	resendForm := func(pg *page) *form {
		for i := range pg.forms {
			if strings.HasSuffix(pg.forms[i].action, "/login/factor/resend") {
				return &pg.forms[i]
			}
		}
		t.Fatalf("no resend form on the SMS page")
		return nil
	}
	early := b.submit(wrong, resendForm(wrong), nil)
	if rec.Count(phone) != 1 || alertText(early) == "" {
		t.Errorf("resend before the cooldown: %d SMS sent, alert %q; want 1 and a message", rec.Count(phone), alertText(early))
	}
	clock.Advance(2 * time.Minute)
	resent := b.submit(early, resendForm(early), nil)
	second, _ := rec.LastCode(phone)
	if rec.Count(phone) != 2 || second == first || resent.form("code") == nil {
		t.Fatalf("resend after the cooldown: %d SMS, new code %v", rec.Count(phone), second != first)
	}
	old := b.submit(resent, resent.form("code"), map[string]string{"code": first[3:]})
	if old.samlResponse(t) != nil {
		t.Fatal("the first code still worked after a resend")
	}
	a := sp.accept(t, b.submit(old, old.form("code"), map[string]string{"code": second[3:]}).samlResponse(t), id)
	if got := classRef(a); got != loaSubstantial {
		t.Errorf("class = %q", got)
	}

	// An expired code is refused with its own message; a resend gets the citizen through.
	b2 := newBrowser(t)
	p, _ = ti.send(b2, sp, request{binding: "redirect", mutate: minimum(loaSubstantial), sign: false})
	p = b2.login(p, bakqDNI, citizenPassword)
	code, _ := rec.LastCode(phone)
	clock.Advance(6 * time.Minute)
	late := b2.submit(p, p.form("code"), map[string]string{"code": code[3:]})
	if late.samlResponse(t) != nil || late.form("code") == nil || alertText(late) == "" || alertText(late) == alertText(wrong) {
		t.Errorf("expired code: want the SMS page with the expiry message (not the wrong-code one), got HTTP %d alert %q", late.status, alertText(late))
	}
}

// TestCardLockThroughPages runs the real coordinate card: three wrong answers block it and the
// citizen gets a page saying so, not an assertion.
func TestCardLockThroughPages(t *testing.T) {
	t.Parallel()
	var card *coordcard.Method
	ti := newTestIdPWithDeps(t, nil, func(d *idp.Deps) {
		m, err := coordcard.New(coordcard.Config{}, bytes.Repeat([]byte{5}, 32), d.Directory.(*directory.Directory))
		if err != nil {
			t.Fatal(err)
		}
		card = m
		d.Factors = []authn.SecondFactor{m}
	})
	addBakQ(t, ti)
	u, err := ti.dir.Get(t.Context(), bakqDNI)
	if err != nil {
		t.Fatal(err)
	}
	c, err := card.Issue(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	sp := ti.newSP("sp-one", false, nil)
	b := newBrowser(t)
	p, _ := ti.send(b, sp, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	p = b.login(p, bakqDNI, citizenPassword)
	// The challenge is fixed for the account: a reload, and a new flow in another browser,
	// ask for the same cells.
	cells := func(pg *page) []string {
		var out []string
		if f := pg.form("csrf"); f != nil {
			for name := range f.inputs {
				if pos, ok := strings.CutPrefix(name, "cell_"); ok {
					out = append(out, pos)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	asked := cells(p)
	reload := b.get(ti.url + "/login?flow=" + p.form("csrf").fields.Get("flow"))
	ob := newBrowser(t)
	op, _ := ti.send(ob, sp, request{binding: "redirect", mutate: minimum(loaSubstantial)})
	other := cells(ob.login(op, bakqDNI, citizenPassword))
	if len(asked) != 2 || !slices.Equal(cells(reload), asked) || !slices.Equal(other, asked) {
		t.Errorf("card cells asked: %v, after reload %v, in another flow %v; want the same two", asked, cells(reload), other)
	}
	for i := 0; i < 3; i++ {
		f := p.form("csrf")
		if f == nil {
			t.Fatalf("attempt %d: no card form (HTTP %d)", i, p.status)
		}
		set := map[string]string{}
		for name := range f.inputs {
			if pos, ok := strings.CutPrefix(name, "cell_"); ok {
				v := c.Cells[pos]
				set[name] = fmt.Sprintf("%03d", (atoi(v)+1)%1000) // wrong on purpose
			}
		}
		p = b.submit(p, f, set)
	}
	if p.samlResponse(t) != nil || p.status != http.StatusForbidden {
		t.Errorf("after 3 wrong answers: HTTP %d (assertion %v), want 403 and no assertion", p.status, p.samlResponse(t) != nil)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
