package keys

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ringClock is a settable clock for the ring tests.
type ringClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *ringClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *ringClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testRing(t *testing.T) (RingOptions, *ringClock) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	clk := &ringClock{t: time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)}
	// ECDSA signing keys keep the tests fast; the encryption key is RSA regardless.
	return RingOptions{Dir: dir, LegacyKeyFile: filepath.Join(dir, "signing.key"), LegacyCertFile: filepath.Join(dir, "signing.crt"),
		Algorithm: ECDSAP256, CommonName: "ring test", Now: clk.Now}, clk
}

func fingerprints(certs []*x509.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, Fingerprint(c))
	}
	return out
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

func TestOpenRingFirstStart(t *testing.T) {
	t.Parallel()
	o, clk := testRing(t)
	r, err := OpenRing(o)
	if err != nil {
		t.Fatalf("OpenRing() = %v", err)
	}
	if got := r.Generated; len(got) != 2 || got[0] != RoleCurrent || got[1] != RoleEncryption {
		t.Errorf("Generated = %v, want [current encryption]", got)
	}
	if r.Next != nil || r.Previous != nil {
		t.Error("a fresh ring has a next or previous key")
	}
	if _, ok := r.Encryption.Signer.(*rsa.PrivateKey); !ok {
		t.Errorf("encryption key is %T, want RSA even with ECDSA signing keys", r.Encryption.Signer)
	}
	if r.Encryption.Cert.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Error("encryption certificate lacks keyEncipherment")
	}
	if len(r.EncryptionKeys()) != 1 || len(r.EncryptionCerts()) != 1 {
		t.Error("EncryptionKeys/EncryptionCerts not one each")
	}
	if _, err := os.Stat(filepath.Join(o.Dir, StateFile)); err != nil {
		t.Errorf("state file not written: %v", err)
	}
	if _, err := os.Stat(o.LegacyKeyFile); err != nil {
		t.Errorf("current key not at the single-key path: %v", err)
	}
	again, err := OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Generated) != 0 || again.Current.Fingerprint() != r.Current.Fingerprint() || again.Encryption.Fingerprint() != r.Encryption.Fingerprint() {
		t.Error("reopening the ring generated or changed keys")
	}
	if got := fingerprints(again.SigningCerts(clk.Now())); !equalStrings(got, []string{r.Current.Fingerprint()}) {
		t.Errorf("SigningCerts = %v, want the current one only", got)
	}
}

// An installation from before the ring keeps its key: it becomes current.
func TestOpenRingAdoptsSingleKey(t *testing.T) {
	t.Parallel()
	o, clk := testRing(t)
	old, created, err := LoadOrCreate(o.LegacyKeyFile, o.LegacyCertFile, RSA2048, "old", clk.Now())
	if err != nil || !created {
		t.Fatal(err)
	}
	r, err := OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Current.Fingerprint() != Fingerprint(old.Cert) {
		t.Error("the existing single key is not the ring's current key")
	}
	if len(r.Generated) != 1 || r.Generated[0] != RoleEncryption {
		t.Errorf("Generated = %v, want [encryption]", r.Generated)
	}
	if r.Current.Algorithm() != "RSA-2048" {
		t.Errorf("Algorithm() = %q, want RSA-2048", r.Current.Algorithm())
	}
}

