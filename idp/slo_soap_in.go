package idp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/metadata/xmlsig"
)

// LogoutRequests over the SOAP back channel (saml-bindings-2.0-os §3.2; saml-profiles-2.0-os
// §4.4.3.1 with the SOAP binding), when Config.SOAPLogout is set: an SP ends a session with
// no browser at hand, Atea ends it, tells the session's other services over SOAP where they
// can be (slo_remote.go) and answers with a signed LogoutResponse in the SOAP response.
//
// Without a browser there is no cookie to find the session by, so the request must carry a
// SessionIndex, and Atea's SessionIndex values say which session they belong to: each is the
// session's store key sealed (AES-256-GCM) under a key derived from the IdP's store secret
// and the SP's entityID, with the entityID as associated data, so an SP learns nothing from
// it, cannot forge one, and cannot use another SP's. A request without a SessionIndex (saml-
// core-2.0-os §3.7.1 lets it mean "every session of this principal") cannot be matched to a
// session and is answered UnknownPrincipal.
//
// The request must be signed with a key from the SP's metadata (no browser means no citizen
// to confirm an unsigned one); its ID is consumed once; IssueInstant and NotOnOrAfter are
// checked as for the front channel, and Destination, optional on SOAP, must be the SLO URL
// when present. What cannot be read or authenticated is a SOAP Fault with HTTP 400 (no
// signed answer to an unauthenticated sender); what an authenticated SP asks wrongly is a
// signed LogoutResponse with the status saying why.

// sessionIndexPrefix marks the sealed SessionIndex values.
const sessionIndexPrefix = "_si"

// newSessionIndex seals session id for spEntityID (see above). The store key is "s_" and a
// 43-character base64 MAC: the 32 bytes are sealed, giving an 83-character value.
func (s *Server) newSessionIndex(sessionID, spEntityID string) string {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sessionID, "s_"))
	if err != nil || !strings.HasPrefix(sessionID, "s_") {
		return samlxml.NewID() // not a session key of this server: an opaque index, never opened
	}
	g := s.sessionIndexAEAD(spEntityID)
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return sessionIndexPrefix + base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, raw, []byte(spEntityID)))
}

// openSessionIndex returns the session key sealed in idx for spEntityID.
func (s *Server) openSessionIndex(idx, spEntityID string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(idx, sessionIndexPrefix))
	if err != nil || !strings.HasPrefix(idx, sessionIndexPrefix) {
		return "", false
	}
	g := s.sessionIndexAEAD(spEntityID)
	if len(b) < g.NonceSize() {
		return "", false
	}
	raw, err := g.Open(nil, b[:g.NonceSize()], b[g.NonceSize():], []byte(spEntityID))
	if err != nil {
		return "", false
	}
	return "s_" + base64.RawURLEncoding.EncodeToString(raw), true
}

func (s *Server) sessionIndexAEAD(spEntityID string) cipher.AEAD {
	key := sha256.Sum256([]byte(s.mac(s.deps.Secrets.Store, "sessionindex-seal", spEntityID)))
	block, _ := aes.NewCipher(key[:]) // a 32-byte key: cannot fail
	g, _ := cipher.NewGCM(block)      // the standard nonce and tag: cannot fail
	return g
}

// isSOAP reports whether a POST to /saml/slo is a SOAP message rather than the HTTP-POST
// binding's form: SOAP 1.1 travels as text/xml (saml-bindings-2.0-os §3.2.3), and pysaml2
// sends its SOAP 1.1 envelopes as application/soap+xml (SOAP 1.2's type); the envelope's
// namespace decides what is accepted (soapPayload: 1.1 only).
func isSOAP(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && err == nil && (mt == "text/xml" || mt == "application/soap+xml")
}

