package metadata

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it returns satisfies the rules
// every caller relies on: an SP it returns is always usable and safe to send assertions to.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(crewjamSP(f, "sp-one", true, nil))
	f.Add([]byte(entityDoc(f)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		now := testNow()
		sps, problems, err := Parse(raw, now)
		if err != nil {
			if sps != nil || problems != nil {
				t.Fatalf("Parse() returned entities with fatal error %v", err)
			}
			return
		}
		for _, p := range problems {
			var ee *EntityError
			if !errors.As(p, &ee) || !errors.Is(p, ErrInvalidEntity) {
				t.Errorf("problem %v is not an *EntityError matching ErrInvalidEntity", p)
			}
		}
		seen := map[string]bool{}
		for _, sp := range sps {
			if sp.EntityID == "" || len(sp.EntityID) > maxEntityIDLen || seen[sp.EntityID] {
				t.Errorf("bad or duplicate entityID %q", sp.EntityID)
			}
			seen[sp.EntityID] = true
			if !sp.ValidUntil.IsZero() && !sp.ValidUntil.After(now) {
				t.Errorf("%q: expired SP returned", sp.EntityID)
			}
			if len(sp.ACS) == 0 {
				t.Errorf("%q: no ACS", sp.EntityID)
			}
			for _, e := range sp.ACS {
				if e.Binding != BindingHTTPPost {
					t.Errorf("%q: ACS binding %q", sp.EntityID, e.Binding)
				}
				if err := checkLocation(e.Location); err != nil {
					t.Errorf("%q: ACS %q: %v", sp.EntityID, e.Location, err)
				}
				if got, ok := sp.ACSByURL(e.Location); !ok || got.Location != e.Location {
					t.Errorf("%q: ACSByURL(%q) not found", sp.EntityID, e.Location)
				}
			}
			if d, ok := sp.DefaultACS(); !ok {
				t.Errorf("%q: no default ACS", sp.EntityID)
			} else if _, ok := sp.ACSByIndex(d.Index); !ok {
				t.Errorf("%q: default ACS index %d not found", sp.EntityID, d.Index)
			}
			for _, c := range append(append([]*x509.Certificate(nil), sp.SigningCerts...), sp.EncryptionCerts...) {
				if err := checkKey(c); err != nil || len(c.Raw) > maxCertDER {
					t.Errorf("%q: certificate accepted: %v", sp.EntityID, err)
				}
			}
		}
	})
}
