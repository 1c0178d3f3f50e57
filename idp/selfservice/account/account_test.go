package account_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/authn/smsotp/smsotptest"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/selfservice/account"
	"github.com/ateaidp/atea/idp/store"
)

// env is a test IdP with the account pages mounted; e-mail goes to mail, SMS to ti.SMS.
type env struct {
	ti   *idptest.IdP
	mail *smsotptest.Recorder
	uid  string // the demo citizen's directory ID
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ti := idptest.New(t, nil)
	mail := &smsotptest.Recorder{}
	h, err := account.New(account.Config{Location: time.UTC}, account.Deps{
		Kit: ti.Server.Kit(), Directory: ti.Directory, SMS: ti.SMS, Mail: mail,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(ti.Server)
	u, err := ti.Directory.Get(t.Context(), idptest.CitizenDNI)
	if err != nil {
		t.Fatal(err)
	}
	return &env{ti: ti, mail: mail, uid: u.ID}
}

// rawKey finds a catalog key printed instead of its text (Message returns unknown keys as is).
var rawKey = regexp.MustCompile(`\baccount\.[a-z]+\.[a-z._]+`)

// want fails the test unless p has status and contains every one of texts, and no raw key.
func want(t *testing.T, what string, p idptest.Page, status int, texts ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: HTTP %d, want %d\n%s", what, p.Status, status, p.Body)
	}
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Errorf("%s: page lacks %q\n%s", what, s, p.Body)
		}
	}
	if k := rawKey.FindString(p.Body); k != "" {
		t.Errorf("%s: page shows the raw key %q", what, k)
	}
}

// isSignIn reports whether p is Atea's password sign-in form.
func isSignIn(p idptest.Page) bool { return strings.Contains(p.Body, `name="username"`) }

// signIn opens /account in b and signs in as the demo citizen (level low: password only).
func (e *env) signIn(t *testing.T, b *idptest.Browser) idptest.Page {
	t.Helper()
	p := b.Get("/account")
	if !isSignIn(p) {
		t.Fatalf("GET /account without a session: HTTP %d, want the sign-in form", p.Status)
	}
	p = e.ti.SignIn(b, p)
	want(t, "account page after sign-in", p, http.StatusOK, "Etxeberria Goñi")
	return p
}

// signInAs signs b in with a password only, as the citizen with that DNI.
func (e *env) signInAs(t *testing.T, b *idptest.Browser, dniNumber, password string) idptest.Page {
	t.Helper()
	p := b.Follow(b.Get("/account"))
	p = b.Follow(b.Submit(b.FormOf(p, "/login"), map[string]string{"username": dniNumber, "password": password}))
	want(t, "account page after sign-in", p, http.StatusOK)
	return p
}

var (
	handleRE = regexp.MustCompile(`name="session" value="([^"]+)"`)
	csrfRE   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// handles are the session handles of p's end buttons, this browser's first.
func handles(t *testing.T, p idptest.Page) []string {
	t.Helper()
	var out []string
	for _, m := range handleRE.FindAllStringSubmatch(p.Body, -1) {
		out = append(out, m[1])
	}
	return out
}

func csrf(t *testing.T, p idptest.Page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", p.Body)
	}
	return m[1]
}

// startChange posts the "change" button of field from the account page p and completes the
// fresh substantial sign-in it asks for, returning the new value form.
func (e *env) startChange(t *testing.T, b *idptest.Browser, p idptest.Page, field string) idptest.Page {
	t.Helper()
	p = b.Follow(b.Submit(b.FormOf(p, "/account/contact"), map[string]string{"field": field}))
	if isSignIn(p) {
		p = e.ti.SignIn(b, p)
	}
	want(t, "new value form", p, http.StatusOK, `name="value"`)
	return p
}

// codePage submits value on the new value form p and returns the code page.
func codePage(t *testing.T, b *idptest.Browser, p idptest.Page, value string) idptest.Page {
	t.Helper()
	p = b.Submit(b.FormOf(p, "/account/contact/send"), map[string]string{"value": value})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("send to %s: HTTP %d, want 303\n%s", smsotp.MaskTo(value), p.Status, p.Body)
	}
	p = b.Follow(p)
	want(t, "code page", p, http.StatusOK, `name="code"`)
	return p
}

