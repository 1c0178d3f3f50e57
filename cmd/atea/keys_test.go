package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlsp"

	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// unsignedView is the served (signed) metadata without what signing adds — the ds:Signature
// element and the root's ID and validUntil —, which is what `atea metadata export` prints.
func unsignedView(t *testing.T, signed []byte) string {
	t.Helper()
	s := string(signed)
	start, end := strings.Index(s, "<ds:Signature"), strings.Index(s, "</ds:Signature>")
	if start < 0 || end < 0 {
		t.Fatalf("served metadata is not signed:\n%.400s", s)
	}
	s = s[:start] + s[end+len("</ds:Signature>"):]
	s = regexp.MustCompile(` ID="[^"]*"`).ReplaceAllString(s, "")
	return regexp.MustCompile(` validUntil="[^"]*"`).ReplaceAllString(s, "")
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type statusJSON struct {
	Keys []struct {
		Role        string     `json:"role"`
		Algorithm   string     `json:"algorithm"`
		SHA256      string     `json:"sha256"`
		CertFile    string     `json:"certFile"`
		Published   bool       `json:"published"`
		RetireAfter *time.Time `json:"retireAfter"`
	} `json:"keys"`
}

func keyStatusJSON(t *testing.T, data string) statusJSON {
	t.Helper()
	out, err := runCLI(t, "", "keys", "status", "--json", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("keys status --json: %v\n%s", err, out)
	}
	return st
}

// TestKeysCommands: generate, status, rollover and `metadata export [--sign]` on a data
// directory, as an operator runs them.
func TestKeysCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if _, err := runCLI(t, "", "keys", "rollover", "--data", data); !errors.Is(err, keys.ErrNoNextKey) {
		t.Fatalf("keys rollover without a next key = %v, want ErrNoNextKey", err)
	}
	out, err := runCLI(t, "", "keys", "status", "--data", data)
	if err != nil || !strings.Contains(out, "current") || !strings.Contains(out, "encryption") || strings.Contains(out, "next") {
		t.Errorf("keys status on a fresh ring = %q, %v", out, err)
	}
	st := keyStatusJSON(t, data)
	if len(st.Keys) != 2 || st.Keys[0].Role != "current" || st.Keys[0].Algorithm != "RSA-2048" || st.Keys[1].Role != "encryption" {
		t.Fatalf("keys status --json = %+v", st)
	}
	oldFP := st.Keys[0].SHA256
	oldCert := readCert(t, filepath.Join(data, "keys", "signing.crt"))
	if keys.Fingerprint(oldCert) != oldFP {
		t.Error("the current key is not the single-key file signing.crt")
	}

	if out, err = runCLI(t, "", "keys", "generate", "--data", data); err != nil || !strings.Contains(out, "next signing key") {
		t.Fatalf("keys generate = %q, %v", out, err)
	}
	if _, err := runCLI(t, "", "keys", "generate", "--data", data); !errors.Is(err, keys.ErrNextExists) {
		t.Errorf("second keys generate = %v, want ErrNextExists", err)
	}
	st = keyStatusJSON(t, data)
	if len(st.Keys) != 3 || st.Keys[1].Role != "next" {
		t.Fatalf("keys status after generate = %+v", st)
	}
	nextCert := readCert(t, st.Keys[1].CertFile)

	// Unsigned export lists current and next for signing plus the encryption key.
	exported, err := runCLI(t, "", "metadata", "export", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(exported, "ds:Signature") || strings.Contains(exported, "validUntil") {
		t.Error("metadata export without --sign is signed or expires")
	}
	if n := strings.Count(exported, `use="signing"`); n != 2 {
		t.Errorf("export has %d signing keys, want current and next", n)
	}
	if n := strings.Count(exported, `use="encryption"`); n != 1 {
		t.Errorf("export has %d encryption keys, want 1", n)
	}

	// Signed export verifies with the current key only, and crewjam loads it.
	signed, err := runCLI(t, "", "metadata", "export", "--sign", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xmlsig.VerifyEnveloped([]byte(signed), []*x509.Certificate{oldCert}, time.Now); err != nil {
		t.Errorf("signed export does not verify with the current key: %v", err)
	}
	if _, err := xmlsig.VerifyEnveloped([]byte(signed), []*x509.Certificate{nextCert}, time.Now); err == nil {
		t.Error("signed export verifies with the next key before the rollover")
	}
	ed, err := samlsp.ParseMetadata([]byte(signed))
	if err != nil || !ed.ValidUntil.After(time.Now().Add(6*24*time.Hour)) {
		t.Errorf("crewjam: %v; validUntil %v, want about 7 days ahead", err, ed.ValidUntil)
	}
	if unsignedView(t, []byte(signed)) != exported {
		t.Error("signed export is not the unsigned one plus ID, validUntil and signature")
	}

	out, err = runCLI(t, "", "keys", "rollover", "--data", data)
	if err != nil || !strings.Contains(out, "signs with it within") {
		t.Fatalf("keys rollover = %q, %v", out, err)
	}
	st = keyStatusJSON(t, data)
	if len(st.Keys) != 3 || st.Keys[0].SHA256 != keys.Fingerprint(nextCert) || st.Keys[1].Role != "previous" || st.Keys[1].SHA256 != oldFP ||
		!st.Keys[1].Published || st.Keys[1].RetireAfter == nil || st.Keys[1].RetireAfter.Before(time.Now().Add(6*24*time.Hour)) {
		t.Fatalf("keys status after rollover = %+v", st)
	}
	out, _ = runCLI(t, "", "keys", "status", "--data", data)
	if !strings.Contains(out, "previous") || !strings.Contains(out, "published until") {
		t.Errorf("keys status after rollover = %q", out)
	}
	signed, err = runCLI(t, "", "metadata", "export", "--sign", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xmlsig.VerifyEnveloped([]byte(signed), []*x509.Certificate{nextCert}, time.Now); err != nil {
		t.Errorf("after rollover the export does not verify with the former next key: %v", err)
	}
	if _, err := runCLI(t, "", "keys", "rollover", "--data", data); !errors.Is(err, keys.ErrNoNextKey) {
		t.Errorf("second rollover = %v, want ErrNoNextKey", err)
	}
}

func TestKeysUsage(t *testing.T) {
	t.Parallel()
	var ue usageError
	for _, args := range [][]string{{"keys"}, {"keys", "rotate"}, {"keys", "status", "extra"}} {
		if _, err := runCLI(t, "", args...); !errors.As(err, &ue) {
			t.Errorf("atea %s = %v, want a usage error", strings.Join(args, " "), err)
		}
	}
	if out, err := runCLI(t, "", "keys", "--help"); err != nil || !strings.Contains(out, "rollover") {
		t.Errorf("keys --help = %q, %v", out, err)
	}
}
