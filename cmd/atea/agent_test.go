package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp/directory"
)

func runAgent(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cmdAgent(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

var agentPWRE = regexp.MustCompile(`initial password: (\S+)`)

// TestAgentCLI: add (the printed password signs in), list, lock, unlock, refusals, on the
// directory file.
func TestAgentCLI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	out, _, err := runAgent(t, "add", "--data", data, "--username", "Miren", "--name", "Miren Agirre", "--phone", "+34600000111")
	if err != nil {
		t.Fatalf("agent add: %v", err)
	}
	m := agentPWRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("agent add printed no password:\n%s", out)
	}
	if _, _, err := runAgent(t, "add", "--data", data, "--username", "miren", "--name", "X", "--phone", "+34600000112"); !errors.Is(err, directory.ErrExists) {
		t.Errorf("duplicate agent: %v, want ErrExists", err)
	}
	if _, _, err := runAgent(t, "add", "--data", data, "--username", "x", "--name", "X", "--phone", "600"); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("bad agent: %v, want ErrInvalid", err)
	}
	var ue usageError
	if _, _, err := runAgent(t, "add", "--data", data, "--username", "u"); !errors.As(err, &ue) {
		t.Errorf("missing flags: %v, want a usage error", err)
	}
	if _, _, err := runAgent(t, "bogus"); !errors.As(err, &ue) {
		t.Errorf("unknown subcommand: %v, want a usage error", err)
	}
	out, _, err = runAgent(t, "list", "--data", data)
	if err != nil || !strings.Contains(out, "miren") || !strings.Contains(out, "***111") || strings.Contains(out, "+34600000111") {
		t.Errorf("agent list: %v\n%s", err, out)
	}
	if _, _, err := runAgent(t, "lock", "--data", data, "--username", "miren", "--reason", "holiday"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runAgent(t, "lock", "--data", data, "miren"); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("lock twice: %v, want ErrTransition", err)
	}
	d := openTestDirectory(t, data)
	if _, err := d.AuthenticateAgent(t.Context(), "miren", m[1]); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("locked agent signs in: %v", err)
	}
	d.Close()
	if _, _, err := runAgent(t, "unlock", "--data", data, "miren"); err != nil {
		t.Fatal(err)
	}
	d = openTestDirectory(t, data)
	defer d.Close()
	if a, err := d.AuthenticateAgent(t.Context(), "miren", m[1]); err != nil || a.Name != "Miren Agirre" {
		t.Errorf("printed password: %+v, %v", a, err)
	}
}

// TestAgentCLIServerRunning: with the directory held by a server, the CLI goes through the
// admin socket, and says so clearly when the socket does not answer.
func TestAgentCLIServerRunning(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := openTestDirectory(t, data)
	defer d.Close()
	if _, _, err := runAgent(t, "list", "--data", data); err == nil || !strings.Contains(err.Error(), "admin socket") {
		t.Fatalf("busy directory, no socket: %v", err)
	}
	cfg := config.Default()
	cfg.DataDir = data
	l, err := listenAdmin(cfg.AdminSocket())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	registerAdminAgents(mux, d, slog.New(slog.DiscardHandler))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); _ = os.Remove(cfg.AdminSocket()) })

	out, _, err := runAgent(t, "add", "--data", data, "--username", "jon", "--name", "Jon Agirre", "--phone", "+34600000333")
	if err != nil {
		t.Fatalf("agent add through the socket: %v", err)
	}
	pw := agentPWRE.FindStringSubmatch(out)
	if pw == nil {
		t.Fatalf("no password:\n%s", out)
	}
	if _, err := d.AuthenticateAgent(t.Context(), "jon", pw[1]); err != nil {
		t.Errorf("agent added through the socket: %v", err)
	}
	if _, _, err := runAgent(t, "add", "--data", data, "--username", "jon", "--name", "J", "--phone", "+34600000334"); !errors.Is(err, directory.ErrExists) {
		t.Errorf("duplicate through the socket: %v", err)
	}
	if out, _, err := runAgent(t, "list", "--data", data); err != nil || !strings.Contains(out, "jon") {
		t.Errorf("list through the socket: %v\n%s", err, out)
	}
	if _, _, err := runAgent(t, "lock", "--data", data, "jon", "--reason", "x"); err != nil {
		t.Errorf("lock through the socket: %v", err)
	}
	if _, _, err := runAgent(t, "unlock", "--data", data, "nobody"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("unlock unknown through the socket: %v", err)
	}
}