func TestRingGenerateAndRollover(t *testing.T) {
	t.Parallel()
	o, clk := testRing(t)
	first, err := OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Rollover(o, time.Hour, false); !errors.Is(err, ErrNoNextKey) {
		t.Fatalf("Rollover() without a next key = %v, want ErrNoNextKey", err)
	}

	r, err := GenerateNext(o, false)
	if err != nil {
		t.Fatalf("GenerateNext() = %v", err)
	}
	next := r.Next.Fingerprint()
	if r.Current.Fingerprint() != first.Current.Fingerprint() {
		t.Error("GenerateNext changed the current key")
	}
	if got := fingerprints(r.SigningCerts(clk.Now())); !equalStrings(got, []string{first.Current.Fingerprint(), next}) {
		t.Errorf("SigningCerts after generate = %v, want current then next", got)
	}
	if _, err := GenerateNext(o, false); !errors.Is(err, ErrNextExists) {
		t.Errorf("second GenerateNext() = %v, want ErrNextExists", err)
	}
	forced, err := GenerateNext(o, true)
	if err != nil || forced.Next.Fingerprint() == next {
		t.Fatalf("GenerateNext(force) = %v; next unchanged: %v", err, forced.Next.Fingerprint() == next)
	}
	next = forced.Next.Fingerprint()

	clk.Advance(time.Minute)
	rolled, err := Rollover(o, 24*time.Hour, false)
	if err != nil {
		t.Fatalf("Rollover() = %v", err)
	}
	if rolled.Current.Fingerprint() != next || rolled.Next != nil {
		t.Error("Rollover did not make the next key current")
	}
	if rolled.Previous == nil || rolled.Previous.Fingerprint() != first.Current.Fingerprint() {
		t.Fatal("Rollover did not keep the old current key as previous")
	}
	if want := clk.Now().Add(24 * time.Hour); !rolled.Previous.RetireAfter.Equal(want) {
		t.Errorf("RetireAfter = %v, want %v", rolled.Previous.RetireAfter, want)
	}
	// Persisted: a fresh read sees the same ring.
	reread, err := OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	if reread.Current.Fingerprint() != next || reread.Previous == nil || !reread.Previous.RetireAfter.Equal(rolled.Previous.RetireAfter) {
		t.Error("the rollover was not persisted")
	}
	if got := fingerprints(reread.SigningCerts(clk.Now())); !equalStrings(got, []string{next, first.Current.Fingerprint()}) {
		t.Errorf("SigningCerts after rollover = %v, want current then previous", got)
	}

	// A second rollover inside the grace period would withdraw the previous key early.
	if _, err := GenerateNext(o, false); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollover(o, 24*time.Hour, false); !errors.Is(err, ErrPreviousPublished) {
		t.Errorf("Rollover() in the grace period = %v, want ErrPreviousPublished", err)
	}
	clk.Advance(24 * time.Hour)
	if got := fingerprints(reread.SigningCerts(clk.Now())); !equalStrings(got, []string{next}) {
		t.Errorf("SigningCerts after the grace period = %v, want the current one only", got)
	}
	third, err := Rollover(o, 24*time.Hour, false)
	if err != nil {
		t.Fatalf("Rollover() after the grace period = %v", err)
	}
	if third.Previous.Fingerprint() != next {
		t.Error("previous is not the key the second rollover replaced")
	}
	// No temporary state files are left behind.
	tmps, _ := filepath.Glob(filepath.Join(o.Dir, StateFile+".tmp-*"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
}

func TestRingForcedRolloverInGrace(t *testing.T) {
	t.Parallel()
	o, _ := testRing(t)
	for range 2 {
		if _, err := GenerateNext(o, false); err != nil {
			t.Fatal(err)
		}
		if _, err := Rollover(o, time.Hour, true); err != nil {
			t.Fatalf("Rollover(force) = %v", err)
		}
	}
}

func TestRingBadState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, o RingOptions)
	}{
		{"swapped certificate", func(t *testing.T, o RingOptions) {
			other := filepath.Join(t.TempDir(), "x")
			if _, _, err := LoadOrCreate(other+".key", other+".crt", ECDSAP256, "x", time.Now()); err != nil {
				t.Fatal(err)
			}
			copyFile(t, other+".key", o.LegacyKeyFile)
			copyFile(t, other+".crt", o.LegacyCertFile)
		}},
		{"garbage", func(t *testing.T, o RingOptions) { writeFile(t, filepath.Join(o.Dir, StateFile), "{not json") }},
		{"unknown field", func(t *testing.T, o RingOptions) {
			writeFile(t, filepath.Join(o.Dir, StateFile), `{"version":1,"surprise":true}`)
		}},
		{"future version", func(t *testing.T, o RingOptions) {
			b, _ := os.ReadFile(filepath.Join(o.Dir, StateFile))
			writeFile(t, filepath.Join(o.Dir, StateFile), strings.Replace(string(b), `"version": 1`, `"version": 2`, 1))
		}},
		{"missing key file", func(t *testing.T, o RingOptions) { _ = os.Remove(o.LegacyKeyFile) }},
		// Both files gone must not look like a first start: that would silently replace
		// the key SPs trust.
		{"missing current key and certificate", func(t *testing.T, o RingOptions) {
			_ = os.Remove(o.LegacyKeyFile)
			_ = os.Remove(o.LegacyCertFile)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, _ := testRing(t)
			if _, err := OpenRing(o); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, o)
			if _, err := OpenRing(o); !errors.Is(err, ErrState) {
				t.Errorf("OpenRing() = %v, want ErrState", err)
			}
			if _, err := Rollover(o, time.Hour, false); !errors.Is(err, ErrState) {
				t.Errorf("Rollover() = %v, want ErrState", err)
			}
		})
	}
}

// A crash while writing the state leaves at most a temporary file, which is ignored; a crash
// after a key was generated but before the state was replaced leaves an unused key file.
func TestRingCrashLeftovers(t *testing.T) {
	t.Parallel()
	o, _ := testRing(t)
	r, err := OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(o.Dir, StateFile+".tmp-123"), `{"version":1,"current":{"key":"half`)
	if _, _, err := LoadOrCreate(filepath.Join(o.Dir, "signing-orphan.key"), filepath.Join(o.Dir, "signing-orphan.crt"), ECDSAP256, "x", time.Now()); err != nil {
		t.Fatal(err)
	}
	again, err := OpenRing(o)
	if err != nil || again.Current.Fingerprint() != r.Current.Fingerprint() || again.Next != nil {
		t.Errorf("OpenRing() after a crash = %v; the ring changed", err)
	}
}

// The lock serialises concurrent changes: of two GenerateNext calls exactly one wins.
func TestRingConcurrentGenerate(t *testing.T) {
	t.Parallel()
	o, _ := testRing(t)
	if _, err := OpenRing(o); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = GenerateNext(o, false) })
	}
	wg.Wait()
	ok, exists := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrNextExists):
			exists++
		default:
			t.Errorf("GenerateNext() = %v", err)
		}
	}
	if ok != 1 || exists != len(errs)-1 {
		t.Errorf("%d succeeded and %d got ErrNextExists, want 1 and %d", ok, exists, len(errs)-1)
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	o, _ := testRing(t)
	r, err := OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	fp := r.Current.Fingerprint()
	if len(fp) != 32*3-1 || strings.ToUpper(fp) != fp || strings.Count(fp, ":") != 31 {
		t.Errorf("Fingerprint() = %q, want 32 colon-separated upper-case hex bytes", fp)
	}
	if r.Current.Algorithm() != "ECDSA-P256" {
		t.Errorf("Algorithm() = %q, want ECDSA-P256", r.Current.Algorithm())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, string(b))
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
