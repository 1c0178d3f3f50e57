package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// fakeSetter records the key sets a watcher hands over; err makes it refuse them.
type fakeSetter struct {
	mu   sync.Mutex
	sets []idp.KeySet
	err  error
	got  chan struct{}
}

func newFakeSetter() *fakeSetter { return &fakeSetter{got: make(chan struct{}, 16)} }

func (f *fakeSetter) SetKeys(k idp.KeySet) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sets = append(f.sets, k)
	f.got <- struct{}{}
	return nil
}

func (f *fakeSetter) calls() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.sets) }

func (f *fakeSetter) last() idp.KeySet {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sets[len(f.sets)-1]
}

func (f *fakeSetter) refuse(err error) { f.mu.Lock(); defer f.mu.Unlock(); f.err = err }

// watchedRing makes a data directory with a key ring and the config pointing at it.
func watchedRing(t *testing.T) (*config.Config, keys.RingOptions) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	return cfg, ringOptions(cfg)
}

// TestKeyWatcher: two watchers on one ring (two instances sharing the data directory) both
// pick up generate and rollover; an unchanged ring is not handed over again; a corrupt state
// file or a refused key set is logged at ERROR once and the keys in use stay.
func TestKeyWatcher(t *testing.T) {
	t.Parallel()
	cfg, o := watchedRing(t)
	stamp, _ := stampRing(o.Dir)
	ring, err := keys.OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, b := newFakeSetter(), newFakeSetter()
	wa := newKeyWatcher(cfg, a, ring, stamp, nil, log)
	wb := newKeyWatcher(cfg, b, ring, stamp, nil, log)
	ctx := t.Context()
	// The state file was created after the stamp, but holds the keys already in use.
	if wa.check(ctx, false) || a.calls() != 0 {
		t.Fatal("a ring with the keys in use was handed over")
	}

	next, err := keys.GenerateNext(o, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*keyWatcher{wa, wb} {
		if !w.check(ctx, false) {
			t.Fatal("generate not picked up")
		}
	}
	for _, f := range []*fakeSetter{a, b} {
		ks := f.last()
		if !ks.Cert.Equal(ring.Current.Cert) || len(ks.SigningCerts) != 2 || !ks.SigningCerts[1].Equal(next.Next.Cert) {
			t.Fatalf("after generate the key set signs with %s and publishes %d keys, want current and next",
				keys.Fingerprint(ks.Cert), len(ks.SigningCerts))
		}
	}
	if wa.check(ctx, false) || a.calls() != 1 {
		t.Fatal("an unchanged ring was handed over again")
	}
	if strings.Contains(logs.String(), "BEGIN") || strings.Contains(logs.String(), "PRIVATE") {
		t.Fatal("key material in the log")
	}
	if !strings.Contains(logs.String(), next.Next.Fingerprint()) {
		t.Errorf("the new key's fingerprint is not logged:\n%s", logs.String())
	}

	// A corrupt state file: keys kept, one ERROR line however many polls.
	state := filepath.Join(o.Dir, keys.StateFile)
	good, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if wa.check(ctx, false) {
			t.Fatal("a corrupt ring was handed over")
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("corrupt ring logged %d ERROR lines over 3 polls, want 1:\n%s", n, logs.String())
	}
	if err := os.WriteFile(state, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if wa.check(ctx, false) || a.calls() != 1 {
		t.Error("the restored ring (the keys in use) was handed over")
	}

	// The server refuses the set: logged, retried on the next poll once it accepts.
	if _, err := keys.Rollover(o, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	a.refuse(errors.New("refused for the test"))
	if wa.check(ctx, false) {
		t.Fatal("check reported a refused set as installed")
	}
	if !strings.Contains(logs.String(), "refused for the test") {
		t.Errorf("the refusal is not logged:\n%s", logs.String())
	}
	a.refuse(nil)
	for _, w := range []*keyWatcher{wa, wb} {
		if !w.check(ctx, false) {
			t.Fatal("rollover not picked up")
		}
	}
	for _, f := range []*fakeSetter{a, b} {
		ks := f.last()
		if !ks.Cert.Equal(next.Next.Cert) || ks.PreviousCert == nil || !ks.PreviousCert.Equal(ring.Current.Cert) {
			t.Fatal("after rollover the key set does not sign with the former next key and publish the previous one")
		}
	}
}

// TestKeyWatcherSIGHUP: SIGHUP makes the watcher read the ring at once, without waiting for
// the poll.
func TestKeyWatcherSIGHUP(t *testing.T) {
	t.Parallel()
	cfg, o := watchedRing(t)
	ring, err := keys.OpenRing(o)
	if err != nil {
		t.Fatal(err)
	}
	stamp, err := stampRing(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeSetter()
	w := newKeyWatcher(cfg, f, ring, stamp, nil, slog.New(slog.DiscardHandler))
	w.interval = time.Hour // only SIGHUP can trigger a check in this test
	w.start(t.Context())   // registered for SIGHUP when start returns
	if _, err := keys.GenerateNext(o, false); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.got:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP did not reload the ring within 10 s")
	}
	if len(f.last().SigningCerts) != 2 {
		t.Error("the reloaded set does not publish the next key")
	}
}

// waitMetadata polls /saml/metadata until ok accepts its signing keys, and returns the raw
// document and its parse.
func waitMetadata(t *testing.T, base string, within time.Duration, ok func([]*x509.Certificate) bool) ([]byte, *saml.EntityDescriptor) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := fetch(t, http.DefaultClient, base+"/saml/metadata")
		var ed saml.EntityDescriptor
		if err := xml.Unmarshal([]byte(got.body), &ed); err != nil {
			t.Fatalf("IdP metadata (HTTP %d): %v", got.status, err)
		}
		certs := idptest.SigningCerts(t, &ed)
		if ok(certs) {
			return []byte(got.body), &ed
		}
		if time.Now().After(deadline) {
			var fps []string
			for _, c := range certs {
				fps = append(fps, keys.Fingerprint(c))
			}
			t.Fatalf("metadata still publishes %v after %s", fps, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// liveSignIn runs one SSO of sp at base and returns the SAMLResponse XML.
func liveSignIn(t *testing.T, base string, sp *cliSP) []byte {
	t.Helper()
	c := newJarClient(t)
	p := submitLogin(t, c, base, fetch(t, c, sp.requestURL(t, base)), "48151623L", "a good password")
	m := reSAMLResponse.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no SAMLResponse (HTTP %d): %.300s", p.status, p.body)
	}
	x, err := base64.StdEncoding.DecodeString(htmlUnescape(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestServeKeyRolloverLive: `atea keys generate` and `atea keys rollover` against a running
// `atea serve`, no restart. Within the poll interval the served metadata lists the next key
// (responses still signed by the current one); after the rollover the metadata is signed by
// the new key and so are responses, which an SP trusting only the new key accepts.
func TestServeKeyRolloverLive(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "atea.yaml")
	cfgText := fmt.Sprintf("baseURL: http://%s\nspMetadata:\n  pollInterval: 500ms\ndemo:\n  enabled: false\n", addr)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	base, data, out := startServeAddr(t, addr, "--config", cfgPath)
	if _, err := runCLI(t, "a good password\n", "user", "add", "--config", cfgPath, "--data", data, "--id", "48151623L",
		"--given", "Ane", "--family", "Etxeberria", "--birth", "1990-05-17", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	ringDir := filepath.Join(data, "keys")
	ring, err := keys.ReadRing(ringDir)
	if err != nil {
		t.Fatal(err)
	}
	oldKey := ring.Current.Cert
	_, md := waitMetadata(t, base, 0, func(c []*x509.Certificate) bool { return len(c) == 1 && c[0].Equal(oldKey) })
	sp := newCLISP(t, "sp-live-rollover", md, filepath.Join(data, "sp-metadata"))
	waitKnown(t, base, sp)
	// The poll interval is 500 ms; 10 s leaves room for a loaded machine.
	const within = 10 * time.Second

	// generate: published without a restart, not signing yet.
	if _, err := runCLI(t, "", "keys", "generate", "--config", cfgPath, "--data", data); err != nil {
		t.Fatal(err)
	}
	if ring, err = keys.ReadRing(ringDir); err != nil {
		t.Fatal(err)
	}
	newKey := ring.Next.Cert
	_, md = waitMetadata(t, base, within, func(c []*x509.Certificate) bool {
		return len(c) == 2 && c[0].Equal(oldKey) && c[1].Equal(newKey)
	})
	sp.sp.IDPMetadata = md
	x := liveSignIn(t, base, sp)
	for _, c := range idptest.SignatureCerts(t, x) {
		if !c.Equal(oldKey) {
			t.Fatal("after generate a response is signed by a key other than the current one")
		}
	}
	if _, err := sp.sp.ParseXMLResponse(x, sp.ids, sp.sp.AcsURL); err != nil {
		t.Fatalf("SP with the published keys refused the response after generate: %v", err)
	}

	// rollover: signing with the new key without a restart.
	if _, err := runCLI(t, "", "keys", "rollover", "--config", cfgPath, "--data", data); err != nil {
		t.Fatal(err)
	}
	raw, md := waitMetadata(t, base, within, func(c []*x509.Certificate) bool {
		return len(c) == 2 && c[0].Equal(newKey) && c[1].Equal(oldKey)
	})
	if _, err := xmlsig.VerifyEnveloped(raw, []*x509.Certificate{newKey}, time.Now); err != nil {
		t.Errorf("metadata after rollover is not signed by the new key: %v", err)
	}
	x = liveSignIn(t, base, sp)
	certs := idptest.SignatureCerts(t, x)
	if len(certs) == 0 {
		t.Fatal("response without signatures")
	}
	for _, c := range certs {
		if !c.Equal(newKey) {
			t.Fatal("after rollover a response is signed by a key other than the new one")
		}
	}
	sp.sp.IDPMetadata = idptest.TrustingOnly(md, newKey)
	if _, err := sp.sp.ParseXMLResponse(x, sp.ids, sp.sp.AcsURL); err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			err = ire.PrivateErr
		}
		t.Fatalf("SP trusting only the new key refused the response: %v", err)
	}
	if !strings.Contains(out.String(), "key ring reloaded") {
		t.Errorf("the reload is not logged:\n%s", out.String())
	}
}
