package idp

// Single logout: Atea as session authority (saml-profiles-2.0-os §4.4, saml-core-2.0-os §3.7).
//
// Entry points:
//
//	GET|POST /saml/slo       a LogoutRequest from a participant (SP-initiated, HTTP-Redirect or
//	                         HTTP-POST), or a participant's LogoutResponse during propagation;
//	                         with Config.SOAPLogout also a SOAP LogoutRequest (slo_soap_in.go)
//	GET /saml/slo/continue   the next step of a logout flow (browser-bound)
//	POST /saml/slo/confirm   the citizen confirms an unsigned LogoutRequest
//	GET /logout              "sign out everywhere": a confirmation page
//	POST /logout             IdP-initiated logout (the account page's button; session CSRF)
//
// Design, and why:
//
//   - The local session ends first (DeleteSession, SSO cookie cleared) before any participant
//     is told: a logout must not be undoable by an SP failing or the browser wandering off
//     (ASVS 5.0 V7.4.1). What follows only reports on the participants.
//   - Propagation to the other participants uses each SP's SingleLogoutService from metadata,
//     never an address from a message. Front channel (HTTP-Redirect preferred: a top-level GET
//     carries the SP's SameSite=Lax session cookie, a cross-site POST does not; else HTTP-POST)
//     runs as a chain through the browser, one SP after another (saml-profiles-2.0-os
//     §4.4.3.3): IdP → SP₂ LogoutRequest → SP₂ LogoutResponse back to /saml/slo → next SP → …
//     → the result page or the LogoutResponse to the initiator. Each hop is an IdP page that
//     sends the browser on (script under the page's CSP nonce) and offers "continue without
//     this service": an SP that never sends the browser back cannot hold the citizen hostage,
//     and it is reported as "did not answer". A reload of /saml/slo/continue after
//     Config.LogoutTimeout also gives up on the hop. An iframe-based parallel fan-out was not
//     chosen: SPs' SameSite=Lax cookies are not sent in a cross-site frame, and X-Frame-Options
//     on SPs blocks it, so it would report success it cannot know.
//   - SPs that offer only the SOAP binding are told over the back channel (saml-bindings-2.0-os
//     §3.2), all in parallel before the first front-channel hop, each bounded by
//     Config.LogoutTimeout, no redirects followed (slo_soap.go).
//   - The state is one store.Flow (Journey "slo") keyed by a random ID that travels as the
//     RelayState of each LogoutRequest; each hop's LogoutRequest ID is fresh, and a
//     LogoutResponse counts only if its InResponseTo is the hop's ID, its Issuer the hop's SP
//     and its signature verifies with that SP's keys (or the SP may send unsigned ones), so a
//     response cannot be forged or replayed into another flow or hop.
//   - The answer to the initiator is always signed: HTTP-POST (XML signature) when its
//     metadata offers it, else HTTP-Redirect with a query signature (INTEROP.md). Status is
//     Success, with the second-level PartialLogout when any participant did not confirm
//     (saml-core-2.0-os §3.7.3.2): Atea's own session did end, and crewjam and Shibboleth read
//     the top level.
//   - Abuse (SECURITY.md §4.10): LogoutRequests must be signed unless SPSettings
//     .AllowUnsignedLogout, and even then the citizen confirms on an Atea page first (logout
//     CSRF); IDs are consumed once (store Consume); IssueInstant, NotOnOrAfter, Destination and
//     Issuer are checked; NameID and SessionIndex must match this browser's session and an SP
//     in it, otherwise nothing ends; one fan-out per session at a time (a Consume lock); at
//     most Config.MaxLogoutSPs participants are contacted, the rest reported.
//   - The result page is honest: each participant is listed as signed out, refused, did not
//     answer, does not support single logout, or not contacted, with the advice to close the
//     browser whenever one did not confirm.

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"

	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/metadata"
	"github.com/ateaidp/atea/templates"
)

// Paths of single logout.
const (
	PathSLO         = "/saml/slo"
	PathSLOContinue = "/saml/slo/continue"
	PathSLOConfirm  = "/saml/slo/confirm"
	PathLogout      = "/logout"
)

// The logout flow's journey and states.
const (
	sloJourney = "slo"
	sloParked  = "slo_parked"  // a verified POST LogoutRequest waiting for the same-site GET
	sloConfirm = "slo_confirm" // an unsigned LogoutRequest waiting for the citizen to confirm
	sloRunning = "slo_running" // the session is gone; participants are being told
)

// Outcomes of one participant; the result page's message keys are "logout.state." + these.
const (
	tPending     = "pending"
	tSent        = "sent"
	tOK          = "ok"
	tFailed      = "failed"
	tNoAnswer    = "noanswer"
	tUnsupported = "unsupported"
	tSkipped     = "skipped"
	tFrontOnly   = "frontonly" // told nothing: only the session's browser could carry it (slo_remote.go)
)

