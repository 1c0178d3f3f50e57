package certreg_test

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/authn/certauth"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/selfservice/certreg"
)

// The citizen of these tests, as an FNMT-style certificate names them.
const (
	newDNI     = "12345678Z"
	newMasked  = "***678Z"
	newPhone   = "+34600111222"
	newPass    = "correct horse battery"
	newSubject = `SERIALNUMBER=IDCES-12345678Z,2.5.4.42=MIKEL,2.5.4.4=ARANA LARRAÑAGA,CN=ARANA LARRAÑAGA MIKEL - 12345678Z,C=ES`
)

// fakeCerts is a CertReader whose answer the test sets.
type fakeCerts struct {
	mu  sync.Mutex
	id  certauth.Identity
	err error
}

func (f *fakeCerts) Authenticate(*http.Request) (certauth.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id, f.err
}

func (f *fakeCerts) set(id certauth.Identity, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.id, f.err = id, err
}

func identity(dniNumber, subject string) certauth.Identity {
	return certauth.Identity{DNI: dniNumber, Subject: subject, NotAfter: time.Now().Add(365 * 24 * time.Hour),
		Fingerprint: "0123456789abcdef" + strings.Repeat("fe", 24)}
}

// setup starts an IdP with the journey mounted and a /whoami page that tells who is signed in.
func setup(t *testing.T) (*idptest.IdP, *fakeCerts) {
	t.Helper()
	ti := idptest.New(t, nil)
	certs := &fakeCerts{id: identity(newDNI, newSubject)}
	h, err := certreg.New(certreg.Config{}, certreg.Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, SMS: ti.SMS, Certificates: certs})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(ti.Server)
	kit := ti.Server.Kit()
	ti.Server.Handle("GET /whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := kit.Session(r)
		if err != nil {
			http.Error(w, "nobody", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "user=%s level=%s", sess.UserID, sess.Level)
	}))
	return ti, certs
}

// toForm starts the journey and returns the details form.
func toForm(t *testing.T, b *idptest.Browser) idptest.Page {
	t.Helper()
	p := b.Get(certreg.PathStart)
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Location, certreg.PathStep+"?flow=") {
		t.Fatalf("GET %s: HTTP %d to %q, want 303 to the step page\n%s", certreg.PathStart, p.Status, p.Location, p.Body)
	}
	p = b.Follow(p)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `action="`+certreg.PathDetails+`"`) {
		t.Fatalf("step page: HTTP %d\n%s", p.Status, p.Body)
	}
	return p
}

func details(b *idptest.Browser, p idptest.Page, set map[string]string) idptest.Page {
	fields := map[string]string{"birth": "17/05/1990", "expiry": "01/01/9999", "email": "mikel@example.eus", "phone": "600 111 222"}
	for k, v := range set {
		fields[k] = v
	}
	return b.Submit(b.FormOf(p, certreg.PathDetails), fields)
}

// toPassword goes from the start to the password page.
func toPassword(t *testing.T, ti *idptest.IdP, b *idptest.Browser) idptest.Page {
	t.Helper()
	p := details(b, toForm(t, b), nil)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `action="`+certreg.PathSMS+`"`) {
		t.Fatalf("details: HTTP %d, want the SMS page\n%s", p.Status, p.Body)
	}
	code, ok := ti.SMS.LastCode(newPhone)
	if !ok {
		t.Fatalf("no SMS to %s: %+v", newPhone, ti.SMS.Messages())
	}
	p = b.Submit(b.FormOf(p, certreg.PathSMS), map[string]string{"code": code})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `action="`+certreg.PathPassword+`"`) {
		t.Fatalf("code: HTTP %d, want the password page\n%s", p.Status, p.Body)
	}
	return p
}

func setPassword(b *idptest.Browser, p idptest.Page, pw string, accept bool) idptest.Page {
	f := map[string]string{"password": pw, "repeat": pw}
	if accept {
		f["accept"] = "yes"
	}
	return b.Submit(b.FormOf(p, certreg.PathPassword), f)
}