// wrong returns a code of the same length that is not code.
func wrong(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// TestAccountPage: after a sign-in the citizen sees their data (DNI masked, mobile masked),
// the credential and the level of the session, in Spanish and in Basque.
func TestAccountPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	p := e.signIn(t, b)
	want(t, "account page", p, http.StatusOK, "Ane", dni.Mask(idptest.CitizenDNI), idptest.CitizenEmail,
		smsotp.MaskPhone(idptest.CitizenPhone), "B@kQ", "Bajo", "esta sesión", "Activa",
		"Cambiar el teléfono móvil", `action="/account/contact?lang=es"`)
	for _, secret := range []string{idptest.CitizenDNI, idptest.CitizenPhone} {
		if strings.Contains(p.Body, secret) {
			t.Errorf("account page shows %s whole", dni.Mask(secret))
		}
	}
	b.Lang = "eu"
	p = b.Get("/account?lang=eu")
	want(t, "account page in Basque", p, http.StatusOK, "Nire kontua", "Irekitako saioak", "saio hau", `lang="eu"`)
}

// TestAccountSignIns: the sign-ins the IdP reports through the Recorder are listed, newest
// first, with level, method and network.
func TestAccountSignIns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	p := e.signIn(t, b)
	want(t, "no sign-ins yet", p, http.StatusOK, "Todavía no hay accesos registrados.")
	var rec idp.SignInRecorder = account.NewRecorder(e.ti.Directory)
	t0 := time.Date(2026, 4, 2, 9, 30, 0, 0, time.UTC)
	for i, si := range []idp.SignIn{
		{Time: t0, Level: "low", Method: "password", Network: "192.0.2.0/24"},
		{Time: t0.Add(24 * time.Hour), Level: "substantial", Method: "password+coordcard", Network: "2001:db8:7::/48"},
	} {
		if err := rec.RecordSignIn(t.Context(), e.uid, si); err != nil {
			t.Fatalf("RecordSignIn(%d) = %v", i, err)
		}
	}
	p = b.Get("/account")
	want(t, "sign-ins listed", p, http.StatusOK, "192.0.2.0/24", "2001:db8:7::/48", "02/04/2026 09:30", "03/04/2026 09:30",
		"Contraseña y tarjeta de coordenadas", "Sustancial")
	if strings.Index(p.Body, "03/04/2026 09:30") > strings.Index(p.Body, "02/04/2026 09:30") {
		t.Errorf("sign-ins not newest first")
	}
	if err := rec.RecordSignIn(t.Context(), "unobody", idp.SignIn{Level: "low", Method: "password"}); err == nil {
		t.Errorf("RecordSignIn(unknown user) = nil, want an error")
	}
}

