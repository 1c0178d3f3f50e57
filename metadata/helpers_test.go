package metadata

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// testNow is the fixed clock of the tests; the documents in testdata are valid until 2100.
func testNow() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(readTestdata(t, name))
	if blk == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func b64(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

// crewjamSP returns the metadata a crewjam ServiceProvider publishes, marshalled the way
// idp/helpers_test.go and the probe write it into the SP-metadata directory.
func crewjamSP(t testing.TB, name string, signed bool, mutate func(*saml.EntityDescriptor)) []byte {
	t.Helper()
	base := "https://" + name + ".test"
	md, _ := url.Parse(base + "/saml/metadata")
	acs, _ := url.Parse(base + "/saml/acs")
	slo, _ := url.Parse(base + "/saml/slo")
	sp := &saml.ServiceProvider{
		EntityID: md.String(), Certificate: loadCert(t, "sp-rsa2048.crt"), MetadataURL: *md,
		AcsURL: *acs, SloURL: *slo, AuthnNameIDFormat: saml.TransientNameIDFormat,
		LogoutBindings: []string{saml.HTTPPostBinding},
	}
	if signed {
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	ed := sp.Metadata()
	// crewjam stamps validUntil from its own global clock; pin it to the tests' clock.
	vu := testNow().Add(48 * time.Hour)
	ed.ValidUntil = vu
	ed.SPSSODescriptors[0].ValidUntil = &vu
	if mutate != nil {
		mutate(ed)
	}
	b, err := xml.MarshalIndent(ed, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
