package recovery_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/selfservice/recovery"
)

// The demo citizen's expiry as printed on the document.
const citizenExpiryTyped = "17/05/2031"

const newPassword = "otra contraseña larga"

type env struct {
	*idptest.IdP
	h *recovery.Handler
}

func newEnv(t *testing.T, cfg recovery.Config) env {
	t.Helper()
	ti := idptest.New(t, nil)
	h, err := recovery.New(cfg, recovery.Deps{Kit: ti.Server.Kit(), Directory: ti.Directory, SMS: ti.SMS})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(ti.Server)
	return env{IdP: ti, h: h}
}

// msg is a catalog text as a page shows it (HTML-escaped).
func (e env) msg(key string, args ...any) string {
	return html.EscapeString(e.Templates.Message("es", key, args...))
}

// sms is how many messages went to phone once every background delivery has ended.
func (e env) sms(phone string) int {
	e.h.Wait()
	return e.SMS.Count(phone)
}

func (e env) lastCode(t *testing.T, phone string) string {
	t.Helper()
	e.h.Wait()
	code, ok := e.SMS.LastCode(phone)
	if !ok {
		t.Fatalf("no code sent to %s", phone)
	}
	return code
}

// request fills the first page with id and expiry, and returns the answer to the post.
func request(t *testing.T, b *idptest.Browser, id, expiry string) idptest.Page {
	t.Helper()
	p := b.Get("/recover")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /recover: HTTP %d", p.Status)
	}
	return b.Submit(b.FormOf(p, "/recover"), map[string]string{"dni": id, "expiry": expiry})
}

// codePage runs request and follows to the code page, which must be shown.
func codePage(t *testing.T, b *idptest.Browser, id, expiry string) idptest.Page {
	t.Helper()
	p := request(t, b, id, expiry)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("POST /recover: HTTP %d, want 303\n%s", p.Status, p.Body)
	}
	p = b.Follow(p)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `name="password2"`) {
		t.Fatalf("code page: HTTP %d\n%s", p.Status, p.Body)
	}
	return p
}

func submitCode(b *idptest.Browser, page idptest.Page, code, pw string) idptest.Page {
	return b.Submit(b.FormOf(page, "/recover/code?"), map[string]string{"code": code, "password": pw, "password2": pw})
}

func resend(b *idptest.Browser, page idptest.Page) idptest.Page {
	return b.Submit(b.FormOf(page, "/recover/code/resend"), nil)
}

// signIn signs in through Atea's real sign-in pages (from the done page's link) and reports
// whether the welcome page was reached.
func signIn(t *testing.T, b *idptest.Browser, id, pw string) bool {
	t.Helper()
	p := b.Follow(b.Get("/recover/signin"))
	p = b.Follow(b.Submit(b.FormOf(p, "/login"), map[string]string{"username": id, "password": pw}))
	return p.Status == http.StatusOK && strings.Contains(p.Body, `id="recovery-welcome"`)
}

