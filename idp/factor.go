package idp

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/samlxml"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// StateAwaitSecondFactor: the citizen is signed in at a level below the request's (after the
// password, or with an existing session: step-up) and answers a second factor for the user
// in Flow.PendingUser; the factor's challenge is on screen.
const StateAwaitSecondFactor = "await_second_factor"

// credentialBakQ is the credential whose holders may use a second factor (BRIEF.md: B@kQ =
// B@k plus a coordinate card or an SMS code).
const credentialBakQ = "bakq"

const maxFactorForm = 4 << 10

// factorLevel is the strongest level a configured second factor reaches (LevelNone without
// factors): what step-up can offer on top of a password session.
func (s *Server) factorLevel() authn.Level {
	l := authn.LevelNone
	for _, f := range s.deps.Factors {
		l = max(l, f.Level())
	}
	return l
}

// reachableLevels are the levels some configured method reaches: the password (B@k, low) and
// the second factors (B@kQ).
func (s *Server) reachableLevels() []authn.Level {
	ls := []authn.Level{authn.LevelLow}
	if l := s.factorLevel(); l > authn.LevelLow {
		ls = append(ls, l)
	}
	if l := s.certLevel(); l > authn.LevelNone {
		ls = append(ls, l)
	}
	return ls
}

// stepUp continues a flow whose citizen is signed in (sess) below every acceptable level:
// it asks only for the missing factor (BRIEF.md journey 4: "a higher level than the session
// holds triggers step-up, not a new login"). A B@k holder without a second factor gets the
// page explaining B@kQ (journey 2) instead of a dead end.
func (s *Server) stepUp(w http.ResponseWriter, r *http.Request, f *store.Flow, stored bool, sess store.Session) {
	p := &f.Request
	ctx := r.Context()
	if _, ok := pickLevel(p.Levels, s.factorLevel()); !ok {
		s.fail(w, r, p, statusErr(samlxml.StatusResponder, samlxml.StatusNoAuthnContext, "level not available", errNoLevel))
		return
	}
	user, err := s.deps.Directory.GetByID(ctx, sess.UserID)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("%w: directory: %w", errUnavailable, err))
		return
	}
	if user.Credential != credentialBakQ {
		s.audit.InfoContext(ctx, "step_up_impossible", "event", "step_up_impossible", "user_id", user.ID, "sp", p.SPEntityID)
		s.renderUpgrade(w, r, f)
		return
	}
	if !stored {
		if err := s.createFlow(w, r, f, StateAwaitSecondFactor); err != nil {
			s.fail(w, r, p, err)
			return
		}
	}
	updated, err := s.deps.Store.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
		cur.State = StateAwaitSecondFactor
		cur.PendingUser = user.ID
		return cur, nil
	})
	if err != nil {
		s.fail(w, r, p, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	*f = updated
	s.showFactor(w, r, f, user, "", nil, "")
}

// subjectOf is what a second factor needs to know of a citizen.
func subjectOf(u directory.User) authn.Subject {
	return authn.Subject{UserID: u.ID, DNI: u.DNI, Phone: u.Phone, Email: u.Email}
}

// showFactor begins (or re-shows: a reload shows the same challenge) the citizen's second
// factor: the first configured one the citizen has, in configuration order.
func (s *Server) showFactor(w http.ResponseWriter, r *http.Request, f *store.Flow, user directory.User, errKey string, errArgs []any, noticeKey string) {
	// The SMS goes out in the language of the page.
	ctx := authn.WithLang(r.Context(), s.lang(r))
	var lockedKey string
	for _, fac := range s.deps.Factors {
		if f.FactorMethod != "" && fac.ID() != f.FactorMethod {
			continue
		}
		ch, err := fac.Begin(ctx, subjectOf(user), f.ID)
		switch {
		case errors.Is(err, authn.ErrNoFactor):
			continue
		case errors.Is(err, authn.ErrLocked):
			lockedKey = factorKey(fac.ID(), "locked")
			continue
		case err != nil:
			s.renderError(w, r, fmt.Errorf("%w: second factor %s: %w", errUnavailable, fac.ID(), err))
			return
		}
		if f.FactorMethod != fac.ID() {
			id := fac.ID()
			if _, err := s.deps.Store.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
				cur.FactorMethod = id
				return cur, nil
			}); err != nil {
				s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
				return
			}
			f.FactorMethod = id
		}
		s.renderFactor(w, r, f, ch, errKey, errArgs, noticeKey)
		return
	}
	if lockedKey == "" {
		lockedKey = "error.nofactor"
	}
	s.audit.InfoContext(ctx, "second_factor_unavailable", "event", "second_factor_unavailable", "user_id", user.ID, "reason", lockedKey)
	s.renderError(w, r, pageErr(http.StatusForbidden, lockedKey, errors.New("no usable second factor")))
}

