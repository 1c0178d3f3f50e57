package metadata

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/ateaidp/atea/metadata/xmlsig"
)

// benchAggregate is an unsigned federation aggregate of n SP entities shaped like those of
// `atea bench metadata` (mdui names, a signing and an encryption certificate, two ACS, an
// Organization and a ContactPerson), every certificate distinct (its serial number rewritten),
// so that nothing can be shared between entities.
func benchAggregate(tb testing.TB, n int) []byte {
	tb.Helper()
	certs := [][]byte{loadCert(tb, "sp-rsa2048.crt").Raw, loadCert(tb, "sp2-rsa2048.crt").Raw}
	serials := [][]byte{loadCert(tb, "sp-rsa2048.crt").SerialNumber.Bytes(), loadCert(tb, "sp2-rsa2048.crt").SerialNumber.Bytes()}
	certText := func(i, j int) string {
		der := append([]byte(nil), certs[j]...)
		p := bytes.Index(der, serials[j])
		copy(der[p+1:], fmt.Sprintf("%09d-%d", i, j))
		s := base64.StdEncoding.EncodeToString(der)
		var b strings.Builder
		for len(s) > 64 {
			b.WriteString("\n" + s[:64])
			s = s[64:]
		}
		b.WriteString("\n" + s + "\n")
		return b.String()
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" ID="agg" Name="urn:example:federation">
`)
	for i := range n {
		host := fmt.Sprintf("sp%06d.example.org", i)
		fmt.Fprintf(&b, `  <EntityDescriptor entityID="https://%[1]s/shibboleth">
    <Extensions><mdrpi:RegistrationInfo registrationAuthority="https://federation.example.org" registrationInstant="2024-05-06T07:08:09Z"/></Extensions>
    <SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
      <Extensions>
        <mdui:UIInfo>
          <mdui:DisplayName xml:lang="en">Research service %[2]d &amp; friends</mdui:DisplayName>
          <mdui:DisplayName xml:lang="es">Servicio de investigación %[2]d</mdui:DisplayName>
        </mdui:UIInfo>
      </Extensions>
      <KeyDescriptor use="signing">
        <ds:KeyInfo>
          <ds:X509Data><ds:X509Certificate>%[3]s</ds:X509Certificate></ds:X509Data>
        </ds:KeyInfo>
      </KeyDescriptor>
      <KeyDescriptor use="encryption">
        <ds:KeyInfo>
          <ds:X509Data><ds:X509Certificate>%[4]s</ds:X509Certificate></ds:X509Data>
        </ds:KeyInfo>
        <EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
      </KeyDescriptor>
      <NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</NameIDFormat>
      <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://%[1]s/Shibboleth.sso/SAML2/POST" index="1" isDefault="true"/>
      <AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST-SimpleSign" Location="https://%[1]s/SAML2/POST-SimpleSign" index="2"/>
      <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://%[1]s/Shibboleth.sso/SLO/Redirect"/>
    </SPSSODescriptor>
    <Organization><OrganizationName xml:lang="en">Example %[2]d</OrganizationName><OrganizationURL xml:lang="en">https://www.example.org/</OrganizationURL></Organization>
    <ContactPerson contactType="technical"><EmailAddress>mailto:ops@%[1]s</EmailAddress></ContactPerson>
  </EntityDescriptor>
`, host, i, certText(i, 0), certText(i, 1))
	}
	b.WriteString("</EntitiesDescriptor>\n")
	return b.Bytes()
}

// BenchmarkAggregateLoad reads a 10,000-entity aggregate through the stream path (what a
// remote source does after verifying the signature), for profiling:
//
//	go test -run '^$' -bench AggregateLoad -cpuprofile cpu.out -memprofile mem.out ./metadata/
func BenchmarkAggregateLoad(b *testing.B) {
	const n = 10000
	raw := benchAggregate(b, n)
	lim := sourceLimits(DefaultRemoteMaxBytes)
	now := testNow()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		sps, problems, err := parseStream(raw, now, lim)
		if err != nil || len(problems) != 0 || len(sps) != n {
			b.Fatalf("parseStream: %d SPs, problems %v, err %v", len(sps), problems, err)
		}
	}
}

// TestBenchAggregateSameBothPaths: the benchmark's document reads the same through the stream
// path and the encoding/xml path (SLO endpoints included), so the benchmark measures a correct
// load.
func TestBenchAggregateSameBothPaths(t *testing.T) {
	raw := benchAggregate(t, 50)
	lim := sourceLimits(DefaultRemoteMaxBytes)
	sps, problems, err := parseStream(raw, testNow(), lim)
	if err != nil || len(problems) != 0 {
		t.Fatalf("parseStream: problems %v, err %v", problems, err)
	}
	dsps, dproblems, err := parseWithLimitsDOM(raw, testNow(), lim)
	if err != nil || len(dproblems) != 0 {
		t.Fatalf("parseWithLimitsDOM: problems %v, err %v", dproblems, err)
	}
	if len(sps) != 50 || len(dsps) != 50 {
		t.Fatalf("%d and %d SPs, want 50", len(sps), len(dsps))
	}
	for i := range sps {
		if !reflect.DeepEqual(sps[i], dsps[i]) {
			t.Fatalf("SP %d differs:\nstream %+v\n   DOM %+v", i, sps[i], dsps[i])
		}
	}
	if len(sps[7].SLO) != 1 || len(sps[7].SigningCerts) != 1 || len(sps[7].EncryptionCerts) != 1 || sps[7].DisplayNames["es"] == "" {
		t.Errorf("SP 7 incomplete: %+v", sps[7])
	}
}

// TestDecodeCertText: decodeCertText is the reference decoding (strings.Fields, Join,
// DecodeString) for every kind of white space, padding and garbage, as strings and as bytes.
func TestDecodeCertText(t *testing.T) {
	der := loadCert(t, "sp-rsa2048.crt").Raw
	enc := base64.StdEncoding.EncodeToString(der)
	cases := []string{
		enc, "\n" + enc[:64] + "\n" + enc[64:] + "\n", "\r\n" + enc[:64] + "\r\n" + enc[64:],
		"  " + enc[:10] + "\t" + enc[10:40] + " \v\f" + enc[40:] + "  ",
		enc[:20] + "\u00a0" + enc[20:], enc[:20] + "\u0085" + enc[20:], enc[:20] + "\u2003" + enc[20:],
		"", " ", "\n", "QQ==", "QQ=\n=", "QQ= =", "QQ\n==\n", "QQ==QQ==", "QQ==\nQQ==", "Q", "QQ=", "QUJD", "QUJD\n",
		"QUJ", "QU JD", "!!!!", "QUJD====", "QQ==\n\n", "é", "QQ\r\r==",
	}
	for _, c := range cases {
		want, wantErr := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c), ""))
		for _, got := range []func() ([]byte, error){
			func() ([]byte, error) { return decodeCertText(c) },
			func() ([]byte, error) {
				in := []byte(c)
				b, err := decodeCertText(in)
				if string(in) != c {
					t.Errorf("decodeCertText modified its input %q", clip(c, 40))
				}
				return b, err
			},
		} {
			b, err := got()
			if (err != nil) != (wantErr != nil) || (err == nil && !bytes.Equal(b, want)) {
				t.Errorf("decodeCertText(%q) = %x, %v; want %x, %v", clip(c, 40), b, err, want, wantErr)
			}
		}
	}
}

// TestCertCache: a text seen before gives the certificates parsed the first time (the same
// pointers), equal to what parseCerts gives; a different text is parsed; a bad one is refused
// every time and not remembered.
func TestCertCache(t *testing.T) {
	cc := newCertCache(4)
	a := []byte(b64(loadCert(t, "sp-rsa2048.crt")))
	b := []byte(b64(loadCert(t, "sp2-rsa2048.crt")))
	first, err := cc.parse(a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cc.parse(append([]byte(nil), a...))
	if err != nil || len(again) != 1 || again[0] != first[0] {
		t.Fatalf("second parse of the same text: %v, %v; want the cached certificate", again, err)
	}
	want, _ := parseCerts(a)
	if !reflect.DeepEqual(first, want) {
		t.Error("cached certificates differ from parseCerts's")
	}
	other, err := cc.parse(b)
	if err != nil || other[0] == first[0] || !bytes.Equal(other[0].Raw, loadCert(t, "sp2-rsa2048.crt").Raw) {
		t.Errorf("another text: %v, %v", other, err)
	}
	weak := []byte(b64(loadCert(t, "rsa1024.crt")))
	for range 2 {
		if _, err := cc.parse(weak); !errors.Is(err, errCertificate) {
			t.Errorf("RSA-1024: err = %v; want errCertificate", err)
		}
	}
	var none *certCache
	if cs, err := none.parse(a); err != nil || !reflect.DeepEqual(cs, want) {
		t.Errorf("nil cache: %v, %v", cs, err)
	}
}

// FuzzStreamParseEqualsDOM: whatever the stream path reads (without falling back), the
// encoding/xml path reads the same way: the same SPs, the same problems; what the stream path
// refuses outright, the encoding/xml path refuses too.
func FuzzStreamParseEqualsDOM(f *testing.F) {
	f.Add(benchAggregate(f, 2))
	f.Add([]byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://a.example/sp"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://a.example/acs" index="0"/><SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://a.example/slo"/></SPSSODescriptor></EntityDescriptor>`))
	lim := sourceLimits(DefaultRemoteMaxBytes)
	f.Fuzz(func(t *testing.T, raw []byte) {
		sps, problems, err := parseStream(raw, testNow(), lim)
		if err != nil && xmlsig.IsStreamFallback(err) {
			return
		}
		dsps, dproblems, derr := parseWithLimitsDOM(raw, testNow(), lim)
		if err != nil {
			if derr == nil {
				t.Fatalf("stream path refuses (%v), encoding/xml path accepts", err)
			}
			return
		}
		if derr != nil {
			t.Fatalf("stream path accepts, encoding/xml path refuses: %v", derr)
		}
		if !reflect.DeepEqual(sps, dsps) {
			t.Fatalf("SPs differ:\nstream %+v\n   DOM %+v", sps, dsps)
		}
		if fmt.Sprint(problems) != fmt.Sprint(dproblems) {
			t.Fatalf("problems differ:\nstream %v\n   DOM %v", problems, dproblems)
		}
	})
}

// TestCertCacheCollisions: texts made to share a cache key are each parsed correctly, and a
// chain stops growing (look-ups stay cheap whatever the document holds).
func TestCertCacheCollisions(t *testing.T) {
	cc := newCertCache(0)
	a := b64(loadCert(t, "sp-rsa2048.crt"))
	b := b64(loadCert(t, "sp2-rsa2048.crt"))
	var texts [][]byte
	for i := range 10 {
		// Same length, same ending (the key), different certificates or leading space.
		texts = append(texts, []byte(strings.Repeat(" ", i)+a+strings.Repeat(" ", 10-i)))
	}
	texts = append(texts, []byte(b))
	for _, tx := range texts {
		got, err := cc.parse(tx)
		want, werr := parseCerts(tx)
		if (err != nil) != (werr != nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("parse(%q…) = %v, %v; want %v, %v", clip(string(tx), 20), got, err, want, werr)
		}
	}
	for k, chain := range cc.m {
		if len(chain) > certCacheChain {
			t.Errorf("key %x: chain of %d entries", k, len(chain))
		}
	}
}