// TestAccountEndSessions: with two browsers signed in, the first lists both sessions, ends
// the other's (which then has to sign in again) and then its own.
func TestAccountEndSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b1, b2 := e.ti.Browser(), e.ti.Browser()
	e.signIn(t, b1)
	e.ti.Clock.Advance(time.Minute)
	e.signIn(t, b2)
	p := b1.Get("/account")
	hs := handles(t, p)
	if len(hs) != 2 {
		t.Fatalf("account page lists %d sessions, want 2", len(hs))
	}
	want(t, "two sessions", p, http.StatusOK, "Cerrar esta sesión", "Cerrar la sesión aquí")
	for _, h := range hs {
		if len(h) != 22 || strings.Contains(p.Body, "atea_sso") {
			t.Errorf("session handle %q: want a 22-character keyed hash", h)
		}
	}
	// The other browser's session used a service (no longer in metadata): the page reports
	// what became of it.
	ss, err := e.ti.Store.ListSessionsBySubject(t.Context(), e.uid)
	if err != nil || len(ss) != 2 {
		t.Fatalf("sessions: %v, %v", ss, err)
	}
	other := ss[0]
	if other.CreatedAt.Before(ss[1].CreatedAt) {
		other = ss[1]
	}
	if _, err := e.ti.Store.UpdateSession(t.Context(), other.ID, func(cur store.Session) (store.Session, error) {
		cur.SPs = append(cur.SPs, store.SPParticipation{EntityID: "https://gone.example/sp", NameID: "n", NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient", SessionIndex: "s"})
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	token := csrf(t, p)
	p = b1.Post("/account/sessions/end", url.Values{"csrf": {token}, "session": {hs[1]}})
	want(t, "other session ended", p, http.StatusOK, "Se ha cerrado la sesión.", `id="account-ended-services"`,
		"https://gone.example/sp: no admite el cierre de sesión único", `id="account-ended-partial"`)
	if got := handles(t, p); len(got) != 1 || got[0] != hs[0] {
		t.Errorf("after ending the other: sessions %v, want only %v", got, hs[:1])
	}
	if p := b2.Get("/account"); !isSignIn(p) {
		t.Errorf("the ended browser: GET /account HTTP %d, want the sign-in form", p.Status)
	}
	// Ending it again: it is gone.
	p = b1.Post("/account/sessions/end", url.Values{"csrf": {token}, "session": {hs[1]}})
	want(t, "end twice", p, http.StatusNotFound, "Esa sesión ya no está abierta o no es suya.")
	// And this browser's own: single logout through this browser, with its result page.
	p = b1.Post("/account/sessions/end", url.Values{"csrf": {token}, "session": {hs[0]}})
	want(t, "own session ended", p, http.StatusOK, "Ha cerrado su sesión en Atea", `id="logout-atea"`)
	if p := b1.Get("/account"); !isSignIn(p) {
		t.Errorf("after ending its own session: GET /account HTTP %d, want the sign-in form", p.Status)
	}
}

// TestAccountEndOtherSessions: with three browsers signed in, the first sees the services
// each session used and ends the other two in one go; they must sign in again, this one
// stays, and with one session left the button is gone. A post without the session's CSRF
// token ends nothing.
func TestAccountEndOtherSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b1, b2, b3 := e.ti.Browser(), e.ti.Browser(), e.ti.Browser()
	e.signIn(t, b1)
	e.ti.Clock.Advance(time.Minute)
	e.signIn(t, b2)
	e.signIn(t, b3)
	ss, err := e.ti.Store.ListSessionsBySubject(t.Context(), e.uid)
	if err != nil || len(ss) != 3 {
		t.Fatalf("sessions: %d, %v", len(ss), err)
	}
	// A service in one of them (no longer in metadata: shown by its entityID).
	if _, err := e.ti.Store.UpdateSession(t.Context(), ss[0].ID, func(cur store.Session) (store.Session, error) {
		cur.SPs = append(cur.SPs, store.SPParticipation{EntityID: "https://lanbide.example/sp", NameID: "n", SessionIndex: "s"})
		return cur, nil
	}); err != nil {
		t.Fatal(err)
	}
	p := b1.Get("/account")
	want(t, "account page", p, http.StatusOK, "Servicios usados", "https://lanbide.example/sp", "ninguno todavía",
		`id="account-end-others"`, `action="/account/sessions/end-others?lang=es"`)
	if f := b1.Post("/account/sessions/end-others", url.Values{"csrf": {"forged"}}); f.Status != http.StatusForbidden {
		t.Errorf("forged end-others: HTTP %d, want 403", f.Status)
	}
	p = b1.Post("/account/sessions/end-others", url.Values{"csrf": {csrf(t, p)}})
	want(t, "others ended", p, http.StatusOK, "Sesiones cerradas en otros navegadores y dispositivos: 2.")
	if got := handles(t, p); len(got) != 1 || strings.Contains(p.Body, `id="account-end-others"`) {
		t.Errorf("after ending the others: %d sessions listed, end-others button shown: %v", len(got), strings.Contains(p.Body, `id="account-end-others"`))
	}
	for i, b := range []*idptest.Browser{b2, b3} {
		if p := b.Get("/account"); !isSignIn(p) {
			t.Errorf("browser %d: GET /account HTTP %d, want the sign-in form", i+2, p.Status)
		}
	}
	if p := b1.Get("/account"); p.Status != http.StatusOK || isSignIn(p) {
		t.Errorf("this browser lost its session: HTTP %d", p.Status)
	}
}

// TestAccountRefusals: a wrong or missing CSRF token, a cross-site post and another
// citizen's session handle are all refused, and no session ends.
func TestAccountRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.ti.Directory.Add(t.Context(), directory.User{
		DNI: "12345678Z", GivenName: "Mikel", FamilyName: "Arana", BirthDate: "1985-02-03",
		Phone: "+34600000999", Credential: directory.CredentialBak,
	}, "another good password"); err != nil {
		t.Fatal(err)
	}
	b1, b2 := e.ti.Browser(), e.ti.Browser()
	p1 := e.signIn(t, b1)
	p2 := e.signInAs(t, b2, "12345678Z", "another good password")
	mine, theirs := handles(t, p1), handles(t, p2)
	token := csrf(t, p1)
	if len(mine) != 1 || len(theirs) != 1 {
		t.Fatalf("sessions listed: %d and %d, want 1 each", len(mine), len(theirs))
	}
	cases := []struct {
		name   string
		form   url.Values
		status int
	}{
		{"csrf/missing", url.Values{"session": {mine[0]}}, http.StatusForbidden},
		{"csrf/wrong", url.Values{"session": {mine[0]}, "csrf": {token + "x"}}, http.StatusForbidden},
		{"csrf/other-session", url.Values{"session": {mine[0]}, "csrf": {csrf(t, p2)}}, http.StatusForbidden},
		{"handle/foreign", url.Values{"session": {theirs[0]}, "csrf": {token}}, http.StatusNotFound},
		{"handle/made-up", url.Values{"session": {strings.Repeat("A", 22)}, "csrf": {token}}, http.StatusNotFound},
		{"handle/empty", url.Values{"csrf": {token}}, http.StatusNotFound},
	}
	for _, c := range cases {
		if p := b1.Post("/account/sessions/end", c.form); p.Status != c.status {
			t.Errorf("%s: HTTP %d, want %d", c.name, p.Status, c.status)
		}
	}
	for _, path := range []string{"/account/contact", "/account/contact/send"} {
		if p := b1.Post(path, url.Values{"field": {"phone"}, "value": {"+34611222333"}}); p.Status != http.StatusForbidden {
			t.Errorf("POST %s without csrf: HTTP %d, want 403", path, p.Status)
		}
	}
	// A cross-site form post, even with the right token (a token leaked elsewhere).
	req, _ := http.NewRequest(http.MethodPost, e.ti.URL+"/account/sessions/end",
		strings.NewReader(url.Values{"session": {mine[0]}, "csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := b1.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: HTTP %d, want 403", resp.StatusCode)
	}
	if p := b1.Get("/account"); p.Status != http.StatusOK || isSignIn(p) {
		t.Errorf("after the refusals: GET /account HTTP %d, want the account page still", p.Status)
	}
	if p := b2.Get("/account"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Mikel") {
		t.Errorf("the other citizen: GET /account HTTP %d, want their account page still", p.Status)
	}
	// A bad field is a clear 400.
	if p := b1.Post("/account/contact", url.Values{"field": {"dni"}, "csrf": {token}}); p.Status != http.StatusBadRequest {
		t.Errorf("field dni: HTTP %d, want 400", p.Status)
	}
	if p := b1.Get("/account/contact?field=name"); p.Status != http.StatusBadRequest {
		t.Errorf("GET field name: HTTP %d, want 400", p.Status)
	}
}

// TestAccountBakCannotChange: a B@k-only holder sees the page, but is told to visit a desk
// instead of being offered a change (no second factor: no substantial sign-in online).
func TestAccountBakCannotChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.ti.Directory.Add(t.Context(), directory.User{
		DNI: "12345678Z", GivenName: "Mikel", FamilyName: "Arana", BirthDate: "1985-02-03",
		Phone: "+34600000999", Credential: directory.CredentialBak,
	}, "another good password"); err != nil {
		t.Fatal(err)
	}
	b := e.ti.Browser()
	p := e.signInAs(t, b, "12345678Z", "another good password")
	want(t, "B@k account page", p, http.StatusOK, "Mikel", `id="account-desk"`, "oficina de registro")
	if strings.Contains(p.Body, `name="field"`) {
		t.Errorf("a B@k holder is offered the change buttons")
	}
	p = b.Post("/account/contact", url.Values{"field": {"phone"}, "csrf": {csrf(t, p)}})
	want(t, "B@k change", p, http.StatusForbidden, "Acuda a una oficina de registro")
	if isSignIn(p) {
		t.Errorf("a B@k holder is sent to a sign-in that cannot reach the level")
	}
	if p := b.Get("/account/contact?field=email"); p.Status != http.StatusForbidden {
		t.Errorf("GET the form as B@k: HTTP %d, want 403", p.Status)
	}
}

// TestAccountChangeMobile: a low session is sent through a fresh substantial sign-in, the
// code goes to the NEW number, the directory gets it, and the OLD number is told.
func TestAccountChangeMobile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	p := e.signIn(t, b)
	// The session is low: the button leads to Atea's sign-in, not to the form.
	first := b.Follow(b.Submit(b.FormOf(p, "/account/contact"), map[string]string{"field": "phone"}))
	if !isSignIn(first) {
		t.Fatalf("change with a low session: HTTP %d, want the sign-in form", first.Status)
	}
	p = e.ti.SignIn(b, first)
	want(t, "new value form", p, http.StatusOK, `name="value"`, "Nuevo número de móvil", smsotp.MaskPhone(idptest.CitizenPhone))
	// Bad values, each with a clear message.
	for _, c := range []struct{ value, msg string }{
		{"611222333", "prefijo del país"},
		{"+34 6112", "prefijo del país"},
		{"+34 611 abc 333", "prefijo del país"},
		{idptest.CitizenPhone, "Es el mismo dato"},
		{"  ", "Escriba un valor."},
	} {
		bp := b.Submit(b.FormOf(p, "/account/contact/send"), map[string]string{"value": c.value})
		want(t, fmt.Sprintf("value %q", c.value), bp, http.StatusBadRequest, c.msg)
	}
	const newPhone = "+34611222333"
	valueForm := b.FormOf(p, "/account/contact/send")
	p = codePage(t, b, p, "+34 611 222 333")
	want(t, "code page", p, http.StatusOK, strings.TrimPrefix(newPhone, "+"))
	code, ok := e.ti.SMS.LastCode(newPhone)
	if !ok || len(code) != 8 {
		t.Fatalf("code to the new number: %q, %v; want 8 digits", code, ok)
	}
	if n := e.ti.SMS.Count(idptest.CitizenPhone); n != 0 {
		t.Errorf("messages to the old number before the change: %d, want 0", n)
	}
	codeForm := b.FormOf(p, "/account/contact/code")
	p = b.Submit(codeForm, map[string]string{"code": code})
	want(t, "changed", p, http.StatusOK, "Su teléfono móvil es ahora ***333", "Hemos avisado al número anterior")
	u, err := e.ti.Directory.Get(t.Context(), idptest.CitizenDNI)
	if err != nil || u.Phone != newPhone {
		t.Fatalf("directory phone = %q, %v; want %s", smsotp.MaskPhone(u.Phone), err, smsotp.MaskPhone(newPhone))
	}
	msgs := e.ti.SMS.Messages()
	last := msgs[len(msgs)-1]
	if last.To != idptest.CitizenPhone || !strings.Contains(last.Body, "***333") || strings.Contains(last.Body, newPhone) {
		t.Errorf("notice to the old number: %+v, want the new one masked", last)
	}
	// The code is spent: posting it again (a reload) is refused.
	if p := b.Submit(codeForm, map[string]string{"code": code}); p.Status != http.StatusBadRequest {
		t.Errorf("code reused: HTTP %d, want 400", p.Status)
	}
	// Now fresh: a second change goes straight to the form, until FreshFor has passed.
	home := b.Get("/account")
	if p := b.Follow(b.Submit(b.FormOf(home, "/account/contact"), map[string]string{"field": "phone"})); isSignIn(p) || p.Status != http.StatusOK {
		t.Errorf("change right after a fresh sign-in: HTTP %d, want the form without a sign-in", p.Status)
	}
	e.ti.Clock.Advance(11 * time.Minute)
	// Every step checks again: the new value posted by a session no longer fresh.
	if p := b.Submit(valueForm, map[string]string{"value": "+34611222999"}); !isSignIn(p) {
		t.Errorf("send 11 minutes after the sign-in: HTTP %d, want a fresh sign-in", p.Status)
	}
	if n := e.ti.SMS.Count("+34611222999"); n != 0 {
		t.Errorf("a stale session sent %d codes", n)
	}
	home = b.Get("/account")
	if p := b.Follow(b.Submit(b.FormOf(home, "/account/contact"), map[string]string{"field": "phone"})); !isSignIn(p) {
		t.Errorf("change 11 minutes after the sign-in: HTTP %d, want a fresh sign-in", p.Status)
	}
}

