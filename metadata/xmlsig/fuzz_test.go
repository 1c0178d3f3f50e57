package xmlsig

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/beevik/etree"
)

// FuzzVerifyEnveloped: VerifyEnveloped never panics, every error wraps a sentinel, and a mutated
// signed document never verifies to anything but the original signed content: whatever bytes
// are accepted, the verified element canonicalises exactly like the request that was signed
// (SECURITY.md §5.8, STYLE.md B10).
func FuzzVerifyEnveloped(f *testing.F) {
	k := testKeys()
	certs := []*x509.Certificate{k.rsa.cert, k.ec.cert}
	good := sign(f, k.rsa, signOpts{})
	f.Add(good)
	f.Add(sign(f, k.ec, signOpts{}))
	f.Add(sign(f, k.rsa, signOpts{noKeyInfo: true, method: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"}))
	f.Add(sign(f, k.attacker, signOpts{keyInfoCert: k.rsa.cert}))
	f.Add(mutate(f, good, func(root *etree.Element) {
		sig := root.ChildElements()[1]
		root.RemoveChild(sig)
		root.ChildElements()[1].AddChild(sig)
	}))
	f.Add(mutate(f, good, func(root *etree.Element) {
		root.ChildElements()[1].CreateElement("ds:Object").CreateElement("samlp:AuthnRequest")
	}))
	f.Add(bytes.Replace(good, []byte("sp.example.com/saml/metadata"), []byte("evil.example/saml/metadata"), 1))
	f.Add([]byte(`<a ID="x"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></a>`))

	want := canonical(f, newAuthnRequest())
	f.Fuzz(func(t *testing.T, raw []byte) {
		el, err := VerifyEnveloped(raw, certs, nil)
		if err != nil {
			if el != nil {
				t.Fatalf("element returned with error %v", err)
			}
			if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrProfile) && !errors.Is(err, ErrAlgorithm) &&
				!errors.Is(err, ErrNoSignature) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("VerifyEnveloped() = %v, wraps no sentinel", err)
			}
			return
		}
		if got := canonical(t, el); !bytes.Equal(got, want) {
			t.Fatalf("mutated document verified with different content:\n%s\nwant\n%s", got, want)
		}
	})
}

// FuzzParseRedirectQuery: parsing never panics, errors wrap ErrMalformed, and a fuzzed query
// verifies only if the octets it signs are exactly those of an original signed query.
func FuzzParseRedirectQuery(f *testing.F) {
	k := testKeys()
	certs := []*x509.Certificate{k.rsa.cert, k.ec.cert}
	originals := map[string]bool{}
	add := func(o queryOpts) {
		q := signedQuery(f, o)
		p, err := ParseRedirectQuery(q)
		if err != nil {
			f.Fatal(err)
		}
		originals[p.signedOctets()] = true
		f.Add(q)
	}
	add(queryOpts{signedWith: k.rsa, relay: strPtr("state/1?a=b")})
	add(queryOpts{signedWith: k.rsa, reorder: true})
	add(queryOpts{signedWith: k.ec, sigAlg: AlgECDSASHA256, hash: crypto.SHA256, rawECDSA: true, response: true})
	add(queryOpts{signedWith: k.rsa, relay: strPtr(""), lowerHex: true, extra: "x=1"})
	f.Add("SAMLRequest=a&SAMLRequest=b")
	f.Add("SAMLRequest=a&SAML%52equest=b&Signature=%zz")
	f.Add("")
	f.Fuzz(func(t *testing.T, q string) {
		p, err := ParseRedirectQuery(q)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseRedirectQuery() = %v, want ErrMalformed", err)
			}
			return
		}
		if err := p.Verify(certs); err == nil {
			if !p.Signed() {
				t.Fatalf("verified but Signed() = false")
			}
			if !originals[p.signedOctets()] {
				t.Fatalf("verified octets %q were never signed", p.signedOctets())
			}
		}
	})
}