// handleSLOSOAP answers one SOAP LogoutRequest.
func (s *Server) handleSLOSOAP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.cfg.SOAPLogout {
		s.soapFault(w, http.StatusNotFound, "SOAP logout is not offered", errors.New("saml.soapLogout is off"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPOSTBytes+1))
	switch {
	case err != nil:
		s.soapFault(w, http.StatusBadRequest, "unreadable request", err)
		return
	case len(body) > maxPOSTBytes:
		s.soapFault(w, http.StatusRequestEntityTooLarge, "request too large", errors.New("SOAP request too large"))
		return
	}
	el, raw, err := soapPayload(body, "LogoutRequest")
	if err != nil {
		s.soapFault(w, http.StatusBadRequest, "not a SOAP LogoutRequest", err)
		return
	}
	issuer := childText(el, nsSAML, "Issuer")
	sp, err := s.deps.SPs.Lookup(issuer)
	if issuer == "" || err != nil {
		s.soapFault(w, http.StatusBadRequest, "unknown issuer", fmt.Errorf("issuer %q: %w", issuer, err))
		return
	}
	if !hasEnvelopedSignature(raw) {
		s.soapFault(w, http.StatusBadRequest, "the LogoutRequest must be signed", errUnsigned)
		return
	}
	verified, err := xmlsig.VerifyEnveloped(raw, sp.SigningCerts, s.now)
	if err == nil && (verified.Tag != "LogoutRequest" || verified.NamespaceURI() != nsSAMLP || childText(verified, nsSAML, "Issuer") != issuer) {
		err = errors.New("the verified element is not the LogoutRequest read")
	}
	if err != nil {
		s.soapFault(w, http.StatusBadRequest, "signature does not verify", fmt.Errorf("SOAP LogoutRequest signature: %w", err))
		return
	}
	el = verified
	id := el.SelectAttrValue("ID", "")
	if !validNCName(id) {
		s.soapFault(w, http.StatusBadRequest, "LogoutRequest ID is not an NCName", errors.New("bad ID"))
		return
	}
	answer := func(code, sub, msg string, cause error) {
		if cause != nil {
			s.log.WarnContext(ctx, "soap logout request refused", "sp", issuer, "status", code, "sub_status", sub, "err", cause)
		}
		s.answerSOAP(w, r, issuer, id, code, sub, msg)
	}
	req := &sloRequest{Issuer: issuer, ID: id}
	var se *statusError
	switch err := s.readLogoutRequest(ctx, el, req, true); {
	case errors.Is(err, errReplayedLogout):
		// A replay causes nothing; the first copy was answered already.
		answer(samlxml.StatusRequester, samlxml.StatusRequestDenied, "replayed request", err)
		return
	case errors.As(err, &se):
		answer(se.code, se.sub, se.msg, err)
		return
	case err != nil:
		answer(samlxml.StatusResponder, "", "", err)
		return
	}
	if len(req.SessionIndexes) == 0 {
		answer(samlxml.StatusRequester, samlxml.StatusUnknownPrincipal, "SessionIndex required over SOAP", errors.New("no SessionIndex"))
		return
	}
	// The sessions the request names, each once, that really have this SP with this NameID
	// and SessionIndex in them.
	var sessions []store.Session
	seen := map[string]bool{}
	for _, idx := range req.SessionIndexes {
		sid, ok := s.openSessionIndex(idx, issuer)
		if !ok || seen[sid] {
			continue
		}
		seen[sid] = true
		sess, err := s.deps.Store.GetSession(ctx, sid)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			answer(samlxml.StatusResponder, "", "", fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		if i := participation(sess.SPs, issuer); i >= 0 && sloMatches(sess.SPs[i], req) {
			sessions = append(sessions, sess)
		}
	}
	if len(sessions) == 0 {
		s.audit.InfoContext(ctx, "logout_refused", "event", "logout_refused", "sp", issuer, "binding", "soap", "reason", "no matching session")
		answer(samlxml.StatusRequester, samlxml.StatusUnknownPrincipal, "", nil)
		return
	}
	partial := false
	for _, sess := range sessions {
		out, err := s.endWithoutBrowser(ctx, sess, issuer)
		if err != nil {
			answer(samlxml.StatusResponder, "", "", err)
			return
		}
		for _, o := range out {
			partial = partial || !o.Confirmed()
		}
	}
	sub := ""
	if partial {
		sub = samlxml.StatusPartialLogout
	}
	answer(samlxml.StatusSuccess, sub, "", nil)
}

// answerSOAP writes the signed LogoutResponse to the SOAP requester.
func (s *Server) answerSOAP(w http.ResponseWriter, r *http.Request, issuer, inResponseTo, code, sub, msg string) {
	x, err := s.currentKeys().set.Signer.BuildLogoutResponse(samlxml.LogoutResponse{
		ID: samlxml.NewID(), IssueInstant: s.now(), Issuer: s.cfg.EntityID,
		InResponseTo: inResponseTo, StatusCode: code, SubStatusCode: sub, StatusMessage: msg,
	}, true)
	if err != nil {
		s.log.ErrorContext(r.Context(), "soap logout response", "sp", issuer, "err", err)
		s.soapFault(w, http.StatusInternalServerError, "internal error", err)
		return
	}
	writeSOAP(w, http.StatusOK, x)
}

// soapFault answers with a SOAP 1.1 Fault (faultcode Client for the sender's mistakes, Server
// for Atea's own); the cause goes to the log only.
func (s *Server) soapFault(w http.ResponseWriter, status int, text string, cause error) {
	s.log.Warn("soap logout fault", "status", status, "fault", text, "err", cause)
	code := "soap11:Client"
	if status >= 500 {
		code = "soap11:Server"
	}
	var b bytes.Buffer
	b.WriteString(`<soap11:Fault><faultcode>` + code + `</faultcode><faultstring>`)
	_ = xml.EscapeText(&b, []byte(text))
	b.WriteString(`</faultstring></soap11:Fault>`)
	writeSOAP(w, status, b.Bytes())
}

func writeSOAP(w http.ResponseWriter, status int, payload []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><soap11:Envelope xmlns:soap11="`+nsSOAP11+`"><soap11:Body>`)
	_, _ = w.Write(payload)
	_, _ = io.WriteString(w, `</soap11:Body></soap11:Envelope>`)
}
