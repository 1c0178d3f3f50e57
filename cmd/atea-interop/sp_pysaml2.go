package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// pysaml2SP is Debian's python3-pysaml2 (with xmlsec1) in the small http.server app of
// .ci/interop/pysaml2/sp.py: it reads Atea's metadata file, asks for an emailAddress NameID,
// signs its requests with RSA-SHA256 and requires a signed Response. sloBinding is "front"
// (logout through the browser) or "soap" (pysaml2 posts a signed LogoutRequest to Atea over
// the back channel and reads the signed LogoutResponse; Atea's saml.soapLogout).
func pysaml2SP(name string, port int, sloBinding string) *spStack {
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &spStack{
		name:      name,
		entityID:  base + "/metadata",
		protected: base + "/protected",
		logoutURL: base + "/logout",
		level:     levelLow,
		nameID:    expectValue(citizenEmail),
	}
	s.start = func(ctx context.Context, e *env) ([]byte, error) {
		if _, err := os.Stat("/usr/lib/python3/dist-packages/saml2"); err != nil {
			return nil, fmt.Errorf("python3-pysaml2 is not installed (.ci/interop/run.sh installs it): %w", err)
		}
		if _, err := exec.LookPath("xmlsec1"); err != nil {
			return nil, fmt.Errorf("xmlsec1 is not installed: %w", err)
		}
		keyPath, certPath := filepath.Join(e.dir, "sp.key"), filepath.Join(e.dir, "sp.crt")
		if _, _, err := spKeyPair(keyPath, certPath, name); err != nil {
			return nil, err
		}
		mdPath := filepath.Join(e.dir, "atea-idp.xml")
		if err := os.WriteFile(mdPath, e.atea.metadata, 0o644); err != nil {
			return nil, err
		}
		// Debian's python, not whatever python3 comes first on PATH (pyenv and the like).
		cmd := exec.Command("/usr/bin/python3", filepath.Join(e.support, "pysaml2", "sp.py"),
			"--port", strconv.Itoa(port), "--idp-metadata", mdPath, "--key", keyPath, "--cert", certPath,
			"--slo-binding", sloBinding)
		cmd.Dir = e.dir
		pr, err := e.ps.start(name, cmd)
		if err != nil {
			return nil, err
		}
		if err := waitHTTP(ctx, base+"/metadata", pr); err != nil {
			return nil, err
		}
		return get(ctx, base+"/metadata")
	}
	return s
}
