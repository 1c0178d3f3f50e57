package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

// shibbolethSP is Shibboleth SP 3 from Debian (libapache2-mod-shib): shibd and Apache 2.4
// with mod_shib, each a foreground process with the configuration of .ci/interop/shibboleth
// rendered into the suite's work directory. Shibboleth sends no NameID format, so Atea's
// per-SP setting picks emailAddress; it drops attributes its attribute map does not list.
func shibbolethSP(name string, port, shibdPort int) *spStack {
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &spStack{
		name:     name,
		entityID: base + "/shibboleth",
		// Encrypted assertions (AES-256-GCM, RSA-OAEP): Shibboleth decrypts what is offered.
		settings:  "    nameIDFormat: email\n    encryptAssertions: true\n",
		protected: base + "/protected",
		logoutURL: base + "/Shibboleth.sso/Logout",
		level:     levelLow,
		nameID:    expectValue(citizenEmail),
	}
	s.start = func(ctx context.Context, e *env) ([]byte, error) {
		shibdBin, apacheBin := sbin("shibd"), sbin("apache2")
		for _, bin := range []string{shibdBin, apacheBin} {
			if _, err := exec.LookPath(bin); err != nil {
				return nil, fmt.Errorf("%s is not installed (.ci/interop/run.sh installs apache2 and libapache2-mod-shib): %w", bin, err)
			}
		}
		if _, err := os.Stat("/usr/lib/apache2/modules/mod_shib.so"); err != nil {
			return nil, fmt.Errorf("mod_shib is not installed: %w", err)
		}
		// Apache's child runs as www-data (Apache refuses to serve as root): it must read the
		// configuration, the templates and the CGI in the work directory.
		for _, d := range []string{filepath.Dir(e.dir), e.dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				return nil, err
			}
		}
		for _, d := range []string{"run", "htdocs"} {
			if err := os.MkdirAll(filepath.Join(e.dir, d), 0o755); err != nil {
				return nil, err
			}
		}
		if _, _, err := spKeyPair(filepath.Join(e.dir, "sp.key"), filepath.Join(e.dir, "sp.crt"), name); err != nil {
			return nil, err
		}
		// A throw-away key; mod_shib in Apache's www-data child loads the same configuration.
		if err := os.Chmod(filepath.Join(e.dir, "sp.key"), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(e.dir, "atea-idp.xml"), e.atea.metadata, 0o644); err != nil {
			return nil, err
		}
		vars := map[string]any{
			"Dir": e.dir, "Port": port, "ShibdPort": shibdPort,
			"EntityID": s.entityID, "IdPEntityID": e.atea.ed.EntityID,
		}
		if err := renderDir(filepath.Join(e.support, "shibboleth"), e.dir, vars); err != nil {
			return nil, err
		}
		shibd, err := startShibd(ctx, e, shibdBin)
		if err != nil {
			return nil, err
		}
		apache, err := e.ps.start("apache2", exec.Command(apacheBin, "-X", "-f", filepath.Join(e.dir, "apache2.conf")))
		if err != nil {
			return nil, err
		}
		md := base + "/Shibboleth.sso/Metadata"
		if err := waitHTTP(ctx, md, apache); err != nil {
			return nil, fmt.Errorf("%w (shibd: %s)", err, tail(filepath.Join(e.dir, "shibd-log.txt"), 300))
		}
		b, err := get(ctx, md)
		if err != nil {
			return nil, fmt.Errorf("%w (shibd: %v)", err, shibd.exited())
		}
		return b, nil
	}
	return s
}

// renderDir renders every file of src as a text/template into dst, keeping its mode.
func renderDir(src, dst string, vars map[string]any) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if ent.IsDir() {
			continue
		}
		info, err := ent.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(src, ent.Name()))
		if err != nil {
			return err
		}
		t, err := template.New(ent.Name()).Option("missingkey=error").Parse(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", ent.Name(), err)
		}
		var out strings.Builder
		if err := t.Execute(&out, vars); err != nil {
			return fmt.Errorf("%s: %w", ent.Name(), err)
		}
		if err := os.WriteFile(filepath.Join(dst, ent.Name()), []byte(out.String()), info.Mode().Perm()|0o444); err != nil {
			return err
		}
	}
	return nil
}

// sbin finds a daemon on PATH or in /usr/sbin (not on every user's PATH).
func sbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join("/usr/sbin", name)
}

// startShibd starts shibd in the foreground and waits until its log says the listener is up.
// It does not probe the listener: a connection opened and closed while shibd 3.4.1 is still
// starting crashed it now and then ("malloc(): unsorted double linked list corrupted"). A
// shibd that dies while starting is started once more.
func startShibd(ctx context.Context, e *env, bin string) (*proc, error) {
	logFile := filepath.Join(e.dir, "shibd-log.txt")
	var lastErr error
	for attempt := 1; attempt <= 2; attempt++ {
		_ = os.Remove(logFile)
		cmd := exec.Command(bin, "-F", "-f",
			"-c", filepath.Join(e.dir, "shibboleth2.xml"), "-p", filepath.Join(e.dir, "shibd.pid"))
		// From its first line on, shibd logs where the suite says, not to /var/log/shibboleth.
		cmd.Env = append(os.Environ(), "SHIBSP_LOGGING="+filepath.Join(e.dir, "shibd.logger"))
		pr, err := e.ps.start(fmt.Sprintf("shibd-%d", attempt), cmd)
		if err != nil {
			return nil, err
		}
		for lastErr = nil; lastErr == nil; {
			b, _ := os.ReadFile(logFile)
			if strings.Contains(string(b), "listener service starting") {
				// Give it a moment past the message before mod_shib connects.
				select {
				case <-time.After(300 * time.Millisecond):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				if lastErr = pr.exited(); lastErr == nil {
					return pr, nil
				}
				break
			}
			lastErr = pr.exited()
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("shibd did not start: %w (%s)", ctx.Err(), tail(logFile, 300))
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil, lastErr
}
