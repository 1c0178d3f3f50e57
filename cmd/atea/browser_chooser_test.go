package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserChooser: with certificate sign-in configured, the demo SP's request (level low)
// offers both methods in a real browser; choosing B@k leads to the password form and back to
// the SP signed in.
func TestBrowserChooser(t *testing.T) {
	exe := chromiumPath(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writeTestCA(t, caFile)
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "atea.yaml")
	cfg := fmt.Sprintf("baseURL: http://%s\nlisten: %s\ncertificate:\n  enabled: true\n  trustAnchorsFile: %s\n  proxyHeader: X-Client-Cert\n  trustedProxies: [\"192.0.2.1/32\"]\n",
		addr, addr, caFile)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, data, _ := startServeAddr(t, addr, "--config", cfgPath)
	pw, err := os.ReadFile(filepath.Join(data, demoPassFile))
	if err != nil {
		t.Fatal(err)
	}
	browserCtx := newChromium(t, exe)
	ctx, cancel := newBrowserTab(t, browserCtx)
	defer cancel()
	var chooser, result string
	var shot []byte
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/demo/"),
		chromedp.WaitVisible(chromedp.CSS(`button[value="cert"]`)),
		assign(&chooser, chromedp.Text(chromedp.CSS(`main`))),
		assign(&shot, chromedp.FullScreenshot(100)),
		chromedp.Click(chromedp.CSS(`button[value="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[autocomplete="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[autocomplete="username"]`), demoDNI),
		chromedp.SendKeys(chromedp.CSS(`input[autocomplete="current-password"]`), strings.TrimSpace(string(pw))),
		chromedp.Submit(chromedp.CSS(`input[autocomplete="current-password"]`)),
		chromedp.WaitReady(chromedp.CSS(`#demo-result`)),
		assign(&result, chromedp.Text(chromedp.CSS(`body`))),
	)
	if err != nil {
		t.Fatalf("browser walk: %v (chooser text %.300q)", err, chooser)
	}
	for _, want := range []string{"B@k", "certificate"} {
		if !strings.Contains(chooser, want) {
			t.Errorf("chooser lacks %q: %.300q", want, chooser)
		}
	}
	if !strings.Contains(result, "http://eidas.europa.eu/LoA/low") {
		t.Errorf("demo page after choosing B@k: %.300q", result)
	}
	savePNG(t, "atea-chooser.png", shot)
}

// writeTestCA writes a self-signed CA certificate (PEM) to path: certificate sign-in needs a
// trust anchor to be configured, even when no citizen presents a certificate.
func writeTestCA(t *testing.T, path string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Atea test citizen CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}
