package xmlsig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ateaidp/atea/metadata/xmlgate"
)

// Protocol messages the fast path must take (copies of the idp tests' AuthnRequest and
// LogoutRequest fixtures, the third without its comments: the idp package's test files cannot
// be imported from here).
const (
	gfAuthnCrewjam = `<samlp:AuthnRequest xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="id-2a6b1c0f1b0d4e5f9a7c" Version="2.0" IssueInstant="2026-01-02T03:04:05.678Z" Destination="https://idp.example.org/saml/sso" AssertionConsumerServiceURL="https://sp.example.com/saml/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">https://sp.example.com/saml/metadata</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"></samlp:NameIDPolicy></samlp:AuthnRequest>`
	gfAuthnIdp     = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp/saml/sso" AssertionConsumerServiceURL="https://sp/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>https://sp</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/></samlp:AuthnRequest>`
	gfAuthnDefault = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:protocol" x:ID="_x" ID="_2" xmlns:x="urn:x" ForceAuthn="1" IsPassive="false" AssertionConsumerServiceIndex="3" ProviderName="P &amp; Q"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion"> a<b>no</b>c d </Issuer><NameIDPolicy Format="f1"><x>y</x></NameIDPolicy></AuthnRequest>`
	gfAuthnSigned  = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_3"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature><samlp:RequestedAuthnContext><AuthnContextDeclRef xmlns="urn:oasis:names:tc:SAML:2.0:assertion">d1</AuthnContextDeclRef><q/></samlp:RequestedAuthnContext></samlp:AuthnRequest>`
	gfLogout       = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_l"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">sp</saml:Issuer></samlp:LogoutRequest>`
	gfLogoutEncID  = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a" Version="2.0"><saml:EncryptedID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/></samlp:LogoutRequest>`
)

// gfFiles are real messages and metadata: xmlgate's testdata and the signed SPID request here.
func gfFiles(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pat := range []string{"../xmlgate/testdata/*.xml", "testdata/*.xml"} {
		names, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			out[n] = string(b)
		}
	}
	if len(out) < 5 {
		t.Fatalf("found %d testdata files, want at least 5", len(out))
	}
	return out
}

// gfLimits are the limit sets every input is gated under: the protocol and metadata limits,
// and small ones that short inputs can reach, so the caps are compared at their edges too.
func gfLimits() map[string]xmlgate.Limits {
	small := xmlgate.Limits{
		MaxBytes: 512, MaxDepth: 4, MaxTokens: 24, MaxAttrs: 3, MaxNSDecls: 2,
		MaxNameLen: 12, MaxAttrValueLen: 10, AllowComments: true,
	}
	return map[string]xmlgate.Limits{
		"protocol": xmlgate.ProtocolLimits(),
		"metadata": xmlgate.MetadataLimits(),
		"small":    small,
	}
}

// gfAgree fails t unless GateFast never accepts what Check refuses and GateCheck answers
// exactly as Check does.
func gfAgree(t *testing.T, name string, raw []byte, lim xmlgate.Limits) (fast bool, checkErr error) {
	t.Helper()
	fast = GateFast(raw, lim)
	checkErr = xmlgate.Check(raw, lim)
	if fast && checkErr != nil {
		t.Fatalf("%s: GateFast accepts, xmlgate.Check refuses: %v (input %.200q)", name, checkErr, raw)
	}
	got := GateCheck(raw, lim)
	if (got == nil) != (checkErr == nil) || got != nil && got.Error() != checkErr.Error() {
		t.Fatalf("%s: GateCheck = %v, xmlgate.Check = %v", name, got, checkErr)
	}
	return fast, checkErr
}

