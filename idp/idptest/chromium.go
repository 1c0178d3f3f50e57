package idptest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds Debian's chromium (or a Chrome) for a browser test. Without one the test
// is skipped locally and fails under CI=true, where .ci/run installs chromium: a browser test
// that quietly never runs proves nothing.
func ChromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed: CI must run the browser test (.ci/run installs Debian's chromium)")
	}
	t.Skip("chromium not installed; `apt-get install chromium` to run the browser test")
	return ""
}

// NewChromium starts headless chromium exe for t, with the flags that keep it off the network
// (INTEROP.md: no QUIC, background networking, component updates or sync), in a profile of
// its own, and returns a browser context for chromedp.NewContext children. The browser stops
// with the test.
func NewChromium(t *testing.T, exe string) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browserCtx
}

// Assign runs a value-returning chromedp action as a step of chromedp.Do and keeps its value
// in *dst.
func Assign[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		v, err := a(ctx, t)
		if err != nil {
			return err
		}
		*dst = v
		return nil
	})
}
