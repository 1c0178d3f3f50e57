package redistest

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteCerts checks that the generated server certificate verifies against the
// returned pool for the names clients dial (127.0.0.1, localhost) and for nothing else.
func TestWriteCerts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pool, err := writeCerts(dir, now)
	if err != nil {
		t.Fatalf("writeCerts error = %v, want nil", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "server.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("server.crt holds no PEM block")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"127.0.0.1", now, true},
		{"localhost", now, true},
		{"redis.internal", now, false},
		{"127.0.0.1", now.Add(certLifetime + time.Minute), false},
	} {
		_, err := cert.Verify(x509.VerifyOptions{DNSName: tc.name, Roots: pool, CurrentTime: tc.at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if got := err == nil; got != tc.ok {
			t.Errorf("Verify(%s at %v) error = %v, want ok %v", tc.name, tc.at, err, tc.ok)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "server.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("server.key mode = %v, %v, want 0600", fi, err)
	}
}

func TestMasterUp(t *testing.T) {
	t.Parallel()
	up := func() map[string]string {
		return map[string]string{"flags": "master", "ip": "127.0.0.1", "port": "7000",
			"role-reported": "master", "runid": "abc", "last-ok-ping-reply": "3"}
	}
	for _, tc := range []struct {
		name   string
		change func(m map[string]string)
		want   bool
	}{
		{"up", func(map[string]string) {}, true},
		{"subjectively down", func(m map[string]string) { m["flags"] = "s_down,master" }, false},
		{"no INFO yet", func(m map[string]string) { m["runid"] = "" }, false},
		{"stale ping", func(m map[string]string) { m["last-ok-ping-reply"] = "5000" }, false},
		{"other address", func(m map[string]string) { m["port"] = "7001" }, false},
		{"reports replica", func(m map[string]string) { m["role-reported"] = "slave" }, false},
		{"empty", func(m map[string]string) { clear(m) }, false},
	} {
		m := up()
		tc.change(m)
		if got := masterUp(m, "127.0.0.1:7000"); got != tc.want {
			t.Errorf("%s: masterUp() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
