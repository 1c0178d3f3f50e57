package idp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/beevik/etree"

	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/metadata/xmlgate"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

const nsSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"

// soapAll tells, over the SOAP back channel (saml-bindings-2.0-os §3.2), every pending
// participant that offers a SOAP SingleLogoutService, all at once; each call is bounded by
// the logout timeout, so the whole takes at most about one timeout. With a browser at hand
// (browser true) participants with a front-channel endpoint are left to the browser chain:
// their cookies ride on it. Each goroutine writes only its own target.
func (s *Server) soapAll(ctx context.Context, st *sloState, browser bool) {
	var wg sync.WaitGroup
	for i := range st.Targets {
		t := &st.Targets[i]
		if t.State != tPending {
			continue
		}
		sp, err := s.deps.SPs.Lookup(t.EntityID)
		if err != nil {
			continue // sloNext reports it as not supporting logout
		}
		if _, front := sp.SLOEndpoint(metadata.BindingHTTPRedirect, metadata.BindingHTTPPost); front && browser {
			continue
		}
		ep, ok := sp.SLOEndpoint(metadata.BindingSOAP)
		if !ok {
			continue
		}
		t.RequestID, t.SentAt, t.Binding, t.State = samlxml.NewID(), s.now(), metadata.BindingSOAP, tSent
		wg.Add(1)
		go func() {
			defer wg.Done()
			state, err := s.soapLogout(ctx, sp, ep, t)
			if err != nil {
				s.log.WarnContext(ctx, "soap logout", "sp", t.EntityID, "outcome", state, "err", err)
			}
			t.State = state
		}()
	}
	wg.Wait()
}

// soapLogout sends t's signed LogoutRequest to ep and reads the answer. The endpoint comes
// from validated metadata only (https, or http to loopback for development; SECURITY.md §4.10
// on SSRF); redirects are not followed and the call is bounded by the logout timeout.
func (s *Server) soapLogout(ctx context.Context, sp *metadata.SP, ep metadata.Endpoint, t *sloTarget) (string, error) {
	msg, err := s.logoutRequestTo(t, ep.Location, true)
	if err != nil {
		return tFailed, err
	}
	var env bytes.Buffer
	env.WriteString(`<soap11:Envelope xmlns:soap11="` + nsSOAP11 + `"><soap11:Body>`)
	env.Write(msg)
	env.WriteString(`</soap11:Body></soap11:Envelope>`)
	ctx, cancel := context.WithTimeout(ctx, s.logoutTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.Location, &env)
	if err != nil {
		return tFailed, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", "http://www.oasis-open.org/committees/security")
	client := &http.Client{
		Timeout:       s.logoutTimeout(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return tNoAnswer, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return tFailed, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPOSTBytes+1))
	if err != nil {
		return tNoAnswer, err
	}
	if len(body) > maxPOSTBytes {
		return tFailed, errors.New("SOAP response too large")
	}
	el, err := soapLogoutResponse(body, sp, s)
	if err != nil {
		return tFailed, err
	}
	if el.SelectAttrValue("InResponseTo", "") != t.RequestID || childText(el, nsSAML, "Issuer") != sp.EntityID {
		return tFailed, errors.New("SOAP LogoutResponse does not answer this request")
	}
	if sc := el.FindElement("./Status/StatusCode"); sc == nil || sc.SelectAttrValue("Value", "") != samlxml.StatusSuccess {
		return tFailed, errors.New("SOAP LogoutResponse status not Success")
	}
	return tOK, nil
}

// soapLogoutResponse takes the samlp:LogoutResponse out of a SOAP 1.1 envelope. A signed one
// must verify with the SP's keys; an unsigned one is accepted because the answer came on the
// connection Atea opened to the endpoint in the SP's metadata (saml-bindings-2.0-os §3.2.3.2
// lets the transport authenticate SOAP messages).
func soapLogoutResponse(body []byte, sp *metadata.SP, s *Server) (*etree.Element, error) {
	el, raw, err := soapPayload(body, "LogoutResponse")
	if err != nil {
		return nil, fmt.Errorf("SOAP response: %w", err)
	}
	if !hasEnvelopedSignature(raw) {
		return el, nil
	}
	verified, err := xmlsig.VerifyEnveloped(raw, sp.SigningCerts, s.now)
	if err != nil {
		return nil, fmt.Errorf("SOAP LogoutResponse signature: %w", err)
	}
	return verified, nil
}

// soapPayload takes the one samlp:<local> out of the Body of a SOAP 1.1 envelope and
// returns it standing alone, with its bytes. The envelope passes the gate with
// SOAPEnvelopeLimits (pysaml2 rebinds its ns0 prefix from the envelope's namespace to
// samlp's); the message, serialised alone, passes it again with ProtocolLimits, so every rule
// holds for what is read and verified. Namespace declarations of the envelope are copied onto
// the element so it stands alone; exclusive C14N renders only the visibly used ones, so this
// does not change what a signature covers.
func soapPayload(body []byte, local string) (*etree.Element, []byte, error) {
	if err := xmlsig.GateCheck(body, xmlgate.SOAPEnvelopeLimits()); err != nil {
		return nil, nil, err
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil || doc.Root() == nil {
		return nil, nil, errors.New("does not parse")
	}
	envEl := doc.Root()
	if envEl.Tag != "Envelope" || envEl.NamespaceURI() != nsSOAP11 {
		return nil, nil, errors.New("not a SOAP 1.1 envelope")
	}
	bodyEl := child(envEl, nsSOAP11, "Body")
	if bodyEl == nil {
		return nil, nil, errors.New("SOAP envelope without Body")
	}
	kids := bodyEl.ChildElements()
	if len(kids) != 1 || kids[0].Tag != local || kids[0].NamespaceURI() != nsSAMLP {
		return nil, nil, fmt.Errorf("SOAP Body does not hold one samlp:%s", local)
	}
	el := kids[0].Copy()
	for _, anc := range []*etree.Element{bodyEl, envEl} {
		for _, a := range anc.Attr {
			if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
				if el.SelectAttr(a.FullKey()) == nil {
					el.CreateAttr(a.FullKey(), a.Value)
				}
			}
		}
	}
	out := etree.NewDocument()
	out.SetRoot(el)
	raw, err := out.WriteToBytes()
	if err != nil {
		return nil, nil, err
	}
	if err := xmlsig.GateCheck(raw, xmlgate.ProtocolLimits()); err != nil {
		return nil, nil, err
	}
	return el, raw, nil
}
