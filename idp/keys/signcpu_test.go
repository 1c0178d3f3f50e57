package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"sync"
	"testing"
	"time"
)

// TestSignCPU: signatures through the wrapper are counted with a plausible CPU time each
// (an RSA-2048 signature costs some hundreds of microseconds, never nothing and never
// seconds), concurrent use adds up, and the wrapped signer's signatures verify.
func TestSignCPU(t *testing.T) {
	t.Parallel()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var c SignCPU
	s := c.Wrap(k)
	if s.Public().(*rsa.PublicKey).N.Cmp(k.N) != 0 {
		t.Fatal("Public is not the wrapped key's")
	}
	d := sha256.Sum256([]byte("atea"))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
				if err != nil {
					t.Error(err)
					return
				}
				if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, d[:], sig); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	n, cpu := c.Totals()
	if n != 20 {
		t.Fatalf("counted %d signatures, want 20", n)
	}
	if per := cpu / time.Duration(n); per < 20*time.Microsecond || per > time.Second {
		t.Errorf("CPU per RSA-2048 signature %v: not plausible", per)
	}
}
