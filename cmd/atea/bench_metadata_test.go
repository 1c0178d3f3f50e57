package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ateaidp/atea/metadata"
)

// TestBenchMetadataAggregate is the small variant of `atea bench metadata`: the generated
// aggregate verifies and loads completely through the remote-source path, and xmlsec1 (when
// installed) verifies the same file, so the benchmark compares like with like.
func TestBenchMetadataAggregate(t *testing.T) {
	const n = 60
	agg, err := writeSignedAggregate(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(agg.path)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(agg.certPath)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	vd, err := metadata.VerifyDocument(raw, []*x509.Certificate{cert}, 0, time.Now())
	if err != nil {
		t.Fatalf("VerifyDocument: %v", err)
	}
	if len(vd.SPs) != n || len(vd.Problems) != 0 {
		t.Fatalf("VerifyDocument: %d SPs, problems %v; want %d and none", len(vd.SPs), vd.Problems, n)
	}
	if sp := vd.SPs[7]; len(sp.SigningCerts) != 1 || len(sp.EncryptionCerts) != 1 || len(sp.ACS) != 1 || sp.DisplayName("es") == sp.EntityID {
		t.Errorf("entity 7 = %+v", sp)
	}
	tampered := []byte(string(raw[:len(raw)/2]) + "X" + string(raw[len(raw)/2+1:]))
	if _, err := metadata.VerifyDocument(tampered, []*x509.Certificate{cert}, 0, time.Now()); err == nil {
		t.Error("a tampered aggregate verified")
	}

	t.Run("xmlsec1", func(t *testing.T) {
		xmlsec, err := exec.LookPath("xmlsec1")
		if err != nil {
			t.Skip("xmlsec1 not installed")
		}
		out, err := exec.Command(xmlsec, "--verify", "--pubkey-cert-pem", agg.certPath,
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntitiesDescriptor", agg.path).CombinedOutput()
		if err != nil {
			t.Fatalf("xmlsec1 --verify: %v\n%s", err, out)
		}
	})
}
