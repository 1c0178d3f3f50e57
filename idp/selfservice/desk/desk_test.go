package desk_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/authn/smsotp/smsotptest"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/selfservice/desk"
)

const (
	agentUser  = "miren"
	agentPW    = "desk agent passphrase"
	agentPhone = "+34600000111"
	citizenPW  = "my own B@kQ phrase"
	newPhone   = "+34600000222"
	newEmail   = "jon@example.eus"
)

// env is a test IdP with the desk mounted, one agent, and a mail recorder.
type env struct {
	ti   *idptest.IdP
	mail *smsotptest.Recorder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ti := idptest.New(t, nil)
	mail := &smsotptest.Recorder{}
	if _, err := ti.Directory.AddAgent(t.Context(), directory.Agent{Username: agentUser, Name: "Miren Agirre", Phone: agentPhone}, agentPW); err != nil {
		t.Fatal(err)
	}
	h, err := desk.New(desk.Config{SignInReturn: "/whoami"}, desk.Deps{
		Kit: ti.Server.Kit(), Directory: ti.Directory, Card: ti.Card, SMS: ti.SMS, Mail: mail,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(ti.Server)
	kit := ti.Server.Kit()
	ti.Server.Handle("GET /whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := kit.Session(r)
		if err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "level=%s user=%s", sess.Level, sess.UserID)
	}))
	return &env{ti: ti, mail: mail}
}

// validDNI is a DNI with the right check letter for number n.
func validDNI(n int) string {
	return fmt.Sprintf("%08d%c", n, "TRWAGMYFPDXBNJZSQVHLCKE"[n%23])
}

func wantStatus(t *testing.T, p idptest.Page, status int, what string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: HTTP %d, want %d\n%s", what, p.Status, status, p.Body)
	}
}

func wantBody(t *testing.T, p idptest.Page, what string, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.Body, s) {
			t.Fatalf("%s: body lacks %q\n%s", what, s, p.Body)
		}
	}
}

// signInAgent goes through /ra's password and SMS code pages and returns the console.
func (e *env) signInAgent(t *testing.T, b *idptest.Browser) idptest.Page {
	t.Helper()
	p := b.Get(desk.PathConsole)
	wantStatus(t, p, http.StatusSeeOther, "GET /ra without session")
	p = b.Follow(p)
	p = b.Submit(b.FormOf(p, desk.PathSignIn), map[string]string{"username": agentUser, "password": agentPW})
	wantStatus(t, p, http.StatusOK, "agent password")
	wantBody(t, p, "agent password", "***111")
	code, ok := e.ti.SMS.LastCode(agentPhone)
	if !ok || len(code) != 6 {
		t.Fatalf("agent SMS code = %q, %v", code, ok)
	}
	p = b.Submit(b.FormOf(p, desk.PathCode), map[string]string{"code": code})
	wantStatus(t, p, http.StatusSeeOther, "agent code")
	for _, c := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "atea_ra=") && (!strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") || !strings.Contains(c, "Path=/ra")) {
			t.Errorf("console cookie %q lacks HttpOnly, SameSite=Strict or Path=/ra", c)
		}
	}
	p = b.Follow(p)
	wantStatus(t, p, http.StatusOK, "console")
	wantBody(t, p, "console", "Miren Agirre", `action="/ra/register`)
	return p
}

type citizen struct{ dni, expiry, given, family, birth, email, phone string }

func (c citizen) fields() map[string]string {
	return map[string]string{"dni": c.dni, "expiry": c.expiry, "given": c.given, "family": c.family,
		"birth": c.birth, "email": c.email, "phone": c.phone}
}

func jon(n int) citizen {
	return citizen{dni: validDNI(n), expiry: "17/05/2033", given: "Jon", family: "Agirre Etxeberria",
		birth: "03/02/1985", email: newEmail, phone: "600 000 222"}
}

