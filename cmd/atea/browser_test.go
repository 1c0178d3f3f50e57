package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ateaidp/atea/idp/idptest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startServe runs `atea serve` in-process on a free loopback port with a fresh data directory
// (the embedded default: no config file) and returns its base URL and data directory.
func startServe(t *testing.T, extraArgs ...string) (string, string, *syncBuffer) {
	t.Helper()
	addr := freeAddr(t)
	return startServeAddr(t, addr, extraArgs...)
}

// startServeAddr is startServe on a chosen loopback address.
func startServeAddr(t *testing.T, addr string, extraArgs ...string) (string, string, *syncBuffer) {
	t.Helper()
	data := filepath.Join(t.TempDir(), "atea-data")
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	args := append([]string{"serve", "--data", data, "--listen", addr}, extraArgs...)
	go func() { done <- run(ctx, args, strings.NewReader(""), out, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz") //nolint:noctx // readiness poll on loopback
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, data, out
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 20 s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// chromiumPath finds chromium or skips (fails under CI=true): idptest.ChromiumPath, shared
// with the idp package's browser tests.
func chromiumPath(t *testing.T) string {
	t.Helper()
	return idptest.ChromiumPath(t)
}

// TestBrowserDemoSignIn walks /demo in a real headless Chromium, in each language: the demo SP
// sends an AuthnRequest, Atea shows its sign-in page in the browser's language, the demo
// citizen signs in, and the demo SP shows the NameID, attributes and level it received. Then
// the second demo SP gets single sign-on without a prompt.
func TestBrowserDemoSignIn(t *testing.T) {
	exe := chromiumPath(t)
	base, data, _ := startServe(t)
	pw, err := os.ReadFile(filepath.Join(data, demoPassFile))
	if err != nil {
		t.Fatalf("demo password file: %v", err)
	}
	password := strings.TrimSpace(string(pw))

	// Start the browser once; each language then gets its own browser context (its own
	// cookie jar), so no run inherits the previous run's sessions.
	browserCtx := newChromium(t, exe)

	for _, tc := range []struct {
		lang, title, submit string
	}{
		{"es", "Contraseña", "Entrar"},
		{"eu", "Pasahitza", "Sartu"},
		{"en", "Password", "Sign in"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			// A fresh browser context per language: no cookies from the previous run.
			bctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
			defer cancel()
			ctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
			defer cancelT()
			var htmlLang chromedp.AttributeResult
			var loginText, demoText string
			var shot []byte
			err := chromedp.Do(ctx,
				chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
					if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
						return err
					}
					_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
						Headers: network.Headers{"Accept-Language": tc.lang},
					})
					return err
				}),
				chromedp.Navigate(base+"/demo/"),
				chromedp.WaitVisible(chromedp.CSS(`input[autocomplete="username"]`)),
				assign(&htmlLang, chromedp.AttributeValue(chromedp.CSS(`html`), "lang")),
				assign(&loginText, chromedp.Text(chromedp.CSS(`body`))),
				chromedp.SendKeys(chromedp.CSS(`input[autocomplete="username"]`), demoDNI),
				chromedp.SendKeys(chromedp.CSS(`input[autocomplete="current-password"]`), password),
				chromedp.Submit(chromedp.CSS(`input[autocomplete="current-password"]`)),
				chromedp.WaitReady(chromedp.CSS(`#demo-result`)),
				assign(&demoText, chromedp.Text(chromedp.CSS(`body`))),
				assign(&shot, chromedp.FullScreenshot(80)),
			)
			if err != nil {
				t.Fatalf("browser walk: %v (login page text: %.300q)", err, loginText)
			}
			if htmlLang.Value != tc.lang {
				t.Errorf("<html lang> = %q, want %q", htmlLang.Value, tc.lang)
			}
			if !strings.Contains(loginText, tc.title) {
				t.Errorf("sign-in page in %s lacks %q: %.300q", tc.lang, tc.title, loginText)
			}
			for _, want := range []string{"http://eidas.europa.eu/LoA/low", "ES/ES/" + demoDNI, "Etxeberria"} {
				if !strings.Contains(demoText, want) {
					t.Errorf("demo page lacks %q: %.500q", want, demoText)
				}
			}
			_ = os.WriteFile(filepath.Join(os.TempDir(), fmt.Sprintf("atea-demo-%s.jpg", tc.lang)), shot, 0o644)

			// Single sign-on: the second demo SP, no prompt.
			var second string
			if err := chromedp.Do(ctx,
				chromedp.Navigate(base+"/demo2/"),
				chromedp.WaitReady(chromedp.CSS(`#demo-result`)),
				assign(&second, chromedp.Text(chromedp.CSS(`body`))),
			); err != nil {
				t.Fatalf("second SP: %v", err)
			}
			if !strings.Contains(second, "/demo2/saml/metadata") || !strings.Contains(second, "LoA/low") {
				t.Errorf("second demo SP page: %.300q", second)
			}
		})
	}
}

// assign runs a value-returning action as a step and keeps its value in *dst
// (idptest.Assign, shared with the idp package's browser tests).
func assign[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return idptest.Assign(dst, a)
}

// newChromium starts headless Debian chromium for t, off the network (INTEROP.md), and
// returns a browser context for chromedp.NewContext children; it stops with the test. It is
// idptest.NewChromium, shared with the idp package's browser tests.
func newChromium(t *testing.T, exe string) context.Context {
	t.Helper()
	return idptest.NewChromium(t, exe)
}
