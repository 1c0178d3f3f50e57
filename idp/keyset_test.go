package idp_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/idptest"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// ringKeySet is the ring's key set with an RSA-SHA256 signer, as `atea serve` builds it.
func ringKeySet(t *testing.T, r *keys.Ring) idp.KeySet {
	t.Helper()
	signer, err := samlxml.NewSigner(r.Current.Signer, r.Current.Cert, samlxml.AlgRSASHA256)
	if err != nil {
		t.Fatal(err)
	}
	return idp.RingKeySet(r, signer)
}

func testRingOptions(t *testing.T) keys.RingOptions {
	dir := filepath.Join(t.TempDir(), "keys")
	return keys.RingOptions{Dir: dir, LegacyKeyFile: filepath.Join(dir, "signing.key"), LegacyCertFile: filepath.Join(dir, "signing.crt"),
		Algorithm: keys.RSA2048, CommonName: "atea setkeys test"}
}

func rawMetadata(t *testing.T, ti *testIdP) []byte {
	t.Helper()
	resp, err := http.Get(ti.url + "/saml/metadata") //nolint:noctx // loopback test
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /saml/metadata = %d", resp.StatusCode)
	}
	return b
}

// TestSetKeysRollover: the generate → rollover cycle on one running server, each step applied
// with SetKeys. After generate, metadata publishes the next key while the current one still
// signs; after rollover, responses are signed by the new key (an SP trusting only it
// accepts, one trusting only the old key refuses) and the metadata is re-signed by the new
// key at once, not when the cached document would have been refreshed.
func TestSetKeysRollover(t *testing.T) {
	t.Parallel()
	o := testRingOptions(t)
	ti, ring := ringIdP(t, o)
	oldKey := ring.Current.Cert
	if got := idptest.SigningCerts(t, fetchIdPMetadata(t, ti, oldKey)); len(got) != 1 || !got[0].Equal(oldKey) {
		t.Fatalf("metadata before generate publishes %d signing keys, want the current one", len(got))
	}
	sp := ti.newSP("sp-setkeys", false, nil)

	// generate: publish the next key.
	ring, err := keys.GenerateNext(o, false)
	if err != nil {
		t.Fatal(err)
	}
	newKey := ring.Next.Cert
	if err := ti.srv.SetKeys(ringKeySet(t, ring)); err != nil {
		t.Fatal(err)
	}
	md := fetchIdPMetadata(t, ti, oldKey)
	if got := idptest.SigningCerts(t, md); len(got) != 2 || !got[0].Equal(oldKey) || !got[1].Equal(newKey) {
		t.Fatalf("metadata after generate publishes %d signing keys, want current then next", len(got))
	}
	sp.sp.IDPMetadata = md
	r, id := rolloverSignIn(t, ti, sp)
	sp.accept(t, r, id)
	onlyNew := *sp.sp
	onlyNew.IDPMetadata = idptest.TrustingOnly(md, newKey)
	if _, err := onlyNew.ParseXMLResponse(r.xml, []string{id}, onlyNew.AcsURL); err == nil {
		t.Error("after generate, an SP trusting only the next key accepted a response: the next key must not sign yet")
	}

	// rollover: sign with it.
	if ring, err = keys.Rollover(o, time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if err := ti.srv.SetKeys(ringKeySet(t, ring)); err != nil {
		t.Fatal(err)
	}
	if !ti.srv.Keys().Cert.Equal(newKey) {
		t.Fatal("Keys() after SetKeys does not report the new signing certificate")
	}
	raw := rawMetadata(t, ti)
	if _, err := xmlsig.VerifyEnveloped(raw, []*x509.Certificate{oldKey}, time.Now); err == nil {
		t.Error("metadata after rollover still verifies with the old key alone: the cached document was served")
	}
	md = fetchIdPMetadata(t, ti, newKey)
	if got := idptest.SigningCerts(t, md); len(got) != 2 || !got[0].Equal(newKey) || !got[1].Equal(oldKey) {
		t.Fatalf("metadata after rollover publishes %d signing keys, want current (former next) then previous", len(got))
	}
	r, id = rolloverSignIn(t, ti, sp)
	for _, c := range idptest.SignatureCerts(t, r.xml) {
		if !c.Equal(newKey) {
			t.Errorf("a signature of the response after rollover names %s, want the new key", keys.Fingerprint(c))
		}
	}
	sp.sp.IDPMetadata = idptest.TrustingOnly(md, newKey)
	sp.accept(t, r, id)
	onlyOld := *sp.sp
	onlyOld.IDPMetadata = idptest.TrustingOnly(md, oldKey)
	if _, err := onlyOld.ParseXMLResponse(r.xml, []string{id}, onlyOld.AcsURL); err == nil {
		t.Error("after rollover, an SP trusting only the old key accepted the response")
	}
}

// TestSetKeysRefusesInvalidSet: a set New would refuse is refused, and the server keeps
// signing and publishing with the set it had.
func TestSetKeysRefusesInvalidSet(t *testing.T) {
	t.Parallel()
	o := testRingOptions(t)
	ti, ring := ringIdP(t, o)
	good := ringKeySet(t, ring)
	next, err := keys.GenerateNext(o, false)
	if err != nil {
		t.Fatal(err)
	}
	nextSigner, err := samlxml.NewSigner(next.Next.Signer, next.Next.Cert, samlxml.AlgRSASHA256)
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*idp.KeySet){
		"no signer":                  func(k *idp.KeySet) { k.Signer = nil },
		"signing cert not published": func(k *idp.KeySet) { k.Cert, k.Signer = next.Next.Cert, nextSigner },
		"signer is not the cert's":   func(k *idp.KeySet) { k.Signer = nextSigner },
		"encryption certs mismatch": func(k *idp.KeySet) {
			k.EncryptionCerts = append(k.EncryptionCerts, next.Next.Cert)
		},
	} {
		bad := good
		bad.SigningCerts = append([]*x509.Certificate{}, good.SigningCerts...)
		bad.EncryptionCerts = append([]*x509.Certificate{}, good.EncryptionCerts...)
		mutate(&bad)
		if err := ti.srv.SetKeys(bad); !errors.Is(err, idp.ErrKeySet) {
			t.Errorf("%s: SetKeys = %v, want ErrKeySet", name, err)
		}
	}
	if !ti.srv.Keys().Cert.Equal(ring.Current.Cert) {
		t.Fatal("a refused SetKeys changed the signing certificate")
	}
	fetchIdPMetadata(t, ti, ring.Current.Cert)
	sp := ti.newSP("sp-setkeys-bad", false, nil)
	r, id := rolloverSignIn(t, ti, sp)
	sp.accept(t, r, id)
}