const (
	defaultLogoutTimeout = 5 * time.Second
	defaultMaxLogoutSPs  = 20
	maxSessionIndexes    = 16
)

// sloRequest is a verified LogoutRequest of the initiating SP, what Atea needs to match it to
// the session and answer it.
type sloRequest struct {
	Issuer         string    `json:"issuer"`
	ID             string    `json:"id"`
	NameID         sloNameID `json:"nameID"`
	SessionIndexes []string  `json:"sessionIndexes,omitempty"`
	Relay          string    `json:"relay,omitempty"`
	HasRelay       bool      `json:"hasRelay,omitempty"`
}

// sloTarget is one participant to tell, with how it went.
type sloTarget struct {
	EntityID     string    `json:"entityID"`
	NameID       string    `json:"nameID"`
	NameIDFormat string    `json:"nameIDFormat"`
	SessionIndex string    `json:"sessionIndex"`
	State        string    `json:"state"`
	RequestID    string    `json:"requestID,omitempty"`
	SentAt       time.Time `json:"sentAt,omitzero"`
	Binding      string    `json:"binding,omitempty"`
}

// sloState is a logout flow's Data["slo"].
type sloState struct {
	Req     *sloRequest `json:"req,omitempty"` // nil: IdP-initiated
	Targets []sloTarget `json:"targets,omitempty"`
	UserID  string      `json:"user,omitempty"`
}

func (s *Server) sloRoutes(m *http.ServeMux) {
	m.HandleFunc("GET "+PathSLO, s.handleSLO)
	m.HandleFunc("POST "+PathSLO, s.handleSLO)
	m.HandleFunc("GET "+PathSLOContinue, s.handleSLOContinue)
	m.HandleFunc("POST "+PathSLOConfirm, s.handleSLOConfirm)
	m.HandleFunc("GET "+PathLogout, s.handleLogoutPage)
	m.HandleFunc("POST "+PathLogout, s.handleLogoutPost)
}

// SLOURL returns the SingleLogoutService location (both front-channel bindings).
func (s *Server) SLOURL() string { return strings.TrimRight(s.cfg.BaseURL, "/") + PathSLO }

func (s *Server) logoutTimeout() time.Duration {
	if s.cfg.LogoutTimeout > 0 {
		return s.cfg.LogoutTimeout
	}
	return defaultLogoutTimeout
}

func (s *Server) maxLogoutSPs() int {
	if s.cfg.MaxLogoutSPs > 0 {
		return s.cfg.MaxLogoutSPs
	}
	return defaultMaxLogoutSPs
}

func decodeSLO(f store.Flow) (sloState, error) {
	var st sloState
	if err := json.Unmarshal([]byte(f.Data["slo"]), &st); err != nil {
		return st, pageErr(http.StatusBadRequest, "error.flowexpired", fmt.Errorf("logout flow state: %w", err))
	}
	return st, nil
}

func encodeSLO(st *sloState) (map[string]string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return map[string]string{"slo": string(b)}, nil
}

