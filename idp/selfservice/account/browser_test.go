package account_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/idptest"
)

// TestAccountBrowser walks the account page in a real Chromium under its strict CSP: sign in,
// see both open sessions with the services column, end the other one with "End all other
// sessions" (a plain form post), and land back on the page with the notice; the other browser
// must then sign in again. Missing chromium skips locally and fails under CI=true.
func TestAccountBrowser(t *testing.T) {
	e := newEnv(t)
	const dniNumber, password = "12345678Z", "another good password"
	if _, err := e.ti.Directory.Add(t.Context(), directory.User{
		DNI: dniNumber, GivenName: "Mikel", FamilyName: "Arana", BirthDate: "1985-02-03",
		Phone: "+34600000999", Credential: directory.CredentialBak,
	}, password); err != nil {
		t.Fatal(err)
	}
	other := e.ti.Browser()
	e.signInAs(t, other, dniNumber, password)

	ctx, cancel := context.WithTimeout(idptest.NewChromium(t, idptest.ChromiumPath(t)), 90*time.Second)
	defer cancel()
	var before, after string
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.ti.URL+"/account?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`input[autocomplete="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[autocomplete="username"]`), dniNumber),
		chromedp.SendKeys(chromedp.CSS(`input[autocomplete="current-password"]`), password),
		chromedp.Submit(chromedp.CSS(`input[autocomplete="current-password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#account-end-others`)),
		idptest.Assign(&before, chromedp.Text(chromedp.CSS(`main`))),
		chromedp.Click(chromedp.CSS(`#account-end-others`)),
		chromedp.WaitVisible(chromedp.CSS(`#account-notice`)),
		idptest.Assign(&after, chromedp.Text(chromedp.CSS(`main`))),
	)
	if err != nil {
		t.Fatalf("account walk: %v", err)
	}
	for _, want := range []string{"Open sessions", "Services used", "none yet", "this session", "End all other sessions"} {
		if !strings.Contains(before, want) {
			t.Errorf("account page lacks %q:\n%s", want, before)
		}
	}
	if !strings.Contains(after, "Sessions ended on other browsers and devices: 1.") || strings.Contains(after, "End all other sessions") {
		t.Errorf("after ending the other session the page shows:\n%s", after)
	}
	if p := other.Get("/account"); !isSignIn(p) {
		t.Errorf("the other browser: GET /account HTTP %d, want the sign-in form", p.Status)
	}
}
