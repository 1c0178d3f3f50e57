package idp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/ateaidp/atea/idp/store"
)

// randToken returns 256 random bits, URL-safe.
func randToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) mac(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setCookie writes a cookie whose Secure flag comes from configuration, never from the
// request (the crewjam samlidp bug, SECURITY.md §4.18).
func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.cfg.CookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
}

// sessionKey is the store key of an SSO session: a keyed hash of the cookie, so a store dump
// cannot be replayed as cookies (SECURITY.md §4.15).
func (s *Server) sessionKey(cookie string) string {
	return "s_" + s.mac(s.deps.Secrets.Store, "session", cookie)
}

// currentSession returns the browser's live SSO session, or store.ErrNotFound.
func (s *Server) currentSession(r *http.Request) (store.Session, error) {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return store.Session{}, store.ErrNotFound
	}
	sess, err := s.deps.Store.GetSession(r.Context(), s.sessionKey(c.Value))
	if err != nil {
		return store.Session{}, err
	}
	if !sess.ExpiresAt.After(s.now()) {
		return store.Session{}, store.ErrNotFound
	}
	return sess, nil
}

// browserBinding returns the hash of the browser's flow cookie, setting a fresh cookie when
// there is none. A flow is usable only from the browser that started it.
func (s *Server) browserBinding(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.cfg.FlowCookieName); err == nil && len(c.Value) >= 40 && len(c.Value) <= 64 {
		return s.mac(s.deps.Secrets.Browser, c.Value)
	}
	v := randToken()
	s.setCookie(w, s.cfg.FlowCookieName, v, 0)
	return s.mac(s.deps.Secrets.Browser, v)
}

// checkBinding reports whether the request comes from the browser that owns flow f.
func (s *Server) checkBinding(r *http.Request, f store.Flow) bool {
	c, err := r.Cookie(s.cfg.FlowCookieName)
	if err != nil {
		return false
	}
	got := s.mac(s.deps.Secrets.Browser, c.Value)
	return subtle.ConstantTimeCompare([]byte(got), []byte(f.BrowserHash)) == 1
}

// csrfToken binds a form to its flow and browser (a verifier minted for one flow cannot be
// replayed against another).
func (s *Server) csrfToken(f store.Flow) string {
	return s.mac(s.deps.Secrets.CSRF, "login", f.ID, f.BrowserHash)
}

// createFlow stores f under a fresh ID bound to this browser.
func (s *Server) createFlow(w http.ResponseWriter, r *http.Request, f *store.Flow, state string) error {
	now := s.now()
	f.ID = "f" + randToken()
	f.State = state
	f.BrowserHash = s.browserBinding(w, r)
	f.CreatedAt = now
	f.ExpiresAt = now.Add(s.cfg.FlowLifetime)
	if err := s.deps.Store.CreateFlow(r.Context(), *f); err != nil {
		return fmt.Errorf("%w: create flow: %w", errUnavailable, err)
	}
	return nil
}

// loadFlow fetches the flow named in the request and checks that this browser owns it.
func (s *Server) loadFlow(r *http.Request, id string) (store.Flow, error) {
	if id == "" || len(id) > 64 {
		return store.Flow{}, pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("no flow id"))
	}
	f, err := s.deps.Store.GetFlow(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return f, pageErr(http.StatusBadRequest, "error.flowexpired", err)
	case err != nil:
		return f, fmt.Errorf("%w: %w", errUnavailable, err)
	}
	if !s.checkBinding(r, f) {
		return f, pageErr(http.StatusBadRequest, "error.flowexpired", errors.New("flow belongs to another browser"))
	}
	return f, nil
}

// startSession creates a new SSO session after a successful sign-in. The cookie value is always
// fresh (no session fixation, SECURITY.md §4.6); SPs of a previous session in this browser are
// carried over so that logout can still reach them.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID, level, method string) (store.Session, error) {
	now := s.now()
	var carried []store.SPParticipation
	if old, err := s.currentSession(r); err == nil {
		if old.UserID == userID {
			carried = old.SPs
		}
		_ = s.deps.Store.DeleteSession(r.Context(), old.ID)
	}
	cookie := randToken()
	sess := store.Session{
		ID:           s.sessionKey(cookie),
		UserID:       userID,
		Level:        level,
		Method:       method,
		AuthnInstant: now,
		CreatedAt:    now,
		ExpiresAt:    now.Add(s.cfg.SessionLifetime),
		SPs:          carried,
	}
	if err := s.deps.Store.CreateSession(r.Context(), sess); err != nil {
		return sess, fmt.Errorf("%w: create session: %w", errUnavailable, err)
	}
	s.setCookie(w, s.cfg.CookieName, cookie, 0)
	if s.deps.SignIns != nil {
		si := SignIn{Time: now, Level: level, Method: method, Network: maskNetwork(clientIP(r))}
		if err := s.deps.SignIns.RecordSignIn(r.Context(), userID, si); err != nil {
			s.log.WarnContext(r.Context(), "record sign-in", "err", err)
		}
	}
	return sess, nil
}

// maskNetwork cuts the host part of an address: IPv4 to its /24, IPv6 to its /48.
func maskNetwork(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	bits := 48
	if a.Unmap().Is4() {
		a, bits = a.Unmap(), 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// flowPost reads a form posted to one step of a sign-in flow and checks everything a step
// must before acting (SECURITY.md §4.6): a bounded body, a same-site origin (login CSRF), the
// flow of this browser, its CSRF token, and that the flow is in state want. On failure it has
// answered with an error page and returns ok false.
func (s *Server) flowPost(w http.ResponseWriter, r *http.Request, limit int64, want string) (store.Flow, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.badrequest", err))
		return store.Flow{}, false
	}
	if o := r.Header.Get("Origin"); (o != "" && o != "null" && o != s.origin) || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		s.renderError(w, r, pageErr(http.StatusForbidden, "error.csrf", errors.New("cross-site form post")))
		return store.Flow{}, false
	}
	f, err := s.loadFlow(r, r.PostForm.Get("flow"))
	if err != nil {
		s.renderError(w, r, err)
		return store.Flow{}, false
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrfToken(f))) != 1 {
		s.renderError(w, r, pageErr(http.StatusForbidden, "error.csrf", errors.New("bad csrf token")))
		return store.Flow{}, false
	}
	if f.State != want {
		s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", fmt.Errorf("flow in state %s, want %s", f.State, want)))
		return store.Flow{}, false
	}
	return f, true
}