var receiptRE = regexp.MustCompile(`href="(` + regexp.QuoteMeta(certreg.PathReceipt) + `[^"]*)"`)

// TestRegisterHappyPath: certificate → form (names from the certificate, read-only) → SMS
// code → password and terms → active B@k; the receipt is a PDF for this browser only, with
// the masked DNI/NIE; the new password signs in through Atea's real sign-in pages.
func TestRegisterHappyPath(t *testing.T) {
	t.Parallel()
	ti, _ := setup(t)
	b := ti.Browser()
	p := toForm(t, b)
	for _, want := range []string{"Mikel", "Arana Larrañaga", newMasked} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("form lacks %q", want)
		}
	}
	if strings.Contains(p.Body, newDNI) || strings.Contains(p.Body, `name="given`) {
		t.Error("form shows the whole DNI or lets the names be edited")
	}
	p = toPassword(t, ti, b)
	p = setPassword(b, p, newPass, true)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="certreg-done"`) {
		t.Fatalf("password: HTTP %d, want the done page\n%s", p.Status, p.Body)
	}
	u, err := ti.Directory.Get(t.Context(), newDNI)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != directory.StatusActive || u.Credential != directory.CredentialBak || u.TermsVersion != "2026-01" ||
		u.GivenName != "Mikel" || u.FamilyName != "Arana Larrañaga" || u.Phone != newPhone || u.Email != "mikel@example.eus" ||
		u.BirthDate != "1990-05-17" || u.DocumentExpiry != directory.PermanentDocument {
		t.Errorf("registered user = %+v", u)
	}

	m := receiptRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("done page has no receipt link\n%s", p.Body)
	}
	link := html.UnescapeString(m[1])
	r := b.Get(link)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(r.Body, "%PDF-") {
		t.Fatalf("receipt: HTTP %d %s, starts %q", r.Status, r.Header.Get("Content-Type"), r.Body[:min(len(r.Body), 8)])
	}
	cd := r.Header.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment;") || strings.Contains(cd, "678") {
		t.Errorf("Content-Disposition %q: want an attachment whose name has no DNI", cd)
	}
	ref := regexp.MustCompile(`<code>([0-9A-Z]{5}-[0-9A-Z]{5})</code>`).FindStringSubmatch(p.Body)
	if ref == nil {
		t.Fatal("done page shows no reference")
	}
	for _, want := range []string{newMasked, "Justificante de registro", "Mikel", "mikel@example.eus", "***222", "B@k", "2026-01", "0123456789abcdef", ref[1]} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("receipt lacks %q", want)
		}
	}
	for _, bad := range []string{newDNI, newPhone, "0123456789abcdef" + "fe"} {
		if strings.Contains(r.Body, bad) {
			t.Errorf("receipt contains %q", bad)
		}
	}
	if eu := b.Get(strings.Replace(link, "lang=es", "lang=eu", 1)); !strings.Contains(eu.Body, "Erregistroaren egiaztagiria") {
		t.Error("Basque receipt lacks its title")
	}
	if other := ti.Browser().Get(link); other.Status != http.StatusBadRequest || strings.HasPrefix(other.Body, "%PDF") {
		t.Errorf("receipt from another browser: HTTP %d, want 400 without the PDF", other.Status)
	}
	ti.Clock.Advance(31 * time.Minute)
	if late := b.Get(link); late.Status != http.StatusBadRequest {
		t.Errorf("receipt after 31 minutes: HTTP %d, want 400", late.Status)
	}

	// The new password works at Atea's sign-in.
	s := ti.Browser()
	p = s.Follow(s.Get(certreg.PathSignIn))
	p = s.Follow(s.Submit(s.FormOf(p, "/login"), map[string]string{"username": newDNI, "password": newPass}))
	if who := s.Get("/whoami"); who.Body != "user="+u.ID+" level=low" {
		t.Errorf("after signing in with the new password: %q (last page HTTP %d)", who.Body, p.Status)
	}
}

// TestRegisterNoCertificate: each certificate problem gets its own page, and no flow.
func TestRegisterNoCertificate(t *testing.T) {
	t.Parallel()
	ti, certs := setup(t)
	for _, tc := range []struct {
		err    error
		status int
		text   string
	}{
		{fmt.Errorf("%w: none presented", certauth.ErrNoCertificate), http.StatusUnauthorized, "No hemos recibido ningún certificado"},
		{fmt.Errorf("%w: expired", certauth.ErrUntrusted), http.StatusForbidden, "No podemos aceptar este certificado"},
		{fmt.Errorf("%w: no serialNumber", certauth.ErrNoDNI), http.StatusForbidden, "no contiene un DNI/NIE"},
	} {
		certs.set(certauth.Identity{}, tc.err)
		p := ti.Browser().Get(certreg.PathStart)
		if p.Status != tc.status || !strings.Contains(p.Body, tc.text) || strings.Contains(p.Body, certreg.PathDetails) {
			t.Errorf("%v: HTTP %d, want %d with %q", tc.err, p.Status, tc.status, tc.text)
		}
	}
	certs.set(identity(newDNI, "SERIALNUMBER=IDCES-12345678Z,C=ES"), nil)
	if p := ti.Browser().Get(certreg.PathStart); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "no contiene su nombre") {
		t.Errorf("certificate without names: HTTP %d", p.Status)
	}
	if n := len(ti.SMS.Messages()); n != 0 {
		t.Errorf("%d messages sent", n)
	}
}

// TestRegisterAlreadyRegistered: one credential per person.
func TestRegisterAlreadyRegistered(t *testing.T) {
	t.Parallel()
	ti, certs := setup(t)
	certs.set(identity(idptest.CitizenDNI, "SERIALNUMBER=IDCES-48151623L,GN=ANE,SN=ETXEBERRIA,CN=ETXEBERRIA GOÑI\\, ANE (AUTENTICACIÓN),C=ES"), nil)
	p := ti.Browser().Get(certreg.PathStart)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "Ya tiene una credencial") || !strings.Contains(p.Body, certreg.PathSignIn) {
		t.Fatalf("registered DNI: HTTP %d\n%s", p.Status, p.Body)
	}
	// Locked and revoked credentials say so.
	if err := ti.Directory.Lock(t.Context(), idptest.CitizenDNI, "test"); err != nil {
		t.Fatal(err)
	}
	if p := ti.Browser().Get(certreg.PathStart); p.Status != http.StatusConflict || !strings.Contains(p.Body, "bloqueada") {
		t.Errorf("locked: HTTP %d", p.Status)
	}
	if err := ti.Directory.Revoke(t.Context(), idptest.CitizenDNI, "test"); err != nil {
		t.Fatal(err)
	}
	if p := ti.Browser().Get(certreg.PathStart); p.Status != http.StatusConflict || !strings.Contains(p.Body, "revocada") {
		t.Errorf("revoked: HTTP %d", p.Status)
	}
}

// TestRegisterRegisteredMeanwhile: a credential created between the start and the last step
// (another browser) ends the flow on the "already registered" page, not a second credential.
func TestRegisterRegisteredMeanwhile(t *testing.T) {
	t.Parallel()
	ti, _ := setup(t)
	b := ti.Browser()
	p := toPassword(t, ti, b)
	if _, err := ti.Directory.Add(t.Context(), directory.User{DNI: newDNI, GivenName: "Mikel", FamilyName: "Arana", BirthDate: "1990-05-17"}, "another good password"); err != nil {
		t.Fatal(err)
	}
	p = setPassword(b, p, newPass, true)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "Ya tiene una credencial") {
		t.Fatalf("HTTP %d\n%s", p.Status, p.Body)
	}
	if _, err := ti.Directory.Authenticate(t.Context(), newDNI, "another good password"); err != nil {
		t.Errorf("the existing credential changed: %v", err)
	}
}

// TestRegisterResumesInterrupted: a pending B@k record left by an interrupted registration is
// continued, with the newly proven contact data.
func TestRegisterResumesInterrupted(t *testing.T) {
	t.Parallel()
	ti, _ := setup(t)
	if _, err := ti.Directory.Add(t.Context(), directory.User{DNI: newDNI, GivenName: "Mikel", FamilyName: "Arana Larrañaga",
		BirthDate: "1990-05-17", Phone: "+34699999999", Email: "old@example.eus", Status: directory.StatusPending}, ""); err != nil {
		t.Fatal(err)
	}
	b := ti.Browser()
	p := setPassword(b, toPassword(t, ti, b), newPass, true)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="certreg-done"`) {
		t.Fatalf("HTTP %d\n%s", p.Status, p.Body)
	}
	u, err := ti.Directory.Authenticate(t.Context(), newDNI, newPass)
	if err != nil {
		t.Fatal(err)
	}
	if u.Phone != newPhone || u.Email != "mikel@example.eus" || u.TermsVersion == "" {
		t.Errorf("resumed user = %+v", u)
	}
}

