package main

import (
	"encoding/xml"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp/directory"
)

// lifecycleCLI drives lock, unlock, revoke and show against data, whether or not a server
// runs there: the commands must behave the same through the admin socket and on the file.
func lifecycleCLI(t *testing.T, data string) {
	t.Helper()
	if _, err := runCLI(t, "a good password\n", "user", "add", "--data", data, "--id", "X1234567L", "--given", "Jon",
		"--family", "Etxebarria", "--birth", "1970-12-31", "--doc-expiry", "01/01/9999", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v", err)
	}
	if out, err := runCLI(t, "", "user", "lock", "X1234567L", "--data", data, "--reason", "reported stolen"); err != nil || !strings.Contains(out, "locked") {
		t.Fatalf("user lock = %q, %v", out, err)
	}
	if _, err := runCLI(t, "", "user", "lock", "X1234567L", "--data", data); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("user lock of a locked user: %v, want ErrTransition", err)
	}
	if _, err := runCLI(t, "", "user", "unlock", "X1234567L", "--data", data); err != nil {
		t.Errorf("user unlock: %v", err)
	}
	if _, err := runCLI(t, "", "user", "revoke", "X1234567L", "--data", data, "--reason", "deceased"); err != nil {
		t.Fatalf("user revoke: %v", err)
	}
	if _, err := runCLI(t, "", "user", "unlock", "X1234567L", "--data", data); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("user unlock of a revoked user: %v, want ErrTransition", err)
	}
	if _, err := runCLI(t, "", "user", "lock", "12345670A", "--data", data); err == nil {
		t.Error("user lock of an unknown number succeeded")
	}
	out, err := runCLI(t, "", "user", "show", "X1234567L", "--data", data)
	if err != nil {
		t.Fatalf("user show: %v", err)
	}
	for _, want := range []string{"revoked", "9999-01-01 (permanent)", "(not accepted)", "user_added", "user_locked", "reported stolen",
		"user_unlocked", "user_revoked", "deceased", "active → revoked"} {
		if !strings.Contains(out, want) {
			t.Errorf("user show output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ERROR") {
		t.Errorf("user show output has an error:\n%s", out)
	}
	if out, err := runCLI(t, "", "user", "check", "--data", data); err != nil || !strings.Contains(out, "consistent") {
		t.Errorf("user check = %q, %v", out, err)
	}
}

func TestUserLifecycleWithoutServer(t *testing.T) {
	t.Parallel()
	lifecycleCLI(t, t.TempDir())
}

func TestUserLifecycleWhileServing(t *testing.T) {
	_, data, _ := startServe(t)
	lifecycleCLI(t, data)
}

func TestUserLifecycleHelp(t *testing.T) {
	t.Parallel()
	for _, sub := range []string{"lock", "revoke"} {
		var errOut strings.Builder
		err := run(t.Context(), []string{"user", sub, "--help"}, strings.NewReader(""), &strings.Builder{}, &errOut)
		if !strings.Contains(errOut.String(), "--reason") && !strings.Contains(errOut.String(), "-reason") {
			t.Errorf("atea user %s --help = %v, output %q; want the --reason flag described", sub, err, errOut.String())
		}
	}
	var errOut strings.Builder
	_ = run(t.Context(), []string{"user", "signout", "--help"}, strings.NewReader(""), &strings.Builder{}, &errOut)
	if !strings.Contains(errOut.String(), "end every session") || !strings.Contains(errOut.String(), "-data") {
		t.Errorf("atea user signout --help output %q; want what it does and its flags", errOut.String())
	}
}

// TestUserLockEndsSessions: `atea user signout` and `atea user lock` against a running server
// end the citizen's session there at once (the next SSO asks for a password instead of
// answering from the session) and report each service of it, signout leaving the credential
// usable; without a server they say there was none to end.
func TestUserLockEndsSessions(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "atea.yaml")
	if err := os.WriteFile(cfgPath, []byte("baseURL: http://"+addr+"\nspMetadata:\n  pollInterval: 500ms\ndemo:\n  enabled: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, data, _ := startServeAddr(t, addr, "--config", cfgPath)
	if _, err := runCLI(t, "a good password\n", "user", "add", "--config", cfgPath, "--data", data, "--id", "48151623L",
		"--given", "Ane", "--family", "Etxeberria", "--birth", "1990-05-17", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	var md saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(fetch(t, http.DefaultClient, base+"/saml/metadata").body), &md); err != nil {
		t.Fatal(err)
	}
	sp := newCLISP(t, "sp-lock", &md, filepath.Join(data, "sp-metadata"))
	waitKnown(t, base, sp)
	c := newJarClient(t)
	sp.accept(t, submitLogin(t, c, base, fetch(t, c, sp.requestURL(t, base)), "48151623L", "a good password"))
	if p := fetch(t, c, sp.requestURL(t, base)); !strings.Contains(p.body, `name="SAMLResponse"`) {
		t.Fatalf("no single sign-on before the lock: HTTP %d", p.status)
	}

	// signout: every session ends, the credential stays usable.
	out, err := runCLI(t, "", "user", "signout", "48151623L", "--config", cfgPath, "--data", data)
	if err != nil || !strings.Contains(out, "sessions ended: 1") || !strings.Contains(out, sp.sp.EntityID+": not told") {
		t.Fatalf("user signout = %q, %v", out, err)
	}
	p := fetch(t, c, sp.requestURL(t, base))
	if strings.Contains(p.body, `name="SAMLResponse"`) || !strings.Contains(p.body, `autocomplete="username"`) {
		t.Fatalf("after signout the browser's session still answers (HTTP %d)", p.status)
	}
	sp.accept(t, submitLogin(t, c, base, p, "48151623L", "a good password"))
	if _, err := runCLI(t, "", "user", "signout", "12345670A", "--config", cfgPath, "--data", data); err == nil {
		t.Error("user signout of an unknown number succeeded")
	}

	out, err = runCLI(t, "", "user", "lock", "48151623L", "--config", cfgPath, "--data", data, "--reason", "reported stolen")
	if err != nil {
		t.Fatalf("user lock: %v", err)
	}
	for _, want := range []string{"locked 48151623L", "sessions ended: 1", sp.sp.EntityID + ": not told"} {
		if !strings.Contains(out, want) {
			t.Errorf("user lock output lacks %q:\n%s", want, out)
		}
	}
	if p := fetch(t, c, sp.requestURL(t, base)); strings.Contains(p.body, `name="SAMLResponse"`) || !strings.Contains(p.body, `autocomplete="username"`) {
		t.Errorf("after the lock the browser's session still answers (HTTP %d): %.300s", p.status, p.body)
	}

	offline := t.TempDir()
	if _, err := runCLI(t, "a good password\n", "user", "add", "--data", offline, "--id", "48151623L",
		"--given", "Ane", "--family", "Etxeberria", "--birth", "1990-05-17", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "", "user", "signout", "48151623L", "--data", offline); err != nil || !strings.Contains(out, "no server runs") {
		t.Errorf("user signout without a server = %q, %v", out, err)
	}
	if out, err := runCLI(t, "", "user", "revoke", "48151623L", "--data", offline); err != nil || !strings.Contains(out, "no server runs") {
		t.Errorf("user revoke without a server = %q, %v", out, err)
	}
}