// factorKey is the message key of a second factor's error, e.g. card.error.locked.
func factorKey(method, what string) string {
	if method == "coordcard" {
		return "card.error." + what
	}
	return "sms.error." + what
}

func (s *Server) renderFactor(w http.ResponseWriter, r *http.Request, f *store.Flow, ch authn.Challenge, errKey string, errArgs []any, noticeKey string) {
	lang := s.lang(r)
	status := http.StatusOK
	if errKey != "" {
		status = http.StatusUnauthorized
	}
	levelKey := "level." + f.Request.Levels[0].Level
	if ch.Method == "coordcard" {
		s.render(w, r, status, templates.PageCard, &templates.CardPage{
			Base: s.base(w, r, lang, f.ID), Action: "/login/factor", FlowID: f.ID, CSRF: s.csrfToken(*f),
			SPName: s.displayName(f.Request.SPEntityID, lang), LevelKey: levelKey,
			Positions: ch.Positions, Digits: cmp.Or(ch.Digits, 3), ErrorKey: errKey, ErrorArgs: errArgs,
		})
		return
	}
	now := s.now()
	mins := int(ch.ExpiresAt.Sub(now).Minutes() + 0.5)
	s.render(w, r, status, templates.PageSMS, &templates.SMSPage{
		Base: s.base(w, r, lang, f.ID), Action: "/login/factor", ResendAction: "/login/factor/resend", FlowID: f.ID,
		CSRF: s.csrfToken(*f), SPName: s.displayName(f.Request.SPEntityID, lang), LevelKey: levelKey,
		MaskedPhone: ch.MaskedPhone, Prefix: ch.Prefix, Typed: ch.Typed, ExpiresMinutes: max(mins, 1),
		CanResend: !now.Before(ch.ResendAt), ErrorKey: errKey, ErrorArgs: errArgs, NoticeKey: noticeKey,
	})
}

func (s *Server) renderUpgrade(w http.ResponseWriter, r *http.Request, f *store.Flow) {
	lang := s.lang(r)
	levelKey := "level." + f.Request.Levels[0].Level
	s.render(w, r, http.StatusForbidden, templates.PageUpgrade, &templates.UpgradePage{
		Base: s.base(w, r, lang, ""), SPName: s.displayName(f.Request.SPEntityID, lang), LevelKey: levelKey,
	})
}

// factorFlow reads and checks a second-factor form post: flow of this browser, CSRF, state,
// and the SSO session of the same citizen (a flow cannot be finished by another session).
func (s *Server) factorFlow(w http.ResponseWriter, r *http.Request) (store.Flow, store.Session, directory.User, authn.SecondFactor, bool) {
	var zero store.Flow
	f, ok := s.flowPost(w, r, maxFactorForm, StateAwaitSecondFactor)
	if !ok {
		return zero, store.Session{}, directory.User{}, nil, false
	}
	if f.PendingUser == "" {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("no citizen in flow")))
		return zero, store.Session{}, directory.User{}, nil, false
	}
	sess, err := s.currentSession(r)
	if err != nil || sess.UserID != f.PendingUser {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("no session of the flow's citizen")))
		return zero, store.Session{}, directory.User{}, nil, false
	}
	user, err := s.deps.Directory.GetByID(r.Context(), f.PendingUser)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("%w: directory: %w", errUnavailable, err))
		return zero, store.Session{}, directory.User{}, nil, false
	}
	for _, fac := range s.deps.Factors {
		if fac.ID() == f.FactorMethod {
			return f, sess, user, fac, true
		}
	}
	s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("no factor in flow")))
	return zero, store.Session{}, directory.User{}, nil, false
}

