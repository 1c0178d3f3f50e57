package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestInteropSuite runs the whole suite inside `go test ./...`, so that the README's one test
// command runs every test. The SP software comes from Debian and npm (`.ci/interop/run.sh
// --install-only`, which .ci/run calls first): without it the test skips locally, and fails
// under CI=true, where a skip would hide that nothing was checked. INTEROP_REPORT_FILE names a
// file for the PASS/FAIL report (go test shows a passing test's output only with -v).
func TestInteropSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("interop suite: not in -short")
	}
	var missing []string
	for _, p := range []string{"/usr/sbin/apache2", "/usr/sbin/shibd", "/usr/lib/apache2/modules/mod_shib.so",
		"/usr/lib/python3/dist-packages/saml2", "../../.ci/interop/node/node_modules/@node-saml/node-saml"} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	for _, c := range []string{"chromium", "xmlsec1", "node", "python3"} {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		msg := "interop suite: SP software missing (bash .ci/interop/run.sh --install-only): " + strings.Join(missing, ", ")
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	// The test runs in cmd/atea-interop, so build Atea by import path rather than ./cmd/atea.
	bin := t.TempDir() + "/atea"
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ateaidp/atea/cmd/atea").CombinedOutput(); err != nil {
		t.Fatalf("go build atea: %v\n%s", err, b)
	}
	var out, errs bytes.Buffer
	code := run(ctx, []string{"--support-dir", "../../.ci/interop", "--atea-binary", bin}, &out, &errs)
	if f := os.Getenv("INTEROP_REPORT_FILE"); f != "" {
		if err := os.WriteFile(f, out.Bytes(), 0o644); err != nil {
			t.Errorf("writing %s: %v", f, err)
		}
	}
	t.Logf("interop suite:\n%s", out.String())
	if code != 0 {
		t.Fatalf("interop suite failed (exit %d):\n%s\n%s", code, out.String(), errs.String())
	}
	if !strings.Contains(out.String(), " passed, 0 failed") {
		t.Fatalf("interop suite printed no clean summary:\n%s", out.String())
	}
}
