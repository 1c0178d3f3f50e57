package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
)

// runCLI runs one atea command in-process and returns its stdout and error.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	if err != nil {
		t.Logf("atea %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

// TestUserCommandsWithoutServer: the user commands open the directory file when no server runs.
func TestUserCommandsWithoutServer(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	add := []string{"user", "add", "--data", data, "--id", "48151623l", "--given", "Miren", "--family", "Agirre",
		"--birth", "1985-02-03", "--email", "miren@example.eus", "--phone", "+34600111222", "--password-stdin"}
	out, err := runCLI(t, "a good password\n", add...)
	if err != nil {
		t.Fatalf("user add: %v", err)
	}
	if !strings.Contains(out, "48151623L") {
		t.Errorf("user add output %q lacks the canonical DNI", out)
	}
	if _, err := runCLI(t, "another good one\n", add...); err == nil {
		t.Error("second user add with the same DNI succeeded; one credential per person")
	}
	out, err = runCLI(t, "", "user", "show", "48151623L", "--data", data)
	if err != nil || !strings.Contains(out, "Agirre") || strings.Contains(out, "argon2") {
		t.Errorf("user show = %q, %v", out, err)
	}
	if _, err := runCLI(t, "", "user", "show", "12345678Z", "--data", data); err == nil {
		t.Error("user show of an unknown DNI succeeded")
	}
	out, err = runCLI(t, "", "user", "list", "--data", data)
	if err != nil || !strings.Contains(out, "48151623L") {
		t.Errorf("user list = %q, %v", out, err)
	}
	if _, err := runCLI(t, "", "user", "unlock", "48151623L", "--data", data); err != nil {
		t.Errorf("user unlock: %v", err)
	}
	// Bad input is refused with a message naming the problem, and a weak password too.
	if _, err := runCLI(t, "a good password\n", "user", "add", "--data", data, "--id", "48151623X", "--given", "A",
		"--family", "B", "--birth", "1985-02-03", "--password-stdin"); err == nil {
		t.Error("user add with a wrong check letter succeeded")
	}
	if _, err := runCLI(t, "12345678\n", "user", "add", "--data", data, "--id", "X1234567L", "--given", "A",
		"--family", "B", "--birth", "1985-02-03", "--password-stdin"); err == nil {
		t.Error("user add with a common password succeeded")
	}
	_, err = runCLI(t, "", "user", "add", "--data", data)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--id") {
		t.Errorf("user add without flags: %v, want a usage error naming --id", err)
	}
}

// TestServeLiveAdministration: with `atea serve` running, the CLI reaches it over the admin
// socket; SP metadata dropped into the directory is used without a restart; the exported
// metadata is the one served.
func TestServeLiveAdministration(t *testing.T) {
	base, data, out := startServe(t)
	if !strings.Contains(out.String(), "WARNING") || !strings.Contains(out.String(), "Demo citizen") {
		t.Errorf("start-up banner lacks the embedded-default warning or the demo citizen:\n%s", out.String())
	}
	if _, err := runCLI(t, "a good password\n", "user", "add", "--data", data, "--id", "X1234567L", "--given", "Jon",
		"--family", "Etxebarria", "--birth", "1970-12-31", "--password-stdin"); err != nil {
		t.Fatalf("user add while serving: %v", err)
	}
	shown, err := runCLI(t, "", "user", "show", "12345678Z", "--data", data)
	if err != nil || !strings.Contains(shown, "Demo password") {
		t.Errorf("user show of the demo citizen while serving = %q, %v", shown, err)
	}
	if _, err := runCLI(t, "", "user", "unlock", "X1234567L", "--data", data); err != nil {
		t.Errorf("user unlock while serving: %v", err)
	}

	exported, err := runCLI(t, "", "metadata", "export", "--data", data, "--config", writeConfig(t, base))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/saml/metadata") //nolint:noctx // loopback test
	if err != nil {
		t.Fatal(err)
	}
	var served bytes.Buffer
	_, _ = served.ReadFrom(resp.Body)
	resp.Body.Close()
	// The served document is the exported one, signed (ID, validUntil, ds:Signature added).
	if unsignedView(t, served.Bytes()) != exported {
		t.Errorf("atea metadata export differs from GET /saml/metadata")
	}
	if _, err := samlsp.ParseMetadata(served.Bytes()); err != nil {
		t.Errorf("crewjam cannot parse Atea's metadata: %v", err)
	}

	// A new SP registers by dropping its metadata file: in use within the poll interval.
	ed := &saml.EntityDescriptor{EntityID: "https://late-sp.test/saml/metadata", SPSSODescriptors: []saml.SPSSODescriptor{{
		SSODescriptor:             saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol"}},
		AssertionConsumerServices: []saml.IndexedEndpoint{{Binding: saml.HTTPPostBinding, Location: "https://late-sp.test/saml/acs", Index: 1}},
	}}}
	b, _ := xml.Marshal(ed)
	if err := os.WriteFile(filepath.Join(data, "sp-metadata", "late.xml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	req := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_late1" Version="2.0" IssueInstant="` +
		time.Now().UTC().Format(time.RFC3339) + `" Destination="` + base + `/saml/sso"><saml:Issuer>https://late-sp.test/saml/metadata</saml:Issuer></samlp:AuthnRequest>`
	deadline := time.Now().Add(10 * time.Second)
	for {
		code := postRequest(t, base, req)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dropped SP metadata not in use after 10 s (last HTTP %d)", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func postRequest(t *testing.T, base, x string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	body := "SAMLRequest=" + urlQueryEscape(b64(x))
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/saml/sso", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther {
		return http.StatusOK
	}
	return resp.StatusCode
}

// writeConfig writes a config whose base URL matches the running server, so the exported
// metadata names the same endpoints.
func writeConfig(t *testing.T, base string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "atea.yaml")
	if err := os.WriteFile(p, []byte("baseURL: "+base+"\nlisten: "+strings.TrimPrefix(base, "http://")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckConfig: the example configuration is valid; a typo is named.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	if out, err := runCLI(t, "", "check-config", "--config", "../../config/atea.example.yaml"); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("check-config on the example = %q, %v", out, err)
	}
	p := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(p, []byte("saml:\n  sing: response\n"), 0o600)
	_, err := runCLI(t, "", "check-config", "--config", p)
	if err == nil || !strings.Contains(err.Error(), "sing") {
		t.Errorf("check-config with a typo: %v, want an error naming the key", err)
	}
	if _, err := runCLI(t, "", "nonsense"); err == nil {
		t.Error("unknown command accepted")
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
