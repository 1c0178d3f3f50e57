package idp_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ateaidp/atea/idp"
)

// FuzzSLO feeds arbitrary LogoutRequest and LogoutResponse payloads to both bindings of
// /saml/slo (SECURITY.md §7 FuzzLogoutRequest): whatever arrives, the answer is a page or a
// SAML message, never a 5xx and never a panic. Nothing the fuzzer makes is signed by an SP's
// key, so no input may reach a session (TestSLORefusals checks that with a live one).
func FuzzSLO(f *testing.F) {
	ti := newTestIdP(f, nil)
	sp := ti.newSP("sp-one", true, nil)
	lr, err := sp.sp.MakeLogoutRequest(ti.srv.SLOURL(), "nameid")
	if err != nil {
		f.Fatal(err)
	}
	valid := xmlBytes(f, lr.Element())
	resp, _ := sp.sp.MakeLogoutResponse(ti.srv.SLOURL(), "_x")
	f.Add(valid, "relay", false, true)
	f.Add(valid, "", true, true)
	f.Add(xmlBytes(f, resp.Element()), "fflow", true, false)
	f.Add([]byte(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a" Version="2.0"><saml:EncryptedID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/></samlp:LogoutRequest>`), "", false, true)
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`), "", true, false)
	f.Add([]byte{0xff, 0xfe, 0x00}, "\x00", true, true)
	f.Fuzz(func(t *testing.T, x []byte, relay string, post, request bool) {
		param := "SAMLResponse"
		if request {
			param = "SAMLRequest"
		}
		var r *http.Request
		if post {
			v := url.Values{param: {base64.StdEncoding.EncodeToString(x)}, "RelayState": {relay}}
			r = httptest.NewRequest(http.MethodPost, "/saml/slo", strings.NewReader(v.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			var buf bytes.Buffer
			fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
			_, _ = fw.Write(x)
			_ = fw.Close()
			q := param + "=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) + "&RelayState=" + url.QueryEscape(relay)
			r = httptest.NewRequest(http.MethodGet, "/saml/slo?"+q, nil)
		}
		w := httptest.NewRecorder()
		ti.srv.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("HTTP %d for %q", w.Code, x)
		}
	})
}

// FuzzSOAPLogout feeds arbitrary bodies to /saml/slo as SOAP (saml.soapLogout on), seeded
// with a correctly signed envelope of an SP that has a live session: whatever arrives, the
// answer is a SOAP message (a signed LogoutResponse or a Fault) with a status below 500, and
// never a panic. A mutation that keeps the signature valid can only be the request itself.
func FuzzSOAPLogout(f *testing.F) {
	ti := newTestIdP(f, func(c *idp.Config) { c.SOAPLogout = true })
	sp := ti.newSP("sp-one", true, nil)
	lr, err := sp.sp.MakeLogoutRequest(ti.srv.SLOURL(), "nameid")
	if err != nil {
		f.Fatal(err)
	}
	lr.Signature = nil
	lr.SessionIndex = &saml.SessionIndex{Value: "_si" + strings.Repeat("A", 80)}
	signed := xmlBytes(f, signEnvelopedWith(f, lr.Element(), sp.key, selfSigned(f, sp.key, "signer"), dsig.RSASHA256SignatureMethod))
	env := func(x []byte) []byte {
		return append(append([]byte(`<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Body>`), x...), `</soap11:Body></soap11:Envelope>`...)
	}
	f.Add(env(signed), "text/xml")
	f.Add(env(signed), "application/soap+xml")
	f.Add(env(xmlBytes(f, lr.Element())), "text/xml")
	f.Add([]byte(`<ns0:Envelope xmlns:ns0="http://schemas.xmlsoap.org/soap/envelope/"><ns0:Body><ns0:LogoutRequest xmlns:ns0="urn:oasis:names:tc:SAML:2.0:protocol"/></ns0:Body></ns0:Envelope>`), "application/soap+xml")
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`), "text/xml")
	f.Add([]byte{0xff, 0xfe, 0x00}, "text/xml; charset=utf-16")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/saml/slo", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		ti.srv.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("HTTP %d for %q", w.Code, body)
		}
		if isSOAPType(contentType) && !strings.HasPrefix(w.Header().Get("Content-Type"), "text/xml") {
			t.Fatalf("a SOAP request answered with %q", w.Header().Get("Content-Type"))
		}
	})
}

func isSOAPType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "text/xml" || mt == "application/soap+xml")
}
