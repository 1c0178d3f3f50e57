package main

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/store/memstore"
)

const explainSP = `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" entityID="https://udala.example.eus/saml">
  <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <Extensions><mdui:UIInfo>
      <mdui:DisplayName xml:lang="en">Town hall services</mdui:DisplayName>
    </mdui:UIInfo></Extensions>
    <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://udala.example.eus/acs" index="1"/>
  </SPSSODescriptor>
</EntityDescriptor>`

// explainRequest is an AuthnRequest of explainSP to the default base URL; requested is the
// RequestedAuthnContext element ("" for none).
func explainRequest(id, requested string) string {
	return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
		`" Version="2.0" IssueInstant="` + time.Now().UTC().Format(time.RFC3339) + `" Destination="http://127.0.0.1:8080/saml/sso">` +
		`<saml:Issuer>https://udala.example.eus/saml</saml:Issuer>` + requested + `</samlp:AuthnRequest>`
}

func minimumSubstantial() string {
	return `<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>http://eidas.europa.eu/LoA/substantial</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`
}

// explainData is a data directory holding only explainSP's metadata.
func explainData(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "sp-metadata"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "sp-metadata", "udala.xml"), []byte(explainSP), 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExplainCommand: `atea explain FILE` names the SP, the level asked for and the methods
// that reach it, and the verdict; it writes nothing into the data directory.
func TestExplainCommand(t *testing.T) {
	t.Parallel()
	data := explainData(t)
	noCard := writeFile(t, "atea.yaml", "secondFactors:\n  coordCard:\n    enabled: false\n  sms:\n    enabled: false\n")
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    []string
		notWant []string
	}{
		{
			name: "substantial with the default factors",
			args: []string{writeFile(t, "req.xml", explainRequest("_a1", minimumSubstantial()))},
			want: []string{"https://udala.example.eus/saml", "Town hall services", "minimum",
				"http://eidas.europa.eu/LoA/substantial", "eIDAS LoA URI", "password+coordcard", "password+smsotp",
				"https://udala.example.eus/acs", "offered"},
			notWant: []string{"NoAuthnContext"},
		},
		{
			name: "substantial without factors",
			args: []string{"--config", noCard, writeFile(t, "req.xml", explainRequest("_a2", minimumSubstantial()))},
			want: []string{"Town hall services", "substantial", "password", "Responder/NoAuthnContext"},
		},
		{
			name:  "no level requested, from stdin",
			args:  []string{"-"},
			stdin: explainRequest("_a3", ""),
			want:  []string{"the SP's default level low", "B@k: DNI/NIE + password", "qualifies", "offered"},
		},
		{
			name: "unknown SP, inline",
			args: []string{strings.ReplaceAll(explainRequest("_a4", ""), "udala.example.eus", "stranger.test")},
			want: []string{"https://stranger.test/saml", "unknown SP", "error.unknownsp"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runCLI(t, tt.stdin, append([]string{"explain", "--data", data}, tt.args...)...)
			if err != nil {
				t.Fatalf("atea explain: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	entries, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("data directory holds %d entries after explain, want only sp-metadata", len(entries))
	}
}

// TestExplainCommandJSON: --json prints the explanation as JSON.
func TestExplainCommandJSON(t *testing.T) {
	t.Parallel()
	data := explainData(t)
	out, err := runCLI(t, "", "explain", "--data", data, "--json", writeFile(t, "req.xml", explainRequest("_j1", minimumSubstantial())))
	if err != nil {
		t.Fatal(err)
	}
	var ex idp.Explanation
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if ex.SP.DisplayName != "Town hall services" || !ex.Verdict.SignIn || len(ex.Acceptable) != 2 || ex.Acceptable[0].Level != "substantial" {
		t.Errorf("explanation = %+v", ex)
	}
}

// TestExplainCommandErrors: --help documents the command; bad input and bad usage are errors.
func TestExplainCommandErrors(t *testing.T) {
	t.Parallel()
	data := explainData(t)
	out, err := runCLI(t, "", "explain", "--help")
	if err != nil || !strings.Contains(out, "usage: atea explain") || !strings.Contains(out, "-json") {
		t.Errorf("explain --help = %q, %v", out, err)
	}
	var ue usageError
	if _, err := runCLI(t, "", "explain", "--data", data); !errors.As(err, &ue) {
		t.Errorf("explain without a request: %v, want a usage error", err)
	}
	if _, err := runCLI(t, "", "explain", "--data", data, "no/such/file.xml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("explain of a missing file: %v, want not-exist", err)
	}
	_, err = runCLI(t, "", "explain", "--data", data, writeFile(t, "junk.txt", "this is not a request"))
	if !errors.Is(err, idp.ErrUndecodable) {
		t.Errorf("explain of junk: %v, want ErrUndecodable", err)
	}
	if usage, _ := runCLI(t, "", "--help"); !strings.Contains(usage, "atea explain") {
		t.Errorf("usage does not list explain:\n%s", usage)
	}
}

// TestExplainFactorsMatchServe: the factors explain describes are the ones serve builds, in
// the same order and at the same levels.
func TestExplainFactorsMatchServe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		update func(*config.Config)
	}{
		{"default", nil},
		{"sms first", func(c *config.Config) { c.Factors.Order = []string{"smsotp", "coordcard"} }},
		{"card off", func(c *config.Config) { c.Factors.CoordCard.Enabled = false }},
		{"both off", func(c *config.Config) { c.Factors.CoordCard.Enabled, c.Factors.SMS.Enabled = false, false }},
		{"level low", func(c *config.Config) { c.Factors.Level = "low" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			if tt.update != nil {
				tt.update(cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			secrets, err := keys.LoadOrCreateSecrets(cfg.SecretFile())
			if err != nil {
				t.Fatal(err)
			}
			cfg.Directory.Argon2.MemoryKiB, cfg.Directory.Argon2.Time = 64, 1
			dir, err := openDirectory(cfg, secrets, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = dir.Close() })
			real, _, err := buildFactors(cfg, secrets, dir, memstore.New(time.Now), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			described, err := explainFactors(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(described) != len(real) {
				t.Fatalf("explain describes %d factors, serve builds %d", len(described), len(real))
			}
			for i := range real {
				if described[i].ID() != real[i].ID() || described[i].Level() != real[i].Level() {
					t.Errorf("factor %d: explain %s at %s, serve %s at %s", i, described[i].ID(), described[i].Level(), real[i].ID(), real[i].Level())
				}
			}
		})
	}
}
