package idp_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/crewjam/saml"
)

// FuzzSSO feeds arbitrary SAMLRequest payloads to both bindings of /saml/sso. The property is
// the one SECURITY.md R1/R9 ask for: whatever arrives, the answer is a page or a SAML
// Response, never a 5xx and never a panic (the server turns panics into 500s, so this catches
// them too).
func FuzzSSO(f *testing.F) {
	ti := newTestIdP(f, nil)
	sp := ti.newSP("sp-one", false, nil)
	req, err := sp.sp.MakeAuthenticationRequest(ti.url+"/saml/sso", saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		f.Fatal(err)
	}
	valid := xmlBytes(f, req.Element())
	f.Add(valid, "relay", false)
	f.Add(valid, "", true)
	f.Add([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a" Version="2.0"/>`), "", false)
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`), "", true)
	f.Add([]byte(strings.Replace(string(valid), "Issuer", "Issuer xmlns:saml=\"urn:evil\"", 1)), "", false)
	f.Add([]byte{0xff, 0xfe, 0x00}, "\x00", true)
	f.Fuzz(func(t *testing.T, x []byte, relay string, post bool) {
		var r *http.Request
		if post {
			v := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(x)}, "RelayState": {relay}}
			r = httptest.NewRequest(http.MethodPost, "/saml/sso", strings.NewReader(v.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			var buf bytes.Buffer
			fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
			_, _ = fw.Write(x)
			_ = fw.Close()
			q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) + "&RelayState=" + url.QueryEscape(relay)
			r = httptest.NewRequest(http.MethodGet, "/saml/sso?"+q, nil)
		}
		w := httptest.NewRecorder()
		ti.srv.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("HTTP %d for %q", w.Code, x)
		}
	})
}