// handleFactorPost checks the second factor's answer; success raises the session to the
// factor's level (a fresh cookie: the privilege changed) and answers the AuthnRequest.
func (s *Server) handleFactorPost(w http.ResponseWriter, r *http.Request) {
	f, sess, user, fac, ok := s.factorFlow(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	// The pending challenge (Begin returns it again, sending nothing) says which cells the
	// card answer has, in order.
	ch, err := fac.Begin(ctx, subjectOf(user), f.ID)
	if err != nil && !errors.Is(err, authn.ErrLocked) {
		s.showFactor(w, r, &f, user, "", nil, "")
		return
	}
	answer := factorAnswer(r, ch)
	if answer == "" {
		s.showFactor(w, r, &f, user, factorKey(fac.ID(), "required"), nil, "")
		return
	}
	err = fac.Verify(ctx, subjectOf(user), f.ID, answer)
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrInvalidCredentials):
		s.deps.Stats.signInFailure("second_factor")
		s.audit.InfoContext(ctx, "second_factor_failed", "event", "second_factor_failed", "user_id", user.ID, "method", fac.ID())
		s.showFactor(w, r, &f, user, factorKey(fac.ID(), "invalid"), nil, "")
		return
	case errors.Is(err, authn.ErrTooManyAttempts):
		s.showFactor(w, r, &f, user, factorKey(fac.ID(), "attempts"), nil, "")
		return
	case errors.Is(err, authn.ErrExpired):
		s.showFactor(w, r, &f, user, factorKey(fac.ID(), "expired"), nil, "")
		return
	case errors.Is(err, authn.ErrLocked):
		s.audit.InfoContext(ctx, "second_factor_locked", "event", "second_factor_locked", "user_id", user.ID, "method", fac.ID())
		s.renderError(w, r, pageErr(http.StatusForbidden, factorKey(fac.ID(), "locked"), err))
		return
	default:
		s.renderError(w, r, fmt.Errorf("%w: second factor: %w", errUnavailable, err))
		return
	}
	level := fac.Level()
	method := sess.Method + "+" + fac.ID()
	nsess, err := s.startSession(w, r, user.ID, level.String(), method)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	_ = s.deps.Store.DeleteFlow(ctx, f.ID)
	s.audit.InfoContext(ctx, "login_succeeded", "event", "login_succeeded", "user_id", user.ID, "level", level.String(), "method", method, "sp", f.Request.SPEntityID)
	lr, ok := pickLevel(f.Request.Levels, level)
	if !ok {
		s.fail(w, r, &f.Request, statusErr(samlxml.StatusResponder, samlxml.StatusNoAuthnContext, "level not available", errNoLevel))
		return
	}
	s.issue(w, r, &f.Request, nsess, lr)
}

// handleFactorResend sends a new code ("I did not receive the code").
func (s *Server) handleFactorResend(w http.ResponseWriter, r *http.Request) {
	f, _, user, fac, ok := s.factorFlow(w, r)
	if !ok {
		return
	}
	rs, ok := fac.(authn.Resender)
	if !ok {
		s.showFactor(w, r, &f, user, "", nil, "")
		return
	}
	ch, err := rs.Resend(authn.WithLang(r.Context(), s.lang(r)), subjectOf(user), f.ID)
	switch {
	case err == nil:
		s.renderFactor(w, r, &f, ch, "", nil, "sms.notice.resent")
	case errors.Is(err, authn.ErrCooldown):
		s.showFactor(w, r, &f, user, factorKey(fac.ID(), "cooldown"), nil, "")
	case errors.Is(err, authn.ErrLocked), errors.Is(err, authn.ErrTooManyAttempts):
		s.renderError(w, r, pageErr(http.StatusForbidden, factorKey(fac.ID(), "locked"), err))
	default:
		s.renderError(w, r, fmt.Errorf("%w: resend: %w", errUnavailable, err))
	}
}

// factorAnswer collects the submitted answer: the typed rest of the SMS code, or the card's
// cells in the order the challenge asks them (fields cell_B3, cell_D1, …).
func factorAnswer(r *http.Request, ch authn.Challenge) string {
	if len(ch.Positions) == 0 {
		return strings.TrimSpace(r.PostForm.Get("code"))
	}
	parts := make([]string, 0, len(ch.Positions))
	for _, pos := range ch.Positions {
		v := strings.TrimSpace(r.PostForm.Get("cell_" + pos))
		if v == "" {
			return ""
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, " ")
}