// mailOf returns the card and the link of the last e-mail to to.
func (e *env) mailOf(t *testing.T, to string) (coordcard.Card, string, string) {
	t.Helper()
	msgs := e.mail.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.To != to {
			continue
		}
		if m.Kind != "email" {
			t.Fatalf("message kind %q, want email", m.Kind)
		}
		card := coordcard.Card{Cells: map[string]string{}}
		row := regexp.MustCompile(`(?m)^([A-D])\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)
		for _, mm := range row.FindAllStringSubmatch(m.Body, -1) {
			for col := 1; col <= 4; col++ {
				card.Cells[fmt.Sprintf("%s%d", mm[1], col)] = mm[1+col]
			}
		}
		if len(card.Cells) != coordcard.Cells {
			t.Fatalf("e-mail has %d card cells, want %d:\n%s", len(card.Cells), coordcard.Cells, m.Body)
		}
		link := regexp.MustCompile(`http://\S+/enrol\?code=[0-9A-Z]+`).FindString(m.Body)
		if link == "" {
			t.Fatalf("e-mail has no link:\n%s", m.Body)
		}
		return card, link, m.Body
	}
	t.Fatalf("no e-mail to %s", to)
	return coordcard.Card{}, "", ""
}

var tempRE = regexp.MustCompile(`(?:temporal|pasahitza|password) ([2-9A-Z]{10})`)

func (e *env) lastTemp(t *testing.T, to string) string {
	t.Helper()
	msgs := e.ti.SMS.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to {
			if m := tempRE.FindStringSubmatch(msgs[i].Body); m != nil {
				return m[1]
			}
		}
	}
	t.Fatalf("no temporary password sent to %s", to)
	return ""
}

// register has the agent register c and returns the confirmation page.
func (e *env) register(t *testing.T, b *idptest.Browser, console idptest.Page, c citizen) idptest.Page {
	t.Helper()
	return b.Submit(b.FormOf(console, desk.PathRegister), c.fields())
}

// enrolToTerms walks the citizen from the link to the terms page.
func (e *env) enrolToCard(t *testing.T, c *idptest.Browser, link, dniNumber string) idptest.Page {
	t.Helper()
	p := c.Get(link)
	wantStatus(t, p, http.StatusSeeOther, "open link")
	if strings.Contains(p.Location, "code=") {
		t.Errorf("redirect keeps the code in the URL: %s", p.Location)
	}
	p = c.Follow(p)
	wantStatus(t, p, http.StatusOK, "confirm page")
	wantBody(t, p, "confirm page", "Jon", "Agirre Etxeberria", "03/02/1985", dni.Mask(dniNumber), newEmail, "***222")
	p = c.Submit(c.FormOf(p, desk.PathEnrolConfirm), nil)
	wantStatus(t, p, http.StatusOK, "confirm")
	wantBody(t, p, "password page", `name="temp"`)
	temp := e.lastTemp(t, newPhone)
	p = c.Submit(c.FormOf(p, desk.PathEnrolPassword), map[string]string{"temp": strings.ToLower(temp), "password": citizenPW, "repeat": citizenPW})
	wantStatus(t, p, http.StatusOK, "password")
	wantBody(t, p, "first sign-in page", `action="/enrol/signin`)
	p = c.Submit(c.FormOf(p, desk.PathEnrolSignIn), map[string]string{"username": dniNumber, "password": citizenPW})
	wantStatus(t, p, http.StatusOK, "first sign-in password")
	wantBody(t, p, "card page", `name="cell_`)
	return p
}

