package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var (
	deskAgentCodeRE = regexp.MustCompile(`Atea RA: \D*(\d{6})`)
	deskCardRowRE   = regexp.MustCompile(`(?m)^([A-D])\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)
	deskLinkRE      = regexp.MustCompile(`http://\S+/enrol\?code=[0-9A-Z]+`)
)

// TestBrowserDesk walks BRIEF.md journey 2 in a real headless Chromium, in Spanish and
// Basque: the agent (created with `atea agent add` before the server starts) signs in to /ra
// with the password and the SMS code from the outbox, registers a citizen; the citizen, in
// another browser profile, opens the link of the e-mail written to <data>/mail, confirms the
// data, types the temporary password from the outbox and a new password, signs in with it
// and the card of the e-mail, accepts the terms and reaches "B@kQ is active".
func TestBrowserDesk(t *testing.T) {
	exe := chromiumPath(t)
	addr := freeAddr(t)
	baseURL := "http://" + addr
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "atea.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("baseURL: %s\nlisten: %s\n", baseURL, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	out, _, err := runAgent(t, "add", "--config", cfgPath, "--data", data, "--username", "miren", "--name", "Miren Agirre", "--phone", "+34600000111")
	if err != nil {
		t.Fatalf("agent add: %v", err)
	}
	m := agentPWRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("agent add printed no password:\n%s", out)
	}
	agentPW := m[1]
	base, _, serveOut := startServeAddr(t, addr, "--config", cfgPath, "--data", data)
	browserCtx := newChromium(t, exe)

	cases := []struct {
		lang, dni, email, phone                       string
		consoleTitle, registered, confirm, done, word string
	}{
		{"es", "87654321X", "jon@example.eus", "+34600222333", "Registrar a una persona en B@kQ", "Persona registrada",
			"Compruebe sus datos", "B@kQ está activa", "Entrar"},
		{"eu", "Y7654321G", "ane@example.eus", "+34600444555", "Herritar bat B@kQn erregistratu", "Herritarra erregistratuta",
			"Egiaztatu zure datuak", "B@kQ aktibatuta dago", "Sartu"},
	}
	for _, c := range cases {
		t.Run(c.lang, func(t *testing.T) {
			// --- the agent ---
			actx, cancelA := deskBrowser(t, browserCtx, c.lang)
			defer cancelA()
			var consoleText, registeredText string
			if err := chromedp.Do(actx,
				chromedp.Navigate(base+"/ra"),
				chromedp.WaitVisible(chromedp.CSS(`#username`)),
				chromedp.SendKeys(chromedp.CSS(`#username`), "miren"),
				chromedp.SendKeys(chromedp.CSS(`#password`), agentPW),
				chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#code`)),
			); err != nil {
				t.Fatalf("agent sign-in: %v\n%s", err, serveOut.String())
			}
			code := newestOutbox(t, data, deskAgentCodeRE)
			if err := chromedp.Do(actx,
				chromedp.SendKeys(chromedp.CSS(`#code`), code),
				chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#desk-register`)),
				assign(&consoleText, chromedp.Text(chromedp.CSS(`main`))),
				chromedp.SendKeys(chromedp.CSS(`#dni`), c.dni),
				chromedp.SendKeys(chromedp.CSS(`#expiry`), "01/01/9999"),
				chromedp.SendKeys(chromedp.CSS(`#given`), "Jon"),
				chromedp.SendKeys(chromedp.CSS(`#family`), "Agirre Etxeberria"),
				chromedp.SendKeys(chromedp.CSS(`#birth`), "03/02/1985"),
				chromedp.SendKeys(chromedp.CSS(`#email`), c.email),
				chromedp.SendKeys(chromedp.CSS(`#phone`), c.phone),
				chromedp.Click(chromedp.CSS(`#desk-register button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#desk-registered`)),
				assign(&registeredText, chromedp.Text(chromedp.CSS(`main`))),
			); err != nil {
				t.Fatalf("agent registration: %v (console %.300q)\n%s", err, consoleText, serveOut.String())
			}
			if !strings.Contains(consoleText, c.consoleTitle) || !strings.Contains(consoleText, "Miren Agirre") {
				t.Errorf("console lacks %q: %.300q", c.consoleTitle, consoleText)
			}
			if !strings.Contains(registeredText, c.registered) {
				t.Errorf("confirmation lacks %q: %.300q", c.registered, registeredText)
			}

			// --- the citizen ---
			link, cells := newestDeskMail(t, data, c.email)
			cctx, cancelC := deskBrowser(t, browserCtx, c.lang)
			defer cancelC()
			var confirmText, doneText string
			var positions []string
			if err := chromedp.Do(cctx,
				chromedp.Navigate(link),
				chromedp.WaitVisible(chromedp.CSS(`#desk-data`)),
				assign(&confirmText, chromedp.Text(chromedp.CSS(`main`))),
				chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#temp`)),
			); err != nil {
				t.Fatalf("confirm: %v\n%s", err, serveOut.String())
			}
			for _, want := range []string{c.confirm, "Jon", "03/02/1985", c.email, "***" + c.phone[len(c.phone)-3:]} {
				if !strings.Contains(confirmText, want) {
					t.Errorf("confirm page lacks %q: %.400q", want, confirmText)
				}
			}
			temp := newestTempPassword(t, data)
			const pw = "mendiko ibaia urdina"
			if err := chromedp.Do(cctx,
				chromedp.SendKeys(chromedp.CSS(`#temp`), temp),
				chromedp.SendKeys(chromedp.CSS(`#password`), pw),
				chromedp.SendKeys(chromedp.CSS(`#repeat`), pw),
				chromedp.Click(chromedp.CSS(`form[action^="/enrol/password"] button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#username`)),
				chromedp.SendKeys(chromedp.CSS(`#username`), c.dni),
				chromedp.SendKeys(chromedp.CSS(`#password`), pw),
				chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`.cells input`)),
				assign(&positions, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.cells input')).map(i => i.name.slice(5))`)),
			); err != nil {
				t.Fatalf("password and first sign-in: %v\n%s", err, serveOut.String())
			}
			var fill []chromedp.Action[chromedp.Void]
			for _, p := range positions {
				fill = append(fill, chromedp.SendKeys(chromedp.CSS(`#cell-`+p), cells[p]))
			}
			fill = append(fill,
				chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#accept`)),
				chromedp.Click(chromedp.CSS(`#accept`)),
				chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`#desk-done`)),
				assign(&doneText, chromedp.Text(chromedp.CSS(`main`))),
			)
			if err := chromedp.Do(cctx, fill...); err != nil {
				t.Fatalf("card and terms (positions %v): %v\n%s", positions, err, serveOut.String())
			}
			if !strings.Contains(doneText, c.done) || !strings.Contains(doneText, c.word) {
				t.Errorf("last page lacks %q: %.300q", c.done, doneText)
			}
		})
	}
}