func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// TestRecoveryHappyPath: the forgotten password of an active citizen is replaced; the new
// one signs in through the real pages, the old one no longer does, the citizen's other
// sessions are ended, a notice goes to the mobile, and the code cannot be used again.
func TestRecoveryHappyPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	// Another browser signed in with the old password: its session must end.
	other := e.Browser()
	if !signIn(t, other, idptest.CitizenDNI, idptest.CitizenPassword) {
		t.Fatal("sign-in with the demo password failed before the recovery")
	}
	b := e.Browser()
	page := codePage(t, b, strings.ToLower(idptest.CitizenDNI), citizenExpiryTyped)
	if !strings.Contains(page.Body, e.msg("recovery.code.sent")) {
		t.Errorf("code page lacks the generic sentence")
	}
	if strings.Contains(page.Body, "707") {
		t.Errorf("code page shows part of the mobile number")
	}
	if n := e.sms(idptest.CitizenPhone); n != 1 {
		t.Fatalf("SMS to the citizen: %d, want 1", n)
	}
	m := e.SMS.Messages()[0]
	code := e.lastCode(t, idptest.CitizenPhone)
	if len(code) != 8 || !strings.Contains(m.Body, "contraseña") {
		t.Errorf("SMS %q: want an 8-digit recovery code in Spanish", m.Body)
	}
	form := b.FormOf(page, "/recover/code?")
	done := submitCode(b, page, code, newPassword)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="recovery-done"`) {
		t.Fatalf("after the right code: HTTP %d\n%s", done.Status, done.Body)
	}
	if !strings.Contains(done.Body, e.msg("recovery.done.sessions", 1)) {
		t.Errorf("done page does not say that 1 session was ended")
	}
	if strings.Contains(done.Body, e.msg("recovery.done.unblocked")) {
		t.Errorf("done page says unblocked, but the credential was active")
	}
	if n := e.sms(idptest.CitizenPhone); n != 2 {
		t.Errorf("SMS after the reset: %d, want 2 (the code and the notice)", n)
	} else if body := e.SMS.Messages()[1].Body; !strings.Contains(body, "cambiado") || regexp.MustCompile(`\d{4}`).MatchString(body) {
		t.Errorf("notice SMS %q", body)
	}
	// Single use: the same post again finds no flow.
	if p := b.Submit(form, map[string]string{"code": code, "password": "y otra más larga", "password2": "y otra más larga"}); p.Status != http.StatusBadRequest {
		t.Errorf("replayed code: HTTP %d, want 400", p.Status)
	}
	// The other browser's session is gone: the welcome page sends it to sign in.
	if p := other.Get("/recover/welcome"); p.Status != http.StatusSeeOther || !strings.Contains(p.Location, "/recover/signin") {
		t.Errorf("other browser after the reset: HTTP %d → %q, want a redirect to sign in", p.Status, p.Location)
	}
	if signIn(t, e.Browser(), idptest.CitizenDNI, idptest.CitizenPassword) {
		t.Error("the old password still signs in")
	}
	if !signIn(t, e.Browser(), idptest.CitizenDNI, newPassword) {
		t.Error("the new password does not sign in")
	}
	evs, err := e.Directory.History(t.Context(), idptest.CitizenDNI, 20)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		if ev.Name == "password_set" && ev.Reason == "recovery" {
			found = true
		}
	}
	if !found {
		t.Errorf("no password_set event with reason recovery in %+v", evs)
	}
}

// TestRecoveryUnblocks: a credential blocked after 5 wrong passwords on the sign-in pages
// is unblocked by the recovery and signs in with the new password.
func TestRecoveryUnblocks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	b := e.Browser()
	p := b.Follow(b.Get("/recover/signin"))
	for range 5 {
		p = b.Submit(b.FormOf(p, "/login"), map[string]string{"username": idptest.CitizenDNI, "password": "not the password"})
	}
	if u, err := e.Directory.Get(t.Context(), idptest.CitizenDNI); err != nil || u.Status != directory.StatusLocked {
		t.Fatalf("after 5 wrong passwords: %+v, %v; want locked", u, err)
	}
	if signIn(t, e.Browser(), idptest.CitizenDNI, idptest.CitizenPassword) {
		t.Fatal("a blocked credential signed in")
	}
	page := codePage(t, b, idptest.CitizenDNI, citizenExpiryTyped)
	done := submitCode(b, page, e.lastCode(t, idptest.CitizenPhone), newPassword)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, e.msg("recovery.done.unblocked")) {
		t.Fatalf("done page: HTTP %d, want the unblocked sentence\n%s", done.Status, done.Body)
	}
	if u, err := e.Directory.Get(t.Context(), idptest.CitizenDNI); err != nil || u.Status != directory.StatusActive || u.Failures != 0 {
		t.Fatalf("after the recovery: %+v, %v; want active with no failures", u, err)
	}
	if !signIn(t, e.Browser(), idptest.CitizenDNI, newPassword) {
		t.Error("the new password does not sign in after the unblock")
	}
}

var hidden = regexp.MustCompile(`name="(flow|csrf)" value="([^"]*)"`)

// normalise removes what differs between any two answers: the flow ID and its CSRF token.
func normalise(body string) string {
	for _, m := range hidden.FindAllStringSubmatch(body, -1) {
		if m[2] != "" {
			body = strings.ReplaceAll(body, m[2], "<"+m[1]+">")
		}
	}
	return body
}

