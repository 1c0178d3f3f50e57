package activation

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/idptest"
)

// The pending citizen of the tests: a letter was issued for them.
const (
	pendingDNI    = "12345678Z"
	pendingPhone  = "+34600111222"
	pendingExpiry = "2030-04-01"
	typedExpiry   = "01/04/2030"
	goodPassword  = "mendiko ibaia urdina"
)

// testBits keeps the proof of work cheap in tests; TestActivationDefaultDifficulty runs the
// default.
const testBits = 8

type env struct {
	t  *testing.T
	ti *idptest.IdP
	h  *Handler
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	ti := idptest.New(t, nil)
	if cfg.PoWBits == 0 {
		cfg.PoWBits = testBits
	}
	h, err := New(cfg, Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, SMS: ti.SMS})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(ti.Server)
	return &env{t: t, ti: ti, h: h}
}

// pending adds a pending B@k citizen (phone may be "") and issues their letter's code.
func (e *env) pending(dniNumber, phone, expiry string) string {
	e.t.Helper()
	if _, err := e.ti.Directory.Add(e.t.Context(), directory.User{
		DNI: dniNumber, GivenName: "Miren", FamilyName: "Agirre", BirthDate: "1985-02-03",
		DocumentExpiry: expiry, Phone: phone, Credential: directory.CredentialBak, Status: directory.StatusPending,
	}, ""); err != nil {
		e.t.Fatal(err)
	}
	code, _, err := e.ti.Directory.IssueCode(e.t.Context(), directory.PurposeActivation, dniNumber, 30*24*time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return directory.FormatCode(code)
}

// start opens /activate in b and returns the code page.
func (e *env) start(b *idptest.Browser) idptest.Page {
	e.t.Helper()
	p := b.Get(PathStart)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `name="challenge"`) {
		e.t.Fatalf("GET /activate: %d\n%s", p.Status, p.Body)
	}
	return p
}

// enter submits the code form of page p with the proof of work solved, as the script does.
func (e *env) enter(b *idptest.Browser, p idptest.Page, code, dniNumber, expiry string) idptest.Page {
	e.t.Helper()
	f := b.FormOf(p, PathEnter)
	return b.Submit(f, map[string]string{
		"code": code, "dni": dniNumber, "expiry": expiry, "pow": solvePoW(f.Values.Get("challenge"), e.h.cfg.PoWBits),
	})
}

var tempRE = regexp.MustCompile(`\b[2-9A-HJKMNP-Z]{10}\b`)

// lastTemp is the temporary password of the newest SMS to phone.
func (e *env) lastTemp(phone string) string {
	e.t.Helper()
	msgs := e.ti.SMS.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == phone {
			if msgs[i].Kind != "sms" {
				e.t.Fatalf("message kind %q, want sms", msgs[i].Kind)
			}
			pw := tempRE.FindString(msgs[i].Body)
			if pw == "" {
				e.t.Fatalf("no temporary password in %q", msgs[i].Body)
			}
			return pw
		}
	}
	e.t.Fatalf("no SMS to %s", phone)
	return ""
}

// toPassword walks a fresh browser from the code page to the password page.
func (e *env) toPassword(b *idptest.Browser, code string) idptest.Page {
	e.t.Helper()
	p := e.enter(b, e.start(b), code, pendingDNI, typedExpiry)
	mustStatus(e.t, p, http.StatusOK, "Contraseña temporal")
	p = b.Submit(b.FormOf(p, PathSMS), map[string]string{"temp": e.lastTemp(pendingPhone)})
	mustStatus(e.t, p, http.StatusOK, "Elija su contraseña")
	return p
}

func solvePoW(challenge string, want int) string {
	for i := 0; ; i++ {
		if n := fmt.Sprint(i); checkPoW(challenge, n, want) {
			return n
		}
	}
}

func mustStatus(t *testing.T, p idptest.Page, status int, want ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d; page:\n%s", p.Status, status, p.Body)
	}
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Fatalf("page (status %d) lacks %q:\n%s", p.Status, w, p.Body)
		}
	}
}

func TestActivationHappyPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	p := e.start(b)
	for _, want := range []string{`<noscript>`, `src="/static/activation-pow.js?v=`, `data-bits="8"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("code page lacks %q", want)
		}
	}
	// The script is allowed by the page's CSP nonce.
	csp := p.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(html.UnescapeString(p.Body), `<script nonce="`+m[1]+`" src="/static/activation-pow.js`) {
		t.Errorf("script tag does not carry the CSP nonce (CSP %q)", csp)
	}
	js := b.Get("/static/activation-pow.js")
	if js.Status != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.Body, "crypto.subtle") {
		t.Errorf("GET the script: %d %q", js.Status, js.Header.Get("Content-Type"))
	}

	// Lower-case code without dashes: as a citizen may type it.
	p = e.enter(b, p, strings.ToLower(strings.ReplaceAll(code, "-", "")), "12345678z", typedExpiry)
	mustStatus(t, p, http.StatusOK, "***222", "Contraseña temporal")
	msgs := e.ti.SMS.Messages()
	if len(msgs) != 1 || msgs[0].To != pendingPhone || !strings.Contains(msgs[0].Body, "contraseña temporal") {
		t.Fatalf("SMS sent: %+v", msgs)
	}
	temp := e.lastTemp(pendingPhone)

	// Neither the code nor the temporary password is in the store in clear.
	flowID := b.FormOf(p, PathSMS).Values.Get("flow")
	fl, err := e.ti.Store.GetFlow(t.Context(), flowID)
	if err != nil {
		t.Fatal(err)
	}
	plain := strings.ReplaceAll(code, "-", "")
	for k, v := range fl.Data {
		if strings.Contains(v, plain) || strings.Contains(v, temp) {
			t.Errorf("flow data %q holds a secret in clear", k)
		}
	}

	p = b.Submit(b.FormOf(p, PathSMS), map[string]string{"temp": strings.ToLower(temp)})
	mustStatus(t, p, http.StatusOK, "Elija su contraseña", "Condiciones de uso", "Versión 2026-01", `type="checkbox"`)
	p = b.Submit(b.FormOf(p, PathPassword), map[string]string{"password": goodPassword, "repeat": goodPassword, "accept": "yes"})
	mustStatus(t, p, http.StatusOK, "B@k está activa", "Miren", PathSignIn)

	u, err := e.ti.Directory.Get(t.Context(), pendingDNI)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != directory.StatusActive || u.TermsVersion != "2026-01" || u.Credential != directory.CredentialBak {
		t.Errorf("after activation: status %s, terms %q, credential %s", u.Status, u.TermsVersion, u.Credential)
	}
	if _, err := e.ti.Directory.Authenticate(t.Context(), pendingDNI, goodPassword); err != nil {
		t.Errorf("sign in with the new password: %v", err)
	}
	// A reload of the last page (or a language switch) shows it again.
	p = b.Get(PathStart + "?flow=" + flowID + "&lang=eu")
	mustStatus(t, p, http.StatusOK, "B@k aktibo dago")

	// The sign-in link leads to Atea's sign-in.
	p = b.Follow(b.Get(PathSignIn))
	if !strings.Contains(p.Body, `name="password"`) {
		t.Errorf("sign-in link: %d, no password form:\n%s", p.Status, p.Body)
	}

	// The letter's code is spent.
	b2 := e.ti.Browser()
	p = e.enter(b2, e.start(b2), code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusConflict, "Código ya utilizado")
}

func TestActivationDefaultDifficulty(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PoWBits: DefaultConfig().PoWBits})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	p := e.start(b)
	if !strings.Contains(p.Body, `data-bits="18"`) {
		t.Fatal("default difficulty is not 18 bits")
	}
	p = e.enter(b, p, code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusOK, "***222")
}

func TestActivationPermanentDNI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, directory.PermanentDocument)
	b := e.ti.Browser()
	p := e.enter(b, e.start(b), code, pendingDNI, "1/1/2031")
	mustStatus(t, p, http.StatusBadRequest, "no coinciden")
	p = e.enter(b, p, code, pendingDNI, "01/01/9999")
	mustStatus(t, p, http.StatusOK, "***222")
}

func TestActivationBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	p := e.start(b)
	for _, tc := range []struct {
		name, code, dni, expiry, want string
	}{
		{"empty", "", pendingDNI, typedExpiry, "Escriba el código de activación"},
		{"bad dni", code, "12345678A", typedExpiry, "El DNI/NIE no es correcto"},
		{"bad date", code, pendingDNI, "31/02/2030", "La fecha de caducidad no es correcta"},
		{"unknown code", "ABCD-EFGH-JKMN-PQRS", pendingDNI, typedExpiry, "El código de activación no es válido"},
		{"garbage code", "hello", pendingDNI, typedExpiry, "El código de activación no es válido"},
	} {
		p = e.enter(b, p, tc.code, tc.dni, tc.expiry)
		mustStatus(t, p, http.StatusBadRequest, tc.want, `role="alert"`)
		// What was typed stays in the form.
		if tc.dni != "" && !strings.Contains(p.Body, `value="`+tc.dni+`"`) {
			t.Errorf("%s: the DNI typed is not shown again", tc.name)
		}
	}
	// None of these spent the code.
	p = e.enter(b, p, code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusOK, "***222")
}

func TestActivationExpiredCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	e.ti.Clock.Advance(31 * 24 * time.Hour)
	b := e.ti.Browser()
	p := e.enter(b, e.start(b), code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusGone, "Código caducado", "nueva carta")
	if n := len(e.ti.SMS.Messages()); n != 0 {
		t.Errorf("%d SMS sent for an expired code", n)
	}
}

func TestActivationMismatchBurnsCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	p := e.start(b)
	for i := 0; i < directory.MaxCodeAttempts; i++ {
		d := pendingDNI
		if i%2 == 0 {
			d = "48151623L" // the demo citizen: a real number, not the letter's
		}
		p = e.enter(b, p, code, d, "02/04/2030")
		mustStatus(t, p, http.StatusBadRequest, "no coinciden con los de la persona")
	}
	// Burned: the right data no longer helps.
	p = e.enter(b, p, code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusBadRequest, "El código de activación no es válido")
	if n := len(e.ti.SMS.Messages()); n != 0 {
		t.Errorf("%d SMS sent", n)
	}
}

func TestActivationNoMobile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, "", pendingExpiry)
	b := e.ti.Browser()
	p := e.enter(b, e.start(b), code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusConflict, "No hay un móvil registrado", "oficina de registro")
}

func TestActivationProofOfWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PoWBits: 12})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	p := e.start(b)
	f := b.FormOf(p, PathEnter)
	challenge := f.Values.Get("challenge")
	fields := map[string]string{"code": code, "dni": pendingDNI, "expiry": typedExpiry}

	// No answer (no JavaScript).
	p = b.Submit(f, fields)
	mustStatus(t, p, http.StatusBadRequest, "La comprobación automática no se ha completado")
	if got := b.FormOf(p, PathEnter).Values.Get("challenge"); got == challenge || got == "" {
		t.Fatal("the challenge was not replaced after a submission")
	}
	// A wrong answer to the current challenge.
	f = b.FormOf(p, PathEnter)
	wrong := "0"
	for checkPoW(f.Values.Get("challenge"), wrong, 12) {
		wrong += "0"
	}
	p = b.Submit(f, merge(fields, map[string]string{"pow": wrong}))
	mustStatus(t, p, http.StatusBadRequest, "La comprobación automática no se ha completado")
	// A challenge of one's own choosing, solved.
	f = b.FormOf(p, PathEnter)
	p = b.Submit(f, merge(fields, map[string]string{"challenge": "00000000000000000000000000000000", "pow": solvePoW("00000000000000000000000000000000", 12)}))
	mustStatus(t, p, http.StatusBadRequest, "La comprobación automática no se ha completado")
	// A right answer works once: replayed, it is refused (the flow has a new challenge, and
	// the old one is consumed).
	f = b.FormOf(p, PathEnter)
	answer := map[string]string{"challenge": f.Values.Get("challenge"), "pow": solvePoW(f.Values.Get("challenge"), 12)}
	p = b.Submit(f, merge(fields, merge(answer, map[string]string{"dni": "48151623L"})))
	mustStatus(t, p, http.StatusBadRequest, "no coinciden")
	p = b.Submit(f, merge(fields, answer))
	mustStatus(t, p, http.StatusBadRequest, "La comprobación automática no se ha completado")
	if n := len(e.ti.SMS.Messages()); n != 0 {
		t.Errorf("%d SMS sent without a valid proof of work", n)
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestActivationRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("address", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{AddressLimit: 3})
		code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
		b := e.ti.Browser()
		p := e.start(b)
		for i := 0; i < 3; i++ {
			p = e.enter(b, p, "ABCD-EFGH-JKMN-PQRS", pendingDNI, typedExpiry)
			mustStatus(t, p, http.StatusBadRequest, "no es válido")
		}
		p = e.enter(b, p, code, pendingDNI, typedExpiry)
		mustStatus(t, p, http.StatusTooManyRequests, "Demasiados intentos")
		// Another browser at the same address is limited too.
		b2 := e.ti.Browser()
		p = e.enter(b2, e.start(b2), code, pendingDNI, typedExpiry)
		mustStatus(t, p, http.StatusTooManyRequests, "Demasiados intentos")
		// The window passes.
		e.ti.Clock.Advance(11 * time.Minute)
		p = e.enter(b2, e.start(b2), code, pendingDNI, typedExpiry)
		mustStatus(t, p, http.StatusOK, "***222")
	})
	t.Run("code", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{CodeLimit: 2})
		code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
		b := e.ti.Browser()
		p := e.start(b)
		for i := 0; i < 2; i++ {
			p = e.enter(b, p, code, "48151623L", typedExpiry)
			mustStatus(t, p, http.StatusBadRequest, "no coinciden")
		}
		p = e.enter(b, p, code, pendingDNI, typedExpiry)
		mustStatus(t, p, http.StatusTooManyRequests, "Demasiados intentos")
	})
}