// TestGateFastTakesRealMessages: the fast path actually serves the messages it is for (a
// GateFast that always says false would pass every agreement test and save nothing).
func TestGateFastTakesRealMessages(t *testing.T) {
	p := xmlgate.ProtocolLimits()
	withComments := p
	withComments.AllowComments = true
	cases := map[string]struct {
		doc string
		lim xmlgate.Limits
	}{
		"crewjam AuthnRequest":    {gfAuthnCrewjam, p},
		"idp AuthnRequest":        {gfAuthnIdp, p},
		"default-ns AuthnRequest": {gfAuthnDefault, p},
		"AuthnRequest with ds":    {gfAuthnSigned, p},
		"LogoutRequest":           {gfLogout, p},
		"LogoutRequest EncID":     {gfLogoutEncID, p},
	}
	files := gfFiles(t)
	for _, n := range []string{"../xmlgate/testdata/spid_authnrequest_signed_spid-sp-test.xml", "testdata/spid_authnrequest_signed_spid-sp-test.xml"} {
		cases[n] = struct {
			doc string
			lim xmlgate.Limits
		}{files[n], p}
	}
	cases["eidas AuthnRequest, comments allowed"] = struct {
		doc string
		lim xmlgate.Limits
	}{files["../xmlgate/testdata/eidas-node-2.9_authnrequest_unsigned.xml"], withComments}
	for name, c := range cases {
		if c.doc == "" {
			t.Fatalf("%s: fixture missing", name)
		}
		fast, err := gfAgree(t, name, []byte(c.doc), c.lim)
		if err != nil {
			t.Fatalf("%s: xmlgate.Check refuses a fixture: %v", name, err)
		}
		if !fast {
			t.Errorf("%s: GateFast = false, want the fast path to accept it", name)
		}
	}
}