// handleSLO serves /saml/slo: LogoutRequests of initiating SPs and LogoutResponses of the
// participants being told.
func (s *Server) handleSLO(w http.ResponseWriter, r *http.Request) {
	if isSOAP(r) {
		s.handleSLOSOAP(w, r)
		return
	}
	m, err := s.readSLOMessage(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if m.isRequest {
		s.logoutRequest(w, r, m)
		return
	}
	s.logoutResponse(w, r, m)
}

// logoutRequest validates an SP's LogoutRequest (saml-core-2.0-os §3.7.1, §3.7.3;
// saml-profiles-2.0-os §4.4.4.1) and starts the logout.
func (s *Server) logoutRequest(w http.ResponseWriter, r *http.Request, m *sloMessage) {
	ctx := r.Context()
	set := s.spSettings(m.issuer)
	if !m.signed && !set.AllowUnsignedLogout {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.signature", errUnsigned))
		return
	}
	el := m.el
	id := el.SelectAttrValue("ID", "")
	if !validNCName(id) {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.badrequest", errors.New("LogoutRequest ID is not an NCName")))
		return
	}
	maxRelay := s.cfg.MaxRelayState
	if set.MaxRelayState > 0 {
		maxRelay = set.MaxRelayState
	}
	if m.hasRelay && (len(m.relay) > maxRelay || strings.IndexFunc(m.relay, unicode.IsControl) >= 0) {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.relaystate", fmt.Errorf("RelayState of %d bytes", len(m.relay))))
		return
	}
	req := &sloRequest{Issuer: m.issuer, ID: id, Relay: m.relay, HasRelay: m.hasRelay}
	switch err := s.readLogoutRequest(ctx, el, req, false); {
	case errors.Is(err, errReplayedLogout):
		// A replayed request causes nothing, not even a message to the SP.
		s.renderError(w, r, pageErr(http.StatusBadRequest, "logout.error.replay", err))
		return
	case errors.Is(err, errUnavailable):
		s.renderError(w, r, err)
		return
	case err != nil:
		s.sloRefuse(w, r, m, req, err)
		return
	}
	switch {
	case !m.signed:
		// Logout CSRF: an unsigned request could come from any page; the citizen decides.
		f, err := s.parkLogout(w, r, req, sloConfirm)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		st, _ := decodeSLO(f)
		s.renderLogoutConfirm(w, r, &f, &st)
	case m.binding == bindingPOST:
		// A cross-site POST does not carry the SameSite=Lax SSO cookie: park the verified
		// request and go on with a top-level GET, which does (as handleSSO does).
		f, err := s.parkLogout(w, r, req, sloParked)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		http.Redirect(w, r, PathSLOContinue+"?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
	default:
		s.beginLogout(w, r, req, nil)
	}
}

// errReplayedLogout: a LogoutRequest whose (issuer, ID) was seen within its validity window.
var errReplayedLogout = errors.New("idp: replayed LogoutRequest")

// readLogoutRequest checks a verified (or allowed unsigned) LogoutRequest el of req.Issuer,
// whatever its binding, fills req's NameID and SessionIndexes and consumes its ID. Failures
// are statusErrors for the SP, errReplayedLogout for a replay (SECURITY.md §4.3: each
// (issuer, ID) once within the validity window) or errUnavailable. soap: see
// checkLogoutRequest.
func (s *Server) readLogoutRequest(ctx context.Context, el *etree.Element, req *sloRequest, soap bool) error {
	if err := s.checkLogoutRequest(el, soap); err != nil {
		return err
	}
	nid, err := s.logoutNameID(el)
	if err != nil {
		return statusErr(samlxml.StatusRequester, samlxml.StatusUnknownPrincipal, "NameID unreadable", err)
	}
	req.NameID = nid
	for _, c := range el.ChildElements() {
		if c.Tag == "SessionIndex" && c.NamespaceURI() == nsSAMLP {
			req.SessionIndexes = append(req.SessionIndexes, strings.TrimSpace(c.Text()))
		}
	}
	if len(req.SessionIndexes) > maxSessionIndexes {
		return statusErr(samlxml.StatusRequester, "", "too many SessionIndex", errors.New("too many SessionIndex"))
	}
	first, err := s.deps.Store.Consume(ctx, s.storeKey("logoutreq", req.Issuer, req.ID), s.cfg.MaxRequestAge+2*s.cfg.ClockSkew)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	if !first {
		return errReplayedLogout
	}
	return nil
}

// checkLogoutRequest applies the checks of saml-core-2.0-os §3.2.1 and §3.7.1 to a signed (or
// allowed unsigned) LogoutRequest; failures are statusErrors for the SP.
// Over SOAP (soap set) Destination is optional, as saml-bindings-2.0-os §3.2 does not require
// it; present, it must be this endpoint there too.
func (s *Server) checkLogoutRequest(el *etree.Element, soap bool) error {
	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		return statusErr(samlxml.StatusVersionMismatch, "", "SAML 2.0 only", fmt.Errorf("version %q", v))
	}
	now := s.now()
	t, err := parseIssueInstant(el.SelectAttrValue("IssueInstant", ""))
	switch {
	case err != nil:
		return statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "IssueInstant unreadable", err)
	case t.After(now.Add(s.cfg.ClockSkew)):
		return statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "IssueInstant in the future", errors.New("issued in the future"))
	case t.Before(now.Add(-s.cfg.MaxRequestAge - s.cfg.ClockSkew)):
		return statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "request too old", errors.New("request too old"))
	}
	if v := el.SelectAttrValue("NotOnOrAfter", ""); v != "" {
		noa, err := parseIssueInstant(v)
		if err != nil {
			return statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "NotOnOrAfter unreadable", err)
		}
		if !now.Before(noa.Add(s.cfg.ClockSkew)) {
			return statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "request expired", errors.New("past NotOnOrAfter"))
		}
	}
	// Required on every request, signed or not (as for AuthnRequests in validate): a request
	// meant for another IdP cannot be replayed here.
	if d := el.SelectAttrValue("Destination", ""); d != s.SLOURL() && (d != "" || !soap) {
		return statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "Destination mismatch", errors.New("wrong Destination"))
	}
	return nil
}

// sloRefuse answers a LogoutRequest that cannot be honoured: a signed error LogoutResponse to
// an authenticated SP, else Atea's error page.
func (s *Server) sloRefuse(w http.ResponseWriter, r *http.Request, m *sloMessage, req *sloRequest, err error) {
	var se *statusError
	if m.signed && errors.As(err, &se) {
		s.log.WarnContext(r.Context(), "logout request refused", "sp", req.Issuer, "status", se.code, "sub_status", se.sub, "err", err)
		s.answerInitiator(w, r, req, se.code, se.sub, se.msg)
		return
	}
	s.renderError(w, r, pageErr(http.StatusBadRequest, "error.badrequest", err))
}