// TestRecoveryDoesNotRevealIDs: an unknown ID, a wrong expiry, a revoked, a pending and a
// phoneless credential get the same answer as a matching one, with the same status and
// headers, no SMS, and a code page on which every code is wrong.
func TestRecoveryDoesNotRevealIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	ctx := t.Context()
	add := func(id, phone, password string) {
		status := directory.StatusActive
		if password == "" {
			status = directory.StatusPending
		}
		if _, err := e.Directory.Add(ctx, directory.User{DNI: id, GivenName: "Jon", FamilyName: "Agirre", BirthDate: "1980-01-01",
			DocumentExpiry: directory.PermanentDocument, Phone: phone, Status: status}, password); err != nil {
			t.Fatal(err)
		}
	}
	add("00000001R", "+34600000001", "a good password")
	if err := e.Directory.Revoke(ctx, "00000001R", "deceased"); err != nil {
		t.Fatal(err)
	}
	add("00000002W", "+34600000002", "")
	add("00000003A", "", "a good password")
	type answer struct {
		post, page idptest.Page
	}
	walk := func(id, expiry string) answer {
		b := e.Browser()
		post := request(t, b, id, expiry)
		return answer{post, b.Follow(post)}
	}
	want := walk(idptest.CitizenDNI, citizenExpiryTyped)
	if n := e.sms(idptest.CitizenPhone); n != 1 {
		t.Fatalf("matching request: %d SMS, want 1", n)
	}
	for _, tc := range []struct{ name, id, expiry string }{
		{"unknown ID", "12345678Z", citizenExpiryTyped},
		{"wrong expiry", idptest.CitizenDNI, "18/05/2031"},
		{"revoked", "00000001R", "01/01/9999"},
		{"pending", "00000002W", "01/01/9999"},
		{"no mobile", "00000003A", "01/01/9999"},
	} {
		before := len(e.SMS.Messages())
		got := walk(tc.id, tc.expiry)
		if got.post.Status != want.post.Status || got.page.Status != want.page.Status {
			t.Errorf("%s: HTTP %d then %d, want %d then %d", tc.name, got.post.Status, got.page.Status, want.post.Status, want.page.Status)
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Security-Policy", "Set-Cookie"} {
			if (got.post.Header.Get(h) == "") != (want.post.Header.Get(h) == "") || (got.page.Header.Get(h) == "") != (want.page.Header.Get(h) == "") {
				t.Errorf("%s: header %s present differently", tc.name, h)
			}
		}
		if len(got.post.Header) != len(want.post.Header) || len(got.page.Header) != len(want.page.Header) {
			t.Errorf("%s: %d/%d headers, want %d/%d", tc.name, len(got.post.Header), len(got.page.Header), len(want.post.Header), len(want.page.Header))
		}
		if g, w := normalise(got.page.Body), normalise(want.page.Body); g != w {
			t.Errorf("%s: code page differs from the matching one:\n%s\n--- want ---\n%s", tc.name, g, w)
		}
		e.h.Wait()
		if n := len(e.SMS.Messages()) - before; n != 0 {
			t.Errorf("%s: %d SMS sent, want none", tc.name, n)
		}
	}
	// A non-matching flow's code page refuses every code, here the citizen's real one.
	b := e.Browser()
	page := codePage(t, b, idptest.CitizenDNI, "18/05/2031")
	p := submitCode(b, page, e.lastCode(t, idptest.CitizenPhone), newPassword)
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, e.msg("recovery.error.code", 4)) {
		t.Errorf("a code in a non-matching flow: HTTP %d, want the wrong-code page", p.Status)
	}
	for _, id := range []string{"00000001R", "00000002W"} {
		u, err := e.Directory.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if (id == "00000001R" && u.Status != directory.StatusRevoked) || (id == "00000002W" && u.Status != directory.StatusPending) {
			t.Errorf("%s: status %s changed", id, u.Status)
		}
	}
}

// TestRecoveryAttemptLimit: wrong codes are counted; the 5th ends the recovery, and the right
// code is refused after that.
func TestRecoveryAttemptLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	b := e.Browser()
	page := codePage(t, b, idptest.CitizenDNI, citizenExpiryTyped)
	code := e.lastCode(t, idptest.CitizenPhone)
	form := b.FormOf(page, "/recover/code?")
	for i := 1; i <= 4; i++ {
		p := submitCode(b, page, wrongCode(code), newPassword)
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, e.msg("recovery.error.code", 5-i)) {
			t.Fatalf("wrong code %d: HTTP %d, want %q", i, p.Status, e.msg("recovery.error.code", 5-i))
		}
	}
	p := submitCode(b, page, wrongCode(code), newPassword)
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, e.msg("recovery.error.attempts")) {
		t.Fatalf("5th wrong code: HTTP %d, want 429 with the attempts message\n%s", p.Status, p.Body)
	}
	if p := b.Submit(form, map[string]string{"code": code, "password": newPassword, "password2": newPassword}); p.Status != http.StatusBadRequest || strings.Contains(p.Body, "recovery-done") {
		t.Errorf("right code after the limit: HTTP %d, want 400", p.Status)
	}
	if signIn(t, e.Browser(), idptest.CitizenDNI, newPassword) || !signIn(t, e.Browser(), idptest.CitizenDNI, idptest.CitizenPassword) {
		t.Error("the password changed after the attempts ran out")
	}
}