// TestRegisterFormErrors: under 16, bad dates, an expired document, bad contact data.
func TestRegisterFormErrors(t *testing.T) {
	t.Parallel()
	ti, _ := setup(t)
	b := ti.Browser()
	p := toForm(t, b)
	today := ti.Clock.Now()
	for _, tc := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"birth": today.AddDate(-15, 0, 0).Format("02/01/2006")}, "debe tener más de 16 años"},
		{map[string]string{"birth": today.AddDate(-16, 0, 1).Format("02/01/2006")}, "debe tener más de 16 años"},
		{map[string]string{"birth": "31/02/1990"}, "La fecha de nacimiento no es válida"},
		{map[string]string{"expiry": "1/1/2001"}, "ha caducado"},
		{map[string]string{"expiry": "mañana"}, "La fecha de caducidad no es válida"},
		{map[string]string{"email": "mikel@example"}, "correo electrónico no es válida"},
		{map[string]string{"phone": "12345"}, "número de móvil no es válido"},
		{map[string]string{"phone": ""}, "Complete todos los campos"},
	} {
		got := details(b, p, tc.set)
		if got.Status != http.StatusBadRequest || !strings.Contains(got.Body, tc.want) {
			t.Errorf("%v: HTTP %d, want 400 with %q", tc.set, got.Status, tc.want)
		}
		p = got
	}
	if n := len(ti.SMS.Messages()); n != 0 {
		t.Fatalf("%d SMS sent for bad forms", n)
	}
	// Exactly 16 today is old enough.
	got := details(b, p, map[string]string{"birth": today.AddDate(-16, 0, 0).Format("02/01/2006")})
	if got.Status != http.StatusOK || !strings.Contains(got.Body, "***222") {
		t.Errorf("16 today: HTTP %d, want the SMS page", got.Status)
	}
}

