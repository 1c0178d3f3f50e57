package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// tempPasswordRE finds the activation's temporary password in an outbox line.
var tempPasswordRE = regexp.MustCompile(`\b[2-9A-HJKMNP-Z]{10}\b`)

// TestBrowserActivation walks BRIEF.md journey 1 in a real headless Chromium, in Spanish and
// Basque: the letter is issued with `atea activation issue` before the server starts (the
// directory file is free then), the browser runs the proof-of-work script for real (the
// default 18 bits, under the page's CSP nonce), the temporary password is read from the
// outbox, and the citizen sets a password, accepts the terms and reaches "B@k is active".
// In Basque the form is filled and submitted by a script right after the page loads: when
// the answer is not found yet, the page's script holds the submission and sends it once it
// is (the log says whether that happened; it depends on how fast the answer comes).
func TestBrowserActivation(t *testing.T) {
	exe := chromiumPath(t)
	addr := freeAddr(t)
	baseURL := "http://" + addr
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "atea.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("baseURL: %s\nlisten: %s\n", baseURL, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	citizens := []struct {
		lang, dni, phone, expiry, typed string
		waitPoW                         bool
		enterTitle, smsTitle, pwTitle   string
		done                            string
	}{
		{"es", "12345678Z", "+34600111222", "01/04/2030", "01/04/2030", true,
			"Active su B@k", "Contraseña temporal por SMS", "Elija su contraseña", "B@k está activa"},
		{"eu", "X1234567L", "+34600333444", "01/01/9999", "01/01/9999", false,
			"Aktibatu zure B@k", "Aldi baterako pasahitza SMS bidez", "Aukeratu zure pasahitza", "B@k aktibo dago"},
	}
	codes := map[string]string{}
	for _, c := range citizens {
		out, stderr, err := runActivation(t, "issue", "--config", cfgPath, "--data", data, "--id", c.dni, "--given", "Miren",
			"--family", "Agirre", "--birth", "1985-02-03", "--expiry", c.expiry, "--phone", c.phone)
		if err != nil {
			t.Fatalf("activation issue: %v\n%s", err, stderr)
		}
		if !strings.Contains(out, baseURL+"/activate") {
			t.Fatalf("letter without the activation URL:\n%s", out)
		}
		codes[c.dni] = letterCodeRE.FindString(out)
	}
	// The later --data wins over startServeAddr's own: the server uses the letters' directory.
	base, _, serveOut := startServeAddr(t, addr, "--config", cfgPath, "--data", data)
	browserCtx := newChromium(t, exe)

	for _, c := range citizens {
		t.Run(c.lang, func(t *testing.T) {
			bctx, cancelB := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
			defer cancelB()
			ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
			defer cancel()
			var htmlLang chromedp.AttributeResult
			var enterText, smsText string
			var shot []byte
			steps := []chromedp.Action[chromedp.Void]{
				chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
					if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
						return err
					}
					_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
						Headers: network.Headers{"Accept-Language": c.lang},
					})
					return err
				}),
				chromedp.Navigate(base + "/activate"),
				chromedp.WaitVisible(chromedp.CSS(`#code`)),
				assign(&htmlLang, chromedp.AttributeValue(chromedp.CSS(`html`), "lang")),
				assign(&enterText, chromedp.Text(chromedp.CSS(`main`))),
			}
			start := time.Now()
			var early bool
			if c.waitPoW {
				steps = append(steps,
					chromedp.SendKeys(chromedp.CSS(`#code`), strings.ToLower(codes[c.dni])),
					chromedp.SendKeys(chromedp.CSS(`#dni`), c.dni),
					chromedp.SendKeys(chromedp.CSS(`#expiry`), c.typed),
					chromedp.WaitReady(chromedp.CSS(`#activation-form[data-pow="done"]`)),
					assign(&shot, chromedp.FullScreenshot(100)),
				)
			} else {
				// Filled and sent in one go right after the page loaded, most likely before
				// the answer is found: the script holds the submission until it is.
				steps = append(steps,
					assign(&early, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
						document.getElementById('code').value = %q;
						document.getElementById('dni').value = %q;
						document.getElementById('expiry').value = %q;
						const early = document.getElementById('activation-form').dataset.pow !== 'done';
						document.getElementById('activation-submit').click();
						return early;
					})()`, codes[c.dni], c.dni, c.typed))),
				)
			}
			if c.waitPoW {
				steps = append(steps, chromedp.Click(chromedp.CSS(`#activation-submit`)))
			}
			steps = append(steps,
				chromedp.WaitVisible(chromedp.CSS(`#temp`)),
				assign(&smsText, chromedp.Text(chromedp.CSS(`main`))),
			)
			if err := chromedp.Do(ctx, steps...); err != nil {
				t.Fatalf("code page: %v (page text %.400q)\n%s", err, enterText, serveOut.String())
			}
			t.Logf("%s: code page to SMS page in %v (proof of work included; submitted before it was done: %v)", c.lang, time.Since(start).Round(time.Millisecond), early)
			if shot != nil {
				savePNG(t, "atea-activation-"+c.lang+".png", shot)
			}
			if htmlLang.Value != c.lang {
				t.Errorf("<html lang> = %q, want %q", htmlLang.Value, c.lang)
			}
			if !strings.Contains(enterText, c.enterTitle) {
				t.Errorf("code page in %s lacks %q: %.300q", c.lang, c.enterTitle, enterText)
			}
			for _, want := range []string{c.smsTitle, "***" + c.phone[len(c.phone)-3:]} {
				if !strings.Contains(smsText, want) {
					t.Errorf("SMS page lacks %q: %.400q", want, smsText)
				}
			}
			temp := newestTempPassword(t, data)

			var pwText, doneText string
			if err := chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.CSS(`#temp`), temp),
				chromedp.Click(chromedp.CSS(`form[action="/activate/sms"] button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#repeat`)),
				assign(&pwText, chromedp.Text(chromedp.CSS(`main`))),
				chromedp.SendKeys(chromedp.CSS(`#password`), "mendiko ibaia urdina"),
				chromedp.SendKeys(chromedp.CSS(`#repeat`), "mendiko ibaia urdina"),
				chromedp.Click(chromedp.CSS(`#accept`)),
				chromedp.Click(chromedp.CSS(`form[action="/activate/password"] button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#activation-done`)),
				assign(&doneText, chromedp.Text(chromedp.CSS(`main`))),
			); err != nil {
				t.Fatalf("temporary password and new password: %v (page %.400q)", err, pwText)
			}
			if !strings.Contains(pwText, c.pwTitle) {
				t.Errorf("password page lacks %q: %.300q", c.pwTitle, pwText)
			}
			if !strings.Contains(doneText, c.done) {
				t.Errorf("last page lacks %q: %.300q", c.done, doneText)
			}
			out, err := runCLI(t, "", "user", "show", c.dni, "--data", data)
			if err != nil || !regexp.MustCompile(`(?m)^Status\s+active$`).MatchString(out) || !strings.Contains(out, "version 2026-01") {
				t.Errorf("user show after the activation: %v\n%s", err, out)
			}
		})
	}
}

// newestTempPassword is the temporary password in the newest outbox line.
func newestTempPassword(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "outbox.txt"))
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	pw := tempPasswordRE.FindString(lines[len(lines)-1])
	if pw == "" {
		t.Fatalf("no temporary password in the newest outbox line (of %d)", len(lines))
	}
	return pw
}
