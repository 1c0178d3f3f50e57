package idp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/metadata"
)

// Flow states (see doc.go for the diagram).
const (
	// StateNew: the request is validated and stored; the next GET /login decides.
	StateNew = "new"
	// StateAwaitPassword: the sign-in form is shown.
	StateAwaitPassword = "await_password"
)

// handleSSO serves /saml/sso on both bindings (saml-bindings-2.0-os §3.4, §3.5).
func (s *Server) handleSSO(w http.ResponseWriter, r *http.Request) {
	in, err := s.readAuthnRequest(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	pending, err := s.validate(r.Context(), in)
	if err != nil {
		s.fail(w, r, pending, err)
		return
	}
	f := store.Flow{Request: *pending}
	if in.binding == bindingPOST {
		// A cross-site POST does not carry the SameSite=Lax SSO cookie. Park the request and
		// continue on a same-site top-level GET, which does (SECURITY.md §4.6).
		if err := s.createFlow(w, r, &f, StateNew); err != nil {
			s.fail(w, r, pending, err)
			return
		}
		http.Redirect(w, r, "/login?flow="+f.ID, http.StatusSeeOther)
		return
	}
	s.dispatch(w, r, &f, false)
}

// validate applies the checks of the Web Browser SSO profile (saml-profiles-2.0-os §4.1.4.1)
// and Atea's policy. It returns the pending request; once the ACS is known from metadata,
// failures are statusErrors answered to that ACS, before that pageErrors.
func (s *Server) validate(ctx context.Context, in *inbound) (*store.PendingRequest, error) {
	req := &in.req
	sp := in.sp
	set := s.spSettings(sp.EntityID)

	// ACS strictly from metadata: exact URL, or index, or the default; HTTP-POST only.
	// saml-core-2.0-os §3.4.1: URL and index are mutually exclusive.
	var acs string
	switch {
	case req.AssertionConsumerServiceURL != "" && req.ACSIndex != "":
		return nil, pageErr(http.StatusBadRequest, "error.acs", errors.New("both ACS URL and index"))
	case req.ProtocolBinding != "" && req.ProtocolBinding != bindingPOST:
		return nil, pageErr(http.StatusBadRequest, "error.acs", fmt.Errorf("response binding %q", req.ProtocolBinding))
	case req.AssertionConsumerServiceURL != "":
		ep, ok := sp.ACSByURL(req.AssertionConsumerServiceURL)
		if !ok {
			return nil, pageErr(http.StatusBadRequest, "error.acs", errors.New("ACS URL not in metadata"))
		}
		acs = ep.Location
	case req.ACSIndex != "":
		i, ok := atoiIndex(req.ACSIndex)
		if !ok {
			return nil, pageErr(http.StatusBadRequest, "error.acs", errors.New("bad ACS index"))
		}
		ep, ok := sp.ACSByIndex(i)
		if !ok {
			return nil, pageErr(http.StatusBadRequest, "error.acs", errors.New("ACS index not in metadata"))
		}
		acs = ep.Location
	default:
		ep, ok := sp.DefaultACS()
		if !ok {
			return nil, pageErr(http.StatusBadRequest, "error.acs", errors.New("no HTTP-POST ACS"))
		}
		acs = ep.Location
	}
	// RelayState: opaque, at most 80 bytes (saml-bindings-2.0-os §3.4.3), returned byte-exact.
	// A value that cannot be returned faithfully is refused before anything is sent.
	maxRelay := s.cfg.MaxRelayState
	if set.MaxRelayState > 0 {
		maxRelay = set.MaxRelayState
	}
	if in.hasRelay && (len(in.relay) > maxRelay || strings.IndexFunc(in.relay, unicode.IsControl) >= 0) {
		return nil, pageErr(http.StatusBadRequest, "error.relaystate", fmt.Errorf("RelayState of %d bytes", len(in.relay)))
	}
	if !validNCName(req.ID) {
		return nil, pageErr(http.StatusBadRequest, "error.badrequest", errors.New("request ID is not an NCName"))
	}
	p := &store.PendingRequest{
		SPEntityID:    sp.EntityID,
		RequestID:     req.ID,
		ACSURL:        acs,
		ACSBinding:    bindingPOST,
		RelayState:    in.relay,
		HasRelayState: in.hasRelay,
		Binding:       in.binding,
	}
	// From here on the SP learns of failures through a signed SAML Response to its ACS.
	if req.Version != "2.0" {
		return p, statusErr(samlxml.StatusVersionMismatch, "", "SAML 2.0 only", fmt.Errorf("version %q", req.Version))
	}
	now := s.now()
	t, err := parseIssueInstant(req.IssueInstant)
	switch {
	case err != nil:
		return p, statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "IssueInstant unreadable", err)
	case t.After(now.Add(s.cfg.ClockSkew)):
		return p, statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "IssueInstant in the future", errors.New("issued in the future"))
	case t.Before(now.Add(-s.cfg.MaxRequestAge - s.cfg.ClockSkew)):
		return p, statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "request too old", errors.New("request too old"))
	}
	// saml-bindings-2.0-os §3.4.5.2/§3.5.5.2 require Destination on signed requests; Atea
	// requires it on all, so a request meant for another IdP cannot be replayed here.
	if req.Destination != s.ssoURL {
		return p, statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "Destination mismatch", errors.New("wrong Destination"))
	}
	if p.ForceAuthn, err = xmlBool(req.ForceAuthn); err != nil {
		return p, statusErr(samlxml.StatusRequester, "", "ForceAuthn", err)
	}
	if p.IsPassive, err = xmlBool(req.IsPassive); err != nil {
		return p, statusErr(samlxml.StatusRequester, "", "IsPassive", err)
	}
	if req.NameIDPolicy != nil {
		p.NameIDFormat = req.NameIDPolicy.Format
		p.AllowCreate, _ = xmlBool(req.NameIDPolicy.AllowCreate)
	}
	if _, err := s.nameIDFormat(p.NameIDFormat, set); err != nil {
		return p, statusErr(samlxml.StatusRequester, samlxml.StatusInvalidNameIDPol, "NameID format not supported", err)
	}
	spDefault := s.cfg.DefaultLevel
	if set.DefaultLevel != authn.LevelNone {
		spDefault = set.DefaultLevel
	}
	var comparison string
	var refs []string
	if rac := req.RequestedAuthnContext; rac != nil {
		comparison, refs = rac.Comparison, rac.ClassRefs
		if len(rac.DeclRefs) > 0 && len(refs) == 0 {
			return p, statusErr(samlxml.StatusRequester, samlxml.StatusRequestUnsupport, "AuthnContextDeclRef not supported", errors.New("decl refs"))
		}
	}
	if p.Levels, err = s.acceptableLevels(comparison, refs, spDefault); err != nil {
		return p, statusErr(samlxml.StatusResponder, samlxml.StatusNoAuthnContext, "level not available", err)
	}
	if !reachable(p.Levels, s.reachableLevels()...) {
		return p, statusErr(samlxml.StatusResponder, samlxml.StatusNoAuthnContext, "level not available", errNoLevel)
	}
	if p.IsPassive && p.ForceAuthn {
		return p, statusErr(samlxml.StatusResponder, samlxml.StatusNoPassive, "", errors.New("passive and forced"))
	}
	// Replay: each (issuer, ID) is accepted once within the validity window (SECURITY.md §4.3).
	// The key is a keyed hash: no attacker text in store keys.
	first, err := s.deps.Store.Consume(ctx, s.storeKey("authnreq", sp.EntityID, req.ID), s.cfg.MaxRequestAge+2*s.cfg.ClockSkew)
	if err != nil {
		return p, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	if !first {
		return p, statusErr(samlxml.StatusRequester, samlxml.StatusRequestDenied, "request already used", errors.New("replayed request"))
	}
	return p, nil
}

