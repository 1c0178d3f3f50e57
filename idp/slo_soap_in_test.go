package idp_test

import (
	"bytes"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// soapAnswer is what the IdP said to a SOAP LogoutRequest.
type soapAnswer struct {
	status    int
	fault     string // faultstring, "" when the body is a LogoutResponse
	top, sub  string // the LogoutResponse's status codes
	inReplyTo string
	signed    bool // the LogoutResponse verifies with the IdP's signing key
}

// sendSOAP posts el (signed with key unless nil) in a SOAP 1.1 envelope to the IdP's SLO URL.
func (s *sloSP) sendSOAP(el *etree.Element, sign bool) soapAnswer {
	s.t.Helper()
	if sign {
		el = signEnveloped(s.t, el, s.key)
	}
	env := `<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Body>` +
		string(xmlBytes(s.t, el)) + `</soap11:Body></soap11:Envelope>`
	return postSOAP(s.t, s.ti, env)
}

func postSOAP(t *testing.T, ti *testIdP, body string) soapAnswer {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ti.srv.SLOURL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", "http://www.oasis-open.org/committees/security")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := soapAnswer{status: resp.StatusCode}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("SOAP answer Content-Type %q, body %.300s", ct, raw)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatalf("SOAP answer does not parse: %v: %.300s", err, raw)
	}
	if f := doc.FindElement("//Fault/faultstring"); f != nil {
		a.fault = f.Text()
		return a
	}
	lr := doc.FindElement("//LogoutResponse")
	if lr == nil {
		t.Fatalf("SOAP answer holds neither a Fault nor a LogoutResponse: %s", raw)
	}
	a.inReplyTo = lr.SelectAttrValue("InResponseTo", "")
	if sc := lr.FindElement("./Status/StatusCode"); sc != nil {
		a.top = sc.SelectAttrValue("Value", "")
		if sc2 := sc.FindElement("./StatusCode"); sc2 != nil {
			a.sub = sc2.SelectAttrValue("Value", "")
		}
	}
	x := etree.NewDocument()
	x.SetRoot(lr.Copy())
	lrRaw, _ := x.WriteToBytes()
	// The envelope declares nothing the response needs: it stands alone.
	if _, err := xmlsig.VerifyEnveloped(lrRaw, []*x509.Certificate{ti.signingCert(t)}, nil); err == nil {
		a.signed = true
	}
	return a
}

// signingCert is the IdP's current signing certificate, from its metadata.
func (ti *testIdP) signingCert(t *testing.T) *x509.Certificate {
	t.Helper()
	return ti.srv.Keys().Cert
}

// TestSOAPLogout: with saml.soapLogout an SP ends the citizen's session over SOAP with its
// NameID and SessionIndex: the IdP answers a signed Success (PartialLogout, since one other
// service can be told only through the browser), tells the SOAP-capable other service over
// SOAP and not the one that asked, and the browser must sign in again. The IdP metadata
// offers the SOAP endpoint.
func TestSOAPLogout(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, func(c *idp.Config) { c.SOAPLogout = true })
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "redirect", "soap")
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "soap")
	sp3 := ti.newSLOSP("sp-three", testKeys()[3], "redirect")
	b, _ := newSLOBrowser(t)
	nid, idx := sp1.signIn(b)
	sp2.signIn(b)
	sp3.signIn(b)
	if !strings.HasPrefix(idx, "_si") || len(idx) > 100 {
		t.Errorf("SessionIndex %q: want a sealed session reference of at most 100 characters", idx)
	}
	if !bytes.Contains(ti.srv.Metadata(), []byte(`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="`+ti.srv.SLOURL()+`"/>`)) {
		t.Error("the IdP metadata does not offer the SOAP SingleLogoutService")
	}

	lr := sp1.logoutRequest(nid, idx)
	a := sp1.sendSOAP(lr.Element(), true)
	if a.status != http.StatusOK || a.top != statusSuccess || a.sub != statusPartialLogout || a.inReplyTo != lr.ID || !a.signed {
		t.Fatalf("SOAP logout answer %+v; want HTTP 200, a signed Success/PartialLogout in reply to %s", a, lr.ID)
	}
	if got := sp2.gotRequests(); len(got) != 1 || got[0].NameID == nil {
		t.Errorf("SOAP SP two got %d LogoutRequests, want 1", len(got))
	}
	if n := len(sp1.gotRequests()) + len(sp3.gotRequests()); n != 0 {
		t.Errorf("the requester or the front-channel-only SP got %d LogoutRequests", n)
	}
	assertSignedOut(t, ti, ti.store, sp1, b)

	// The same request again: consumed, and no session to end anyway.
	if a := sp1.sendSOAP(lr.Element(), true); a.top != statusRequester {
		t.Errorf("replayed SOAP LogoutRequest: %+v, want Requester", a)
	}
}

