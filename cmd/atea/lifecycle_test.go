package main

import (
	"errors"
	"strings"
	"testing"

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
}