// deskBrowser is a fresh browser profile whose requests say Accept-Language: lang.
func deskBrowser(t *testing.T, browserCtx context.Context, lang string) (context.Context, context.CancelFunc) {
	t.Helper()
	bctx, cancelB := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": lang},
		})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	return ctx, func() { cancel(); cancelB() }
}

// newestOutbox is re's first group in the newest outbox line that matches it.
func newestOutbox(t *testing.T, data string, re *regexp.Regexp) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "outbox.txt"))
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if m := re.FindStringSubmatch(lines[i]); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no outbox line matches %s", re)
	return ""
}

// newestDeskMail reads the newest e-mail to to in <data>/mail: the link and the card's cells.
func newestDeskMail(t *testing.T, data, to string) (string, map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(data, "mail"))
	if err != nil {
		t.Fatalf("mail directory: %v", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	for i := len(names) - 1; i >= 0; i-- {
		raw, err := os.ReadFile(filepath.Join(data, "mail", names[i]))
		if err != nil {
			t.Fatal(err)
		}
		msg := strings.ReplaceAll(string(raw), "\r\n", "\n")
		if !strings.Contains(msg, "\nTo: "+to+"\n") {
			continue
		}
		cells := map[string]string{}
		for _, m := range deskCardRowRE.FindAllStringSubmatch(msg, -1) {
			for col := 1; col <= 4; col++ {
				cells[fmt.Sprintf("%s%d", m[1], col)] = m[1+col]
			}
		}
		link := deskLinkRE.FindString(msg)
		if link == "" || len(cells) != 16 {
			t.Fatalf("e-mail to %s without link or card:\n%s", to, msg)
		}
		return link, cells
	}
	t.Fatalf("no e-mail to %s", to)
	return "", nil
}
