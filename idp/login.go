package idp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

const (
	maxLoginForm      = 16 << 10
	maxFlowAttempts   = 10
	ipFailureWindow   = 10 * time.Minute
	ipFailuresAllowed = 100
)

// handleLoginGet continues a parked flow (POST binding) or re-shows the form (language switch).
func (s *Server) handleLoginGet(w http.ResponseWriter, r *http.Request) {
	f, err := s.loadFlow(r, r.URL.Query().Get("flow"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	switch f.State {
	case StateNew:
		s.dispatch(w, r, &f, true)
		return
	case StateChooseMethod:
		s.renderChooser(w, r, &f)
		return
	case StateAwaitSecondFactor:
		// A reload (or a language switch) shows the same challenge again.
		user, err := s.deps.Directory.GetByID(r.Context(), f.PendingUser)
		if err != nil {
			s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", err))
			return
		}
		s.showFactor(w, r, &f, user, "", nil, "")
		return
	}
	s.renderLogin(w, r, &f, "", nil, "")
}

// handleLoginPost checks DNI/NIE + password (B@k, level low).
func (s *Server) handleLoginPost(w http.ResponseWriter, r *http.Request) {
	f, ok := s.flowPost(w, r, maxLoginForm, StateAwaitPassword)
	if !ok {
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if username == "" || password == "" {
		s.renderLogin(w, r, &f, "login.error.required", nil, username)
		return
	}
	id, err := dni.Parse(username)
	if err != nil {
		var cle *dni.CheckLetterError
		if errors.As(err, &cle) {
			digits := numberPart(username)
			s.renderLogin(w, r, &f, "login.error.letter", []any{digits, string(cle.Want)}, username)
			return
		}
		s.renderLogin(w, r, &f, "login.error.format", nil, username)
		return
	}
	ctx := r.Context()
	// Count before comparing: per flow, and per client address across accounts.
	f, err = s.deps.Store.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
		cur.Attempts++
		return cur, nil
	})
	if err != nil {
		s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	ipKey := s.storeKey("ipfail", clientIP(r))
	n, err := s.deps.Store.Count(ctx, ipKey)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	if f.Attempts > maxFlowAttempts || n >= ipFailuresAllowed {
		s.renderLogin(w, r, &f, "login.error.busy", nil, username)
		return
	}
	// Failed passwords are also counted in the shared store, so that instances behind one
	// load balancer block an account together (each directory counts only what it saw).
	acctKey := s.storeKey("pwfail", id)
	failures, err := s.deps.Store.Count(ctx, acctKey)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	}
	user, err := s.deps.Directory.Authenticate(ctx, id, password)
	if err == nil && s.cfg.MaxPasswordFailures > 0 && failures >= int64(s.cfg.MaxPasswordFailures) {
		// Blocked by failures seen elsewhere. The hash was computed all the same, so the
		// answer takes as long as any other.
		err = directory.ErrLocked
	}
	if err != nil {
		if !errors.Is(err, directory.ErrInvalidCredentials) && !errors.Is(err, directory.ErrLocked) {
			s.renderError(w, r, fmt.Errorf("%w: directory: %w", errUnavailable, err))
			return
		}
		if _, err := s.deps.Store.Incr(ctx, ipKey, ipFailureWindow); err != nil {
			s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		if errors.Is(err, directory.ErrInvalidCredentials) {
			if _, err := s.deps.Store.Incr(ctx, acctKey, s.cfg.FailureWindow); err != nil {
				s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
				return
			}
		}
		reason := "invalid"
		if errors.Is(err, directory.ErrLocked) {
			reason = "locked"
		}
		s.deps.Stats.signInFailure("password")
		s.audit.InfoContext(ctx, "login_failed", "event", "login_failed", "user", dni.Mask(id), "reason", reason, "sp", f.Request.SPEntityID)
		// Same message for an unknown ID, a wrong password and a locked account: the page
		// must not tell an attacker which IDs exist (SECURITY.md §4.7).
		s.renderLogin(w, r, &f, "login.error.invalid", nil, username)
		return
	}
	if failures > 0 {
		// Failures count while consecutive: a success starts again from zero.
		if err := s.deps.Store.ResetCounter(ctx, acctKey); err != nil {
			s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
	}
	level := authn.LevelLow
	sess, err := s.startSession(w, r, user.ID, level.String(), "password")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.audit.InfoContext(ctx, "login_succeeded", "event", "login_succeeded", "user", dni.Mask(id), "user_id", user.ID, "level", level.String(), "sp", f.Request.SPEntityID)
	lr, ok := pickLevel(f.Request.Levels, level)
	if !ok || f.Chosen == "bakq" {
		// B@k is not enough for this SP, or the citizen chose B@kQ in the chooser: the same
		// flow continues with the second factor.
		s.stepUp(w, r, &f, true, sess)
		return
	}
	_ = s.deps.Store.DeleteFlow(ctx, f.ID)
	s.issue(w, r, &f.Request, sess, lr)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, f *store.Flow, errKey string, errArgs []any, username string) {
	lang := s.lang(r)
	levelKey := "level.low"
	if len(f.Request.Levels) > 0 {
		levelKey = "level." + f.Request.Levels[0].Level
	}
	status := http.StatusOK
	if errKey != "" {
		status = http.StatusUnauthorized
	}
	s.render(w, r, status, templates.PageLogin, &templates.LoginPage{
		Base:      s.base(w, r, lang, f.ID),
		Action:    "/login",
		FlowID:    f.ID,
		CSRF:      s.csrfToken(*f),
		Username:  username,
		ErrorKey:  errKey,
		ErrorArgs: errArgs,
		SPName:    s.displayName(f.Request.SPEntityID, lang),
		CertURL:   s.certURL(f),
		LevelKey:  levelKey,
	})
}

// clientIP is the peer address. Behind a reverse proxy, configure it to pass the client
// address; Atea does not trust X-Forwarded-For by default (it is attacker-controlled).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// numberPart is what the citizen typed without its final letter, upper-cased and without
// separators, for the "the letter for 48151623 is L" hint.
func numberPart(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' {
			b.WriteRune(c)
		}
	}
	out := b.String()
	if n := len(out); n > 0 && out[n-1] >= 'A' && out[n-1] <= 'Z' {
		out = out[:n-1]
	}
	return out
}

// displayName is how the sign-in page names the SP asking: its metadata display name in the
// page's language when it has one, else its entityID.
func (s *Server) displayName(entityID, lang string) string {
	if entityID == "" {
		return "Atea" // a local sign-in: the citizen's own account pages
	}
	sp, err := s.deps.SPs.Lookup(entityID)
	if err != nil {
		return entityID
	}
	return spName(sp, lang)
}

// ClearFailures forgets the failed passwords counted for a DNI/NIE in the shared store: the
// part of `atea user unlock` that lives outside the directory.
func (s *Server) ClearFailures(ctx context.Context, dniNumber string) error {
	id, err := dni.Parse(dniNumber)
	if err != nil {
		return fmt.Errorf("idp: clear failures: %w", err)
	}
	if err := s.deps.Store.ResetCounter(ctx, s.storeKey("pwfail", id)); err != nil {
		return fmt.Errorf("idp: clear failures: %w", err)
	}
	return nil
}