// TestAccountChangeEmail: the same for the e-mail address, by the Mail sender.
func TestAccountChangeEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	p := e.startChange(t, b, e.signIn(t, b), "email")
	for _, bad := range []string{"ane.example.eus", "ane@example", "ane@@example.eus", "ane @example.eus", "ane@example..eus"} {
		bp := b.Submit(b.FormOf(p, "/account/contact/send"), map[string]string{"value": bad})
		want(t, fmt.Sprintf("address %q", bad), bp, http.StatusBadRequest, "no es válida")
	}
	const newEmail = "ane.berria@example.org"
	p = codePage(t, b, p, "  "+newEmail+" ")
	want(t, "code page", p, http.StatusOK, newEmail)
	code, ok := e.mail.LastCode(newEmail)
	if !ok {
		t.Fatalf("no code e-mailed to the new address; messages %d", len(e.mail.Messages()))
	}
	if m := e.mail.Messages()[0]; m.Kind != smsotp.KindEmail || m.Subject == "" {
		t.Errorf("code message kind %q subject %q, want an e-mail with a subject", m.Kind, m.Subject)
	}
	if n := e.ti.SMS.Count(newEmail); n != 0 {
		t.Errorf("the e-mail code went by SMS")
	}
	p = b.Submit(b.FormOf(p, "/account/contact/code"), map[string]string{"code": code})
	want(t, "changed", p, http.StatusOK, "Su correo electrónico es ahora "+newEmail)
	u, err := e.ti.Directory.Get(t.Context(), idptest.CitizenDNI)
	if err != nil || u.Email != newEmail {
		t.Fatalf("directory e-mail = %q, %v; want %q", u.Email, err, newEmail)
	}
	if n := e.mail.Count(idptest.CitizenEmail); n != 1 {
		t.Errorf("notices to the old address: %d, want 1", n)
	}
}