// TestSOAPLogoutRefusals: nothing ends for a request that is unsigned, signed by another
// key, from an unknown SP, garbage, without a SessionIndex, with another SP's SessionIndex,
// with another NameID, or for another Destination; the unauthenticated ones get a SOAP
// Fault (HTTP 4xx), the authenticated ones a signed error LogoutResponse. With soapLogout
// off, SOAP is refused and not published.
func TestSOAPLogoutRefusals(t *testing.T) {
	t.Parallel()
	ti := newTestIdP(t, func(c *idp.Config) { c.SOAPLogout = true })
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "soap")
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "soap")
	b, _ := newSLOBrowser(t)
	nid, idx := sp1.signIn(b)
	_, idx2 := sp2.signIn(b)
	stranger := &sloSP{t: t, ti: ti, name: "stranger", key: testKeys()[3], sp: &saml.ServiceProvider{}}
	*stranger.sp = *sp1.sp
	stranger.sp.EntityID = "https://stranger.example/sp"

	faults := []struct {
		name string
		send func() soapAnswer
	}{
		{"unsigned", func() soapAnswer { return sp1.sendSOAP(sp1.logoutRequest(nid, idx).Element(), false) }},
		{"signed by another key", func() soapAnswer {
			other := &sloSP{t: t, ti: ti, name: "other-key", key: testKeys()[3], sp: sp1.sp}
			return other.sendSOAP(sp1.logoutRequest(nid, idx).Element(), true)
		}},
		{"unknown SP", func() soapAnswer { return stranger.sendSOAP(stranger.logoutRequest(nid, idx).Element(), true) }},
		{"garbage", func() soapAnswer { return postSOAP(t, ti, "<not-soap/>") }},
		{"DOCTYPE", func() soapAnswer {
			return postSOAP(t, ti, `<!DOCTYPE x [<!ENTITY a "b">]><soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"/>`)
		}},
		{"two messages in the Body", func() soapAnswer {
			x := string(xmlBytes(t, signEnveloped(t, sp1.logoutRequest(nid, idx).Element(), sp1.key)))
			return postSOAP(t, ti, `<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Body>`+x+x+`</soap11:Body></soap11:Envelope>`)
		}},
	}
	for _, c := range faults {
		a := c.send()
		if a.fault == "" || a.status < 400 || a.status >= 500 {
			t.Errorf("%s: %+v, want a SOAP Fault with a 4xx", c.name, a)
		}
	}
	statuses := []struct {
		name     string
		lr       *saml.LogoutRequest
		edit     func(*etree.Element)
		top, sub string
	}{
		{"no SessionIndex", sp1.logoutRequest(nid, ""), nil, statusRequester, statusUnknownPrincipal},
		{"another SP's SessionIndex", sp1.logoutRequest(nid, idx2), nil, statusRequester, statusUnknownPrincipal},
		{"forged SessionIndex", sp1.logoutRequest(nid, "_siAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), nil, statusRequester, statusUnknownPrincipal},
		{"another NameID", sp1.logoutRequest("someone-else", idx), nil, statusRequester, statusUnknownPrincipal},
		{"another Destination", sp1.logoutRequest(nid, idx), func(el *etree.Element) {
			el.CreateAttr("Destination", "https://other-idp.example/slo")
		}, statusRequester, "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"},
	}
	for _, c := range statuses {
		el := c.lr.Element()
		if c.edit != nil {
			c.edit(el)
		}
		a := sp1.sendSOAP(el, true)
		if a.status != http.StatusOK || a.top != c.top || a.sub != c.sub || !a.signed || a.inReplyTo != c.lr.ID {
			t.Errorf("%s: %+v, want a signed %s / %s", c.name, a, c.top, c.sub)
		}
	}
	if n := len(ti.citizenSessions(t, ti.store)); n != 1 {
		t.Fatalf("%d sessions after refused SOAP logouts, want the one kept", n)
	}
	if n := len(sp2.gotRequests()); n != 0 {
		t.Errorf("SP two was told of a logout that did not happen (%d requests)", n)
	}

	off := newTestIdP(t, nil)
	offSP := off.newSLOSP("sp-one", testKeys()[1], "soap")
	if a := offSP.sendSOAP(offSP.logoutRequest("n", "_x").Element(), true); a.fault == "" || a.status != http.StatusNotFound {
		t.Errorf("SOAP with soapLogout off: %+v, want a 404 Fault", a)
	}
	if bytes.Contains(off.srv.Metadata(), []byte("bindings:SOAP")) {
		t.Error("metadata offers SOAP logout with soapLogout off")
	}
}

// TestSOAPLogoutRedisStore runs the browserless paths on a private redis-server: a SOAP
// LogoutRequest finds the session its sealed SessionIndex names, in Redis, and ends it there;
// EndUserSessions ends the citizen's other session, found by the subject index.
func TestSOAPLogoutRedisStore(t *testing.T) {
	t.Parallel()
	ti, rst := newRedisTestIdP(t, func(c *idp.Config) { c.SOAPLogout = true })
	sp1 := ti.newSLOSP("sp-one", testKeys()[1], "soap")
	sp2 := ti.newSLOSP("sp-two", testKeys()[2], "soap")
	b1, _ := newSLOBrowser(t)
	b2, _ := newSLOBrowser(t)
	nid, idx := sp1.signIn(b1)
	sp2.signIn(b1)
	sp2.signIn(b2)
	if n := len(ti.citizenSessions(t, rst)); n != 2 {
		t.Fatalf("%d sessions in Redis, want 2", n)
	}
	lr := sp1.logoutRequest(nid, idx)
	if a := sp1.sendSOAP(lr.Element(), true); a.top != statusSuccess || a.sub != "" || !a.signed {
		t.Fatalf("SOAP logout on Redis: %+v, want a signed Success", a)
	}
	if n := len(sp2.gotRequests()); n != 1 {
		t.Errorf("SP two got %d LogoutRequests for the first session, want 1", n)
	}
	if n := len(ti.citizenSessions(t, rst)); n != 1 {
		t.Fatalf("%d sessions in Redis after the SOAP logout, want 1", n)
	}
	u, err := ti.dir.Get(t.Context(), citizenDNI)
	if err != nil {
		t.Fatal(err)
	}
	if n, out, err := ti.srv.EndUserSessions(t.Context(), u.ID, ""); err != nil || n != 1 || len(out) != 1 || !out[0].Confirmed() {
		t.Fatalf("EndUserSessions on Redis = %d, %+v, %v", n, out, err)
	}
	if n := len(ti.citizenSessions(t, rst)); n != 0 {
		t.Errorf("%d sessions left in Redis", n)
	}
	assertSignedOut(t, ti, rst, sp1, b1)
	assertSignedOut(t, ti, rst, sp2, b2)
}
