package idp

import (
	"encoding/xml"
	"reflect"
	"testing"
)

var decodeSeeds = []string{
	`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp/saml/sso" AssertionConsumerServiceURL="https://sp/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>https://sp</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/><samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>urn:a</saml:AuthnContextClassRef><saml:AuthnContextClassRef>urn:b</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>`,
	`<?xml version="1.0"?><!-- c --><AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:protocol" x:ID="_x" ID="_2" xmlns:x="urn:x" ForceAuthn="1" IsPassive="false" AssertionConsumerServiceIndex="3" ProviderName="P"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion"> a<b>no</b>c<!--z-->d </Issuer><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">second</Issuer><NameIDPolicy Format="f1"><x>y</x></NameIDPolicy><NameIDPolicy AllowCreate="0"/></AuthnRequest>`,
	`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_3"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature><samlp:RequestedAuthnContext><AuthnContextDeclRef xmlns="urn:oasis:names:tc:SAML:2.0:assertion">d1</AuthnContextDeclRef><q/></samlp:RequestedAuthnContext><samlp:RequestedAuthnContext Comparison="exact"><AuthnContextClassRef xmlns="urn:oasis:names:tc:SAML:2.0:assertion">c<i>x</i>2</AuthnContextClassRef></samlp:RequestedAuthnContext><saml:Issuer xmlns:saml="urn:other">wrong ns</saml:Issuer></samlp:AuthnRequest>`,
	`<a ID="1"><b>`,
	`<a xmlns:p="urn:p"><p:Issuer>x</p:Issuer></b>`,
	`text only`,
	``,
	`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_l"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">sp</saml:Issuer></samlp:LogoutRequest>`,
}

// decodeAuthnRequest must read every input exactly as xml.Unmarshal does: same fields, and an
// error exactly when Unmarshal fails.
func TestDecodeAuthnRequestMatchesUnmarshal(t *testing.T) {
	for i, s := range decodeSeeds {
		checkDecodeMatches(t, i, []byte(s))
	}
}

func FuzzDecodeAuthnRequest(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkDecodeMatches(t, 0, raw) })
}

func checkDecodeMatches(t *testing.T, i int, raw []byte) {
	t.Helper()
	var want, got authnRequest
	werr := xml.Unmarshal(raw, &want)
	gerr := decodeAuthnRequest(raw, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("input %d %q: Unmarshal error %v, decode error %v", i, raw, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("input %d %q:\nUnmarshal %+v\ndecode    %+v", i, raw, want, got)
	}
}