// TestAccountWrongCode: wrong codes are counted (the count shown), the MaxAttempts-th ends
// the change, after which even the right code changes nothing.
func TestAccountWrongCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	const newPhone = "+34611222444"
	p := codePage(t, b, e.startChange(t, b, e.signIn(t, b), "phone"), newPhone)
	code, _ := e.ti.SMS.LastCode(newPhone)
	form := b.FormOf(p, "/account/contact/code")
	// A malformed code is not a guess: not counted.
	want(t, "short code", b.Submit(form, map[string]string{"code": "123"}), http.StatusBadRequest, "El código tiene 8 cifras.")
	for left := 4; left >= 1; left-- {
		p = b.Submit(form, map[string]string{"code": wrong(code)})
		want(t, "wrong code", p, http.StatusBadRequest, fmt.Sprintf("Le quedan %d intentos.", left))
	}
	p = b.Submit(form, map[string]string{"code": wrong(code)})
	want(t, "fifth wrong code", p, http.StatusTooManyRequests, "demasiadas veces", `name="value"`)
	p = b.Submit(form, map[string]string{"code": code})
	if p.Status != http.StatusBadRequest {
		t.Errorf("right code after the change ended: HTTP %d, want 400", p.Status)
	}
	if u, _ := e.ti.Directory.Get(t.Context(), idptest.CitizenDNI); u.Phone != idptest.CitizenPhone {
		t.Errorf("the phone changed after too many wrong codes")
	}
}