func TestActivationTemporaryPassword(t *testing.T) {
	t.Parallel()
	t.Run("wrong", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
		b := e.ti.Browser()
		p := e.enter(b, e.start(b), code, pendingDNI, typedExpiry)
		mustStatus(t, p, http.StatusOK)
		f := b.FormOf(p, PathSMS)
		p = b.Submit(f, map[string]string{"temp": ""})
		mustStatus(t, p, http.StatusBadRequest, "Escriba la contraseña temporal")
		for i := 1; i < 5; i++ {
			p = b.Submit(f, map[string]string{"temp": "ZZZZZZZZZZ"})
			mustStatus(t, p, http.StatusBadRequest, fmt.Sprintf("Le quedan %d intentos", 5-i))
		}
		p = b.Submit(f, map[string]string{"temp": "ZZZZZZZZZZ"})
		mustStatus(t, p, http.StatusTooManyRequests, "Demasiadas contraseñas temporales incorrectas")
		// The flow is over: even the right password does not help now.
		p = b.Submit(f, map[string]string{"temp": e.lastTemp(pendingPhone)})
		mustStatus(t, p, http.StatusBadRequest)
		// The code still works in a new flow.
		b2 := e.ti.Browser()
		e.toPassword(b2, code)
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
		b := e.ti.Browser()
		p := e.enter(b, e.start(b), code, pendingDNI, typedExpiry)
		mustStatus(t, p, http.StatusOK, "Vale 10 minutos")
		e.ti.Clock.Advance(10*time.Minute + time.Second)
		p = b.Submit(b.FormOf(p, PathSMS), map[string]string{"temp": e.lastTemp(pendingPhone)})
		mustStatus(t, p, http.StatusBadRequest, "La contraseña temporal ha caducado")
	})
}

func TestActivationResend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	p := e.enter(b, e.start(b), code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusOK, "No he recibido el SMS", "dentro de un minuto")
	first := e.lastTemp(pendingPhone)
	resend := b.FormOf(p, PathResend)

	// Too soon.
	p = b.Submit(resend, nil)
	mustStatus(t, p, http.StatusTooManyRequests, "Espere un minuto")
	if n := e.ti.SMS.Count(pendingPhone); n != 1 {
		t.Fatalf("%d SMS after a resend in the cooldown, want 1", n)
	}
	e.ti.Clock.Advance(61 * time.Second)
	p = b.Get(PathStart + "?flow=" + resend.Values.Get("flow"))
	if strings.Contains(p.Body, "disabled") {
		t.Error("resend button still disabled after the cooldown")
	}
	p = b.Submit(resend, nil)
	mustStatus(t, p, http.StatusOK, "nueva contraseña temporal")
	second := e.lastTemp(pendingPhone)
	if second == first || e.ti.SMS.Count(pendingPhone) != 2 {
		t.Fatal("no new temporary password sent")
	}
	// The first no longer works.
	p = b.Submit(b.FormOf(p, PathSMS), map[string]string{"temp": first})
	mustStatus(t, p, http.StatusBadRequest, "no es correcta")

	e.ti.Clock.Advance(61 * time.Second)
	p = b.Submit(resend, nil)
	mustStatus(t, p, http.StatusOK)
	e.ti.Clock.Advance(61 * time.Second)
	p = b.Submit(resend, nil) // the 4th send: MaxSends is 3
	mustStatus(t, p, http.StatusTooManyRequests, "Ya no se pueden enviar más SMS")
	if n := e.ti.SMS.Count(pendingPhone); n != 3 {
		t.Fatalf("%d SMS, want 3 (MaxSends)", n)
	}
	// The newest one works.
	p = b.Submit(b.FormOf(p, PathSMS), map[string]string{"temp": e.lastTemp(pendingPhone)})
	mustStatus(t, p, http.StatusOK, "Elija su contraseña")
}

func TestActivationSMSFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	e.ti.SMS.Fail(errors.New("gateway down"))
	b := e.ti.Browser()
	p := e.enter(b, e.start(b), code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusServiceUnavailable, "No hemos podido enviar el SMS")
	// The failed send is not counted: resending works at once when the gateway is back.
	e.ti.SMS.Fail(nil)
	p = b.Submit(b.FormOf(p, PathResend), nil)
	mustStatus(t, p, http.StatusOK, "nueva contraseña temporal")
	p = b.Submit(b.FormOf(p, PathSMS), map[string]string{"temp": e.lastTemp(pendingPhone)})
	mustStatus(t, p, http.StatusOK, "Elija su contraseña")
}

func TestActivationPasswordPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	p := e.toPassword(b, code)
	f := b.FormOf(p, PathPassword)
	for _, tc := range []struct {
		name, pw, repeat, accept, want string
	}{
		{"empty", "", "", "yes", "Escriba la nueva contraseña dos veces"},
		{"repeat", goodPassword, goodPassword + "x", "yes", "no coinciden"},
		{"terms", goodPassword, goodPassword, "", "debe aceptar las condiciones"},
		{"short", "kaixo1", "kaixo1", "yes", "demasiado corta"},
		{"dni", "clave12345678", "clave12345678", "yes", "no puede contener el número de su DNI/NIE"},
		{"common", "Password123", "Password123", "yes", "demasiado habitual"},
	} {
		p = b.Submit(f, map[string]string{"password": tc.pw, "repeat": tc.repeat, "accept": tc.accept})
		mustStatus(t, p, http.StatusBadRequest, tc.want, `role="alert"`)
		if strings.Contains(p.Body, tc.pw) && tc.pw != "" {
			t.Errorf("%s: the page shows the password typed", tc.name)
		}
	}
	u, _ := e.ti.Directory.Get(t.Context(), pendingDNI)
	if u.Status != directory.StatusPending {
		t.Fatalf("status %s after refused passwords", u.Status)
	}
	p = b.Submit(f, map[string]string{"password": goodPassword, "repeat": goodPassword, "accept": "yes"})
	mustStatus(t, p, http.StatusOK, "B@k está activa")
}

func TestActivationOtherBrowserFinishedFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b1, b2 := e.ti.Browser(), e.ti.Browser()
	p1 := e.toPassword(b1, code)
	p2 := e.toPassword(b2, code)
	p1 = b1.Submit(b1.FormOf(p1, PathPassword), map[string]string{"password": goodPassword, "repeat": goodPassword, "accept": "yes"})
	mustStatus(t, p1, http.StatusOK, "B@k está activa")
	p2 = b2.Submit(b2.FormOf(p2, PathPassword), map[string]string{"password": "otra frase larga", "repeat": "otra frase larga", "accept": "yes"})
	mustStatus(t, p2, http.StatusConflict, "Código ya utilizado")
	if _, err := e.ti.Directory.Authenticate(t.Context(), pendingDNI, goodPassword); err != nil {
		t.Errorf("the first browser's password does not work: %v", err)
	}
}

func TestActivationForgedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	p := e.start(b)
	f := b.FormOf(p, PathEnter)
	fields := map[string]string{"code": code, "dni": pendingDNI, "expiry": typedExpiry, "pow": solvePoW(f.Values.Get("challenge"), testBits)}

	// A wrong CSRF token.
	mustStatus(t, b.Submit(f, merge(fields, map[string]string{"csrf": "forged"})), http.StatusForbidden)
	// The flow of another browser.
	other := e.ti.Browser()
	mustStatus(t, other.Submit(f, fields), http.StatusBadRequest)
	// A cross-site post.
	if got := postFrom(t, b, PathEnter, f, fields, "https://evil.example"); got != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", got)
	}
	// A step posted out of order: the temporary password while the flow waits for the code.
	mustStatus(t, b.Submit(idptest.Form{Action: PathSMS, Values: f.Values}, map[string]string{"temp": "ABCDEFGHJK"}), http.StatusBadRequest)
	mustStatus(t, b.Submit(idptest.Form{Action: PathPassword, Values: f.Values}, map[string]string{"password": goodPassword, "repeat": goodPassword, "accept": "yes"}), http.StatusBadRequest)
	// A flow of another journey, or none.
	mustStatus(t, b.Get(PathStart+"?flow=fnosuchflow"), http.StatusBadRequest)
	if n := len(e.ti.SMS.Messages()); n != 0 {
		t.Errorf("%d SMS sent by forged requests", n)
	}
	// After all that the honest submission still works.
	p = b.Submit(f, fields)
	mustStatus(t, p, http.StatusOK, "***222")
	u, _ := e.ti.Directory.Get(t.Context(), pendingDNI)
	if u.Status != directory.StatusPending {
		t.Errorf("status %s", u.Status)
	}
}

// postFrom posts form f with set applied as a page of origin would: Browser.Post always
// sends the IdP's own Origin.
func postFrom(t *testing.T, b *idptest.Browser, path string, f idptest.Form, set map[string]string, origin string) int {
	t.Helper()
	v := url.Values{}
	for k, vs := range f.Values {
		v[k] = append([]string(nil), vs...)
	}
	for k, s := range set {
		v.Set(k, s)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.Base+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestActivationBasque(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	code := e.pending(pendingDNI, pendingPhone, pendingExpiry)
	b := e.ti.Browser()
	b.Lang = "eu"
	p := e.start(b)
	mustStatus(t, p, http.StatusOK, `lang="eu"`, "Aktibatu zure B@k")
	p = e.enter(b, p, code, pendingDNI, typedExpiry)
	mustStatus(t, p, http.StatusOK, "Aldi baterako pasahitza", "***222")
	if m := e.ti.SMS.Messages(); len(m) != 1 || !strings.Contains(m[0].Body, "aldi baterako pasahitza") {
		t.Fatalf("SMS not in Basque: %+v", m)
	}
	p = b.Submit(b.FormOf(p, PathSMS), map[string]string{"temp": e.lastTemp(pendingPhone)})
	mustStatus(t, p, http.StatusOK, "onartu baldintzak")
	p = b.Submit(b.FormOf(p, PathPassword), map[string]string{"password": goodPassword, "repeat": goodPassword, "accept": "yes"})
	mustStatus(t, p, http.StatusOK, "B@k aktibo dago")
}

func TestActivationConfig(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{PoWBits: 40}, Deps{}); err == nil {
		t.Error("PoWBits 40 accepted")
	}
	if _, err := New(Config{}, Deps{}); err == nil {
		t.Error("missing deps accepted")
	}
	if _, err := New(Config{SignInReturn: "https://evil.example/"}, Deps{}); err == nil {
		t.Error("non-local SignInReturn accepted")
	}
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"01/04/2030": "2030-04-01", "1/4/2030": "2030-04-01", "01-04-2030": "2030-04-01", "01.04.2030": "2030-04-01",
		"2030-04-01": "2030-04-01", "01/01/9999": directory.PermanentDocument,
		"31/02/2030": "", "2030/04/01": "", "": "", "01/13/2030": "",
	} {
		got, ok := parseExpiry(in)
		if got != want || ok != (want != "") {
			t.Errorf("parseExpiry(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	s, err := e.h.seal("fA", "ABCDEFGHJKMNPQRS")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "ABCDEFGHJKMNPQRS") {
		t.Fatal("sealed code readable")
	}
	if got, err := e.h.open("fA", s); err != nil || got != "ABCDEFGHJKMNPQRS" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := e.h.open("fB", s); err == nil {
		t.Error("sealed code of flow fA opens in flow fB")
	}
}