// parkLogout stores req in a new logout flow bound to this browser.
func (s *Server) parkLogout(w http.ResponseWriter, r *http.Request, req *sloRequest, state string) (store.Flow, error) {
	data, err := encodeSLO(&sloState{Req: req})
	if err != nil {
		return store.Flow{}, err
	}
	f := store.Flow{Journey: sloJourney, Data: data}
	if err := s.createFlow(w, r, &f, state); err != nil {
		return store.Flow{}, err
	}
	return f, nil
}

// sloMatches reports whether the LogoutRequest names participant p: the same NameID value
// (and format, when both say one) and, when the request lists SessionIndexes, p's among them
// (saml-core-2.0-os §3.7.3.1; SECURITY.md §4.10 "targeted logout").
func sloMatches(p store.SPParticipation, req *sloRequest) bool {
	if subtle.ConstantTimeCompare([]byte(p.NameID), []byte(req.NameID.Value)) != 1 {
		return false
	}
	if f := req.NameID.Format; f != "" && f != nameIDUnspecified && p.NameIDFormat != "" && f != p.NameIDFormat {
		return false
	}
	if q := req.NameID.SPNameQualifier; q != "" && q != p.EntityID {
		return false
	}
	return len(req.SessionIndexes) == 0 || slices.Contains(req.SessionIndexes, p.SessionIndex)
}

// beginLogout ends the browser's session and starts telling its participants. req is the
// initiating SP's request (nil: the citizen asked Atea); f is the flow it was parked in, if any.
func (s *Server) beginLogout(w http.ResponseWriter, r *http.Request, req *sloRequest, f *store.Flow) {
	ctx := r.Context()
	sess, err := s.currentSession(r)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Nothing of this principal lives in this browser: the SP's wish already holds.
		if f != nil {
			_ = s.deps.Store.DeleteFlow(ctx, f.ID)
		}
		s.setCookie(w, s.cfg.CookieName, "", -1)
		if req == nil {
			s.renderLogoutResult(w, r, &sloState{}, nil)
			return
		}
		s.answerInitiator(w, r, req, samlxml.StatusSuccess, "", "")
		return
	case err != nil:
		s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if req != nil {
		i := participation(sess.SPs, req.Issuer)
		if i < 0 || !sloMatches(sess.SPs[i], req) {
			// Not this session, or not an SP in it: nothing ends.
			if f != nil {
				_ = s.deps.Store.DeleteFlow(ctx, f.ID)
			}
			s.audit.InfoContext(ctx, "logout_refused", "event", "logout_refused", "sp", req.Issuer, "reason", "no matching session participant")
			s.answerInitiator(w, r, req, samlxml.StatusRequester, samlxml.StatusUnknownPrincipal, "")
			return
		}
	}
	// One fan-out per session at a time.
	first, err := s.deps.Store.Consume(ctx, s.storeKey("slo-lock", sess.ID), s.cfg.FlowLifetime)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if !first {
		if req != nil {
			s.answerInitiator(w, r, req, samlxml.StatusResponder, "", "logout already in progress")
			return
		}
		s.renderError(w, r, pageErr(http.StatusConflict, "logout.error.busy", errors.New("logout in progress")))
		return
	}
	// The local session ends before anyone is told: no SP's failure can undo it.
	if err := s.deps.Store.DeleteSession(ctx, sess.ID); err != nil {
		s.renderError(w, r, fmt.Errorf("%w: delete session: %w", errUnavailable, err))
		return
	}
	s.setCookie(w, s.cfg.CookieName, "", -1)

	st := sloState{Req: req, UserID: sess.UserID}
	n := 0
	for _, p := range sess.SPs {
		if req != nil && p.EntityID == req.Issuer {
			continue
		}
		t := sloTarget{EntityID: p.EntityID, NameID: p.NameID, NameIDFormat: p.NameIDFormat, SessionIndex: p.SessionIndex, State: tPending}
		if n >= s.maxLogoutSPs() {
			t.State = tSkipped
		}
		n++
		st.Targets = append(st.Targets, t)
	}
	initiator := ""
	if req != nil {
		initiator = req.Issuer
	}
	s.audit.InfoContext(ctx, "logout_started", "event", "logout_started", "user_id", sess.UserID, "sp", initiator, "participants", len(st.Targets))
	s.soapAll(ctx, &st, true)

	data, err := encodeSLO(&st)
	if err != nil {
		s.renderError(w, r, pageErr(http.StatusInternalServerError, "error.internal", err))
		return
	}
	var flow store.Flow
	if f == nil {
		flow = store.Flow{Journey: sloJourney, Data: data}
		if err := s.createFlow(w, r, &flow, sloRunning); err != nil {
			s.renderError(w, r, err)
			return
		}
	} else {
		flow, err = s.deps.Store.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
			cur.State, cur.Data = sloRunning, data
			return cur, nil
		})
		if err != nil {
			s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
	}
	s.sloNext(w, r, &flow, &st)
}

