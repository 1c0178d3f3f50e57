package xmlsig

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// redirectMessage is a DEFLATEd, base64ed AuthnRequest as crewjam puts it in SAMLRequest.
func redirectMessage(t testing.TB) string {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(writeDoc(t, newAuthnRequest())); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b64(b.Bytes())
}

// queryOpts vary how a test Redirect query is built.
type queryOpts struct {
	response   bool
	relay      *string
	sigAlg     string
	hash       crypto.Hash
	lowerHex   bool // escape as %2f rather than %2F, as some stacks do
	rawECDSA   bool
	noSigAlg   bool // sign, then drop SigAlg from the query
	noSig      bool
	reorder    bool // Signature, SigAlg, RelayState, then the message
	extra      string
	signedWith testKey
}

var hexEscape = regexp.MustCompile(`%[0-9A-F]{2}`)

// signedQuery builds a query the way an SP signs one (saml-bindings-2.0-os §3.4.4.1).
func signedQuery(t testing.TB, o queryOpts) string {
	t.Helper()
	esc := func(s string) string {
		e := url.QueryEscape(s)
		if o.lowerHex {
			e = hexEscape.ReplaceAllStringFunc(e, strings.ToLower)
		}
		return e
	}
	key := "SAMLRequest"
	if o.response {
		key = "SAMLResponse"
	}
	if o.sigAlg == "" {
		o.sigAlg, o.hash = AlgRSASHA256, crypto.SHA256
	}
	msg := key + "=" + esc(redirectMessage(t))
	relay := ""
	if o.relay != nil {
		relay = "RelayState=" + esc(*o.relay)
	}
	alg := "SigAlg=" + esc(o.sigAlg)
	octets := msg
	if relay != "" {
		octets += "&" + relay
	}
	octets += "&" + alg
	h := o.hash.New()
	h.Write([]byte(octets))
	sig, err := o.signedWith.signer.Sign(rand.Reader, h.Sum(nil), o.hash)
	if err != nil {
		t.Fatal(err)
	}
	if o.rawECDSA {
		size := (o.signedWith.signer.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
		sig = rawECDSA(t, sig, size)
	}
	sigParam := "Signature=" + esc(b64(sig))
	parts := []string{msg}
	if relay != "" {
		parts = append(parts, relay)
	}
	if !o.noSigAlg {
		parts = append(parts, alg)
	}
	if !o.noSig {
		parts = append(parts, sigParam)
	}
	if o.reorder {
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	if o.extra != "" {
		parts = append(parts, o.extra)
	}
	return strings.Join(parts, "&")
}

func strPtr(s string) *string { return &s }

func TestRedirectVerify(t *testing.T) {
	t.Parallel()
	k := testKeys()
	rsaCerts := []*x509.Certificate{k.rsa.cert}
	relay := strPtr(`a/b?c=d&e=f+g h'"<>%`)
	tests := []struct {
		name   string
		query  func(t *testing.T) string
		certs  []*x509.Certificate
		want   error // nil = verifies
		signed bool
	}{
		{name: "ok/rsa-sha256", signed: true, certs: rsaCerts,
			query: func(t *testing.T) string { return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay}) }},
		{name: "ok/rsa-sha256-no-relaystate", signed: true, certs: rsaCerts,
			query: func(t *testing.T) string { return signedQuery(t, queryOpts{signedWith: k.rsa}) }},
		{name: "ok/empty-relaystate", signed: true, certs: rsaCerts,
			query: func(t *testing.T) string { return signedQuery(t, queryOpts{signedWith: k.rsa, relay: strPtr("")}) }},
		{name: "ok/rsa-sha512", signed: true, certs: rsaCerts, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay, sigAlg: AlgRSASHA512, hash: crypto.SHA512})
		}},
		{name: "ok/other-order", signed: true, certs: rsaCerts, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay, reorder: true})
		}},
		{name: "ok/lowercase-escapes-verified-as-received", signed: true, certs: rsaCerts, query: func(t *testing.T) string {
			// A verifier that re-encodes decoded values (%2F) fails here; the raw octets verify.
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay, lowerHex: true})
		}},
		{name: "ok/extra-parameters-ignored", signed: true, certs: rsaCerts, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay, extra: "foo=bar&baz"})
		}},
		{name: "ok/response", signed: true, certs: rsaCerts, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay, response: true})
		}},
		{name: "ok/key-rollover", signed: true, certs: []*x509.Certificate{k.rsa2.cert, k.rsa.cert}, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay})
		}},
		{name: "ok/ecdsa-der", signed: true, certs: []*x509.Certificate{k.ec.cert}, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.ec, relay: relay, sigAlg: AlgECDSASHA256, hash: crypto.SHA256})
		}},
		{name: "ok/ecdsa-raw", signed: true, certs: []*x509.Certificate{k.ec.cert}, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.ec, relay: relay, sigAlg: AlgECDSASHA256, hash: crypto.SHA256, rawECDSA: true})
		}},
		{name: "ok/ecdsa-p384", signed: true, certs: []*x509.Certificate{k.ec384.cert}, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.ec384, sigAlg: AlgECDSASHA384, hash: crypto.SHA384, rawECDSA: true})
		}},

		{name: "fail/rsa-sha1", signed: true, certs: rsaCerts, want: ErrAlgorithm, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay, sigAlg: "http://www.w3.org/2000/09/xmldsig#rsa-sha1", hash: crypto.SHA1})
		}},
		{name: "fail/ecdsa-sha1", signed: true, certs: []*x509.Certificate{k.ec.cert}, want: ErrAlgorithm, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.ec, sigAlg: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1", hash: crypto.SHA1})
		}},
		{name: "fail/tampered-relaystate", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			return strings.Replace(signedQuery(t, queryOpts{signedWith: k.rsa, relay: strPtr("abc")}), "RelayState=abc", "RelayState=abd", 1)
		}},
		{name: "fail/relaystate-removed", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			return strings.Replace(signedQuery(t, queryOpts{signedWith: k.rsa, relay: strPtr("abc")}), "&RelayState=abc", "", 1)
		}},
		{name: "fail/relaystate-added", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa}) + "&RelayState=x"
		}},
		{name: "fail/tampered-message", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			q := signedQuery(t, queryOpts{signedWith: k.rsa})
			return strings.Replace(q, "SAMLRequest=", "SAMLRequest=A", 1)
		}},
		{name: "fail/escape-changed", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			// Same decoded value, different octets: the signature is over the octets.
			return hexEscape.ReplaceAllStringFunc(signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay}), strings.ToLower)
		}},
		{name: "fail/signature-without-sigalg", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay, noSigAlg: true})
		}},
		{name: "fail/sigalg-without-signature", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay, noSig: true})
		}},
		{name: "fail/wrong-key", signed: true, certs: []*x509.Certificate{k.rsa2.cert}, want: ErrSignature, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay})
		}},
		{name: "fail/weak-key", signed: true, certs: []*x509.Certificate{k.weak.cert}, want: ErrSignature, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.weak, relay: relay})
		}},
		{name: "fail/no-certs", signed: true, want: ErrSignature, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.rsa, relay: relay})
		}},
		{name: "fail/ecdsa-sigalg-rsa-key", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			return signedQuery(t, queryOpts{signedWith: k.ec, sigAlg: AlgECDSASHA256, hash: crypto.SHA256})
		}},
		{name: "fail/malformed-signature", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			return "SAMLRequest=abc&SigAlg=" + url.QueryEscape(AlgRSASHA256) + "&Signature=%21%21"
		}},
		{name: "fail/signature-missing-padding", signed: true, certs: rsaCerts, want: ErrSignature, query: func(t *testing.T) string {
			q := signedQuery(t, queryOpts{signedWith: k.rsa})
			return strings.TrimSuffix(strings.TrimSuffix(q, "%3D"), "%3D")
		}},
		{name: "fail/unsigned", certs: rsaCerts, want: ErrNoSignature, query: func(t *testing.T) string {
			return "SAMLRequest=" + url.QueryEscape(redirectMessage(t)) + "&RelayState=x"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := tt.query(t)
			p, err := ParseRedirectQuery(q)
			if err != nil {
				t.Fatalf("ParseRedirectQuery() = %v, want nil", err)
			}
			if got := p.Signed(); got != tt.signed {
				t.Errorf("Signed() = %v, want %v", got, tt.signed)
			}
			err = p.Verify(tt.certs)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify() = %v, want %v", err, tt.want)
			}
		})
	}
}