// storeKey derives an opaque store key from its parts.
func (s *Server) storeKey(kind string, parts ...string) string {
	m := hmac.New(sha256.New, s.deps.Secrets.Store)
	m.Write([]byte(kind))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return kind + ":" + hex.EncodeToString(m.Sum(nil)[:20])
}

func (s *Server) spSettings(entityID string) SPSettings { return s.cfg.SPs[entityID] }

// fail answers err: a signed SAML error Response when the request got far enough to know its
// ACS, else an error page.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, p *store.PendingRequest, err error) {
	var se *statusError
	if p != nil && p.ReturnTo != "" && errors.As(err, &se) {
		// A local sign-in has no SP to send a SAML error to: the person gets the page.
		s.renderError(w, r, pageErr(http.StatusForbidden, "error.nofactor", err))
		return
	}
	if p != nil && errors.As(err, &se) {
		s.log.WarnContext(r.Context(), "request answered with saml error", "sp", p.SPEntityID, "status", se.code, "sub_status", se.sub, "err", err)
		s.audit.InfoContext(r.Context(), "sso_error", "event", "sso_error", "sp", p.SPEntityID, "status", se.sub)
		s.sendStatus(w, r, p, se)
		return
	}
	s.renderError(w, r, err)
}

// dispatch is the flow's one decision point: given the pending request and the browser's SSO
// session, it issues an assertion, answers NoPassive, or shows the sign-in form.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, f *store.Flow, stored bool) {
	p := &f.Request
	sess, err := s.currentSession(r)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, p, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if err == nil && !p.ForceAuthn && !s.mustReauthenticate(p) {
		have, _ := authn.ParseLevel(sess.Level)
		if lr, ok := pickLevel(p.Levels, have); ok {
			if stored {
				_ = s.deps.Store.DeleteFlow(r.Context(), f.ID)
			}
			s.issue(w, r, p, sess, lr)
			return
		}
		if !p.IsPassive {
			// Signed in, but below what the SP asks: step-up, not a new login.
			s.stepUp(w, r, f, stored, sess)
			return
		}
	}
	if p.IsPassive {
		if stored {
			_ = s.deps.Store.DeleteFlow(r.Context(), f.ID)
		}
		s.fail(w, r, p, statusErr(samlxml.StatusResponder, samlxml.StatusNoPassive, "", errors.New("no session for passive request")))
		return
	}
	if s.onlyCertificate(p) {
		// Only the certificate reaches the level: no chooser, straight to it.
		if !stored {
			if err := s.createFlow(w, r, f, StateAwaitPassword); err != nil {
				s.fail(w, r, p, err)
				return
			}
		}
		http.Redirect(w, r, s.certURL(f), http.StatusSeeOther)
		return
	}
	if s.needsChooser(p) {
		if !stored {
			if err := s.createFlow(w, r, f, StateChooseMethod); err != nil {
				s.fail(w, r, p, err)
				return
			}
		} else if f.State != StateChooseMethod {
			updated, err := s.deps.Store.UpdateFlow(r.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
				cur.State = StateChooseMethod
				return cur, nil
			})
			if err != nil {
				s.fail(w, r, p, fmt.Errorf("%w: %w", errUnavailable, err))
				return
			}
			*f = updated
		}
		s.renderChooser(w, r, f)
		return
	}
	if !stored {
		if err := s.createFlow(w, r, f, StateAwaitPassword); err != nil {
			s.fail(w, r, p, err)
			return
		}
	} else if f.State != StateAwaitPassword {
		updated, err := s.deps.Store.UpdateFlow(r.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
			cur.State = StateAwaitPassword
			return cur, nil
		})
		if err != nil {
			s.fail(w, r, p, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		*f = updated
	}
	s.renderLogin(w, r, f, "", nil, "")
}

// spName is what the sign-in page calls the service: its metadata display name when there is
// one, else the entityID.
func spName(sp *metadata.SP, lang string) string { return sp.DisplayName(lang) }

// mustReauthenticate reports whether the SP's policy forbids reusing the session for this
// request (SPSettings.ReauthFrom).
func (s *Server) mustReauthenticate(p *store.PendingRequest) bool {
	from := s.spSettings(p.SPEntityID).ReauthFrom
	if from == authn.LevelNone || len(p.Levels) == 0 {
		return false
	}
	weakest, err := authn.ParseLevel(p.Levels[0].Level)
	return err == nil && weakest >= from
}
