package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ateaidp/atea/templates"
)

// recoveryCodeRE finds the recovery code (8 digits, recovery.DefaultConfig) in an outbox line.
var recoveryCodeRE = regexp.MustCompile(`\b\d{8}\b`)

// TestBrowserRecovery walks "Forgotten or blocked password?" in a real headless Chromium, in
// Spanish and in Basque: from the link on the sign-in page, the DNI/NIE and document expiry,
// the code read from the outbox, a new password, and a sign-in with it through the ordinary
// pages. The demo citizen has no document expiry on record (it cannot recover by design), so
// each run registers its own citizen with `atea user add` through the admin socket of the
// running server; the Basque one is blocked first (`atea user lock`): the blocked-password
// journey.
func TestBrowserRecovery(t *testing.T) {
	exe := chromiumPath(t)
	base, data, serveOut := startServe(t)
	msgs, err := templates.Load(templates.FS())
	if err != nil {
		t.Fatal(err)
	}
	browserCtx := newChromium(t, exe)
	for _, tc := range []struct {
		lang, id, expiry, phone, masked string
		block                           bool
	}{
		{"es", "20000001Y", "01/01/9999", "+34600000101", "***101", false},
		{"eu", "20000002F", "17/05/2031", "+34600000102", "***102", true},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			if _, err := runCLI(t, "lehen pasahitza luzea\n", "user", "add", "--data", data, "--id", tc.id, "--given", "Miren",
				"--family", "Agirre", "--birth", "1985-02-03", "--doc-expiry", tc.expiry, "--phone", tc.phone, "--password-stdin"); err != nil {
				t.Fatalf("user add: %v", err)
			}
			if tc.block {
				if _, err := runCLI(t, "", "user", "lock", tc.id, "--data", data, "--reason", "test"); err != nil {
					t.Fatalf("user lock: %v", err)
				}
			}
			ctx, cancel := recoveryTab(t, browserCtx, tc.lang)
			defer cancel()
			var htmlLang chromedp.AttributeResult
			var startText, codeText string
			var shot []byte
			before := outboxLines(t, data)
			err := chromedp.Do(ctx,
				chromedp.Navigate(base+"/demo/"),
				chromedp.WaitVisible(chromedp.CSS(`a[href="/recover"]`)),
				chromedp.Click(chromedp.CSS(`a[href="/recover"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#dni`)),
				assign(&htmlLang, chromedp.AttributeValue(chromedp.CSS(`html`), "lang")),
				assign(&startText, chromedp.Text(chromedp.CSS(`body`))),
				chromedp.SendKeys(chromedp.CSS(`#dni`), tc.id),
				chromedp.SendKeys(chromedp.CSS(`#expiry`), tc.expiry),
				chromedp.Submit(chromedp.CSS(`#expiry`)),
				chromedp.WaitVisible(chromedp.CSS(`#code`)),
				assign(&codeText, chromedp.Text(chromedp.CSS(`body`))),
				assign(&shot, chromedp.FullScreenshot(100)),
			)
			if err != nil {
				t.Fatalf("browser walk to the code page: %v (page text: %.300q)\n%s", err, startText, serveOut.String())
			}
			savePNG(t, "atea-recovery-"+tc.lang+".png", shot)
			if htmlLang.Value != tc.lang {
				t.Errorf("<html lang> = %q, want %q", htmlLang.Value, tc.lang)
			}
			if want := msgs.Message(tc.lang, "recovery.start.heading"); !strings.Contains(startText, want) {
				t.Errorf("start page lacks %q: %.300q", want, startText)
			}
			if want := msgs.Message(tc.lang, "recovery.code.sent"); !strings.Contains(codeText, want) {
				t.Errorf("code page lacks %q: %.300q", want, codeText)
			}
			if strings.Contains(codeText, tc.masked) {
				t.Errorf("code page names the mobile %s: it must not tell whether the ID exists", tc.masked)
			}
			code := waitRecoveryCode(t, data, before, tc.masked)

			const pw = "mendi berri bat"
			var doneText, welcomeText string
			err = chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.CSS(`#code`), code),
				chromedp.SendKeys(chromedp.CSS(`#password`), pw),
				chromedp.SendKeys(chromedp.CSS(`#password2`), pw),
				chromedp.Submit(chromedp.CSS(`#password2`)),
				chromedp.WaitVisible(chromedp.CSS(`#recovery-done`)),
				assign(&doneText, chromedp.Text(chromedp.CSS(`body`))),
				chromedp.Click(chromedp.CSS(`a.button[href^="/recover/signin"]`)),
				chromedp.WaitVisible(chromedp.CSS(`input[autocomplete="username"]`)),
				chromedp.SendKeys(chromedp.CSS(`input[autocomplete="username"]`), tc.id),
				chromedp.SendKeys(chromedp.CSS(`input[autocomplete="current-password"]`), pw),
				chromedp.Submit(chromedp.CSS(`input[autocomplete="current-password"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#recovery-welcome`)),
				assign(&welcomeText, chromedp.Text(chromedp.CSS(`body`))),
			)
			if err != nil {
				t.Fatalf("browser walk from the code to the sign-in: %v (done page: %.300q)\n%s", err, doneText, serveOut.String())
			}
			for _, key := range []string{"recovery.done.heading", "recovery.done.text"} {
				if want := msgs.Message(tc.lang, key); !strings.Contains(doneText, want) {
					t.Errorf("done page lacks %q: %.300q", want, doneText)
				}
			}
			if got, want := strings.Contains(doneText, msgs.Message(tc.lang, "recovery.done.unblocked")), tc.block; got != want {
				t.Errorf("done page says unblocked: %v, want %v", got, want)
			}
			if want := msgs.Message(tc.lang, "recovery.welcome.heading"); !strings.Contains(welcomeText, want) {
				t.Errorf("welcome page lacks %q: %.300q", want, welcomeText)
			}
			out, err := runCLI(t, "", "user", "show", tc.id, "--data", data)
			if err != nil || !strings.Contains(out, "active") || !strings.Contains(out, "recovery") {
				t.Errorf("user show after the recovery (%v):\n%s", err, out)
			}
		})
	}
}

// recoveryTab is a tab in a fresh browser context asking for pages in lang.
func recoveryTab(t *testing.T, browserCtx context.Context, lang string) (context.Context, context.CancelFunc) {
	t.Helper()
	bctx, cancelB := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	ctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	cancel := func() { cancelT(); cancelB() }
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": lang},
		})
		return err
	})); err != nil {
		cancel()
		t.Fatalf("new browser context: %v", err)
	}
	return ctx, cancel
}

func outboxLines(t *testing.T, data string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "outbox.txt"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	return strings.Count(string(b), "\n")
}

// waitRecoveryCode waits for an outbox line after the first `after` lines addressed to masked
// and returns its code: the SMS is delivered in the background.
func waitRecoveryCode(t *testing.T, data string, after int, masked string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(data, "outbox.txt"))
		lines := strings.Split(string(b), "\n")
		for i := len(lines) - 1; i >= after && i >= 0; i-- {
			if strings.Contains(lines[i], " "+masked+" ") {
				if code := recoveryCodeRE.FindString(lines[i]); code != "" {
					return code
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery code to %s in the outbox after 10 s", masked)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