// TestRecoveryExpiredCode: a code is refused after CodeTTL; a new one (resend) works.
func TestRecoveryExpiredCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	b := e.Browser()
	page := codePage(t, b, idptest.CitizenDNI, citizenExpiryTyped)
	code := e.lastCode(t, idptest.CitizenPhone)
	e.Clock.Advance(10*time.Minute + time.Second)
	p := submitCode(b, page, code, newPassword)
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, e.msg("recovery.error.expired")) {
		t.Fatalf("expired code: HTTP %d, want the expired message\n%s", p.Status, p.Body)
	}
	p = resend(b, p)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, e.msg("recovery.notice.resent")) {
		t.Fatalf("resend: HTTP %d\n%s", p.Status, p.Body)
	}
	fresh := e.lastCode(t, idptest.CitizenPhone)
	if fresh == code {
		t.Fatal("resend sent the same code")
	}
	if p := submitCode(b, p, fresh, newPassword); p.Status != http.StatusOK || !strings.Contains(p.Body, "recovery-done") {
		t.Fatalf("new code: HTTP %d\n%s", p.Status, p.Body)
	}
}

// TestRecoveryResend: resend waits for the cooldown, replaces the code, and stops after
// MaxSends codes.
func TestRecoveryResend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	b := e.Browser()
	page := codePage(t, b, idptest.CitizenDNI, citizenExpiryTyped)
	first := e.lastCode(t, idptest.CitizenPhone)
	p := resend(b, page)
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, e.msg("recovery.error.cooldown", 60)) {
		t.Fatalf("resend at once: HTTP %d, want the cooldown message\n%s", p.Status, p.Body)
	}
	if n := e.sms(idptest.CitizenPhone); n != 1 {
		t.Errorf("SMS after a refused resend: %d, want 1", n)
	}
	e.Clock.Advance(61 * time.Second)
	p = resend(b, p)
	if p.Status != http.StatusOK || e.sms(idptest.CitizenPhone) != 2 {
		t.Fatalf("resend after the cooldown: HTTP %d, %d SMS", p.Status, e.sms(idptest.CitizenPhone))
	}
	second := e.lastCode(t, idptest.CitizenPhone)
	if q := submitCode(b, p, first, newPassword); q.Status != http.StatusBadRequest || !strings.Contains(q.Body, e.msg("recovery.error.code", 4)) {
		t.Errorf("the replaced code: HTTP %d, want wrong", q.Status)
	}
	e.Clock.Advance(61 * time.Second)
	p = resend(b, p)
	if p.Status != http.StatusOK || e.sms(idptest.CitizenPhone) != 3 {
		t.Fatalf("third code: HTTP %d", p.Status)
	}
	if strings.Contains(p.Body, "/recover/code/resend") {
		t.Error("the resend button is still shown after MaxSends codes")
	}
	e.Clock.Advance(61 * time.Second)
	q := b.Submit(b.FormOf(page, "/recover/code/resend"), nil)
	if q.Status != http.StatusTooManyRequests || !strings.Contains(q.Body, e.msg("recovery.error.nomore")) || e.sms(idptest.CitizenPhone) != 3 {
		t.Errorf("fourth resend: HTTP %d, want the no-more message and no SMS", q.Status)
	}
	if q := submitCode(b, p, second, newPassword); q.Status != http.StatusBadRequest {
		t.Errorf("the second code after a third: HTTP %d, want wrong", q.Status)
	}
	if q := submitCode(b, p, e.lastCode(t, idptest.CitizenPhone), newPassword); q.Status != http.StatusOK {
		t.Errorf("the newest code: HTTP %d, want done", q.Status)
	}
}