// TestRegisterWrongCode: wrong codes count down and the last one ends the flow; resend
// waits for its cooldown; a corrected number gets the code.
func TestRegisterWrongCode(t *testing.T) {
	t.Parallel()
	ti, _ := setup(t)
	b := ti.Browser()
	p := details(b, toForm(t, b), nil)
	code, _ := ti.SMS.LastCode(newPhone)
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	if r := b.Submit(b.FormOf(p, certreg.PathResend), nil); r.Status != http.StatusTooManyRequests || ti.SMS.Count(newPhone) != 1 {
		t.Errorf("resend at once: HTTP %d, %d SMS", r.Status, ti.SMS.Count(newPhone))
	}
	for i := 4; i >= 1; i-- {
		p = b.Submit(b.FormOf(p, certreg.PathSMS), map[string]string{"code": wrong})
		if want := fmt.Sprintf("Le quedan %d intentos", i); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, want) {
			t.Fatalf("wrong code: HTTP %d, want %q\n%s", p.Status, want, p.Body)
		}
	}
	form := b.FormOf(p, certreg.PathSMS)
	p = b.Submit(form, map[string]string{"code": wrong})
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Demasiados códigos incorrectos") {
		t.Fatalf("5th wrong code: HTTP %d\n%s", p.Status, p.Body)
	}
	if p := b.Submit(form, map[string]string{"code": code}); p.Status != http.StatusBadRequest || strings.Contains(p.Body, certreg.PathPassword) {
		t.Errorf("right code after the flow ended: HTTP %d", p.Status)
	}

	// A new flow: correct the number, get the code there.
	p = details(b, toForm(t, b), nil)
	ti.Clock.Advance(61 * time.Second)
	p = b.Submit(b.FormOf(p, certreg.PathResend), nil)
	if p.Status != http.StatusOK || ti.SMS.Count(newPhone) != 3 {
		t.Fatalf("resend after the cooldown: HTTP %d, %d SMS", p.Status, ti.SMS.Count(newPhone))
	}
	p = b.Submit(b.FormOf(p, certreg.PathEdit), nil)
	if !strings.Contains(p.Body, `value="&#43;34600111222"`) || !strings.Contains(p.Body, `value="01/01/9999"`) {
		t.Errorf("edit: the form does not show the number again\n%s", p.Body)
	}
	p = details(b, p, map[string]string{"phone": "+34 611 222 333"})
	code2, ok := ti.SMS.LastCode("+34611222333")
	if !ok {
		t.Fatal("no SMS to the corrected number")
	}
	if p = b.Submit(b.FormOf(p, certreg.PathSMS), map[string]string{"code": code2}); !strings.Contains(p.Body, certreg.PathPassword) {
		t.Errorf("code of the corrected number: HTTP %d", p.Status)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestRegisterWeakPassword: each policy rule has its message, and nothing is registered
// until a good password; a missing tick of the terms is refused too.
func TestRegisterWeakPassword(t *testing.T) {
	t.Parallel()
	ti, _ := setup(t)
	b := ti.Browser()
	p := toPassword(t, ti, b)
	for _, tc := range []struct {
		pw, want string
		accept   bool
	}{
		{"short", "demasiado corta", true},
		{"x12345678x", "no puede contener su número", true},
		{"password", "demasiado habitual", true},
		{newPass, "debe aceptar las condiciones", false},
	} {
		got := setPassword(b, p, tc.pw, tc.accept)
		if got.Status != http.StatusBadRequest || !strings.Contains(got.Body, tc.want) {
			t.Errorf("%q: HTTP %d, want 400 with %q", tc.pw, got.Status, tc.want)
		}
		if _, err := ti.Directory.Get(t.Context(), newDNI); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("%q: a record exists after a refused password: %v", tc.pw, err)
		}
		p = got
	}
	f := b.FormOf(p, certreg.PathPassword)
	if got := b.Submit(f, map[string]string{"password": newPass, "repeat": newPass + "x", "accept": "yes"}); !strings.Contains(got.Body, "no coinciden") {
		t.Errorf("different passwords: HTTP %d", got.Status)
	}
	if got := setPassword(b, p, newPass, true); !strings.Contains(got.Body, `id="certreg-done"`) {
		t.Errorf("good password: HTTP %d", got.Status)
	}
	// The step is done: posting the form again registers nothing twice.
	if got := setPassword(b, p, newPass, true); got.Status != http.StatusBadRequest {
		t.Errorf("second submission: HTTP %d, want 400", got.Status)
	}
}

// TestRegisterUnavailable: without certificate sign-in the start page says so.
func TestRegisterUnavailable(t *testing.T) {
	t.Parallel()
	ti := idptest.New(t, nil)
	h, err := certreg.New(certreg.Config{}, certreg.Deps{Kit: ti.Server.Kit()})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(ti.Server)
	b := ti.Browser()
	b.Lang = "eu"
	if p := b.Get(certreg.PathStart); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "ez dago erabilgarri") {
		t.Errorf("HTTP %d\n%s", p.Status, p.Body)
	}
}
