package xmlsig

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

func TestVerifyEnvelopedOK(t *testing.T) {
	t.Parallel()
	k := testKeys()
	tests := []struct {
		name  string
		raw   func(t *testing.T) []byte
		certs []*x509.Certificate
	}{
		{name: "rsa-sha256", raw: func(t *testing.T) []byte { return sign(t, k.rsa, signOpts{}) }, certs: []*x509.Certificate{k.rsa.cert}},
		{name: "rsa-sha512", raw: func(t *testing.T) []byte {
			return sign(t, k.rsa, signOpts{method: dsig.RSASHA512SignatureMethod})
		}, certs: []*x509.Certificate{k.rsa.cert}},
		{name: "ecdsa-p256-der", raw: func(t *testing.T) []byte { return sign(t, k.ec, signOpts{}) }, certs: []*x509.Certificate{k.ec.cert}},
		{name: "ecdsa-p384-sha384", raw: func(t *testing.T) []byte {
			return sign(t, k.ec384, signOpts{method: dsig.ECDSASHA384SignatureMethod})
		}, certs: []*x509.Certificate{k.ec384.cert}},
		{name: "ecdsa-raw-r-s", raw: func(t *testing.T) []byte {
			// XML-DSig's own ECDSA form (RFC 6931 §2.3.6), as Java and xmlsec write it.
			return mutate(t, sign(t, k.ec, signOpts{}), func(root *etree.Element) {
				sv := dsChild(t, sigOf(t, root), "SignatureValue")
				der, err := base64.StdEncoding.DecodeString(sv.Text())
				if err != nil {
					t.Fatal(err)
				}
				sv.SetText(b64(rawECDSA(t, der, 32)))
			})
		}, certs: []*x509.Certificate{k.ec.cert}},
		{name: "no-keyinfo-two-certs-rollover", raw: func(t *testing.T) []byte {
			// goxmldsig alone fails here ("Missing x509 Element"): key rollover must not.
			return sign(t, k.rsa, signOpts{noKeyInfo: true})
		}, certs: []*x509.Certificate{k.rsa2.cert, k.rsa.cert}},
		{name: "keyinfo-names-another-cert-but-key-from-certs", raw: func(t *testing.T) []byte {
			// KeyInfo is ignored both ways: it cannot add trust, nor break a good signature.
			return sign(t, k.rsa, signOpts{keyInfoCert: k.attacker.cert})
		}, certs: []*x509.Certificate{k.rsa.cert}},
		{name: "unusable-cert-skipped", raw: func(t *testing.T) []byte { return sign(t, k.rsa, signOpts{}) },
			certs: []*x509.Certificate{k.weak.cert, nil, k.rsa.cert}},
		{name: "comments-outside-signature-ignored", raw: func(t *testing.T) []byte {
			return mutate(t, sign(t, k.rsa, signOpts{}), func(root *etree.Element) {
				root.InsertChildAt(0, etree.NewComment("unsigned"))
			})
		}, certs: []*x509.Certificate{k.rsa.cert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := tt.raw(t)
			el, err := VerifyEnveloped(raw, tt.certs, fixedNow)
			if err != nil {
				t.Fatalf("VerifyEnveloped() = %v, want nil", err)
			}
			if el.Tag != "AuthnRequest" || el.NamespaceURI() != nsSAMLP || idOf(el) != testID {
				t.Errorf("verified element = {%s}%s ID=%q, want {%s}AuthnRequest ID=%q", el.NamespaceURI(), el.Tag, idOf(el), nsSAMLP, testID)
			}
			iss := el.FindElement("./Issuer")
			if iss == nil || iss.Text() != "https://sp.example.com/saml/metadata" {
				t.Errorf("verified Issuer = %v, want the signed issuer", iss)
			}
			for _, c := range el.ChildElements() {
				if c.Tag == "Signature" {
					t.Errorf("verified element still holds a Signature")
				}
			}
			// R5: the element is what was digested: the unsigned request, canonicalised.
			if got, want := canonical(t, el), canonical(t, newAuthnRequest()); !bytes.Equal(got, want) {
				t.Errorf("verified element =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestVerifyEnvelopedSPIDVector verifies a real signed request (italia/spid-sp-test) whose
// certificate expired in 2022: explicit key trust must still accept it, and a one-byte change
// must not.
func TestVerifyEnvelopedSPIDVector(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "spid_authnrequest_signed_spid-sp-test.xml"))
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(filepath.Join("testdata", "spid_authnrequest_signer_embedded_cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	el, err := VerifyEnveloped(raw, []*x509.Certificate{cert}, fixedNow)
	if err != nil {
		t.Fatalf("VerifyEnveloped(SPID vector) = %v, want nil", err)
	}
	if got := idOf(el); got != "id-98N7K8aJFwDe6bPVO" {
		t.Errorf("verified ID = %q, want %q", got, "id-98N7K8aJFwDe6bPVO")
	}
	tampered := bytes.Replace(raw, []byte(`https://localhost:8000/spid/acs/`), []byte(`https://localhost:8000/spid/acz/`), 1)
	if _, err := VerifyEnveloped(tampered, []*x509.Certificate{cert}, fixedNow); !errors.Is(err, ErrSignature) {
		t.Errorf("VerifyEnveloped(tampered SPID vector) = %v, want ErrSignature", err)
	}
}

func TestVerifyEnvelopedRejects(t *testing.T) {
	t.Parallel()
	k := testKeys()
	good := func(t *testing.T) []byte { return sign(t, k.rsa, signOpts{}) }
	edit := func(f func(t *testing.T, root *etree.Element)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return mutate(t, good(t), func(root *etree.Element) { f(t, root) })
		}
	}
	tests := []struct {
		name  string
		raw   func(t *testing.T) []byte
		certs []*x509.Certificate // default: k.rsa
		want  error
		// libraryAccepts: plain goxmldsig accepts this document, so only this package's
		// profile and allow-list checks stand between it and acceptance.
		libraryAccepts bool
	}{
		// Profile (R2).
		{name: "two-references", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			si := signedInfoOf(t, root)
			si.AddChild(referenceOf(t, root).Copy())
		})},
		{name: "reference-to-another-id", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			referenceOf(t, root).SelectAttr("URI").Value = "#other"
		})},
		{name: "reference-without-hash", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			referenceOf(t, root).SelectAttr("URI").Value = testID
		})},
		{name: "reference-uri-empty", want: ErrProfile, libraryAccepts: true, raw: func(t *testing.T) []byte {
			// Signed with URI="" (whole document) while the root has an ID.
			return sign(t, k.rsa, signOpts{idAttr: "NoSuchAttr"})
		}},
		{name: "ds-object-added", want: ErrProfile, libraryAccepts: true, raw: edit(func(t *testing.T, root *etree.Element) {
			obj := sigOf(t, root).CreateElement("ds:Object")
			obj.CreateElement("samlp:AuthnRequest").CreateAttr("ID", "evil")
		})},
		{name: "signature-moved-into-child", want: ErrProfile, libraryAccepts: true, raw: edit(func(t *testing.T, root *etree.Element) {
			sig := sigOf(t, root)
			root.RemoveChild(sig)
			root.FindElement("./NameIDPolicy").AddChild(sig)
		})},
		{name: "second-signature-in-child", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			root.FindElement("./NameIDPolicy").AddChild(sigOf(t, root).Copy())
		})},
		{name: "second-signature-signed-over", want: ErrProfile, libraryAccepts: true, raw: func(t *testing.T) []byte {
			// A decoy signature inside the signed content (as in CVE-2025-25292's
			// StatusDetail): the signer covered it, so only the one-signature rule stops it.
			decoy := parseRoot(t, sign(t, k.attacker, signOpts{}))
			return sign(t, k.rsa, signOpts{build: func() *etree.Element {
				root := newAuthnRequest()
				root.FindElement("./NameIDPolicy").AddChild(sigOf(t, decoy).Copy())
				return root
			}})
		}},
		{name: "two-signature-children", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			root.AddChild(sigOf(t, root).Copy())
		})},
		{name: "inclusive-c14n", want: ErrProfile, libraryAccepts: true, raw: func(t *testing.T) []byte {
			return sign(t, k.rsa, signOpts{canonicalizer: dsig.MakeC14N10RecCanonicalizer()})
		}},
		{name: "c14n11", want: ErrProfile, libraryAccepts: true, raw: func(t *testing.T) []byte {
			return sign(t, k.rsa, signOpts{canonicalizer: dsig.MakeC14N11Canonicalizer()})
		}},
		{name: "exc-c14n-with-comments", want: ErrProfile, libraryAccepts: true, raw: func(t *testing.T) []byte {
			return sign(t, k.rsa, signOpts{canonicalizer: dsig.MakeC14N10ExclusiveWithCommentsCanonicalizerWithPrefixList("")})
		}},
		{name: "missing-enveloped-transform", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			ts := dsChild(t, referenceOf(t, root), "Transforms")
			ts.RemoveChild(ts.ChildElements()[0])
		})},
		{name: "extra-transform", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			ts := dsChild(t, referenceOf(t, root), "Transforms")
			ts.CreateElement("ds:Transform").CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xpath-19991116")
		})},
		{name: "transforms-swapped", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			ts := dsChild(t, referenceOf(t, root), "Transforms")
			first := ts.ChildElements()[0]
			ts.RemoveChild(first)
			ts.AddChild(first)
		})},
		{name: "two-keyinfo", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			sig := sigOf(t, root)
			sig.AddChild(dsChild(t, sig, "KeyInfo").Copy())
		})},
		{name: "two-signedinfo", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			sig := sigOf(t, root)
			sig.InsertChildAt(0, signedInfoOf(t, root).Copy())
		})},
		{name: "no-signaturevalue", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			sig := sigOf(t, root)
			sig.RemoveChild(dsChild(t, sig, "SignatureValue"))
		})},
		{name: "root-without-id", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			root.RemoveAttr("ID")
		})},
		{name: "prefixed-id-on-root", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			root.CreateAttr("xmlns:x", "urn:x")
			root.CreateAttr("x:ID", testID)
		})},
		{name: "prefixed-algorithm-attribute", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			sm := dsChild(t, signedInfoOf(t, root), "SignatureMethod")
			sm.CreateAttr("xmlns:x", "urn:x")
			sm.CreateAttr("x:Algorithm", dsig.RSASHA1SignatureMethod)
		})},
		{name: "comment-in-digestvalue", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			dv := dsChild(t, referenceOf(t, root), "DigestValue")
			dv.AddChild(etree.NewComment("x"))
		})},
		{name: "short-digestvalue", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			dsChild(t, referenceOf(t, root), "DigestValue").SetText(b64([]byte("short")))
		})},
		{name: "xslt-transform-child", want: ErrProfile, raw: edit(func(t *testing.T, root *etree.Element) {
			tr := dsChild(t, referenceOf(t, root), "Transforms").ChildElements()[1]
			tr.CreateElement("ds:XPath").SetText("1")
		})},

		// Algorithms (R3).
		{name: "sha1-signature-method", want: ErrAlgorithm, libraryAccepts: true, raw: func(t *testing.T) []byte {
			return sign(t, k.rsa, signOpts{method: dsig.RSASHA1SignatureMethod})
		}},
		{name: "sha1-digest", want: ErrAlgorithm, raw: edit(func(t *testing.T, root *etree.Element) {
			dsChild(t, referenceOf(t, root), "DigestMethod").SelectAttr("Algorithm").Value = "http://www.w3.org/2000/09/xmldsig#sha1"
		})},
		{name: "hmac-signature-method", want: ErrAlgorithm, raw: edit(func(t *testing.T, root *etree.Element) {
			dsChild(t, signedInfoOf(t, root), "SignatureMethod").SelectAttr("Algorithm").Value = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
		})},
		{name: "rsa-pss", want: ErrAlgorithm, raw: edit(func(t *testing.T, root *etree.Element) {
			dsChild(t, signedInfoOf(t, root), "SignatureMethod").SelectAttr("Algorithm").Value = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
		})},

		// Cryptography and keys (R4).
		{name: "tampered-content", want: ErrSignature, raw: edit(func(t *testing.T, root *etree.Element) {
			root.FindElement("./Issuer").SetText("https://evil.example.net/metadata")
		})},
		{name: "tampered-attribute", want: ErrSignature, raw: edit(func(t *testing.T, root *etree.Element) {
			root.SelectAttr("AssertionConsumerServiceURL").Value = "https://evil.example.net/acs"
		})},
		{name: "added-element", want: ErrSignature, raw: edit(func(t *testing.T, root *etree.Element) {
			root.CreateElement("samlp:Extensions")
		})},
		{name: "tampered-signedinfo", want: ErrSignature, raw: edit(func(t *testing.T, root *etree.Element) {
			dsChild(t, signedInfoOf(t, root), "SignatureMethod").SelectAttr("Algorithm").Value = dsig.RSASHA512SignatureMethod
		})},
		{name: "wrong-key", want: ErrSignature, certs: []*x509.Certificate{k.rsa2.cert}, raw: good},
		{name: "attacker-keyinfo-and-attacker-signature", want: ErrSignature, raw: func(t *testing.T) []byte {
			// Signed by the attacker with the attacker's certificate in KeyInfo: goxmldsig
			// with KeyInfo honoured would still fail on byte equality, but here the key
			// never comes from KeyInfo at all.
			return sign(t, k.attacker, signOpts{})
		}},
		{name: "attacker-signature-keyinfo-claims-victim-cert", want: ErrSignature, raw: func(t *testing.T) []byte {
			return sign(t, k.attacker, signOpts{keyInfoCert: k.rsa.cert})
		}},
		{name: "ecdsa-signature-rsa-key", want: ErrSignature, raw: func(t *testing.T) []byte { return sign(t, k.ec, signOpts{}) }},
		{name: "weak-rsa-key", want: ErrSignature, certs: []*x509.Certificate{k.weak.cert}, raw: func(t *testing.T) []byte {
			return sign(t, k.weak, signOpts{})
		}},
		{name: "no-certs", want: ErrSignature, certs: []*x509.Certificate{}, raw: good},
		{name: "bad-signature-base64", want: ErrSignature, raw: edit(func(t *testing.T, root *etree.Element) {
			dsChild(t, sigOf(t, root), "SignatureValue").SetText("!!!")
		})},

		// No signature at all, or one that is not XML-DSig.
		{name: "unsigned", want: ErrNoSignature, raw: func(t *testing.T) []byte { return writeDoc(t, newAuthnRequest()) }},
		{name: "lookalike-namespace", want: ErrNoSignature, raw: edit(func(t *testing.T, root *etree.Element) {
			sigOf(t, root).SelectAttr("xmlns:ds").Value = "http://www.w3.org/2000/09/xmldsig#x"
		})},
		{name: "not-xml", want: ErrMalformed, raw: func(t *testing.T) []byte { return []byte("<a><b></a>") }},
		{name: "empty", want: ErrMalformed, raw: func(t *testing.T) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := tt.raw(t)
			certs := tt.certs
			if certs == nil {
				certs = []*x509.Certificate{k.rsa.cert}
			}
			if tt.libraryAccepts {
				if err := goxmldsigAlone(t, raw, k.rsa.cert); err != nil {
					t.Fatalf("plain goxmldsig = %v; the test document no longer shows the library gap", err)
				}
			}
			el, err := VerifyEnveloped(raw, certs, fixedNow)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyEnveloped() = %v, want %v", err, tt.want)
			}
			if el != nil {
				t.Errorf("VerifyEnveloped() returned an element with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "xmlsig: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}