// saveSLO writes st back into flow f.
func (s *Server) saveSLO(r *http.Request, f *store.Flow, st *sloState) error {
	data, err := encodeSLO(st)
	if err != nil {
		return err
	}
	updated, err := s.deps.Store.UpdateFlow(r.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
		cur.Data = data
		return cur, nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errUnavailable, err)
	}
	*f = updated
	return nil
}

// sloNext sends the browser to the next front-channel participant, or finishes.
func (s *Server) sloNext(w http.ResponseWriter, r *http.Request, f *store.Flow, st *sloState) {
	for i := range st.Targets {
		t := &st.Targets[i]
		if t.State != tPending {
			continue
		}
		sp, err := s.deps.SPs.Lookup(t.EntityID)
		if err != nil {
			t.State = tUnsupported
			continue
		}
		ep, ok := sp.SLOEndpoint(metadata.BindingHTTPRedirect, metadata.BindingHTTPPost)
		if !ok {
			t.State = tUnsupported
			continue
		}
		t.RequestID, t.SentAt, t.Binding, t.State = samlxml.NewID(), s.now(), ep.Binding, tSent
		if err := s.saveSLO(r, f, st); err != nil {
			s.renderError(w, r, err)
			return
		}
		s.renderHop(w, r, f, st, i, sp, ep)
		return
	}
	s.finishLogout(w, r, f, st)
}

// logoutRequestTo builds the LogoutRequest of target t (saml-profiles-2.0-os §4.4.4.1): the
// NameID and SessionIndex exactly as stated in t's assertion.
func (s *Server) logoutRequestTo(t *sloTarget, dest string, sign bool) ([]byte, error) {
	lr := samlxml.LogoutRequest{
		ID: t.RequestID, IssueInstant: t.SentAt, NotOnOrAfter: t.SentAt.Add(s.cfg.MaxRequestAge),
		Destination: dest, Issuer: s.cfg.EntityID, Reason: samlxml.LogoutReasonUser,
		NameID: t.NameID, NameIDFormat: t.NameIDFormat, SessionIndex: t.SessionIndex,
	}
	if t.NameIDFormat == nameIDPersistent || t.NameIDFormat == nameIDTransient {
		lr.SPNameQualifier = t.EntityID
	}
	return s.currentKeys().set.Signer.BuildLogoutRequest(lr, sign)
}

func deflate(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(b); err != nil {
		return nil, err
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// withQuery appends a query to location, which may already have one.
func withQuery(location, q string) string {
	if strings.Contains(location, "?") {
		return location + "&" + q
	}
	return location + "?" + q
}

func originOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Scheme + "://" + p.Host
	}
	return ""
}

// renderHop renders the page that carries target i's LogoutRequest (RelayState: the flow ID).
func (s *Server) renderHop(w http.ResponseWriter, r *http.Request, f *store.Flow, st *sloState, i int, sp *metadata.SP, ep metadata.Endpoint) {
	t := &st.Targets[i]
	lang := s.lang(r)
	page := templates.LogoutHopPage{
		Base:   s.sloBase(w, r, lang, f.ID),
		SPName: spName(sp, lang), Step: i + 1, Total: len(st.Targets),
		SkipURL: PathSLOContinue + "?flow=" + url.QueryEscape(f.ID) + "&skip=1&lang=" + url.QueryEscape(lang),
	}
	if ep.Binding == metadata.BindingHTTPPost {
		msg, err := s.logoutRequestTo(t, ep.Location, true)
		if err != nil {
			s.renderError(w, r, pageErr(http.StatusInternalServerError, "error.internal", err))
			return
		}
		page.Post, page.Action, page.Value, page.RelayState = true, ep.Location, base64.StdEncoding.EncodeToString(msg), f.ID
		s.render(w, r, http.StatusOK, templates.PageLogoutHop, &page, originOf(ep.Location))
		return
	}
	msg, err := s.logoutRequestTo(t, ep.Location, false)
	if err == nil {
		msg, err = deflate(msg)
	}
	var q string
	if err == nil {
		q, err = s.currentKeys().set.Signer.RedirectQuery("SAMLRequest", msg, f.ID, true)
	}
	if err != nil {
		s.renderError(w, r, pageErr(http.StatusInternalServerError, "error.internal", err))
		return
	}
	page.RedirectURL = withQuery(ep.Location, q)
	s.render(w, r, http.StatusOK, templates.PageLogoutHop, &page)
}

// sloBase is the pages' shared part, with language links back to the flow's step.
func (s *Server) sloBase(w http.ResponseWriter, r *http.Request, lang, flowID string) templates.Base {
	b := s.base(w, r, lang, flowID)
	for i := range b.LangLinks {
		if u, err := url.Parse(b.LangLinks[i].URL); err == nil {
			u.Path = PathSLOContinue
			if flowID == "" {
				u.Path = PathLogout
			}
			b.LangLinks[i].URL = u.String()
		}
	}
	return b
}

