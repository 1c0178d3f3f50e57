package certauth_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/authn/certauth"
	"github.com/ateaidp/atea/idp/dni"
)

func TestParseSerial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"IDCES-48151623L", "48151623L", false},
		{"48151623L", "48151623L", false},
		{"IDCES-X1234567L", "X1234567L", false},
		{"idces-48151623l", "48151623L", false},
		{"IDCES-1234567L", "01234567L", false},
		{"", "", true},
		{"IDCES-", "", true},
		{"IDCES-48151623A", "", true}, // wrong check letter
		{"PASES-AB1234567", "", true},
		{"TINES-B12345678", "", true},
		{"IDCFR-48151623L", "", true}, // another country's identity card
		{"IDCES-IDCES-48151623L", "", true},
		{"hello world", "", true},
		{"48151623L\x00", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := certauth.ParseSerial(tt.in)
			if tt.wantErr {
				if !errors.Is(err, certauth.ErrNoDNI) {
					t.Fatalf("ParseSerial(%q) = %q, %v; want ErrNoDNI", tt.in, got, err)
				}
				if tt.in != "" && strings.Contains(err.Error(), tt.in) {
					t.Errorf("ParseSerial(%q) error %q contains the input", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseSerial(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseSerial(f *testing.F) {
	for _, s := range []string{
		"IDCES-48151623L", "48151623L", "IDCES-X1234567L", "IDCES-", "PASES-AB1234567",
		"idces-y1234567x", "IDCES-48.151.623-L", "IDCES-\u017f", strings.Repeat("9", 70),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := certauth.ParseSerial(s)
		if err != nil {
			if !errors.Is(err, certauth.ErrNoDNI) {
				t.Fatalf("ParseSerial(%q) error = %v, want it to wrap ErrNoDNI", s, err)
			}
			if got != "" {
				t.Fatalf("ParseSerial(%q) = %q with an error, want \"\"", s, got)
			}
			return
		}
		// Whatever is accepted is a canonical DNI/NIE, stable under a second parse.
		if again, err := dni.Parse(got); err != nil || again != got {
			t.Fatalf("ParseSerial(%q) = %q, not canonical (dni.Parse = %q, %v)", s, got, again, err)
		}
		if again, err := certauth.ParseSerial("IDCES-" + got); err != nil || again != got {
			t.Fatalf("ParseSerial(IDCES-%s) = %q, %v; want %q", got, again, err, got)
		}
	})
}

func TestLoadAnchors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	leaf, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	keyBlock := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	tests := []struct {
		name    string
		data    []byte
		want    int
		wantErr error // nil: any error; only checked when want == 0
	}{
		{"ok/pem-bundle", append(append([]byte("# bundle\n"), pemOf(f.root.cert)...), pemOf(f.sub.cert)...), 2, nil},
		{"ok/der", f.root.cert.Raw, 1, nil},
		{"fail/empty", nil, 0, certauth.ErrInvalidConfig},
		{"fail/key-block", append(pemOf(f.root.cert), keyBlock...), 0, certauth.ErrInvalidConfig},
		{"fail/leaf", pemOf(leaf), 0, certauth.ErrInvalidConfig},
		{"fail/garbage-der", []byte("not a certificate"), 0, certauth.ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := certauth.LoadAnchors(writeFile(t, "anchors.pem", tt.data))
			if tt.want == 0 {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("LoadAnchors() = %d certs, %v; want error %v", len(got), err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("LoadAnchors() = %d certs, %v; want %d, nil", len(got), err, tt.want)
			}
			if !got[0].Equal(f.root.cert) {
				t.Errorf("LoadAnchors()[0] = %s, want the root", got[0].Subject.CommonName)
			}
		})
	}
	t.Run("fail/missing", func(t *testing.T) {
		t.Parallel()
		_, err := certauth.LoadAnchors(filepath.Join(t.TempDir(), "nope.pem"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("LoadAnchors(missing) error = %v, want fs.ErrNotExist", err)
		}
	})
}

func TestLoadCRL(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	leaf, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	crl := f.sub.crl(t, testNow, testNow.Add(24*time.Hour), leaf)
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"ok/der", crl.Raw, false},
		{"ok/pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.Raw}), false},
		{"fail/certificate-pem", pemOf(f.sub.cert), true},
		{"fail/garbage", []byte("garbage"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := certauth.LoadCRL(writeFile(t, "ca.crl", tt.data))
			if tt.wantErr {
				if !errors.Is(err, certauth.ErrInvalidConfig) {
					t.Errorf("LoadCRL() error = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadCRL() error = %v, want nil", err)
			}
			if n := len(got.RevokedCertificateEntries); n != 1 || got.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Errorf("LoadCRL() revoked %d entries, want exactly the leaf", n)
			}
		})
	}
}

// TestLoadedFilesWork wires LoadAnchors and LoadCRL into New, as cmd/atea will.
func TestLoadedFilesWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	leaf, _ := f.sub.issue(t, leafOpts{serialNumbers: []string{"IDCES-48151623L"}})
	anchors, err := certauth.LoadAnchors(writeFile(t, "anchors.pem", pemOf(f.root.cert)))
	if err != nil {
		t.Fatalf("LoadAnchors: %v", err)
	}
	crl, err := certauth.LoadCRL(writeFile(t, "sub.crl", f.sub.crl(t, testNow, testNow.Add(time.Hour), leaf).Raw))
	if err != nil {
		t.Fatalf("LoadCRL: %v", err)
	}
	m := mustNew(t, certauth.Config{TrustAnchors: anchors, Intermediates: []*x509.Certificate{f.sub.cert}, CRLs: []*x509.RevocationList{crl}})
	if _, err := m.Authenticate(tlsRequest(leaf, f.sub.cert)); !errors.Is(err, certauth.ErrUntrusted) {
		t.Errorf("Authenticate(revoked) error = %v, want ErrUntrusted", err)
	}
}