// TestDeskEndToEnd: journey 2 whole: the agent signs in with password and SMS code and
// registers a citizen; the e-mail carries the card and the link; the citizen confirms, gets
// the temporary password, sets a password, signs in with it and the card, accepts the terms;
// B@kQ is active and the citizen signs in at substantial through the normal pages.
func TestDeskEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	a := e.ti.Browser()
	console := e.signInAgent(t, a)
	c := jon(12345678)
	p := e.register(t, a, console, c)
	wantStatus(t, p, http.StatusOK, "register")
	wantBody(t, p, "registered", dni.Mask(c.dni), "j***@example.eus")
	card, link, body := e.mailOf(t, newEmail)
	code := link[strings.Index(link, "code=")+5:]
	if strings.Contains(p.Body, code) || strings.Contains(p.Body, "/enrol?code") {
		t.Error("the agent's page shows the enrolment code")
	}
	for _, want := range []string{"Hola, Jon", "Kaixo, Jon", "tarjeta de coordenadas", "koordenatu txartela"} {
		if !strings.Contains(body, want) {
			t.Errorf("e-mail lacks %q", want)
		}
	}
	u, err := e.ti.Directory.Get(ctx, c.dni)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != directory.StatusPending || u.Credential != directory.CredentialBakQ || !u.HasCard || u.Phone != newPhone ||
		u.DocumentExpiry != "2033-05-17" || u.BirthDate != "1985-02-03" {
		t.Errorf("registered user = %+v", u)
	}
	evs, err := e.ti.Directory.AgentHistory(ctx, agentUser, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ev := range evs {
		names = append(names, ev.Name+"("+ev.Reason+")")
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "agent_signed_in()") || !strings.Contains(got, "agent_registered_citizen("+dni.Mask(c.dni)+")") {
		t.Errorf("agent trail = %s", got)
	}

	b := e.ti.Browser()
	p = e.enrolToCard(t, b, link, c.dni)
	p = b.Submit(b.FormOf(p, desk.PathEnrolCard), idptest.CardAnswers(b.FormOf(p, desk.PathEnrolCard), card))
	wantStatus(t, p, http.StatusOK, "card")
	wantBody(t, p, "terms page", `name="accept"`)
	f := b.FormOf(p, desk.PathEnrolTerms)
	p = b.Submit(f, nil)
	wantStatus(t, p, http.StatusBadRequest, "terms not accepted")
	p = b.Submit(f, map[string]string{"accept": "yes"})
	wantStatus(t, p, http.StatusOK, "terms")
	wantBody(t, p, "done", `id="desk-done"`, "Jon")
	u, _ = e.ti.Directory.Get(ctx, c.dni)
	if u.Status != directory.StatusActive || u.Credential != directory.CredentialBakQ || u.TermsVersion != "2026-01" {
		t.Errorf("after enrolment: %+v", u)
	}

	// The normal sign-in, at substantial, with the new password and card.
	p = b.Follow(b.Get(desk.PathEnrolLogin))
	p = b.Follow(b.Submit(b.FormOf(p, "/login"), map[string]string{"username": c.dni, "password": citizenPW}))
	wantBody(t, p, "second factor", `name="cell_`)
	ff := b.FormOf(p, "/login/factor")
	p = b.Follow(b.Submit(ff, idptest.CardAnswers(ff, card)))
	if p.Body != "level=substantial user="+u.ID {
		t.Fatalf("after sign-in: HTTP %d %q", p.Status, p.Body)
	}

	// The link is used now.
	p = e.ti.Browser().Get(link)
	wantStatus(t, p, http.StatusConflict, "used link")
	wantBody(t, p, "used link", `id="desk-problem"`)

	// Sign-out ends the console.
	console = a.Get(desk.PathConsole)
	wantStatus(t, console, http.StatusOK, "console again")
	p = a.Submit(a.FormOf(console, desk.PathSignOut), nil)
	wantStatus(t, p, http.StatusSeeOther, "sign out")
	if p := a.Get(desk.PathConsole); p.Status != http.StatusSeeOther || !strings.Contains(p.Location, desk.PathSignIn) {
		t.Errorf("console after sign-out: HTTP %d → %s", p.Status, p.Location)
	}
}

// TestDeskAgentPassword: a wrong password gets the sign-in page again, and the agent locks
// after the directory's MaxFailures (5 in idptest), the right password then failing too.
func TestDeskAgentPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	p := b.Follow(b.Get(desk.PathSignIn))
	for i := range 5 {
		p = b.Submit(b.FormOf(p, desk.PathSignIn), map[string]string{"username": agentUser, "password": "wrong password"})
		wantStatus(t, p, http.StatusUnauthorized, fmt.Sprintf("wrong password #%d", i+1))
		wantBody(t, p, "wrong password", `id="desk-error"`, `value="miren"`)
	}
	p = b.Submit(b.FormOf(p, desk.PathSignIn), map[string]string{"username": agentUser, "password": agentPW})
	wantStatus(t, p, http.StatusUnauthorized, "locked agent")
	if a, _ := e.ti.Directory.GetAgent(t.Context(), agentUser); a.Status != directory.AgentLocked {
		t.Errorf("agent status = %q, want locked", a.Status)
	}
	if e.ti.SMS.Count(agentPhone) != 0 {
		t.Error("an SMS code went out without the right password")
	}
	p = b.Submit(b.FormOf(p, desk.PathSignIn), map[string]string{"username": agentUser})
	wantStatus(t, p, http.StatusBadRequest, "no password")
}