// TestSetKeysRace: sign-ins and metadata fetches in flight while SetKeys swaps between two
// key sets (run with -race). Every response is signed by exactly one of the two keys, all its
// signatures by the same one, and an SP trusting only that key accepts it; every metadata
// document verifies with the key it lists first.
func TestSetKeysRace(t *testing.T) {
	t.Parallel()
	o := testRingOptions(t)
	ti, ring := ringIdP(t, o)
	a := ringKeySet(t, ring)
	ringB, err := keys.GenerateNext(o, false)
	if err != nil {
		t.Fatal(err)
	}
	ab := ringKeySet(t, ringB) // signs with A, publishes A and B
	ringB, err = keys.Rollover(o, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	b := ringKeySet(t, ringB) // signs with B, publishes B and A
	sets := []idp.KeySet{a, ab, b}
	keyA, keyB := a.Cert, b.Cert
	if err := ti.srv.SetKeys(ab); err != nil {
		t.Fatal(err)
	}
	md := fetchIdPMetadata(t, ti, keyA)
	sp := ti.newSP("sp-setkeys-race", false, nil)
	sp.sp.IDPMetadata = md

	const signers, perSigner = 4, 3
	var running atomic.Int32
	running.Store(signers + 1)
	var swaps atomic.Int32
	t.Run("group", func(t *testing.T) {
		t.Run("swap", func(t *testing.T) {
			t.Parallel()
			for i := 0; running.Load() > 0 || i < len(sets); i++ {
				if err := ti.srv.SetKeys(sets[i%len(sets)]); err != nil {
					t.Error(err)
					return
				}
				swaps.Add(1)
			}
		})
		t.Run("metadata", func(t *testing.T) {
			t.Parallel()
			defer running.Add(-1)
			for range 20 {
				raw := rawMetadata(t, ti)
				first := idptest.SignatureCerts(t, raw)
				if len(first) == 0 {
					t.Fatal("metadata without a signature certificate")
				}
				if _, err := xmlsig.VerifyEnveloped(raw, first[:1], time.Now); err != nil {
					t.Errorf("metadata does not verify with the key of its signature: %v", err)
				}
			}
		})
		for i := range signers {
			t.Run(fmt.Sprint("signer", i), func(t *testing.T) {
				t.Parallel()
				defer running.Add(-1)
				for range perSigner {
					r, id := rolloverSignIn(t, ti, sp)
					certs := idptest.SignatureCerts(t, r.xml)
					if len(certs) == 0 {
						t.Fatal("response without signature certificates")
					}
					for _, c := range certs[1:] {
						if !c.Equal(certs[0]) {
							t.Fatal("one response carries signatures of two keys")
						}
					}
					if !certs[0].Equal(keyA) && !certs[0].Equal(keyB) {
						t.Fatalf("response signed by an unknown key %s", keys.Fingerprint(certs[0]))
					}
					only := *sp.sp
					only.IDPMetadata = idptest.TrustingOnly(md, certs[0])
					if _, err := only.ParseXMLResponse(r.xml, []string{id}, only.AcsURL); err != nil {
						var ire *saml.InvalidResponseError
						if errors.As(err, &ire) {
							err = ire.PrivateErr
						}
						t.Errorf("an SP trusting only the key that signed refused: %v", err)
					}
				}
			})
		}
	})
	if swaps.Load() < int32(len(sets)) {
		t.Errorf("only %d swaps ran", swaps.Load())
	}
}