// TestRecoveryWeakPassword: each policy rule has its message; a refused password neither
// consumes the code nor uses up the attempts.
func TestRecoveryWeakPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	b := e.Browser()
	page := codePage(t, b, idptest.CitizenDNI, citizenExpiryTyped)
	code := e.lastCode(t, idptest.CitizenPhone)
	for _, tc := range []struct{ pw, key string }{
		{"corta", "recovery.error.short"},
		{"mi dni 48151623", "recovery.error.dni"},
		{"contraseña123", "recovery.error.common"},
		{"Password1", "recovery.error.common"},
		{strings.Repeat("x", 300), "recovery.error.long"},
		{"corta2", "recovery.error.short"},
	} {
		p := submitCode(b, page, code, tc.pw)
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, e.msg(tc.key)) {
			t.Errorf("password %.20q: HTTP %d, want %q", tc.pw, p.Status, e.msg(tc.key))
		}
		page = p
	}
	p := b.Submit(b.FormOf(page, "/recover/code?"), map[string]string{"code": code, "password": newPassword, "password2": "something else"})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, e.msg("recovery.error.repeat")) {
		t.Errorf("different repeat: HTTP %d", p.Status)
	}
	if p := submitCode(b, page, code, newPassword); p.Status != http.StatusOK || !strings.Contains(p.Body, "recovery-done") {
		t.Fatalf("a good password after six refused ones: HTTP %d\n%s", p.Status, p.Body)
	}
}

// TestRecoveryRevokedStaysRevoked: a credential revoked after its code was sent is not
// revived by the code.
func TestRecoveryRevokedStaysRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	b := e.Browser()
	page := codePage(t, b, idptest.CitizenDNI, citizenExpiryTyped)
	code := e.lastCode(t, idptest.CitizenPhone)
	if err := e.Directory.Revoke(t.Context(), idptest.CitizenDNI, "reported stolen"); err != nil {
		t.Fatal(err)
	}
	p := submitCode(b, page, code, newPassword)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, e.msg("recovery.error.failed")) {
		t.Errorf("code of a revoked credential: HTTP %d, want 409 with the failure message\n%s", p.Status, p.Body)
	}
	if u, err := e.Directory.Get(t.Context(), idptest.CitizenDNI); err != nil || u.Status != directory.StatusRevoked {
		t.Errorf("status %v, %v; want revoked", u.Status, err)
	}
	// And a new recovery sends nothing.
	codePage(t, e.Browser(), idptest.CitizenDNI, citizenExpiryTyped)
	if n := e.sms(idptest.CitizenPhone); n != 1 {
		t.Errorf("SMS to a revoked credential: %d, want only the first", n)
	}
}

// TestRecoveryRefusesForeignPosts: a wrong CSRF token, another browser holding the form, and a
// cross-site post are refused; the real browser's recovery still works.
func TestRecoveryRefusesForeignPosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	b := e.Browser()
	start := b.Get("/recover")
	f := b.FormOf(start, "/recover")
	fields := map[string]string{"dni": idptest.CitizenDNI, "expiry": citizenExpiryTyped}
	bad := f
	bad.Values = url.Values{"flow": f.Values["flow"], "csrf": {"x" + f.Values.Get("csrf")}}
	if p := b.Submit(bad, fields); p.Status != http.StatusForbidden {
		t.Errorf("wrong CSRF token: HTTP %d, want 403", p.Status)
	}
	if p := e.Browser().Submit(f, fields); p.Status != http.StatusBadRequest {
		t.Errorf("another browser: HTTP %d, want 400", p.Status)
	}
	v := url.Values{}
	for k, vs := range f.Values {
		v[k] = vs
	}
	v.Set("dni", idptest.CitizenDNI)
	v.Set("expiry", citizenExpiryTyped)
	req, _ := http.NewRequest(http.MethodPost, e.URL+f.Action, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: HTTP %d, want 403", resp.StatusCode)
	}
	if n := e.sms(idptest.CitizenPhone); n != 0 {
		t.Fatalf("refused posts sent %d SMS", n)
	}
	page := b.Follow(b.Submit(f, fields))
	code := e.lastCode(t, idptest.CitizenPhone)
	cf := b.FormOf(page, "/recover/code?")
	if p := e.Browser().Submit(cf, map[string]string{"code": code, "password": newPassword, "password2": newPassword}); p.Status != http.StatusBadRequest {
		t.Errorf("the code page posted from another browser: HTTP %d, want 400", p.Status)
	}
	if p := submitCode(b, page, code, newPassword); p.Status != http.StatusOK {
		t.Errorf("the real browser after the refused posts: HTTP %d", p.Status)
	}
}