// TestDeskAgentCode: wrong codes count, the fifth ends the sign-in; an expired code sends the
// agent back to the password.
func TestDeskAgentCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	p := b.Follow(b.Get(desk.PathSignIn))
	p = b.Submit(b.FormOf(p, desk.PathSignIn), map[string]string{"username": agentUser, "password": agentPW})
	code, _ := e.ti.SMS.LastCode(agentPhone)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := range 4 {
		p = b.Submit(b.FormOf(p, desk.PathCode), map[string]string{"code": wrong})
		wantStatus(t, p, http.StatusUnauthorized, fmt.Sprintf("wrong code #%d", i+1))
		wantBody(t, p, "wrong code", fmt.Sprintf("%d", 4-i))
	}
	f := b.FormOf(p, desk.PathCode)
	p = b.Submit(f, map[string]string{"code": wrong})
	wantStatus(t, p, http.StatusTooManyRequests, "fifth wrong code")
	p = b.Submit(f, map[string]string{"code": code})
	wantStatus(t, p, http.StatusBadRequest, "right code after the flow ended")
	for _, ck := range b.Client.Jar.Cookies(idptest.URL(t, e.ti.URL+"/ra")) {
		if ck.Name == "atea_ra" {
			t.Error("console cookie set without a right code")
		}
	}

	p = b.Follow(b.Get(desk.PathSignIn))
	p = b.Submit(b.FormOf(p, desk.PathSignIn), map[string]string{"username": agentUser, "password": agentPW})
	code, _ = e.ti.SMS.LastCode(agentPhone)
	e.ti.Clock.Advance(6 * time.Minute)
	p = b.Submit(b.FormOf(p, desk.PathCode), map[string]string{"code": code})
	wantStatus(t, p, http.StatusBadRequest, "expired code")
	wantBody(t, p, "expired code", `name="password"`)
}

// TestDeskSession: the console session ends after 15 idle minutes, activity extends it, and
// a locked agent loses it at once; a citizen's SSO session is no console session.
func TestDeskSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	e.signInAgent(t, b)
	e.ti.Clock.Advance(10 * time.Minute)
	wantStatus(t, b.Get(desk.PathConsole), http.StatusOK, "after 10 minutes")
	e.ti.Clock.Advance(10 * time.Minute)
	wantStatus(t, b.Get(desk.PathConsole), http.StatusOK, "10 minutes after the last request")
	e.ti.Clock.Advance(16 * time.Minute)
	p := b.Get(desk.PathConsole)
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "expired=1") {
		t.Fatalf("idle console: HTTP %d → %s", p.Status, p.Location)
	}
	wantBody(t, b.Follow(p), "expired notice", `role="status"`)

	e.signInAgent(t, b)
	if err := e.ti.Directory.LockAgent(t.Context(), agentUser, "test"); err != nil {
		t.Fatal(err)
	}
	if p := b.Get(desk.PathConsole); p.Status != http.StatusSeeOther {
		t.Errorf("locked agent's console: HTTP %d", p.Status)
	}

	// A citizen signed in to Atea has no console.
	c := e.ti.Browser()
	e.ti.SignIn(c, c.Get(desk.PathEnrolLogin))
	if p := c.Get(desk.PathConsole); p.Status != http.StatusSeeOther {
		t.Errorf("citizen's console: HTTP %d", p.Status)
	}
	if ss, _ := e.ti.Store.ListSessionsBySubject(t.Context(), "agent:x"); len(ss) != 0 {
		t.Errorf("sessions of an unknown agent: %v", ss)
	}
}