// logoutResponse records a participant's LogoutResponse (saml-core-2.0-os §3.7.2) in its flow
// and continues the chain. The flow is found by RelayState and the hop by InResponseTo; the
// browser binding is not required here because a cross-site POST carries no cookie, and the
// message is authenticated by its signature and the hop's unguessable request ID instead.
func (s *Server) logoutResponse(w http.ResponseWriter, r *http.Request, m *sloMessage) {
	ctx := r.Context()
	if !m.hasRelay || m.relay == "" || len(m.relay) > 64 {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("LogoutResponse without the flow's RelayState")))
		return
	}
	f, err := s.deps.Store.GetFlow(ctx, m.relay)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", err))
		return
	case err != nil:
		s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if f.Journey != sloJourney || f.State != sloRunning {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("not a running logout flow")))
		return
	}
	st, err := decodeSLO(f)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	inResp := m.el.SelectAttrValue("InResponseTo", "")
	hop := func(st *sloState) int {
		for i, t := range st.Targets {
			if t.State == tSent && t.RequestID != "" && t.RequestID == inResp && t.EntityID == m.issuer {
				return i
			}
		}
		return -1
	}
	if hop(&st) < 0 {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.badrequest", errors.New("LogoutResponse answers no pending hop")))
		return
	}
	outcome, why := tOK, ""
	status := m.el.FindElement("./Status/StatusCode")
	issued, terr := parseIssueInstant(m.el.SelectAttrValue("IssueInstant", ""))
	now := s.now()
	switch {
	case !m.signed && !s.spSettings(m.issuer).AllowUnsignedLogout:
		outcome, why = tFailed, "unsigned"
	case terr != nil || issued.After(now.Add(s.cfg.ClockSkew)) || issued.Before(now.Add(-s.cfg.MaxRequestAge-s.cfg.ClockSkew)):
		outcome, why = tFailed, "IssueInstant missing or out of range"
	case m.el.SelectAttrValue("Destination", "") != "" && m.el.SelectAttrValue("Destination", "") != s.SLOURL():
		outcome, why = tFailed, "wrong Destination"
	case status == nil || status.SelectAttrValue("Value", "") != samlxml.StatusSuccess:
		outcome, why = tFailed, "status not Success"
	}
	if why != "" {
		s.log.WarnContext(ctx, "logout response not counted as confirmed", "sp", m.issuer, "reason", why)
	}
	if _, err := s.deps.Store.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
		cs, err := decodeSLO(cur)
		if err != nil {
			return cur, err
		}
		i := hop(&cs)
		if i < 0 {
			return cur, errors.New("hop already answered")
		}
		cs.Targets[i].State = outcome
		data, err := encodeSLO(&cs)
		if err != nil {
			return cur, err
		}
		cur.Data = data
		return cur, nil
	}); err != nil {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", err))
		return
	}
	http.Redirect(w, r, PathSLOContinue+"?flow="+url.QueryEscape(f.ID), http.StatusSeeOther)
}

// handleSLOContinue runs the next step of a logout flow of this browser.
func (s *Server) handleSLOContinue(w http.ResponseWriter, r *http.Request) {
	f, err := s.loadFlow(r, r.URL.Query().Get("flow"))
	if err == nil && f.Journey != sloJourney {
		err = pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("not a logout flow"))
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	st, err := decodeSLO(f)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	switch f.State {
	case sloParked:
		s.beginLogout(w, r, st.Req, &f)
	case sloConfirm:
		s.renderLogoutConfirm(w, r, &f, &st)
	case sloRunning:
		for i := range st.Targets {
			t := &st.Targets[i]
			if t.State != tSent {
				continue
			}
			if r.URL.Query().Get("skip") == "1" || !s.now().Before(t.SentAt.Add(s.logoutTimeout())) {
				// The citizen went on without it, or it had its time: "did not answer".
				t.State = tNoAnswer
				continue
			}
			// A reload within the hop's time: send the same request again.
			sp, err := s.deps.SPs.Lookup(t.EntityID)
			ep, ok := metadata.Endpoint{}, false
			if err == nil {
				ep, ok = sp.SLOEndpoint(t.Binding)
			}
			if !ok {
				t.State = tUnsupported
				continue
			}
			s.renderHop(w, r, &f, &st, i, sp, ep)
			return
		}
		s.sloNext(w, r, &f, &st)
	default:
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", fmt.Errorf("logout flow in state %s", f.State)))
	}
}

// handleSLOConfirm is the citizen's confirmation of an unsigned LogoutRequest.
func (s *Server) handleSLOConfirm(w http.ResponseWriter, r *http.Request) {
	f, ok := s.flowPost(w, r, 4<<10, sloConfirm)
	if !ok {
		return
	}
	if f.Journey != sloJourney {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("not a logout flow")))
		return
	}
	st, err := decodeSLO(f)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.beginLogout(w, r, st.Req, &f)
}

