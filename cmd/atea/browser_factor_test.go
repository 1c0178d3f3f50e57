package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// smsCodeRE finds the one-time code in an outbox line (secondFactors.sms.digits: 7 by default).
var smsCodeRE = regexp.MustCompile(`\b\d{7}\b`)

// TestBrowserSecondFactors walks the B@kQ pages in a real headless Chromium. The second demo
// SP asks for substantial by default (serviceProviders[].defaultLevel), so:
//   - a citizen signed in with the password only (low) at /demo/ gets step-up at /demo2/: the
//     SMS page without a new password prompt (BRIEF.md journey 4), and substantial after it;
//   - once a coordinate card is issued, a fresh browser gets the password page and then the
//     card page (the card comes first in secondFactors.order); a wrong answer shows an alert
//     and the card page again, the right one reaches substantial.
func TestBrowserSecondFactors(t *testing.T) {
	exe := chromiumPath(t)

	// The base URL must be in the config file, so the port is chosen before starting.
	addr := freeAddr(t)
	baseURL := "http://" + addr
	cfgPath := filepath.Join(t.TempDir(), "atea.yaml")
	cfg := fmt.Sprintf("baseURL: %s\nlisten: %s\nserviceProviders:\n  - entityID: %s/demo2/saml/metadata\n    defaultLevel: substantial\n",
		baseURL, addr, baseURL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, data, serveOut := startServeAddr(t, addr, "--config", cfgPath)
	pw, err := os.ReadFile(filepath.Join(data, demoPassFile))
	if err != nil {
		t.Fatalf("demo password file: %v", err)
	}
	password := strings.TrimSpace(string(pw))

	browserCtx := newChromium(t, exe)

	signIn := chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(`input[autocomplete="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[autocomplete="username"]`), demoDNI),
		chromedp.SendKeys(chromedp.CSS(`input[autocomplete="current-password"]`), password),
		chromedp.Submit(chromedp.CSS(`input[autocomplete="current-password"]`)),
	)

	t.Run("sms step-up", func(t *testing.T) {
		ctx, cancel := newBrowserTab(t, browserCtx)
		defer cancel()
		var low, smsText, prefix string
		var pwFields int
		var shot []byte
		err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/demo/"),
			signIn,
			chromedp.WaitReady(chromedp.CSS(`#demo-result`)),
			assign(&low, chromedp.Text(chromedp.CSS(`body`))),
			// Step-up: the session is low, demo2 wants substantial; only the SMS is asked.
			chromedp.Navigate(base+"/demo2/"),
			chromedp.WaitVisible(chromedp.CSS(`#code`)),
			assign(&smsText, chromedp.Text(chromedp.CSS(`body`))),
			assign(&prefix, chromedp.Text(chromedp.CSS(`.otp .prefix`))),
			assign(&pwFields, chromedp.Evaluate[int](`document.querySelectorAll('input[type="password"]').length`)),
			assign(&shot, chromedp.FullScreenshot(100)),
		)
		if err != nil {
			t.Fatalf("browser walk to the SMS page: %v (page text: %.300q)", err, smsText)
		}
		if !strings.Contains(low, "http://eidas.europa.eu/LoA/low") {
			t.Fatalf("/demo/ after the password: %.300q, want LoA/low", low)
		}
		savePNG(t, "atea-sms.png", shot)
		if pwFields != 0 {
			t.Errorf("step-up page has %d password fields, want 0: no new password prompt", pwFields)
		}
		for _, want := range []string{"***707", prefix} {
			if want == "" || !strings.Contains(smsText, want) {
				t.Errorf("SMS page lacks %q: %.500q", want, smsText)
			}
		}
		code := newestCode(t, data)
		if !strings.HasPrefix(code, prefix) || prefix == "" {
			t.Fatalf("code in the outbox does not start with the shown prefix %q", prefix)
		}
		var result string
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS(`#code`), code[len(prefix):]),
			chromedp.Submit(chromedp.CSS(`#code`)),
			chromedp.WaitReady(chromedp.CSS(`#demo-result`)),
			assign(&result, chromedp.Text(chromedp.CSS(`body`))),
		); err != nil {
			t.Fatalf("submit the SMS code: %v", err)
		}
		for _, want := range []string{"http://eidas.europa.eu/LoA/substantial", "/demo2/saml/metadata"} {
			if !strings.Contains(result, want) {
				t.Errorf("demo2 page after the SMS code lacks %q: %.500q", want, result)
			}
		}
	})

	t.Run("card", func(t *testing.T) {
		printed, err := runCLI(t, "", "user", "card", demoDNI, "--data", data)
		if err != nil {
			t.Fatalf("atea user card: %v", err)
		}
		grid := parseCardGrid(printed)
		if len(grid) != 16 {
			t.Fatalf("parsed %d cells from the printed card, want 16:\n%s", len(grid), printed)
		}

		ctx, cancel := newBrowserTab(t, browserCtx)
		defer cancel()
		var positions []string
		var cardText string
		var shot []byte
		err = chromedp.Do(ctx,
			chromedp.Navigate(base+"/demo2/"),
			signIn,
			chromedp.WaitVisible(chromedp.CSS(`input[name^="cell_"]`)),
			assign(&cardText, chromedp.Text(chromedp.CSS(`body`))),
			assign(&shot, chromedp.FullScreenshot(100)),
			assign(&positions, askedPositions()),
		)
		if err != nil {
			t.Fatalf("browser walk to the card page: %v (page text: %.300q)\n%s", err, cardText, serveOut.String())
		}
		savePNG(t, "atea-card.png", shot)
		if len(positions) != 2 {
			t.Fatalf("card page asks %v, want 2 positions (secondFactors.coordCard.ask)", positions)
		}
		for _, p := range positions {
			if _, ok := grid[p]; !ok {
				t.Fatalf("card page asks position %q, not on the printed card", p)
			}
		}

		// A wrong answer: alert, and the same card page (the challenge stays until answered).
		var errText string
		var again []string
		steps := []chromedp.Action[chromedp.Void]{}
		for i, p := range positions {
			v := grid[p]
			if i == 0 {
				v = wrongCell(v)
			}
			steps = append(steps, chromedp.SendKeys(chromedp.CSS(`#cell-`+p), v))
		}
		steps = append(steps,
			chromedp.Submit(chromedp.CSS(`#cell-`+positions[0])),
			chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
			assign(&errText, chromedp.Text(chromedp.CSS(`[role="alert"]`))),
			assign(&again, askedPositions()),
		)
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("wrong card answer: %v", err)
		}
		if strings.TrimSpace(errText) == "" {
			t.Error("wrong card answer: empty alert")
		}
		if strings.Join(again, ",") != strings.Join(positions, ",") {
			t.Errorf("after a wrong answer the card page asks %v, want the same %v", again, positions)
		}

		// The right answer.
		steps = steps[:0]
		for _, p := range positions {
			steps = append(steps, chromedp.SendKeys(chromedp.CSS(`#cell-`+p), grid[p]))
		}
		var result string
		steps = append(steps,
			chromedp.Submit(chromedp.CSS(`#cell-`+positions[0])),
			chromedp.WaitReady(chromedp.CSS(`#demo-result`)),
			assign(&result, chromedp.Text(chromedp.CSS(`body`))),
		)
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("right card answer: %v", err)
		}
		for _, want := range []string{"http://eidas.europa.eu/LoA/substantial", "/demo2/saml/metadata"} {
			if !strings.Contains(result, want) {
				t.Errorf("demo2 page after the card lacks %q: %.500q", want, result)
			}
		}
	})
}