// TestGateFastNastyInputs: the inputs xmlgate's own tests refuse, and the round-trip and
// namespace tricks, are all left to xmlgate.Check, whose error GateCheck returns unchanged.
func TestGateFastNastyInputs(t *testing.T) {
	manyAttrs := func(n int) string {
		var b strings.Builder
		b.WriteString("<r")
		for i := range n {
			b.WriteString(" a" + strings.Repeat("x", i+1) + `="v"`)
		}
		return b.String() + "/>"
	}
	manyNS := func(n int) string {
		var b strings.Builder
		b.WriteString("<r")
		for i := range n {
			b.WriteString(" xmlns:p" + strings.Repeat("x", i+1) + `="urn:x"`)
		}
		return b.String() + "/>"
	}
	p := xmlgate.ProtocolLimits()
	bigNS := p
	bigNS.MaxAttrs = 100
	// Every one of these is refused by xmlgate.Check under p (checked below).
	refused := map[string]string{
		"doctype":                    `<!DOCTYPE r><r/>`,
		"doctype lowercase":          `<!doctype r><r/>`,
		"doctype internal subset":    `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "v">]><r>&e;</r>`,
		"billion laughs":             `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>`,
		"external entity":            `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>`,
		"attlist default":            `<!DOCTYPE Response [<!ATTLIST Assertion ID CDATA "x">]><Response/>`,
		"entity directive":           `<!ENTITY e "v"><r/>`,
		"doctype inside root":        `<r><!DOCTYPE x></r>`,
		"undeclared entity":          `<r>&SECRETENTITY;</r>`,
		"undeclared entity in attr":  `<r a="&e;"/>`,
		"stylesheet PI":              `<?xml-stylesheet href="http://evil.example/x.xsl"?><r/>`,
		"PI in root":                 `<r><?php x?></r>`,
		"second declaration":         `<?xml version="1.0"?><r><?xml version="1.0"?></r>`,
		"declaration after space":    ` <?xml version="1.0"?><r/>`,
		"latin1 declared":            `<?xml version="1.0" encoding="ISO-8859-1"?><r/>`,
		"encoding hidden in value":   `<?xml version="1.0" standalone="encoding='latin1'"?><r/>`,
		"version hidden in value":    `<?xml standalone="version='2.0'" version="1.0"?><r/>`,
		"version 1.1":                `<?xml version="1.1"?><r/>`,
		"comment":                    `<r><n>admin<!---->@evil</n></r>`,
		"CDATA outside root":         `<![CDATA[x]]><r/>`,
		"empty CDATA":                `<r><![CDATA[]]></r>`,
		"bom":                        "\ufeff<r/>",
		"nul":                        "<r>\x00</r>",
		"invalid utf8":               "<r>\xff\xfe</r>",
		"U+FFFE":                     "<r>\uFFFE</r>",
		"char ref to NUL":            `<r>&#0;</r>`,
		"a:b:c element":              `<a:b:c xmlns:a="urn:a"/>`,
		"a:b:c attribute":            `<r xmlns:a="urn:a" a:b:c="1"/>`,
		"colon-led name":             `<:r/>`,
		"colon-ended attribute":      `<r a:="1"/>`,
		"x:: element":                `<x::Root/>`,
		"empty xmlns prefix":         `<Root xmlns="x" xmlns:="y"></Root>`,
		"xmlns:xmlns":                `<r xmlns:xmlns="urn:x"/>`,
		"xml prefix rebound":         `<r xmlns:xml="urn:x"/>`,
		"xml namespace other prefix": `<r xmlns:p="http://www.w3.org/XML/1998/namespace"/>`,
		"xmlns namespace bound":      `<r xmlns:p="http://www.w3.org/2000/xmlns/"/>`,
		"xmlns element prefix":       `<xmlns:r/>`,
		"prefix undeclared by empty": `<r xmlns:a="urn:a"><c xmlns:a=""/></r>`,
		"saml prefix rebound":        `<samlp:R xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><samlp:E><saml:Evil xmlns:saml="urn:evil"/></samlp:E></samlp:R>`,
		"saml prefix bound late":     `<r><x:a xmlns:x="urn:evil"/><x:b xmlns:x="urn:oasis:names:tc:SAML:2.0:assertion"/></r>`,
		"ds prefix rebound sibling":  `<r><ds:a xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/><ds:b xmlns:ds="http://www.w3.org/2000/09/xmldsig#x"/></r>`,
		"xenc prefix rebound":        `<r xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><c xmlns:xenc="urn:x"/></r>`,
		"undeclared element prefix":  `<saml:Assertion/>`,
		"undeclared attr prefix":     `<r x:a="1"/>`,
		"attr prefix declared later": `<r><c x:a="1"/><d xmlns:x="urn:x"/></r>`,
		"prefix out of scope":        `<r><a xmlns:x="urn:x"/><x:b/></r>`,
		"duplicate attribute":        `<r ID="a" ID="b"/>`,
		"duplicate resolved attr":    `<r xmlns:a="urn:x" xmlns:b="urn:x" a:v="1" b:v="2"/>`,
		"duplicate xmlns":            `<r xmlns:a="urn:x" xmlns:a="urn:y"/>`,
		"duplicate default xmlns":    `<r xmlns="urn:x" xmlns="urn:x"/>`,
		"duplicate ID":               `<r ID="_a"><c ID="_a"/></r>`,
		"duplicate ID by reference":  `<r ID="_a"><c ID="&#95;a"/></r>`,
		"XSW8 shape":                 `<Response ID="_r"><Assertion ID="_a"><Signature><Object><Assertion ID="_a"/></Object></Signature></Assertion></Response>`,
		"text after root":            `<r/>evil`,
		"second root":                `<r/><r/>`,
		"text before root":           `x<r/>`,
		"empty":                      ``,
		"whitespace only":            " \n",
		"declaration only":           `<?xml version="1.0"?>`,
		"unclosed":                   `<r><c>`,
		"mismatched end":             `<r><c></r></c>`,
		"prefix-mismatched end":      `<a:r xmlns:a="urn:a" xmlns:b="urn:a"></b:r>`,
		"lt in attribute":            `<r a="<"/>`,
		"unquoted attribute":         `<r a=1/>`,
		"depth 65":                   strings.Repeat("<a>", 65) + strings.Repeat("</a>", 65),
		"65 attributes":              manyAttrs(65),
		"long name":                  "<" + strings.Repeat("n", 300) + "/>",
		"long attribute value":       `<r a="` + strings.Repeat("v", 17<<10) + `"/>`,
		"long namespace URI":         `<r xmlns:x="` + strings.Repeat("u", 17<<10) + `"/>`,
		"long default namespace URI": `<r xmlns="` + strings.Repeat("u", 17<<10) + `"/>`,
		"too large":                  "<r>" + strings.Repeat("x", 256<<10) + "</r>",
		"too many tokens":            "<r>" + strings.Repeat("<a/>", 10000) + "</r>",
	}
	for name, doc := range refused {
		fast, err := gfAgree(t, name, []byte(doc), p)
		if err == nil {
			t.Errorf("%s: xmlgate.Check accepts it; the table is wrong", name)
		}
		if fast {
			t.Errorf("%s: GateFast accepts", name)
		}
	}
	if fast, err := gfAgree(t, "33 namespace declarations", []byte(manyNS(33)), bigNS); err == nil || fast {
		t.Errorf("33 namespace declarations: fast=%v check=%v, want both refusing", fast, err)
	}

	// Accepted by xmlgate.Check: the fast path may take these or leave them to Check, and
	// must agree either way. "take" marks the ones it must take.
	accepted := []struct {
		name string
		doc  string
		lim  xmlgate.Limits
		take bool
	}{
		{"depth 64", strings.Repeat("<a>", 64) + strings.Repeat("</a>", 64), p, true},
		{"64 attributes", manyAttrs(64), p, true},
		{"32 namespace declarations", manyNS(32), p, true},
		{"name of 255", "<" + strings.Repeat("n", 255) + "/>", p, true},
		{"attribute value of 16 KiB", `<r a="` + strings.Repeat("v", 16<<10) + `"/>`, p, true},
		{"namespace URI of 16 KiB", `<r xmlns:x="` + strings.Repeat("u", 16<<10) + `"/>`, p, true},
		{"exactly MaxBytes", "<r>" + strings.Repeat("x", 256<<10-7) + "</r>", p, true},
		{"exactly MaxTokens", "<r>" + strings.Repeat("<a/>", 9999) + "</r>", p, true},
		{"same prefix same URI", `<s:r xmlns:s="urn:oasis:names:tc:SAML:2.0:assertion"><s:x xmlns:s="urn:oasis:names:tc:SAML:2.0:assertion"/></s:r>`, p, true},
		{"other prefix rebound", `<x:r xmlns:x="urn:a"><x:c xmlns:x="urn:b"/></x:r>`, p, true},
		{"xmlns redeclared in child", `<x:r xmlns:x="urn:a"><x:c xmlns:x="urn:a" x:a="1"/></x:r>`, p, true},
		{"default namespace switches", `<r xmlns="urn:a" xmlns:a="urn:a" a:x="1" x="2"><c xmlns=""/></r>`, p, true},
		{"prefixed and plain same local", `<r xmlns:a="urn:a" a:x="1" x="2"/>`, p, true},
		{"xml:lang", `<r xml:lang="en"/>`, p, true},
		{"prefix starting with xml", `<xmlp:r xmlns:xmlp="urn:a" xmlp:a="1"/>`, p, true},
		{"prefix _xmlns", `<r xmlns:_xmlns="urn:a" _xmlns:b="1" xmlns:c="urn:c"/>`, p, true},
		{"attribute named xmlns with prefix", `<r xmlns:p="urn:p" p:xmlns="v"/>`, p, true},
		{"CDATA and references", `<r a="&lt;&#x41;">x<![CDATA[<y>]]>&amp;</r>`, p, true},
		{"tab and newline in attribute", "<r a=\"x\ty\nz\r\nw\"/>", p, true},
		{"CRLF in text", "<r>\r\na\rb</r>\r\n", p, true},
		{"declaration lowercase utf-8", `<?xml version="1.0" encoding="utf-8"?><r/>`, p, true},
		{"declaration standalone", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n<r/>\n", p, true},
		{"comments allowed", "<!-- a --><r><!--b-->x</r>\n<!-- end -->\n", xmlgate.MetadataLimits(), true},
		{"xml prefix declared properly", `<r xmlns:xml="http://www.w3.org/XML/1998/namespace"/>`, p, false},
		{"XML declaration in upper case", `<?XML version="1.0"?><r/>`, p, false},
		{"non-ASCII name", `<año/>`, p, false},
		{"no space between attributes", `<r a="1"b="2"/>`, p, false},
		{"]]> in text", `<r>]]></r>`, p, false},
	}
	for _, c := range accepted {
		fast, err := gfAgree(t, c.name, []byte(c.doc), c.lim)
		if err != nil {
			// Not a failure of GateFast, but the table claims Check accepts it.
			if c.take {
				t.Errorf("%s: xmlgate.Check refuses: %v", c.name, err)
			}
			continue
		}
		if c.take && !fast {
			t.Errorf("%s: GateFast = false, want the fast path", c.name)
		}
	}
}

// FuzzGateFastAgrees: whatever GateFast accepts, xmlgate.Check accepts, under the protocol, the
// metadata and small limits; and GateCheck's answer is Check's, error text included.
func FuzzGateFastAgrees(f *testing.F) {
	for _, s := range []string{
		gfAuthnCrewjam, gfAuthnIdp, gfAuthnDefault, gfAuthnSigned, gfLogout, gfLogoutEncID,
		`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "v">]><r>&e;</r>`,
		`<r ID="a"><c ID="a"/></r>`,
		`<s:r xmlns:s="urn:oasis:names:tc:SAML:2.0:assertion"><s:x xmlns:s="urn:evil"/></s:r>`,
		`<r xmlns="urn:a" xmlns:a="urn:a" a:x="1" x="2"><c xmlns=""/></r>`,
		`<r><![CDATA[x]]><!--c--><?pi x?></r>`,
		`<x::Root/>`, `<a:b:c xmlns:a="u"/>`,
		`<Root xmlns="x" xmlns:="y"></Root>`,
		`<?xml version="1.0" encoding="UTF-8" standalone="no"?><r a="&#x9;&#xD;" b='"'>&lt;</r>`,
		`<r xmlns:_xmlns="urn:a" _xmlns:b="1" xmlns:c="urn:c" c:d="2"/>`,
	} {
		f.Add([]byte(s))
	}
	for _, s := range gfFiles(f) {
		f.Add([]byte(s))
	}
	lims := gfLimits()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for name, lim := range lims {
			gfAgree(t, name, raw, lim)
		}
	})
}

