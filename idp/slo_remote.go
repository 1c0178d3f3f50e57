package idp

import (
	"context"
	"errors"
	"fmt"

	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/metadata"
)

// Ending a session without its browser: the citizen's "end" button for a session on another
// device, the password reset that ends every session, an administrator's lock or revoke.
//
// The session ends first, as in every logout (slo.go). Its participants cannot be reached
// through a browser that is not here, so each one whose metadata offers a SOAP
// SingleLogoutService is told over the back channel (saml-profiles-2.0-os §4.4.3.3, the
// LogoutRequest from the identity provider to each participant, over a binding the
// participant's metadata offers; saml-bindings-2.0-os §3.2 for SOAP), in parallel and
// bounded by the logout timeout; the others are reported as not reachable, so the page or the
// command can say where the citizen is still signed in. An SP's own session usually outlives
// a missing LogoutRequest only until it expires, but the citizen should know.

// LogoutOutcome is what became of one participant of a session ended without its browser.
type LogoutOutcome struct {
	EntityID string
	// State is one of "ok" (the SP confirmed), "failed" (it refused or answered wrongly),
	// "noanswer", "frontonly" (its metadata offers single logout through the browser only),
	// "unsupported" (no single logout in its metadata, or gone from metadata) and "skipped"
	// (beyond Config.MaxLogoutSPs, or the session's own browser is logging out right now);
	// the message "logout.state."+State names it.
	State string
}

// Confirmed reports whether the SP confirmed the logout.
func (o LogoutOutcome) Confirmed() bool { return o.State == tOK }

// EndSession ends session id and tells its participants over the back channel. A session
// that is already gone is no error: there is nothing left to end (nil outcomes).
func (s *Server) EndSession(ctx context.Context, id string) ([]LogoutOutcome, error) {
	sess, err := s.deps.Store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	return s.endWithoutBrowser(ctx, sess, "")
}

// EndUserSessions ends every session of the user (by directory ID) but keep (a session key,
// "" for none) and tells their participants; it returns how many sessions ended and what
// became of each participant. A session that cannot be ended is an error in the join; the
// others still end.
func (s *Server) EndUserSessions(ctx context.Context, userID, keep string) (int, []LogoutOutcome, error) {
	sessions, err := s.deps.Store.ListSessionsBySubject(ctx, userID)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	var all []LogoutOutcome
	var problems []error
	ended := 0
	for _, sess := range sessions {
		if sess.ID == keep {
			continue
		}
		out, err := s.endWithoutBrowser(ctx, sess, "")
		if err != nil {
			problems = append(problems, err)
			continue
		}
		ended++
		all = append(all, out...)
	}
	return ended, all, errors.Join(problems...)
}

// endWithoutBrowser ends sess and tells its participants other than except (the SP that
// asked, when one did) over the back channel.
func (s *Server) endWithoutBrowser(ctx context.Context, sess store.Session, except string) ([]LogoutOutcome, error) {
	if err := s.deps.Store.DeleteSession(ctx, sess.ID); err != nil {
		return nil, fmt.Errorf("%w: delete session: %w", errUnavailable, err)
	}
	// A logout of the same session already running in its browser tells the participants
	// itself; a second round would send each a LogoutRequest for a session it has ended.
	first, err := s.deps.Store.Consume(ctx, s.storeKey("slo-lock", sess.ID), s.cfg.FlowLifetime)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	st := sloState{UserID: sess.UserID}
	for _, p := range sess.SPs {
		if p.EntityID == except {
			continue
		}
		t := sloTarget{EntityID: p.EntityID, NameID: p.NameID, NameIDFormat: p.NameIDFormat, SessionIndex: p.SessionIndex, State: tPending}
		if len(st.Targets) >= s.maxLogoutSPs() {
			t.State = tSkipped
		}
		st.Targets = append(st.Targets, t)
	}
	if first {
		s.soapAll(ctx, &st, false)
	}
	out := make([]LogoutOutcome, 0, len(st.Targets))
	confirmed := 0
	for _, t := range st.Targets {
		state := t.State
		switch {
		case !first:
			state = tSkipped
		case state == tPending:
			state = tUnsupported
			if sp, err := s.deps.SPs.Lookup(t.EntityID); err == nil {
				if _, front := sp.SLOEndpoint(metadata.BindingHTTPRedirect, metadata.BindingHTTPPost); front {
					state = tFrontOnly // only that session's browser could have carried it
				}
			}
		case state == tSent:
			state = tNoAnswer
		}
		if state == tOK {
			confirmed++
		}
		s.deps.Stats.logoutOutcome(state)
		out = append(out, LogoutOutcome{EntityID: t.EntityID, State: state})
	}
	s.audit.InfoContext(ctx, "session_ended_remotely", "event", "session_ended_remotely", "user_id", sess.UserID,
		"participants", len(out), "confirmed", confirmed)
	return out, nil
}