// TestRecoveryFormErrors: malformed input gets its message and a 400, and the limits per DNI
// answer the same for an unknown ID as for a known one.
func TestRecoveryFormErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{IDLimit: 2})
	for _, tc := range []struct{ id, expiry, key string }{
		{"", citizenExpiryTyped, "recovery.error.required"},
		{idptest.CitizenDNI, "", "recovery.error.required"},
		{"4815162", citizenExpiryTyped, "recovery.error.format"},
		{"48151623A", citizenExpiryTyped, "recovery.error.letter"},
		{idptest.CitizenDNI, "31/02/2031", "recovery.error.expiry"},
		{idptest.CitizenDNI, "mañana", "recovery.error.expiry"},
	} {
		p := request(t, e.Browser(), tc.id, tc.expiry)
		args := []any{}
		if tc.key == "recovery.error.letter" {
			args = []any{"48151623", "L"}
		}
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, e.msg(tc.key, args...)) {
			t.Errorf("%q %q: HTTP %d, want %q", tc.id, tc.expiry, p.Status, e.msg(tc.key, args...))
		}
	}
	if n := e.sms(idptest.CitizenPhone); n != 0 {
		t.Errorf("malformed requests sent %d SMS", n)
	}
	// Other spellings of a date are accepted.
	if p := request(t, e.Browser(), idptest.CitizenDNI, "2031-05-17"); p.Status != http.StatusSeeOther {
		t.Errorf("ISO date: HTTP %d", p.Status)
	}
	if p := request(t, e.Browser(), idptest.CitizenDNI, "17.5.2031"); p.Status != http.StatusSeeOther {
		t.Errorf("17.5.2031: HTTP %d", p.Status)
	}
	if n := e.sms(idptest.CitizenPhone); n != 2 {
		t.Errorf("SMS for two matching requests: %d", n)
	}
	for _, id := range []string{idptest.CitizenDNI, "12345678Z"} {
		if id != idptest.CitizenDNI {
			for range 2 {
				request(t, e.Browser(), id, citizenExpiryTyped)
			}
		}
		p := request(t, e.Browser(), id, citizenExpiryTyped)
		if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, e.msg("recovery.error.busy")) {
			t.Errorf("%s over the limit: HTTP %d, want 429 busy", id, p.Status)
		}
	}
	if n := e.sms(idptest.CitizenPhone); n != 2 {
		t.Errorf("SMS over the limit: %d, want still 2", n)
	}
}

// TestRecoveryLanguage: the language switcher of a page shown after a post points at the
// page's own address with the flow, and a language chosen with it stays through the posts.
func TestRecoveryLanguage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, recovery.Config{})
	b := e.Browser()
	start := b.Get("/recover?lang=eu")
	if !strings.Contains(start.Body, `<html lang="eu">`) || !strings.Contains(start.Body, `action="/recover?lang=eu"`) {
		t.Fatalf("start page in Basque: HTTP %d\n%s", start.Status, start.Body)
	}
	page := b.Follow(b.Submit(b.FormOf(start, "/recover"), map[string]string{"dni": idptest.CitizenDNI, "expiry": citizenExpiryTyped}))
	if !strings.Contains(page.Body, `<html lang="eu">`) {
		t.Errorf("code page after a Basque post is not in Basque")
	}
	if e.sms(idptest.CitizenPhone) != 1 || !strings.Contains(e.SMS.Messages()[0].Body, "berreskuratzeko") {
		t.Errorf("SMS not in Basque: %+v", e.SMS.Messages())
	}
	p := submitCode(b, page, "00000000", "labur")
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `<html lang="eu">`) {
		t.Fatalf("error page: HTTP %d, want 400 in Basque", p.Status)
	}
	flow := b.FormOf(p, "/recover/code?").Values.Get("flow")
	link := html.EscapeString("/recover/code?flow=" + flow + "&lang=es")
	if !strings.Contains(p.Body, `href="`+link+`"`) {
		t.Errorf("language link %q missing from the page shown after a post", link)
	}
	if es := b.Get("/recover/code?flow=" + flow + "&lang=es"); es.Status != http.StatusOK || !strings.Contains(es.Body, `<html lang="es">`) {
		t.Errorf("switching to Spanish: HTTP %d", es.Status)
	}
}
