package samlxml

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/ateaidp/atea/metadata/xmlgate"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// newLogoutSigner is a Signer over a fresh key pair: ECDSA with ECDSA-SHA256 when ec is set,
// RSA with RSA-SHA256 otherwise.
func newLogoutSigner(t *testing.T, ec bool) (keyPair, *Signer) {
	t.Helper()
	kp := newKeyPair(t, ec)
	alg := AlgRSASHA256
	if ec {
		alg = AlgECDSASHA256
	}
	s, err := NewSigner(kp.key, kp.cert, alg)
	if err != nil {
		t.Fatal(err)
	}
	return kp, s
}

// TestLogoutMessagesVerify checks that signed LogoutRequests and LogoutResponses verify with
// the same strict verifier Atea applies to what SPs send, for RSA and ECDSA keys, and that a
// changed byte breaks them.
func TestLogoutMessagesVerify(t *testing.T) {
	for _, ec := range []bool{false, true} {
		kp, s := newLogoutSigner(t, ec)
		now := time.Now()
		req, err := s.BuildLogoutRequest(LogoutRequest{
			ID: NewID(), IssueInstant: now, NotOnOrAfter: now.Add(time.Minute), Destination: "https://sp.test/slo",
			Issuer: idpEntity, Reason: LogoutReasonUser, NameID: "a&b<c", NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
			SPNameQualifier: "https://sp.test/md", SessionIndex: "_idx",
		}, true)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.BuildLogoutResponse(LogoutResponse{
			ID: NewID(), IssueInstant: now, Issuer: idpEntity, Destination: "https://sp.test/slo",
			InResponseTo: "_req", SubStatusCode: StatusPartialLogout, StatusMessage: "partial",
		}, true)
		if err != nil {
			t.Fatal(err)
		}
		for name, msg := range map[string][]byte{"request": req, "response": resp} {
			if err := xmlgate.Check(msg, xmlgate.ProtocolLimits()); err != nil {
				t.Fatalf("ec=%v %s: gate: %v", ec, name, err)
			}
			el, err := xmlsig.VerifyEnveloped(msg, []*x509.Certificate{kp.cert}, nil)
			if err != nil {
				t.Fatalf("ec=%v %s does not verify: %v\n%s", ec, name, err, msg)
			}
			if name == "request" {
				if got := el.FindElement("./NameID").Text(); got != "a&b<c" {
					t.Errorf("NameID = %q", got)
				}
				if el.FindElement("./SessionIndex") == nil || el.SelectAttrValue("Reason", "") != LogoutReasonUser {
					t.Errorf("SessionIndex or Reason missing: %s", msg)
				}
			} else if sub := el.FindElement("./Status/StatusCode/StatusCode"); sub == nil || sub.SelectAttrValue("Value", "") != StatusPartialLogout {
				t.Errorf("no PartialLogout second-level status: %s", msg)
			}
			tampered := bytes.Replace(msg, []byte("https://sp.test/slo"), []byte("https://sp.test/sl0"), 1)
			if _, err := xmlsig.VerifyEnveloped(tampered, []*x509.Certificate{kp.cert}, nil); err == nil {
				t.Errorf("ec=%v %s: tampered message verifies", ec, name)
			}
		}
	}
}

// TestRedirectQuerySigned checks the outbound Redirect signature against the verifier of
// inbound ones (over the raw query octets) and that the message inflates back.
func TestRedirectQuerySigned(t *testing.T) {
	for _, ec := range []bool{false, true} {
		kp, s := newLogoutSigner(t, ec)
		msg, err := s.BuildLogoutResponse(LogoutResponse{ID: NewID(), IssueInstant: time.Now(), Issuer: idpEntity, InResponseTo: "_r"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(msg), "Signature") {
			t.Fatalf("unsigned message carries a signature: %s", msg)
		}
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.BestCompression)
		_, _ = fw.Write(msg)
		_ = fw.Close()
		q, err := s.RedirectQuery("SAMLResponse", buf.Bytes(), "relay &=/ state", true)
		if err != nil {
			t.Fatal(err)
		}
		p, err := xmlsig.ParseRedirectQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if p.IsRequest || p.RelayState != "relay &=/ state" {
			t.Errorf("parsed %+v", p)
		}
		if err := p.Verify([]*x509.Certificate{kp.cert}); err != nil {
			t.Fatalf("ec=%v: query signature does not verify: %v", ec, err)
		}
		other := newKeyPair(t, ec)
		if err := p.Verify([]*x509.Certificate{other.cert}); err == nil {
			t.Errorf("ec=%v: verifies with another key", ec)
		}
		bad, _ := xmlsig.ParseRedirectQuery(strings.Replace(q, "RelayState=relay", "RelayState=relaX", 1))
		if err := bad.Verify([]*x509.Certificate{kp.cert}); err == nil {
			t.Errorf("ec=%v: changed RelayState verifies", ec)
		}
		if _, err := s.RedirectQuery("Other", nil, "", false); err == nil {
			t.Error("unknown parameter accepted")
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(msg); err != nil || doc.Root().Tag != "LogoutResponse" {
			t.Errorf("message does not parse: %v", err)
		}
	}
}
