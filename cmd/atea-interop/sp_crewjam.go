package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"
)

// crewjamSP is crewjam/saml's samlsp middleware in a small net/http app, in this process.
// With stepUp it asks for eIDAS substantial (RequestedAuthnContext minimum) and a persistent
// NameID over the HTTP-POST binding; otherwise it asks for nothing in particular (samlsp's
// transient NameIDPolicy) over HTTP-Redirect. Both sign their requests (RSA-SHA256).
func crewjamSP(name string, port int, stepUp bool) *spStack {
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &spStack{
		name:      name,
		entityID:  base + "/saml/metadata",
		protected: base + "/protected",
		logoutURL: base + "/logout",
		level:     levelLow,
		nameID:    expectOpaque(nameIDTransient),
	}
	if stepUp {
		s.level = levelSubstantial
		s.nameID = expectOpaque(nameIDPersistent)
	}
	s.start = func(ctx context.Context, e *env) ([]byte, error) {
		rk, cert, err := spKeyPair(filepath.Join(e.dir, "sp.key"), filepath.Join(e.dir, "sp.crt"), name)
		if err != nil {
			return nil, err
		}
		u, _ := url.Parse(base + "/")
		opts := samlsp.Options{
			EntityID:    s.entityID,
			URL:         *u,
			Key:         rk,
			Certificate: cert,
			IDPMetadata: e.atea.ed,
			SignRequest: true,
			// Its own cookie name: the browser shares cookies between ports of 127.0.0.1.
			CookieName: strings.ReplaceAll(name, "-", "_") + "_session",
		}
		if stepUp {
			opts.RequestedAuthnContext = &saml.RequestedAuthnContext{Comparison: "minimum", AuthnContextClassRef: levelSubstantial}
		}
		m, err := samlsp.New(opts)
		if err != nil {
			return nil, err
		}
		// samlsp signs with RSA-SHA1 unless told otherwise (INTEROP.md); Atea refuses SHA-1.
		m.ServiceProvider.SignatureMethod = dsig.RSASHA256SignatureMethod
		m.ServiceProvider.AuthnNameIDFormat = saml.TransientNameIDFormat
		if stepUp {
			m.ServiceProvider.AuthnNameIDFormat = saml.PersistentNameIDFormat
			// The other binding: the AuthnRequest goes by HTTP-POST, XML-signed.
			m.Binding = saml.HTTPPostBinding
		}
		sess := samlsp.DefaultSessionProvider(opts)
		sess.Codec = detailCodec{samlsp.DefaultSessionCodec(opts)}
		m.Session = sess
		// The refusal's private reason on the page, so that a FAIL line says why.
		m.OnError = func(w http.ResponseWriter, _ *http.Request, err error) {
			var ire *saml.InvalidResponseError
			if errors.As(err, &ire) {
				err = ire.PrivateErr
			}
			errorPage(w, "samlsp: "+err.Error())
		}

		mux := http.NewServeMux()
		mux.Handle("/saml/", m)
		mux.HandleFunc("/saml/slo", func(w http.ResponseWriter, r *http.Request) { crewjamSLO(w, r, m) })
		mux.Handle("/protected", m.RequireAccount(http.HandlerFunc(crewjamPage)))
		mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) { crewjamLogout(w, r, m) })
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(l) }()
		e.onStop(func() { _ = srv.Close() })
		return xml.MarshalIndent(m.ServiceProvider.Metadata(), "", "  ")
	}
	return s
}

// detailCodec keeps, next to samlsp's claims, the NameID format and the AuthnContextClassRef,
// which the page shows and the suite checks.
type detailCodec struct{ samlsp.JWTSessionCodec }

func (c detailCodec) New(a *saml.Assertion) (samlsp.Session, error) {
	s, err := c.JWTSessionCodec.New(a)
	if err != nil {
		return nil, err
	}
	claims := s.(samlsp.JWTSessionClaims)
	if a.Subject != nil && a.Subject.NameID != nil {
		claims.Attributes["NameID-Format"] = []string{a.Subject.NameID.Format}
	}
	for _, st := range a.AuthnStatements {
		if st.AuthnContext.AuthnContextClassRef != nil {
			claims.Attributes["AuthnContextClassRef"] = []string{st.AuthnContext.AuthnContextClassRef.Value}
		}
	}
	return claims, nil
}

func crewjamPage(w http.ResponseWriter, r *http.Request) {
	claims, ok := samlsp.SessionFromContext(r.Context()).(samlsp.JWTSessionClaims)
	if !ok {
		http.Error(w, "no session", http.StatusInternalServerError)
		return
	}
	lines := []string{"NameID: " + claims.Subject}
	var names []string
	for k := range claims.Attributes {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		lines = append(lines, k+": "+strings.Join(claims.Attributes[k], ", "))
	}
	resultPage(w, lines)
}

// crewjamLogout starts SP-initiated logout: a LogoutRequest for the session's NameID to Atea's
// SingleLogoutService (Redirect when Atea offers it, else POST).
func crewjamLogout(w http.ResponseWriter, r *http.Request, m *samlsp.Middleware) {
	s, err := m.Session.GetSession(r)
	claims, ok := s.(samlsp.JWTSessionClaims)
	if err != nil || !ok {
		errorPage(w, "no session to log out")
		return
	}
	sp := &m.ServiceProvider
	if sp.GetSLOBindingLocation(saml.HTTPRedirectBinding) != "" {
		u, err := sp.MakeRedirectLogoutRequest(claims.Subject, "")
		if err != nil {
			errorPage(w, "logout request: "+err.Error())
			return
		}
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	if sp.GetSLOBindingLocation(saml.HTTPPostBinding) != "" {
		b, err := sp.MakePostLogoutRequest(claims.Subject, "")
		if err != nil {
			errorPage(w, "logout request: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body>"))
		_, _ = w.Write(b)
		_, _ = w.Write([]byte("</body></html>"))
		return
	}
	errorPage(w, "Atea's metadata has no SingleLogoutService")
}

// crewjamSLO takes Atea's LogoutResponse; only a valid, signed, successful one ends the local
// session.
func crewjamSLO(w http.ResponseWriter, r *http.Request, m *samlsp.Middleware) {
	if err := r.ParseForm(); err != nil {
		errorPage(w, "bad form")
		return
	}
	if r.Form.Get("SAMLResponse") == "" {
		errorPage(w, "expected a LogoutResponse")
		return
	}
	if err := m.ServiceProvider.ValidateLogoutResponseRequest(r); err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			err = ire.PrivateErr
		}
		errorPage(w, "LogoutResponse refused: "+err.Error())
		return
	}
	_ = m.Session.DeleteSession(w, r)
	loggedOutPage(w)
}

// resultPage, errorPage and loggedOutPage are the markers browser.go looks for; the Node and
// pysaml2 SPs of .ci/interop write the same ones.
func resultPage(w http.ResponseWriter, lines []string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><title>SP</title></head><body><pre id=\"sp-result\">")
	for _, l := range lines {
		b.WriteString(html.EscapeString(l) + "\n")
	}
	b.WriteString("</pre></body></html>")
	_, _ = w.Write([]byte(b.String()))
}

func errorPage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = fmt.Fprintf(w, "<!DOCTYPE html><html><body><p id=\"sp-error\">%s</p></body></html>", html.EscapeString(msg))
}

func loggedOutPage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte("<!DOCTYPE html><html><body><p id=\"sp-loggedout\">Logged out</p></body></html>"))
}