// sessionCSRF is the session-bound form token (the same as Kit.SessionCSRF, so the account
// page's "sign out everywhere" button posts straight to /logout).
func (s *Server) sessionCSRF(sess store.Session) string {
	return s.mac(s.deps.Secrets.CSRF, "session", sess.ID)
}

// logoutSession is the browser's session for the "sign out everywhere" page and form. Without
// one the citizen is signed out already and is shown the result page saying so; on a store
// failure, the error page. ok is false when a page has been written.
func (s *Server) logoutSession(w http.ResponseWriter, r *http.Request) (sess store.Session, ok bool) {
	sess, err := s.currentSession(r)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.renderLogoutResult(w, r, &sloState{}, nil)
		return store.Session{}, false
	case err != nil:
		s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
		return store.Session{}, false
	}
	return sess, true
}

// handleLogoutPage is the "sign out everywhere" link: a GET never ends a session (logout
// CSRF), it shows what a confirmation would do.
func (s *Server) handleLogoutPage(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.logoutSession(w, r)
	if !ok {
		return
	}
	lang := s.lang(r)
	page := templates.LogoutConfirmPage{
		Base: s.sloBase(w, r, lang, ""), Action: PathLogout + "?lang=" + url.QueryEscape(lang),
		CSRF: s.sessionCSRF(sess), CancelURL: "/account?lang=" + url.QueryEscape(lang),
	}
	for _, p := range sess.SPs {
		page.Services = append(page.Services, s.sloSPName(p.EntityID, lang))
	}
	s.render(w, r, http.StatusOK, templates.PageLogoutConfirm, &page)
}

// handleLogoutPost is IdP-initiated logout (saml-profiles-2.0-os §4.4.3.1 with Atea as the
// requester): a same-site form with the session's CSRF token.
func (s *Server) handleLogoutPost(w http.ResponseWriter, r *http.Request) {
	if !s.Kit().ParseForm(w, r, 4<<10) {
		return
	}
	sess, ok := s.logoutSession(w, r)
	if !ok {
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.sessionCSRF(sess))) != 1 {
		s.renderError(w, r, pageErr(http.StatusForbidden, "error.csrf", errors.New("bad logout csrf token")))
		return
	}
	s.beginLogout(w, r, nil, nil)
}

func (s *Server) sloSPName(entityID, lang string) string {
	if sp, err := s.deps.SPs.Lookup(entityID); err == nil {
		return spName(sp, lang)
	}
	return entityID
}

// renderLogoutConfirm asks the citizen to confirm an unsigned LogoutRequest of flow f.
func (s *Server) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, f *store.Flow, st *sloState) {
	lang := s.lang(r)
	page := templates.LogoutConfirmPage{
		Base: s.sloBase(w, r, lang, f.ID), Action: PathSLOConfirm + "?lang=" + url.QueryEscape(lang),
		FlowID: f.ID, CSRF: s.csrfToken(*f), CancelURL: "/?lang=" + url.QueryEscape(lang),
	}
	if st.Req != nil {
		page.SPName = s.sloSPName(st.Req.Issuer, lang)
	}
	s.render(w, r, http.StatusOK, templates.PageLogoutConfirm, &page)
}

// finishLogout ends the flow: the LogoutResponse to the initiator and the result page.
func (s *Server) finishLogout(w http.ResponseWriter, r *http.Request, f *store.Flow, st *sloState) {
	ctx := r.Context()
	_ = s.deps.Store.DeleteFlow(ctx, f.ID)
	confirmed := 0
	for _, t := range st.Targets {
		if t.State == tOK {
			confirmed++
		}
		state := t.State
		if state == tPending || state == tSent {
			state = tNoAnswer // as the result page says
		}
		s.deps.Stats.logoutOutcome(state)
	}
	all := confirmed == len(st.Targets)
	initiator := ""
	if st.Req != nil {
		initiator = st.Req.Issuer
	}
	s.audit.InfoContext(ctx, "logout_done", "event", "logout_done", "user_id", st.UserID, "sp", initiator,
		"participants", len(st.Targets), "confirmed", confirmed, "partial", !all)
	if st.Req == nil {
		s.renderLogoutResult(w, r, st, nil)
		return
	}
	sub := ""
	if !all {
		sub = samlxml.StatusPartialLogout
	}
	out, ok, err := s.logoutResponseOut(st.Req, samlxml.StatusSuccess, sub, "")
	if err != nil {
		s.renderError(w, r, pageErr(http.StatusInternalServerError, "error.internal", err))
		return
	}
	if ok && len(st.Targets) == 0 {
		s.sendOut(w, r, out)
		return
	}
	var ret *sloOut
	if ok {
		ret = &out
	}
	s.renderLogoutResult(w, r, st, ret)
}