// TestDeskRegisterErrors: each bad registration gets the form again with a clear error and
// changes nothing.
func TestDeskRegisterErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	b := e.ti.Browser()
	console := e.signInAgent(t, b)
	now := e.ti.Clock.Now()
	young := jon(22222222)
	young.birth = now.AddDate(-16, 0, 1).Format("02/01/2006") // 16 tomorrow
	old := jon(22222223)
	old.birth = now.AddDate(-16, 0, 0).Format("02/01/2006") // 16 today
	badLetter := jon(33333333)
	badLetter.dni = badLetter.dni[:8] + "A"
	if badLetter.dni == validDNI(33333333) {
		badLetter.dni = badLetter.dni[:8] + "B"
	}
	expired := jon(44444444)
	expired.expiry = now.AddDate(0, 0, -1).Format("02/01/2006")
	badPhone := jon(55555555)
	badPhone.phone = "+34 12"
	badMail := jon(66666666)
	badMail.email = "not-an-address"
	dup := jon(77777777)
	dup.dni = idptest.CitizenDNI
	missing := jon(88888888)
	missing.given = ""
	tests := []struct {
		name   string
		c      citizen
		status int
		want   string
	}{
		{"under 16", young, http.StatusBadRequest, "16"},
		{"bad DNI letter", badLetter, http.StatusBadRequest, `id="dni" name="dni"`},
		{"expired document", expired, http.StatusBadRequest, "aria-invalid"},
		{"bad phone", badPhone, http.StatusBadRequest, `id="phone"`},
		{"bad e-mail", badMail, http.StatusBadRequest, `id="email"`},
		{"already registered", dup, http.StatusConflict, "Atea"},
		{"missing field", missing, http.StatusBadRequest, `id="desk-error"`},
	}
	for _, tt := range tests {
		p := e.register(t, b, console, tt.c)
		if p.Status != tt.status || !strings.Contains(p.Body, `id="desk-error"`) || !strings.Contains(p.Body, tt.want) {
			t.Errorf("%s: HTTP %d, want %d with an error and %q\n%s", tt.name, p.Status, tt.status, tt.want, p.Body)
		}
		if tt.c.dni != idptest.CitizenDNI {
			if _, err := e.ti.Directory.Get(ctx, tt.c.dni); !errors.Is(err, directory.ErrNotFound) {
				t.Errorf("%s: the citizen was stored (%v)", tt.name, err)
			}
		}
	}
	if n := len(e.mail.Messages()); n != 0 {
		t.Errorf("%d e-mails sent for refused registrations", n)
	}
	// Exactly 16 today is old enough.
	wantStatus(t, e.register(t, b, console, old), http.StatusOK, "16 today")
}

// TestDeskCSRF: the console's and the enrolment's forms refuse a missing token and
// cross-site posts.
func TestDeskCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	console := e.signInAgent(t, b)
	f := b.FormOf(console, desk.PathRegister)
	fields := jon(12121212).fields()
	fields["csrf"] = "forged"
	wantStatus(t, b.Submit(f, fields), http.StatusForbidden, "register with a bad token")
	req, _ := http.NewRequest(http.MethodPost, e.ti.URL+desk.PathRegister, strings.NewReader(url.Values{"csrf": f.Values["csrf"]}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site register: HTTP %d", resp.StatusCode)
	}
	wantStatus(t, b.Submit(b.FormOf(console, desk.PathSignOut), map[string]string{"csrf": ""}), http.StatusForbidden, "sign out without a token")
	if _, err := e.ti.Directory.Get(t.Context(), validDNI(12121212)); !errors.Is(err, directory.ErrNotFound) {
		t.Error("forged registration stored")
	}

	e.register(t, b, console, jon(12345678))
	_, link, _ := e.mailOf(t, newEmail)
	c := e.ti.Browser()
	p := c.Follow(c.Get(link))
	wantStatus(t, c.Submit(c.FormOf(p, desk.PathEnrolConfirm), map[string]string{"csrf": "forged"}), http.StatusForbidden, "confirm with a bad token")
	// The flow is bound to the citizen's browser: another browser cannot post to it.
	other := e.ti.Browser()
	wantStatus(t, other.Submit(c.FormOf(p, desk.PathEnrolConfirm), nil), http.StatusBadRequest, "another browser")
	if e.ti.SMS.Count(newPhone) != 0 {
		t.Error("temporary password sent on a forged post")
	}
}