// TestAccountExpiredCode: an expired code is refused; a resend waits for the cooldown, sends
// a new code (the old one no longer works) and that one completes the change.
func TestAccountExpiredCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	const newPhone = "+34611222555"
	p := codePage(t, b, e.startChange(t, b, e.signIn(t, b), "phone"), newPhone)
	old, _ := e.ti.SMS.LastCode(newPhone)
	resend := b.FormOf(p, "/account/contact/resend")
	want(t, "resend at once", b.Submit(resend, nil), http.StatusTooManyRequests, "Espere")
	e.ti.Clock.Advance(10*time.Minute + time.Second)
	p = b.Submit(b.FormOf(p, "/account/contact/code"), map[string]string{"code": old})
	want(t, "expired code", p, http.StatusBadRequest, "El código ha caducado.")
	p = b.Submit(resend, nil)
	want(t, "resent", p, http.StatusOK, "Le hemos enviado un código nuevo.")
	code, _ := e.ti.SMS.LastCode(newPhone)
	if e.ti.SMS.Count(newPhone) != 2 || code == old {
		t.Fatalf("after the resend: %d codes to the new number, want 2 different ones", e.ti.SMS.Count(newPhone))
	}
	form := b.FormOf(p, "/account/contact/code")
	want(t, "old code after resend", b.Submit(form, map[string]string{"code": old}), http.StatusBadRequest, "no es correcto")
	p = b.Submit(form, map[string]string{"code": code})
	want(t, "changed", p, http.StatusOK, "***555")
	if u, _ := e.ti.Directory.Get(t.Context(), idptest.CitizenDNI); u.Phone != newPhone {
		t.Errorf("directory phone = %s, want %s", smsotp.MaskPhone(u.Phone), smsotp.MaskPhone(newPhone))
	}
}

