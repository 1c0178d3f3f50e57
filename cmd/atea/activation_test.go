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
	"github.com/ateaidp/atea/idp/keys"
)

// letterCodeRE finds the code in a printed letter: four groups of four of the code alphabet.
var letterCodeRE = regexp.MustCompile(`\b[2-9A-HJKMNP-Z]{4}(?:-[2-9A-HJKMNP-Z]{4}){3}\b`)

// runActivation runs `atea activation …` in-process (cmdActivation directly, so the test does
// not depend on main.go's command table).
func runActivation(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cmdActivation(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// newCitizenArgs are the flags of a new citizen's letter.
func newCitizenArgs(data, id string) []string {
	return []string{"issue", "--data", data, "--id", id, "--given", "Miren", "--family", "Agirre",
		"--birth", "1985-02-03", "--expiry", "01/04/2030", "--phone", "+34600111222"}
}

func openTestDirectory(t *testing.T, data string) *directory.Directory {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = data
	secrets, err := keys.LoadOrCreateSecrets(cfg.SecretFile())
	if err != nil {
		t.Fatal(err)
	}
	d, err := openDirectory(cfg, secrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestActivationIssueLetter(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	out, stderr, err := runActivation(t, newCitizenArgs(data, "12345678z")...)
	if err != nil {
		t.Fatalf("activation issue: %v\n%s", err, stderr)
	}
	code := letterCodeRE.FindString(out)
	if code == "" {
		t.Fatalf("no formatted code in the letter:\n%s", out)
	}
	for _, want := range []string{"Miren Agirre", "***678Z", "http://127.0.0.1:8080/activate", "Carta de activación", "aktibatzeko gutuna",
		"01/01/9999", "Válido hasta", time.Now().Add(720 * time.Hour).UTC().Format("02/01/2006")} {
		if !strings.Contains(out, want) {
			t.Errorf("letter lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "12345678Z") {
		t.Error("the letter prints the whole DNI")
	}
	if !strings.Contains(stderr, "created pending") {
		t.Errorf("stderr %q does not say the credential was created", stderr)
	}

	d := openTestDirectory(t, data)
	u, err := d.CheckCode(t.Context(), directory.CodeCheck{Purpose: directory.PurposeActivation, Code: code, DNI: "12345678Z", DocumentExpiry: "01/04/2030"})
	if err != nil {
		t.Fatalf("the letter's code does not check: %v", err)
	}
	if u.Status != directory.StatusPending || u.Credential != directory.CredentialBak || u.Phone != "+34600111222" {
		t.Errorf("created %+v", u)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// A second letter (an existing pending citizen needs only --id) replaces the first code.
	out2, _, err := runActivation(t, "issue", "--data", data, "--id", "12345678Z", "--ttl", "48h")
	if err != nil {
		t.Fatalf("second letter: %v", err)
	}
	code2 := letterCodeRE.FindString(out2)
	if code2 == "" || code2 == code {
		t.Fatalf("second letter code %q (first %q)", code2, code)
	}
	if !strings.Contains(out2, time.Now().Add(48*time.Hour).UTC().Format("02/01/2006")) {
		t.Errorf("second letter does not show the --ttl expiry:\n%s", out2)
	}
	d = openTestDirectory(t, data)
	defer d.Close()
	if _, err := d.CheckCode(t.Context(), directory.CodeCheck{Purpose: directory.PurposeActivation, Code: code}); !errors.Is(err, directory.ErrCodeInvalid) {
		t.Errorf("first code after a new letter: %v, want ErrCodeInvalid", err)
	}
	if _, err := d.CheckCode(t.Context(), directory.CodeCheck{Purpose: directory.PurposeActivation, Code: code2, DNI: "12345678Z", DocumentExpiry: "2030-04-01"}); err != nil {
		t.Errorf("second code: %v", err)
	}
}

func TestActivationIssueRefusals(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if _, _, err := runActivation(t, "issue", "--data", data); err == nil {
		t.Error("issue without --id succeeded")
	}
	if _, _, err := runActivation(t, "issue", "--data", data, "--id", "12345678Z"); err == nil || !strings.Contains(err.Error(), "--phone") {
		t.Errorf("new citizen without data: %v, want a list of the missing flags", err)
	}
	args := newCitizenArgs(data, "12345678Z")
	args = args[:len(args)-2] // no --phone
	if _, _, err := runActivation(t, args...); err == nil || !strings.Contains(err.Error(), "--phone") {
		t.Errorf("new citizen without a mobile: %v", err)
	}
	// An active citizen needs no letter.
	if _, err := runCLI(t, "a good password\n", "user", "add", "--data", data, "--id", "48151623L", "--given", "Ane",
		"--family", "Etxeberria", "--birth", "1990-05-17", "--phone", "+34600000707", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runActivation(t, "issue", "--data", data, "--id", "48151623L"); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("letter for an active citizen: %v, want ErrTransition", err)
	}
	if _, _, err := runActivation(t, "revoke"); err == nil {
		t.Error("unknown subcommand accepted")
	}
}

// TestActivationIssueServerRunning: with the directory held by a server, the CLI goes through
// the admin socket when it offers the route, and says clearly what is wrong when nothing
// answers.
func TestActivationIssueServerRunning(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	d := openTestDirectory(t, data)
	defer d.Close()

	if _, _, err := runActivation(t, newCitizenArgs(data, "12345678Z")...); err == nil || !strings.Contains(err.Error(), "admin socket") {
		t.Fatalf("busy directory, no socket: %v, want a message naming the server and its socket", err)
	}

	cfg := config.Default()
	cfg.DataDir = data
	l, err := listenAdmin(cfg.AdminSocket())
	if err != nil {
		t.Fatal(err)
	}
	m := http.NewServeMux()
	registerAdminActivation(m, d, slog.New(slog.DiscardHandler))
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); _ = os.Remove(cfg.AdminSocket()) })

	out, _, err := runActivation(t, newCitizenArgs(data, "12345678Z")...)
	if err != nil {
		t.Fatalf("activation issue through the socket: %v", err)
	}
	code := letterCodeRE.FindString(out)
	if code == "" || !strings.Contains(out, "Miren Agirre") {
		t.Fatalf("letter through the socket:\n%s", out)
	}
	if _, err := d.CheckCode(t.Context(), directory.CodeCheck{Purpose: directory.PurposeActivation, Code: code, DNI: "12345678Z", DocumentExpiry: "01/04/2030"}); err != nil {
		t.Errorf("code issued through the socket: %v", err)
	}
	// Errors keep their kind across the socket.
	if _, err := d.Add(t.Context(), directory.User{DNI: "48151623L", GivenName: "Ane", FamilyName: "E", BirthDate: "1990-05-17"}, "a good password"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runActivation(t, "issue", "--data", data, "--id", "48151623L"); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("active citizen through the socket: %v, want ErrTransition", err)
	}
	if _, _, err := runActivation(t, "issue", "--data", data, "--id", "X1234567L"); err == nil || !strings.Contains(err.Error(), "--given") {
		t.Errorf("new citizen without data through the socket: %v", err)
	}
}