// TestDeskLinkErrors: a bad, an expired and a missing link each get their page.
func TestDeskLinkErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	console := e.signInAgent(t, b)
	wantStatus(t, e.register(t, b, console, jon(12345678)), http.StatusOK, "register")
	_, link, _ := e.mailOf(t, newEmail)
	c := e.ti.Browser()
	for _, bad := range []string{"/enrol?code=ABCDEFGHJKMNPQRS", "/enrol?code=x", "/enrol"} {
		p := c.Get(bad)
		wantStatus(t, p, http.StatusBadRequest, bad)
		wantBody(t, p, bad, `id="desk-problem"`)
	}
	wantStatus(t, c.Get("/enrol?flow=nope"), http.StatusBadRequest, "unknown flow")
	e.ti.Clock.Advance(31 * 24 * time.Hour)
	p := c.Get(link)
	wantStatus(t, p, http.StatusGone, "expired link")
	wantBody(t, p, "expired link", `id="desk-problem"`)
}

// TestDeskEnrolErrors: wrong temporary password, password policy, wrong first-sign-in
// password, wrong card answers until the card locks.
func TestDeskEnrolErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	b := e.ti.Browser()
	console := e.signInAgent(t, b)
	c := jon(12345678)
	wantStatus(t, e.register(t, b, console, c), http.StatusOK, "register")
	card, link, _ := e.mailOf(t, newEmail)

	z := e.ti.Browser()
	p := z.Follow(z.Get(link))
	p = z.Submit(z.FormOf(p, desk.PathEnrolConfirm), nil)
	wantStatus(t, p, http.StatusOK, "confirm")
	f := z.FormOf(p, desk.PathEnrolPassword)
	p = z.Submit(f, map[string]string{"temp": "WRONGWRONG", "password": citizenPW, "repeat": citizenPW})
	wantStatus(t, p, http.StatusBadRequest, "wrong temp")
	wantBody(t, p, "wrong temp", "4")
	// Resend right away is refused (cooldown).
	p = z.Submit(z.FormOf(p, desk.PathEnrolResend), nil)
	wantStatus(t, p, http.StatusTooManyRequests, "resend in cooldown")
	e.ti.Clock.Advance(61 * time.Second)
	p = z.Submit(z.FormOf(p, desk.PathEnrolResend), nil)
	wantStatus(t, p, http.StatusOK, "resend")
	if n := e.ti.SMS.Count(newPhone); n != 2 {
		t.Errorf("%d SMS to the citizen, want 2", n)
	}
	temp := e.lastTemp(t, newPhone)
	p = z.Submit(z.FormOf(p, desk.PathEnrolPassword), map[string]string{"temp": temp, "password": "short", "repeat": "shorter"})
	wantStatus(t, p, http.StatusBadRequest, "mismatch")
	p = z.Submit(z.FormOf(p, desk.PathEnrolPassword), map[string]string{"temp": temp, "password": "short", "repeat": "short"})
	wantStatus(t, p, http.StatusBadRequest, "weak")
	if strings.Contains(p.Body, `name="temp"`) {
		t.Error("the temporary password is asked again after it was right")
	}
	p = z.Submit(z.FormOf(p, desk.PathEnrolPassword), map[string]string{"password": "x" + c.dni[:8], "repeat": "x" + c.dni[:8]})
	wantStatus(t, p, http.StatusBadRequest, "password with the DNI")
	p = z.Submit(z.FormOf(p, desk.PathEnrolPassword), map[string]string{"password": citizenPW, "repeat": citizenPW})
	wantStatus(t, p, http.StatusOK, "password")

	p = z.Submit(z.FormOf(p, desk.PathEnrolSignIn), map[string]string{"username": idptest.CitizenDNI, "password": idptest.CitizenPassword})
	wantStatus(t, p, http.StatusUnauthorized, "someone else's credential")
	p = z.Submit(z.FormOf(p, desk.PathEnrolSignIn), map[string]string{"username": c.dni, "password": citizenPW})
	wantStatus(t, p, http.StatusOK, "first password")

	wrong := map[string]string{}
	cf := z.FormOf(p, desk.PathEnrolCard)
	for k, v := range idptest.CardAnswers(cf, card) {
		wrong[k] = fmt.Sprintf("%03d", (atoi3(v)+1)%1000)
	}
	for i := range 2 {
		p = z.Submit(z.FormOf(p, desk.PathEnrolCard), wrong)
		wantStatus(t, p, http.StatusUnauthorized, fmt.Sprintf("wrong card #%d", i+1))
		wantBody(t, p, "wrong card", `id="desk-error"`)
	}
	p = z.Submit(z.FormOf(p, desk.PathEnrolCard), wrong)
	wantStatus(t, p, http.StatusForbidden, "card locked")
	wantBody(t, p, "card locked", `id="desk-problem"`)
	if u, _ := e.ti.Directory.Get(ctx, c.dni); u.Status != directory.StatusPending || !u.CardLocked {
		t.Errorf("after the card locked: %+v", u)
	}
}

