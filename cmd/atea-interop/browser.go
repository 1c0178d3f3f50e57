package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// startChromium starts one headless Debian chromium for the whole suite; each journey gets
// its own browser context (its own cookie jar). The flags keep it off the network
// (INTEROP.md "Running SPs on loopback").
func startChromium(ctx context.Context, exe, userData string) (context.Context, context.CancelFunc, error) {
	if exe == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				exe = p
				break
			}
		}
	}
	if exe == "" {
		return nil, nil, errors.New("chromium not found (apt-get install chromium)")
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userData),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	cancel := func() { cancelBrowser(); cancelAlloc() }
	if err := chromedp.Do(browserCtx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("start chromium: %w", err)
	}
	return browserCtx, cancel, nil
}

// newTab is a fresh browser context (no cookies) asking for English pages.
func newTab(browserCtx context.Context, timeout time.Duration) (context.Context, context.CancelFunc, error) {
	bctx, cancelB := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	ctx, cancelT := context.WithTimeout(bctx, timeout)
	cancel := func() { cancelT(); cancelB() }
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "en"},
		})
		return err
	}))
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("new browser context: %w", err)
	}
	return ctx, cancel, nil
}

// Markers the SP pages of .ci/interop carry: #sp-result on the protected page (NameID,
// AuthnContextClassRef and attributes as text), #sp-loggedout after a successful logout.
// Atea's pages are recognised by their form fields (autocomplete attributes, see
// /work/shared/probe's contract): username, current-password, one-time-code (#code).
const pageStateJS = `(() => {
  if (document.querySelector('#sp-result')) return 'sp';
  if (document.querySelector('#sp-loggedout')) return 'loggedout';
  if (document.querySelector('#sp-error')) return 'sp-error';
  if (document.querySelector('input[autocomplete="current-password"]')) return 'password';
  if (document.querySelector('#code, input[autocomplete="one-time-code"]')) return 'code';
  if (document.querySelector('input[name^="cell_"]')) return 'card';
  const other = document.querySelector('[id^="sp-"]');
  if (other) return other.id;
  return false;
})()`

// waitState waits until the page is one the suite recognises and names it. On timeout the
// error carries the URL and the page's text, which is what a person would look at.
func waitState(ctx context.Context, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	var lastErr error
	for time.Now().Before(deadline) {
		// Evaluate, not chromedp.Poll: a poll dies with its page when the browser navigates
		// (the auto-POST pages navigate by themselves), a fresh evaluation does not.
		ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := chromedp.Run(ectx, chromedp.Evaluate[any](pageStateJS))
		cancel()
		if s, ok := st.(string); ok && err == nil {
			return s, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("no known page after %s (%v) at %s", d, lastErr, pageSummary(ctx))
}

// pageSummary is the current URL and the start of the visible text.
func pageSummary(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(sctx, chromedp.Location())
	txt, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	return fmt.Sprintf("%s: %q", loc, clip(txt, 300))
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// citizen is what the browser types at Atea.
type citizen struct {
	id, password string
	smsCode      func(ctx context.Context, prefix string) (string, error)
}

// signIn opens an SP's protected page and walks Atea's pages until the SP shows its result:
// the SP sends the browser to Atea (Redirect or POST binding, the SP's choice), the citizen
// types DNI/NIE and password, and the SMS code when the SP asked for substantial. It returns
// the SP page's text and whether a password was asked (step-up must not ask one).
func signIn(ctx context.Context, protected string, c citizen) (text string, askedPassword bool, err error) {
	if err := chromedp.Do(ctx, chromedp.Navigate(protected)); err != nil {
		return "", false, fmt.Errorf("open %s: %w", protected, err)
	}
	for range 10 {
		st, err := waitState(ctx, 20*time.Second)
		if err != nil {
			return "", askedPassword, err
		}
		switch st {
		case "sp":
			txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#sp-result`)))
			if transient(err) {
				continue
			}
			return txt, askedPassword, err
		case "password":
			askedPassword = true
			if err := chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.CSS(`input[autocomplete="username"]`), c.id),
				chromedp.SendKeys(chromedp.CSS(`input[autocomplete="current-password"]`), c.password),
				chromedp.Submit(chromedp.CSS(`input[autocomplete="current-password"]`)),
			); err != nil {
				if transient(err) {
					continue // the page changed under the action: look at it again
				}
				return "", askedPassword, fmt.Errorf("password page: %w", err)
			}
		case "code":
			prefix, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('.otp .prefix')||{}).textContent||''`))
			prefix = strings.TrimSpace(prefix)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			code, err := c.smsCode(cctx, prefix)
			cancel()
			if err != nil {
				return "", askedPassword, err
			}
			sel := `#code`
			if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#code').length`)); n == 0 {
				sel = `input[autocomplete="one-time-code"]`
			}
			if err := chromedp.Do(ctx,
				chromedp.SendKeys(chromedp.CSS(sel), code),
				chromedp.Submit(chromedp.CSS(sel)),
			); err != nil {
				if transient(err) {
					continue
				}
				return "", askedPassword, fmt.Errorf("SMS page: %w", err)
			}
		case "sp-error":
			return "", askedPassword, fmt.Errorf("the SP refused the sign-in: %s", pageSummary(ctx))
		default:
			return "", askedPassword, fmt.Errorf("unexpected %s page: %s", st, pageSummary(ctx))
		}
		// Let the submitted page go away before looking again.
		if err := waitGone(ctx, st); err != nil {
			return "", askedPassword, err
		}
	}
	return "", askedPassword, fmt.Errorf("sign-in did not end at the SP: %s", pageSummary(ctx))
}

// transient reports whether a DevTools call failed only because the document changed between
// finding a node and acting on it (a page still loading or navigating by itself): the caller
// looks at the page again instead of failing the journey.
func transient(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "No node with given id") || strings.Contains(m, "Could not find node with given id") ||
		strings.Contains(m, "Cannot find context with specified id") || strings.Contains(m, "Node is detached")
}

// waitGone waits until the page is no longer in state st (a form was submitted).
func waitGone(ctx context.Context, st string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		cur, err := chromedp.Run(ctx, chromedp.Evaluate[any](pageStateJS))
		if err == nil && cur != st {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("still on the %s page after submitting it: %s", st, pageSummary(ctx))
}

// logout opens the SP's logout URL and expects the SP's logged-out page (the SP received a
// successful LogoutResponse from Atea). Then it opens the protected page again: the SP must
// send the browser to Atea (the SP session is gone) and Atea must ask for the password (the
// Atea session is gone too).
func logout(ctx context.Context, logoutURL, protected string) error {
	if err := chromedp.Do(ctx, chromedp.Navigate(logoutURL)); err != nil {
		return fmt.Errorf("open %s: %w", logoutURL, err)
	}
	st, err := waitState(ctx, 20*time.Second)
	if err != nil {
		return err
	}
	if st != "loggedout" {
		return fmt.Errorf("after logout the browser is on the %s page, not the SP's logged-out page: %s", st, pageSummary(ctx))
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(protected)); err != nil {
		return fmt.Errorf("open %s: %w", protected, err)
	}
	st, err = waitState(ctx, 20*time.Second)
	if err != nil {
		return err
	}
	switch st {
	case "password":
		return nil
	case "sp":
		return errors.New("after logout the protected page opened without a password: a session (SP or Atea) survived")
	default:
		return fmt.Errorf("after logout the protected page led to the %s page: %s", st, pageSummary(ctx))
	}
}
