package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadOrCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		alg  string
		bits int
	}{{RSA2048, 2048}, {ECDSAP256, 256}} {
		t.Run(tc.alg, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			kf, cf := filepath.Join(dir, "k", "signing.key"), filepath.Join(dir, "k", "signing.crt")
			k1, created, err := LoadOrCreate(kf, cf, tc.alg, "idp", time.Now())
			if err != nil || !created {
				t.Fatalf("first LoadOrCreate = %v, created %v", err, created)
			}
			switch pk := k1.Signer.Public().(type) {
			case *rsa.PublicKey:
				if pk.N.BitLen() != tc.bits {
					t.Errorf("RSA bits = %d, want %d", pk.N.BitLen(), tc.bits)
				}
			case *ecdsa.PublicKey:
				if pk.Curve.Params().BitSize != tc.bits {
					t.Errorf("EC bits = %d, want %d", pk.Curve.Params().BitSize, tc.bits)
				}
			}
			k2, created, err := LoadOrCreate(kf, cf, tc.alg, "idp", time.Now())
			if err != nil || created {
				t.Fatalf("second LoadOrCreate = %v, created %v; want reuse", err, created)
			}
			if !bytes.Equal(k1.Cert.Raw, k2.Cert.Raw) {
				t.Error("certificate changed between starts")
			}
			st, _ := os.Stat(kf)
			if st.Mode().Perm() != 0o600 {
				t.Errorf("key mode = %v, want 0600", st.Mode().Perm())
			}
		})
	}
}

func TestLoadOrCreateHalfPresent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kf, cf := filepath.Join(dir, "signing.key"), filepath.Join(dir, "signing.crt")
	if _, _, err := LoadOrCreate(kf, cf, RSA2048, "idp", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(cf); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(kf, cf, RSA2048, "idp", time.Now()); err == nil {
		t.Fatal("a key without its certificate must be an error, not a silent new key")
	}
	if _, _, err := LoadOrCreate(filepath.Join(dir, "a"), filepath.Join(dir, "b"), "dsa", "idp", time.Now()); err == nil {
		t.Fatal("unknown algorithm accepted")
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "secrets.key")
	s1, err := LoadOrCreateSecrets(p)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := LoadOrCreateSecrets(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1.Pairwise, s2.Pairwise) {
		t.Error("secrets not stable across loads")
	}
	if bytes.Equal(s1.CSRF, s1.Pairwise) || bytes.Equal(s1.Store, s1.Browser) {
		t.Error("purpose keys must differ")
	}
}