func atoi3(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// TestDeskUnavailable: without a card factor the desk says so.
func TestDeskUnavailable(t *testing.T) {
	t.Parallel()
	ti := idptest.New(t, nil)
	desk.MountUnavailable(ti.Server, ti.Server.Kit())
	b := ti.Browser()
	for _, path := range []string{"/ra", "/ra/signin", "/enrol?code=X"} {
		p := b.Get(path)
		wantStatus(t, p, http.StatusServiceUnavailable, path)
		wantBody(t, p, path, `id="desk-problem"`)
	}
	if _, err := desk.New(desk.Config{}, desk.Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, SMS: ti.SMS, Mail: ti.SMS}); err == nil {
		t.Error("New without a card: nil error")
	}
	if _, err := desk.New(desk.Config{MinimumAge: 3}, desk.Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, Card: ti.Card, SMS: ti.SMS, Mail: ti.SMS}); err == nil {
		t.Error("New with MinimumAge 3: nil error")
	}
}

// TestDeskFirstSignInAttempts: wrong passwords in the first sign-in count against the flow,
// which ends at the fifth; the right password after a wrong one still signs in.
func TestDeskFirstSignInAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	console := e.signInAgent(t, b)
	c := jon(12345678)
	wantStatus(t, e.register(t, b, console, c), http.StatusOK, "register")
	_, link, _ := e.mailOf(t, newEmail)
	z := e.ti.Browser()
	p := z.Follow(z.Get(link))
	p = z.Submit(z.FormOf(p, desk.PathEnrolConfirm), nil)
	p = z.Submit(z.FormOf(p, desk.PathEnrolPassword), map[string]string{"temp": e.lastTemp(t, newPhone), "password": citizenPW, "repeat": citizenPW})
	wantStatus(t, p, http.StatusOK, "password")
	for i := range 4 {
		p = z.Submit(z.FormOf(p, desk.PathEnrolSignIn), map[string]string{"username": c.dni, "password": "not it at all"})
		wantStatus(t, p, http.StatusUnauthorized, fmt.Sprintf("wrong first password #%d", i+1))
		wantBody(t, p, "wrong first password", fmt.Sprintf("%d", 4-i))
	}
	p = z.Submit(z.FormOf(p, desk.PathEnrolSignIn), map[string]string{"username": c.dni, "password": "not it at all"})
	wantStatus(t, p, http.StatusTooManyRequests, "fifth wrong first password")

	t.Run("right after wrong", func(t *testing.T) {
		// A wrong first password must not make the right one fail afterwards (directory
		// succeed() once accepted only active credentials once failures were counted).
		z := e.ti.Browser()
		p := z.Follow(z.Get(link))
		p = z.Submit(z.FormOf(p, desk.PathEnrolConfirm), nil)
		e.ti.Clock.Advance(time.Minute)
		p = z.Submit(z.FormOf(p, desk.PathEnrolPassword), map[string]string{"temp": e.lastTemp(t, newPhone), "password": citizenPW, "repeat": citizenPW})
		p = z.Submit(z.FormOf(p, desk.PathEnrolSignIn), map[string]string{"username": c.dni, "password": "not it at all"})
		wantStatus(t, p, http.StatusUnauthorized, "wrong")
		p = z.Submit(z.FormOf(p, desk.PathEnrolSignIn), map[string]string{"username": c.dni, "password": citizenPW})
		wantStatus(t, p, http.StatusOK, "right after wrong")
	})
}