func BenchmarkGate(b *testing.B) {
	raw := []byte(gfAuthnCrewjam)
	lim := xmlgate.ProtocolLimits()
	b.Run("xmlgate.Check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := xmlgate.Check(raw, lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GateCheck", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := GateCheck(raw, lim); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestGateFastAgreesOnAttributeMixes: every ordering of up to three attributes (four from the
// trickiest ones) drawn from namespace declarations, prefixed and plain attributes whose
// prefixes collide with the ones encoding/xml invents when it re-encodes (_xmlns, _xmlns_1,
// xml…, _), on plain and prefixed elements: GateFast agrees with xmlgate.Check, whose
// round-trip validator is where such start tags go wrong.
func TestGateFastAgreesOnAttributeMixes(t *testing.T) {
	pool := []string{
		`xmlns:_xmlns="urn:x"`, `_xmlns:v="2"`, `xmlns:a="urn:a"`, `a:v="1"`,
		`xmlns:xmla="urn:m"`, `xmla:w="3"`, `xml:lang="en"`, `xmlns:_xmlns_1="urn:y"`,
		`_xmlns_1:q="5"`, `xmlns:a_1="urn:a1"`, `a_1:v="4"`, `xmlns:_="urn:u"`, `_:z="6"`,
		`xmlns="urn:d"`, `v="0"`, `ID="i"`,
	}
	elems := []string{"r", "a:r", "_xmlns:r", "xmla:r", "_:r"}
	const parent = `<p xmlns:a="urn:a" xmlns:_xmlns="urn:x" xmlns:xmla="urn:m" xmlns:a_1="urn:a1" xmlns:_xmlns_1="urn:y" xmlns:_="urn:u">`
	lim := xmlgate.ProtocolLimits()
	var fastN, acceptN, total int
	check := func(attrs []string) {
		for _, e := range elems {
			doc := parent + "<" + e + " " + strings.Join(attrs, " ") + "/></p>"
			fast, err := gfAgree(t, "mix", []byte(doc), lim)
			total++
			if err == nil {
				acceptN++
			}
			if fast {
				fastN++
			}
		}
	}
	var rec func(prefix []string, pool []string, n int)
	rec = func(prefix []string, pool []string, n int) {
		if len(prefix) > 0 {
			check(prefix)
		}
		if len(prefix) == n {
			return
		}
		for _, a := range pool {
			rec(append(prefix[:len(prefix):len(prefix)], a), pool, n)
		}
	}
	rec(nil, pool, 3)
	rec(nil, pool[:9], 4)
	t.Logf("%d documents: %d accepted by xmlgate.Check, %d of them by GateFast", total, acceptN, fastN)
	if fastN == 0 || acceptN == total {
		t.Fatalf("degenerate mix: %d fast, %d accepted of %d", fastN, acceptN, total)
	}
}

// TestVerifyStreamHoldsRoundTrip: the aggregate path's verifying pass is a gate too, so a tag
// the round-trip validator refuses is refused there as xmlgate.Check refuses it, before any
// signature is looked at; the same tag repeated (the verdict cache) is refused every time.
func TestVerifyStreamHoldsRoundTrip(t *testing.T) {
	bad := `<r xmlns:_xmlns="urn:a" _xmlns:b="1" xmlns:c="urn:c" c:d="2"/>`
	good := `<m:x xmlns:m="urn:m" xml:lang="es"/>`
	for _, body := range []string{bad, good + bad, good + good + bad + bad} {
		doc := []byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="x">` + body + `</md:EntitiesDescriptor>`)
		lim := xmlgate.MetadataLimits()
		if err := xmlgate.Check(doc, lim); err == nil {
			t.Fatalf("xmlgate.Check accepts %s; the case is moot", body)
		}
		_, err := VerifyEnvelopedStream(doc, lim, nil)
		if !errors.Is(err, xmlgate.ErrRejected) {
			t.Errorf("VerifyEnvelopedStream(%s) = %v, want a gate rejection", body, err)
		}
	}
}

// TestGatePrefixRebinding: pysaml2's SOAP envelope rebinds ns0 from the envelope's namespace
// to SAML's. ProtocolLimits refuses it (R1), SOAPEnvelopeLimits accepts it, and the fast path
// and xmlgate.Check agree both ways; every other rule still holds under SOAPEnvelopeLimits.
func TestGatePrefixRebinding(t *testing.T) {
	t.Parallel()
	env := `<ns0:Envelope xmlns:ns0="http://schemas.xmlsoap.org/soap/envelope/"><ns0:Body>` +
		`<ns0:LogoutRequest xmlns:ns0="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0"/></ns0:Body></ns0:Envelope>`
	if err := xmlgate.Check([]byte(env), xmlgate.ProtocolLimits()); err == nil || GateFast([]byte(env), xmlgate.ProtocolLimits()) {
		t.Error("ProtocolLimits accepts a rebound SAML prefix")
	}
	if err := GateCheck([]byte(env), xmlgate.SOAPEnvelopeLimits()); err != nil {
		t.Errorf("SOAPEnvelopeLimits refuses pysaml2's envelope: %v", err)
	}
	if err := xmlgate.Check([]byte(env), xmlgate.SOAPEnvelopeLimits()); err != nil {
		t.Errorf("xmlgate.Check with SOAPEnvelopeLimits: %v", err)
	}
	for _, bad := range []string{
		`<!DOCTYPE x><ns0:Envelope xmlns:ns0="http://schemas.xmlsoap.org/soap/envelope/"/>`,
		`<ns0:Envelope xmlns:ns0="http://schemas.xmlsoap.org/soap/envelope/" a="1" a="2"/>`,
		`<ns0:Envelope xmlns:ns0="http://schemas.xmlsoap.org/soap/envelope/"><!-- c --></ns0:Envelope>`,
	} {
		if err := GateCheck([]byte(bad), xmlgate.SOAPEnvelopeLimits()); err == nil {
			t.Errorf("SOAPEnvelopeLimits accepts %s", bad)
		}
	}
}