// newBrowserTab is a tab in a fresh browser context (its own cookie jar) that asks for
// English pages, bounded so a hung page fails the test instead of stalling it.
func newBrowserTab(t *testing.T, browserCtx context.Context) (context.Context, context.CancelFunc) {
	t.Helper()
	bctx, cancelB := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	ctx, cancelT := context.WithTimeout(bctx, 30*time.Second)
	cancel := func() { cancelT(); cancelB() }
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "en"},
		})
		return err
	})); err != nil {
		cancel()
		t.Fatalf("new browser context: %v", err)
	}
	return ctx, cancel
}

// askedPositions reads the cells the card page asks, from each input's label, checking that
// the label, the id and the field name agree.
func askedPositions() chromedp.Action[[]string] {
	return chromedp.Evaluate[[]string](`[...document.querySelectorAll('input[name^="cell_"]')].map(i => {
		const l = document.querySelector('label[for="' + i.id + '"]');
		const p = l ? l.textContent.trim() : '';
		return (i.id === 'cell-' + p && i.name === 'cell_' + p) ? p : '?' + i.id;
	})`)
}

// parseCardGrid reads the grid `atea user card` prints: a header of column numbers, then one
// line per row letter with one value per column.
func parseCardGrid(s string) map[string]string {
	cells := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || len(f[0]) != 1 || f[0][0] < 'A' || f[0][0] > 'Z' {
			continue
		}
		for col := 1; col < len(f); col++ {
			cells[f[0]+strconv.Itoa(col)] = f[col]
		}
	}
	return cells
}

// wrongCell changes every digit of a cell value, so it is surely wrong.
func wrongCell(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '0' + (c-'0'+1)%10
		}
	}
	return string(b)
}

// newestCode is the SMS code of the newest line of the outbox.
func newestCode(t *testing.T, data string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "outbox.txt"))
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	code := smsCodeRE.FindString(lines[len(lines)-1])
	if code == "" {
		t.Fatalf("no 7-digit code in the newest outbox line (of %d)", len(lines))
	}
	return code
}

func savePNG(t *testing.T, name string, png []byte) {
	t.Helper()
	p := filepath.Join(os.TempDir(), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", p)
}
