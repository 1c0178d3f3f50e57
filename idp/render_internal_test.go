package idp

import (
	"encoding/xml"
	"net/url"
	"testing"
)

// queryGet must agree with url.ParseQuery(raw).Get(key) on every query, the malformed ones
// included: it only decodes less.
func TestQueryGetMatchesParseQuery(t *testing.T) {
	queries := []string{
		"", "lang=eu", "lang=eu&lang=en", "SAMLRequest=abc%2B%2F%3D&RelayState=x&lang=en",
		"la%6Eg=en", "lang=e%6E", "lang=%zz&lang=es", "lang;x=1&lang=eu", "lang=a;b&lang=es",
		"&&lang=en&", "lang", "lang=", "x=1&lang=a+b", "l+ang=en", "%zz=1&lang=eu", "lang=en=us",
		"LANG=en", "flow=f1&lang=es",
	}
	for _, q := range queries {
		want := ""
		if v, _ := url.ParseQuery(q); v != nil {
			want = v.Get("lang")
		}
		if got := queryGet(q, "lang"); got != want {
			t.Errorf("queryGet(%q) = %q, ParseQuery gives %q", q, got, want)
		}
	}
}

func FuzzQueryGet(f *testing.F) {
	f.Add("lang=eu&x=%2B", "lang")
	f.Add("la%6Eg=en;", "lang")
	f.Fuzz(func(t *testing.T, q, key string) {
		v, _ := url.ParseQuery(q)
		if got, want := queryGet(q, key), v.Get(key); got != want {
			t.Fatalf("queryGet(%q, %q) = %q, want %q", q, key, got, want)
		}
	})
}

// The Signature field read with the request must say what hasEnvelopedSignature says.
func TestAuthnRequestSignatureFieldMatchesScan(t *testing.T) {
	docs := []string{
		`<samlp:AuthnRequest xmlns:samlp="` + nsSAMLP + `" ID="_1"><saml:Issuer xmlns:saml="` + nsSAML + `">sp</saml:Issuer></samlp:AuthnRequest>`,
		`<samlp:AuthnRequest xmlns:samlp="` + nsSAMLP + `" ID="_1"><ds:Signature xmlns:ds="` + nsDS + `"><ds:SignedInfo></ds:SignedInfo></ds:Signature></samlp:AuthnRequest>`,
		`<samlp:AuthnRequest xmlns:samlp="` + nsSAMLP + `" xmlns="` + nsDS + `" ID="_1"><Signature></Signature></samlp:AuthnRequest>`,
		`<samlp:AuthnRequest xmlns:samlp="` + nsSAMLP + `" ID="_1"><x><ds:Signature xmlns:ds="` + nsDS + `"></ds:Signature></x></samlp:AuthnRequest>`,
		`<samlp:AuthnRequest xmlns:samlp="` + nsSAMLP + `" ID="_1"><ds:Signature xmlns:ds="urn:other"></ds:Signature></samlp:AuthnRequest>`,
		`<samlp:AuthnRequest xmlns:samlp="` + nsSAMLP + `" ID="_1"><Signature></Signature></samlp:AuthnRequest>`,
	}
	want := []bool{false, true, true, false, false, false}
	for i, d := range docs {
		var req authnRequest
		if err := xml.Unmarshal([]byte(d), &req); err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		if got, scan := req.Signature != nil, hasEnvelopedSignature([]byte(d)); got != scan || got != want[i] {
			t.Errorf("doc %d: field %v, scan %v, want %v", i, got, scan, want[i])
		}
	}
}