// exported mirrors RedirectParams' exported fields.
type exported struct {
	IsRequest           bool
	Message, RelayState string
	HasRelay            bool
	SigAlg              string
}

func TestParseRedirectQuery(t *testing.T) {
	t.Parallel()
	alg := url.QueryEscape(AlgRSASHA256)
	tests := []struct {
		name    string
		query   string
		want    exported
		wantErr bool
	}{
		{name: "ok/request", query: "SAMLRequest=a%2Bb%3D&RelayState=x+y%26z",
			want: exported{IsRequest: true, Message: "a+b=", RelayState: "x y&z", HasRelay: true}},
		{name: "ok/response-with-sigalg", query: "SigAlg=" + alg + "&SAMLResponse=abc",
			want: exported{Message: "abc", SigAlg: AlgRSASHA256}},
		{name: "ok/empty-parts-and-unknown", query: "&x=1&&SAMLRequest=m&y&",
			want: exported{IsRequest: true, Message: "m"}},
		{name: "fail/none", query: "RelayState=x", wantErr: true},
		{name: "fail/empty", query: "", wantErr: true},
		{name: "fail/both", query: "SAMLRequest=a&SAMLResponse=b", wantErr: true},
		{name: "fail/duplicate-request", query: "SAMLRequest=a&SAMLRequest=b", wantErr: true},
		{name: "fail/duplicate-request-escaped-key", query: "SAMLRequest=a&SAML%52equest=b", wantErr: true},
		{name: "fail/duplicate-relaystate", query: "SAMLRequest=a&RelayState=1&RelayState=1", wantErr: true},
		{name: "fail/duplicate-sigalg", query: "SAMLRequest=a&SigAlg=" + alg + "&SigAlg=" + alg, wantErr: true},
		{name: "fail/duplicate-signature", query: "SAMLRequest=a&Signature=AA%3D%3D&Signature=AA%3D%3D", wantErr: true},
		{name: "fail/bad-escape", query: "SAMLRequest=a%zz", wantErr: true},
		{name: "fail/bad-escape-in-key", query: "SAMLRequest=a&b%zz=1", wantErr: true},
		{name: "fail/key-without-value", query: "SAMLRequest", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParseRedirectQuery(tt.query)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseRedirectQuery() = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRedirectQuery() = %v, want nil", err)
			}
			got := exported{IsRequest: p.IsRequest, Message: p.Message, RelayState: p.RelayState, HasRelay: p.HasRelay, SigAlg: p.SigAlg}
			if got != tt.want {
				t.Errorf("ParseRedirectQuery() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseRedirectQueryDoesNotEchoQuery: error strings end up in logs; the query may carry a
// bearer message and personal data.
func TestParseRedirectQueryDoesNotEchoQuery(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"SAMLRequest=SECRET&SAMLRequest=SECRET", "SAMLRequest=SECRET%zz", "SECRET%zz=1&SAMLRequest=x"} {
		_, err := ParseRedirectQuery(q)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseRedirectQuery(%q) = %v, want an error without the query", q, err)
		}
	}
}
