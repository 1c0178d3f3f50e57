package metadata

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

// TestVerifyDocument: the tool's entry point accepts what a URLSource accepts and refuses what
// it refuses, with the same errors; an expired document still reports its validUntil.
func TestVerifyDocument(t *testing.T) {
	a := []*x509.Certificate{remoteTestSigner(t, "anchor-a").cert}
	vd, err := VerifyDocument(remoteTwoSPs(t), a, 0, testNow())
	if err != nil || len(vd.SPs) != 2 || vd.NotSPs != 1 || len(vd.Problems) != 0 || !vd.ValidUntil.Equal(testNow().Add(24*time.Hour)) {
		t.Fatalf("VerifyDocument = %+v, %v", vd, err)
	}
	if _, err := VerifyDocument(remoteTwoSPs(t), []*x509.Certificate{remoteTestSigner(t, "anchor-b").cert}, 0, testNow()); !errors.Is(err, ErrUntrusted) {
		t.Errorf("wrong anchor: %v, want ErrUntrusted", err)
	}
	vd, err = VerifyDocument(remoteTwoSPs(t), a, 0, testNow().Add(25*time.Hour))
	if !errors.Is(err, ErrDocumentExpired) || !vd.ValidUntil.Equal(testNow().Add(24*time.Hour)) {
		t.Errorf("expired: %+v, %v", vd, err)
	}
	if _, err := VerifyDocument(remoteTwoSPs(t), a, 100, testNow()); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over maxBytes: %v, want ErrTooLarge", err)
	}
	if _, err := VerifyDocument(remoteTwoSPs(t), nil, 0, testNow()); err == nil {
		t.Error("no anchors accepted")
	}
}