// renderLogoutResult shows what became of each participant; ret, when set, is the way back to
// the initiating SP with its LogoutResponse.
func (s *Server) renderLogoutResult(w http.ResponseWriter, r *http.Request, st *sloState, ret *sloOut) {
	lang := s.lang(r)
	page := templates.LogoutResultPage{Base: templates.Base{Lang: lang}, AllConfirmed: true, HomeURL: "/?lang=" + url.QueryEscape(lang)}
	for _, t := range st.Targets {
		ok := t.State == tOK
		page.AllConfirmed = page.AllConfirmed && ok
		state := t.State
		if state == tPending || state == tSent {
			state = tNoAnswer
		}
		page.Services = append(page.Services, templates.LogoutService{
			Name: s.sloSPName(t.EntityID, lang), StateKey: "logout.state." + state, Confirmed: ok,
		})
	}
	var formAction []string
	if ret != nil {
		page.ReturnSPName = s.sloSPName(st.Req.Issuer, lang)
		page.ReturnPost, page.ReturnAction, page.ReturnValue = ret.post, ret.action, ret.value
		page.ReturnRelay, page.ReturnHasRelay, page.ReturnURL = ret.relay, ret.hasRelay, ret.url
		if ret.post {
			formAction = append(formAction, originOf(ret.action))
		}
	}
	s.render(w, r, http.StatusOK, templates.PageLogoutResult, &page, formAction...)
}

// sloOut is a signed message on its way to an SP through the browser.
type sloOut struct {
	post     bool
	action   string // POST: the endpoint
	value    string // POST: base64 message
	relay    string
	hasRelay bool
	url      string // Redirect: the whole signed URL
}

// logoutResponseOut builds the signed LogoutResponse to the initiator's SingleLogoutService
// (its ResponseLocation when it has one, saml-metadata-2.0-os §2.2.2): HTTP-POST with an XML
// signature when offered, else HTTP-Redirect with a query signature (INTEROP.md: one SP
// accepts only XML-signed LogoutResponses, and every SP rejects unsigned ones). ok is false
// when the SP has no front-channel SingleLogoutService (or is gone from metadata).
func (s *Server) logoutResponseOut(req *sloRequest, code, sub, msg string) (sloOut, bool, error) {
	sp, err := s.deps.SPs.Lookup(req.Issuer)
	if err != nil {
		return sloOut{}, false, nil
	}
	ep, ok := sp.SLOEndpoint(metadata.BindingHTTPPost, metadata.BindingHTTPRedirect)
	if !ok {
		return sloOut{}, false, nil
	}
	dest := ep.Location
	if ep.ResponseLocation != "" {
		dest = ep.ResponseLocation
	}
	resp := samlxml.LogoutResponse{
		ID: samlxml.NewID(), IssueInstant: s.now(), Issuer: s.cfg.EntityID, Destination: dest,
		InResponseTo: req.ID, StatusCode: code, SubStatusCode: sub, StatusMessage: msg,
	}
	out := sloOut{relay: req.Relay, hasRelay: req.HasRelay}
	signer := s.currentKeys().set.Signer // one key set for the whole message
	if ep.Binding == metadata.BindingHTTPPost {
		x, err := signer.BuildLogoutResponse(resp, true)
		if err != nil {
			return out, false, err
		}
		out.post, out.action, out.value = true, dest, base64.StdEncoding.EncodeToString(x)
		return out, true, nil
	}
	x, err := signer.BuildLogoutResponse(resp, false)
	if err == nil {
		x, err = deflate(x)
	}
	if err != nil {
		return out, false, err
	}
	q, err := signer.RedirectQuery("SAMLResponse", x, req.Relay, req.HasRelay)
	if err != nil {
		return out, false, err
	}
	out.url = withQuery(dest, q)
	return out, true, nil
}

// sendOut delivers out now: the auto-POST page or a redirect.
func (s *Server) sendOut(w http.ResponseWriter, r *http.Request, out sloOut) {
	if out.post {
		s.render(w, r, http.StatusOK, templates.PagePost, &templates.PostPage{
			Base: templates.Base{Lang: s.lang(r)}, Action: out.action, FieldName: "SAMLResponse",
			Value: out.value, RelayState: out.relay, HasRelayState: out.hasRelay,
		}, originOf(out.action))
		return
	}
	http.Redirect(w, r, out.url, http.StatusSeeOther)
}

// answerInitiator sends the initiating SP a LogoutResponse with the given status at once (no
// participant to report on).
func (s *Server) answerInitiator(w http.ResponseWriter, r *http.Request, req *sloRequest, code, sub, msg string) {
	out, ok, err := s.logoutResponseOut(req, code, sub, msg)
	switch {
	case err != nil:
		s.renderError(w, r, pageErr(http.StatusInternalServerError, "error.internal", err))
	case ok:
		s.sendOut(w, r, out)
	case code == samlxml.StatusSuccess:
		s.renderLogoutResult(w, r, &sloState{}, nil)
	default:
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.badrequest", fmt.Errorf("cannot answer %s: no SingleLogoutService", req.Issuer)))
	}
}
