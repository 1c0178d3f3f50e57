package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/crewjam/saml"
)

// The demo citizen `atea serve` creates when demo.enabled is true (cmd/atea/user.go): a B@kQ
// holder with a mobile number, so an SP asking for substantial gets the SMS step.
const (
	citizenDNI      = "12345678Z"
	citizenPassFile = "demo-citizen.txt"
)

// The values the demo citizen's assertion must carry, as every SP page should show them.
var citizenAttributes = []string{"ES/ES/" + citizenDNI, "Ane", "Etxeberria Goñi", "1990-05-17"}

const citizenEmail = "ane.etxeberria@example.eus"

// atea is one running `atea serve` with a private data directory.
type atea struct {
	base     string // http://127.0.0.1:PORT
	data     string
	password string
	metadata []byte // Atea's IdP metadata as served
	ed       *saml.EntityDescriptor
	proc     *proc
}

// buildAtea compiles ./cmd/atea into dir unless the caller named a binary.
func buildAtea(ctx context.Context, dir, binary string) (string, error) {
	if binary != "" {
		return filepath.Abs(binary)
	}
	out := filepath.Join(dir, "atea")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/atea")
	cmd.Env = os.Environ()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/atea: %w: %s", err, b)
	}
	return out, nil
}

// startAtea writes a config for 127.0.0.1:port (the SPs' settings under serviceProviders)
// and runs `atea serve` until /healthz answers, then reads its IdP metadata.
func startAtea(ctx context.Context, ps *procs, binary, dir string, port int, spSettings []string) (*atea, error) {
	a := &atea{base: fmt.Sprintf("http://127.0.0.1:%d", port), data: filepath.Join(dir, "atea-data")}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "listen: 127.0.0.1:%d\nbaseURL: %s\ndataDir: %s\n", port, a.base, a.data)
	// A short poll interval: the suite writes SP metadata after Atea starts and waits for it.
	cfg.WriteString("spMetadata:\n  pollInterval: 500ms\nlog:\n  level: warn\n")
	// The card comes first in secondFactors.order; the demo citizen has none, so the SMS
	// code is asked. Say so explicitly: the step-up check reads the code from the outbox.
	cfg.WriteString("secondFactors:\n  order: [smsotp, coordcard]\n")
	// LogoutRequests over SOAP too (the pysaml2-soap stack); the metadata then offers SOAP,
	// which the other stacks must leave alone for the front channel.
	cfg.WriteString("saml:\n  soapLogout: true\n")
	if len(spSettings) > 0 {
		cfg.WriteString("serviceProviders:\n")
		for _, s := range spSettings {
			cfg.WriteString(s)
		}
	}
	cfgPath := filepath.Join(dir, "atea.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return nil, err
	}
	check := exec.CommandContext(ctx, binary, "check-config", "--config", cfgPath)
	if b, err := check.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("atea check-config: %w: %s", err, b)
	}
	pr, err := ps.start("atea", exec.Command(binary, "serve", "--config", cfgPath))
	if err != nil {
		return nil, err
	}
	a.proc = pr
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := waitHTTP(wctx, a.base+"/healthz", pr); err != nil {
		return nil, err
	}
	pw, err := os.ReadFile(filepath.Join(a.data, citizenPassFile))
	if err != nil {
		return nil, fmt.Errorf("demo citizen password: %w", err)
	}
	a.password = strings.TrimSpace(string(pw))
	if a.metadata, err = get(ctx, a.base+"/saml/metadata"); err != nil {
		return nil, err
	}
	a.ed = &saml.EntityDescriptor{}
	if err := xml.Unmarshal(a.metadata, a.ed); err != nil {
		return nil, fmt.Errorf("atea metadata: %w", err)
	}
	if len(a.ed.IDPSSODescriptors) == 0 {
		return nil, errors.New("atea metadata has no IDPSSODescriptor")
	}
	return a, nil
}

// ssoURL is Atea's SingleSignOnService location for binding.
func (a *atea) ssoURL(binding string) string {
	for _, s := range a.ed.IDPSSODescriptors[0].SingleSignOnServices {
		if s.Binding == binding {
			return s.Location
		}
	}
	return ""
}

// sloURL is Atea's SingleLogoutService location for binding, "" when it advertises none.
func (a *atea) sloURL(binding string) string {
	for _, s := range a.ed.IDPSSODescriptors[0].SingleLogoutServices {
		if s.Binding == binding {
			return s.Location
		}
	}
	return ""
}

// signingCertsPEM are Atea's signing certificates from its metadata, as PEM.
func (a *atea) signingCertsPEM() []string {
	var out []string
	for _, kd := range a.ed.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" {
			continue
		}
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			body := strings.Join(strings.Fields(c.Data), "")
			var b strings.Builder
			b.WriteString("-----BEGIN CERTIFICATE-----\n")
			for len(body) > 64 {
				b.WriteString(body[:64] + "\n")
				body = body[64:]
			}
			b.WriteString(body + "\n-----END CERTIFICATE-----\n")
			out = append(out, b.String())
		}
	}
	return out
}

// register drops an SP's metadata into Atea's SP-metadata directory (README "Registering a
// service provider"); Atea picks it up within spMetadata.pollInterval.
func (a *atea) register(name string, md []byte) error {
	dir := filepath.Join(a.data, "sp-metadata")
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, md, 0o644); err != nil {
		return err
	}
	// Rename: the poller never sees a half-written file.
	return os.Rename(tmp, filepath.Join(dir, name+".xml"))
}

// smsCode waits for the newest SMS in the outbox that starts with prefix (the digits the SMS
// page shows) and returns the rest of it, which the citizen types.
func (a *atea) smsCode(ctx context.Context, prefix string) (string, error) {
	for {
		b, _ := os.ReadFile(filepath.Join(a.data, "outbox.txt"))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for i := len(lines) - 1; i >= 0 && prefix != ""; i-- {
			for _, w := range strings.FieldsFunc(lines[i], func(r rune) bool { return r < '0' || r > '9' }) {
				if len(w) >= 6 && strings.HasPrefix(w, prefix) {
					return w[len(prefix):], nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no SMS code starting with %q in the outbox: %w", prefix, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// get fetches url on loopback and returns the body of a 200 answer.
func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, b)
	}
	return b, nil
}
