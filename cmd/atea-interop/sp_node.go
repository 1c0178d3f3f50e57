package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/crewjam/saml"
)

// nodeSP is @node-saml/node-saml in the small node server of .ci/interop/node/server.js. It
// asks for an emailAddress NameID and PasswordProtectedTransport (its defaults), signs its
// requests, and wants both Response and Assertion signed. node-saml has no IdP-metadata
// parser (INTEROP.md): the suite hands it Atea's URLs and certificates from the metadata.
func nodeSP(name string, port int) *spStack {
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &spStack{
		name:      name,
		entityID:  base + "/metadata",
		protected: base + "/protected",
		logoutURL: base + "/logout",
		// It asks PasswordProtectedTransport with Comparison exact, so the assertion must
		// state that class (saml.classMapping maps it to low), not the eIDAS URI.
		level:  "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
		nameID: expectValue(citizenEmail),
		// Encrypted assertions (AES-256-GCM): node-saml decrypts with decryptionPvk.
		settings:  "    encryptAssertions: true\n",
		encrypted: true,
	}
	s.start = func(ctx context.Context, e *env) ([]byte, error) {
		dir := filepath.Join(e.support, "node")
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "@node-saml", "node-saml")); err != nil {
			// run.sh installs it; a direct `go run` does it here, from the lockfile.
			cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("npm ci in %s: %w: %s", dir, err, clip(string(b), 300))
			}
		}
		_, _, err := spKeyPair(filepath.Join(e.dir, "sp.key"), filepath.Join(e.dir, "sp.crt"), name)
		if err != nil {
			return nil, err
		}
		keyPEM, err := os.ReadFile(filepath.Join(e.dir, "sp.key"))
		if err != nil {
			return nil, err
		}
		certPEM, err := os.ReadFile(filepath.Join(e.dir, "sp.crt"))
		if err != nil {
			return nil, err
		}
		cfg := map[string]any{
			"port": port, "base": base, "entityID": s.entityID,
			"idpEntityID": e.atea.ed.EntityID,
			"idpSSO":      e.atea.ssoURL(saml.HTTPRedirectBinding),
			"idpSLO":      e.atea.sloURL(saml.HTTPRedirectBinding),
			"idpCerts":    e.atea.signingCertsPEM(),
			"keyPEM":      string(keyPEM), "certPEM": string(certPEM),
			"cookieName": "nodesp_session",
		}
		b, _ := json.MarshalIndent(cfg, "", "  ")
		cfgPath := filepath.Join(e.dir, "config.json")
		if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
			return nil, err
		}
		cmd := exec.Command("node", filepath.Join(dir, "server.js"), cfgPath)
		cmd.Dir = dir
		pr, err := e.ps.start(name, cmd)
		if err != nil {
			return nil, err
		}
		if err := waitHTTP(ctx, base+"/metadata", pr); err != nil {
			return nil, err
		}
		md, err := get(ctx, base+"/metadata")
		if err != nil {
			return nil, err
		}
		if !strings.Contains(string(md), "EntityDescriptor") {
			return nil, fmt.Errorf("node SP metadata: %.200s", md)
		}
		return md, nil
	}
	return s
}