// TestAccountCodeBoundToSession: the code page of a change belongs to the session that
// started it: after signing in again (a new session) in the same browser it is refused.
func TestAccountCodeBoundToSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	const newPhone = "+34611222666"
	p := codePage(t, b, e.startChange(t, b, e.signIn(t, b), "phone"), newPhone)
	code, _ := e.ti.SMS.LastCode(newPhone)
	form := b.FormOf(p, "/account/contact/code")
	home := b.Get("/account")
	// End this session and sign in again: same browser, same citizen, another session.
	b.Post("/account/sessions/end", url.Values{"csrf": {csrf(t, home)}, "session": {handles(t, home)[0]}})
	e.signIn(t, b)
	p = b.Submit(form, map[string]string{"code": code})
	want(t, "code in a new session", p, http.StatusForbidden, "Su sesión ha cambiado")
	if u, _ := e.ti.Directory.Get(t.Context(), idptest.CitizenDNI); u.Phone != idptest.CitizenPhone {
		t.Errorf("the phone changed from another session")
	}
}

// TestAccountSendLimit: one citizen cannot make Atea send more than SendLimit codes an hour,
// across changes.
func TestAccountSendLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	form := e.startChange(t, b, e.signIn(t, b), "phone")
	for i := range 5 {
		codePage(t, b, form, fmt.Sprintf("+3461122270%d", i))
	}
	p := b.Submit(b.FormOf(form, "/account/contact/send"), map[string]string{"value": "+34611222709"})
	want(t, "sixth code", p, http.StatusTooManyRequests, "demasiados códigos")
	if n := e.ti.SMS.Count("+34611222709"); n != 0 {
		t.Errorf("codes sent over the limit: %d", n)
	}
}

// TestAccountSendFailure: a code the sender refuses gives a clear page, not a code page.
func TestAccountSendFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.ti.Browser()
	form := e.startChange(t, b, e.signIn(t, b), "email")
	e.mail.Fail(fmt.Errorf("smtp down"))
	p := b.Submit(b.FormOf(form, "/account/contact/send"), map[string]string{"value": "ane@example.org"})
	want(t, "send failed", p, http.StatusServiceUnavailable, "No hemos podido enviar el código.")
}

// TestAccountConfig: bad knobs are refused; the defaults are the documented ones.
func TestAccountConfig(t *testing.T) {
	t.Parallel()
	d := account.DefaultConfig()
	if d.FreshFor != 10*time.Minute || d.CodeTTL != 10*time.Minute || d.ResendCooldown != time.Minute || d.MaxAttempts != 5 {
		t.Errorf("DefaultConfig() = %+v", d)
	}
	ti := idptest.New(t, nil)
	deps := account.Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, SMS: ti.SMS, Mail: ti.SMS}
	for _, c := range []account.Config{{CodeDigits: 4}, {CodeTTL: time.Hour}, {MaxAttempts: -1}, {FreshFor: -time.Second}} {
		if _, err := account.New(c, deps); err == nil {
			t.Errorf("New(%+v) = nil error", c)
		}
	}
	if _, err := account.New(account.Config{}, account.Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, SMS: ti.SMS}); err == nil {
		t.Errorf("New without Mail = nil error")
	}
}
