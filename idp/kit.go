package idp

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// Kit is what the self-service journeys (activation, recovery, the account pages, the
// registration desk, certificate registration: packages under idp/selfservice) share with
// the sign-in pages: the browser-bound flows, CSRF, the page renderer with its security
// headers, the localized error page and the SSO session. Each journey is its own package
// with explicit dependencies (dex's server/ domains); this is the one door into the IdP they
// use, so the rules of SECURITY.md §4.6 (flows bound to a browser, same-site form posts,
// CSRF per flow, bounded bodies) hold for every form Atea serves.
type Kit struct{ s *Server }

// Kit returns the server's toolkit for self-service journeys.
func (s *Server) Kit() *Kit { return &Kit{s: s} }

// Handle mounts a journey's handler on the IdP's mux (stdlib method+wildcard patterns, e.g.
// "GET /activate"). Call it before serving; the patterns must not collide with Atea's own.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Now is the IdP's clock.
func (k *Kit) Now() time.Time { return k.s.now() }

// Store is the IdP's store: flows, sessions, counters and single-use keys.
func (k *Kit) Store() store.Store { return k.s.deps.Store }

// Logger and Audit are the IdP's log streams (never log codes, passwords or whole DNI).
func (k *Kit) Logger() *slog.Logger { return k.s.log }

// Audit is the audit log stream.
func (k *Kit) Audit() *slog.Logger { return k.s.audit }

// BaseURL is the IdP's public base URL, without a trailing slash (for links in e-mails).
func (k *Kit) BaseURL() string { return strings.TrimRight(k.s.cfg.BaseURL, "/") }

// Lang is the page language of r (?lang=, else Accept-Language, else Spanish).
func (k *Kit) Lang(r *http.Request) string { return k.s.lang(r) }

// Base is the shared part of a page's view model: language and the language switcher, whose
// links keep flowID (pass "" on a page without a flow).
func (k *Kit) Base(w http.ResponseWriter, r *http.Request, lang, flowID string) templates.Base {
	b := k.s.base(w, r, lang, flowID)
	// base() points POST pages' language links at /login; journeys re-show their own page.
	for i := range b.LangLinks {
		u, err := url.Parse(b.LangLinks[i].URL)
		if err != nil {
			continue
		}
		u.Path = r.URL.Path
		b.LangLinks[i].URL = u.String()
	}
	return b
}

// Render writes page with Atea's strict CSP and no-store headers. data is the page's view
// model (a pointer to one of the templates view models).
func (k *Kit) Render(w http.ResponseWriter, r *http.Request, status int, page templates.Page, data interface{ SetNonce(string) }) {
	k.s.render(w, r, status, page, data)
}

// Error answers with Atea's localized error page: status, the message key of the catalogs,
// and the private cause, which goes to the log with the page's correlation reference.
func (k *Kit) Error(w http.ResponseWriter, r *http.Request, status int, key string, cause error) {
	if cause == nil {
		cause = errors.New(key)
	}
	k.s.renderError(w, r, pageErr(status, key, cause))
}

// Unavailable answers 503 with the "try again later" page: the store or directory failed.
func (k *Kit) Unavailable(w http.ResponseWriter, r *http.Request, cause error) {
	k.s.renderError(w, r, fmt.Errorf("%w: %w", errUnavailable, cause))
}

// StartFlow creates a flow of journey in state, bound to this browser (it sets the flow
// cookie when the browser has none), with data as its state.
func (k *Kit) StartFlow(w http.ResponseWriter, r *http.Request, journey, state string, data map[string]string) (store.Flow, error) {
	f := store.Flow{Journey: journey, Data: data}
	if err := k.s.createFlow(w, r, &f, state); err != nil {
		return store.Flow{}, err
	}
	return f, nil
}

// LoadFlow returns the flow named id if it is live, belongs to this browser and to journey;
// otherwise it has answered with the "this page has expired, start again" page and ok is
// false. For GET pages (a reload, a language switch).
func (k *Kit) LoadFlow(w http.ResponseWriter, r *http.Request, journey, id string) (store.Flow, bool) {
	f, err := k.s.loadFlow(r, id)
	if err == nil && f.Journey != journey {
		err = pageErr(http.StatusBadRequest, "error.flowexpired", fmt.Errorf("flow of journey %q, want %q", f.Journey, journey))
	}
	if err != nil {
		k.s.renderError(w, r, err)
		return store.Flow{}, false
	}
	return f, true
}

// Post reads a form posted to a step of journey and checks what every step must (SECURITY.md
// §4.6): a body of at most limit bytes, a same-site origin, the flow (form field "flow") of
// this browser and journey, its CSRF token (form field "csrf", see CSRF), and that the flow is
// in one of the states want. On failure it has answered and ok is false.
func (k *Kit) Post(w http.ResponseWriter, r *http.Request, limit int64, journey string, want ...string) (store.Flow, bool) {
	if !k.ParseForm(w, r, limit) {
		return store.Flow{}, false
	}
	f, ok := k.LoadFlow(w, r, journey, r.PostForm.Get("flow"))
	if !ok {
		return store.Flow{}, false
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(k.s.csrfToken(f))) != 1 {
		k.s.renderError(w, r, pageErr(http.StatusForbidden, "error.csrf", errors.New("bad csrf token")))
		return store.Flow{}, false
	}
	for _, st := range want {
		if f.State == st {
			return f, true
		}
	}
	k.s.renderError(w, r, pageErr(http.StatusBadRequest, "error.flowexpired", fmt.Errorf("flow in state %s, want %v", f.State, want)))
	return store.Flow{}, false
}

// ParseForm bounds and parses a posted form and refuses a cross-site post, for forms without
// a flow (the account pages, which are bound to the session instead: check SessionCSRF).
func (k *Kit) ParseForm(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		k.s.renderError(w, r, pageErr(http.StatusBadRequest, "error.badrequest", err))
		return false
	}
	if o := r.Header.Get("Origin"); (o != "" && o != "null" && o != k.s.origin) || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		k.s.renderError(w, r, pageErr(http.StatusForbidden, "error.csrf", errors.New("cross-site form post")))
		return false
	}
	return true
}

// CSRF is the hidden "csrf" value of a form of flow f.
func (k *Kit) CSRF(f store.Flow) string { return k.s.csrfToken(f) }

// SessionCSRF is the hidden "csrf" value of a form bound to SSO session sess (the account
// pages); CheckSessionCSRF verifies it in constant time.
func (k *Kit) SessionCSRF(sess store.Session) string {
	return k.s.mac(k.s.deps.Secrets.CSRF, "session", sess.ID)
}

// CheckSessionCSRF reports whether the posted "csrf" field is sess's token.
func (k *Kit) CheckSessionCSRF(r *http.Request, sess store.Session) bool {
	return subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(k.SessionCSRF(sess))) == 1
}

// UpdateFlow atomically changes flow id (the store's contract: fn must be pure, may re-run).
func (k *Kit) UpdateFlow(ctx context.Context, id string, fn func(store.Flow) (store.Flow, error)) (store.Flow, error) {
	return k.s.deps.Store.UpdateFlow(ctx, id, fn)
}

// EndFlow deletes flow id (a finished or abandoned journey).
func (k *Kit) EndFlow(ctx context.Context, id string) error {
	return k.s.deps.Store.DeleteFlow(ctx, id)
}

// MAC is a keyed hash of parts for purpose (a code or temporary password kept in a flow's
// Data, a rate-limit key naming an address): never store the secret itself.
func (k *Kit) MAC(purpose string, parts ...string) string {
	return k.s.mac(k.s.deps.Secrets.OTP, append([]string{"journey", purpose}, parts...)...)
}

// EqualMAC compares two MACs in constant time.
func EqualMAC(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// ClientIP is the request's client address (the TCP peer; a trusted proxy's header is not
// believed), for rate limits per address.
func (k *Kit) ClientIP(r *http.Request) string { return clientIP(r) }

// Session returns the browser's live SSO session, or an error wrapping store.ErrNotFound.
func (k *Kit) Session(r *http.Request) (store.Session, error) { return k.s.currentSession(r) }

// Fresh reports whether sess reached at least level within maxAge: the "fresh substantial
// sign-in" the account pages ask before a change of e-mail or mobile.
func (k *Kit) Fresh(sess store.Session, level authn.Level, maxAge time.Duration) bool {
	have, err := authn.ParseLevel(sess.Level)
	return err == nil && have.Satisfies(level) && k.s.now().Sub(sess.AuthnInstant) <= maxAge
}

// SignIn sends the browser through Atea's own sign-in, at level or above, and back to
// returnTo (a local path starting with "/") once signed in: the account pages' way to ask
// for a sign-in or a fresh one (fresh: ForceAuthn, saml-core-2.0-os §3.4.1, so the session
// is not reused). The level is stated as its eIDAS URI; the chooser and the second factors
// run exactly as for an SP.
func (k *Kit) SignIn(w http.ResponseWriter, r *http.Request, level authn.Level, returnTo string, fresh bool) {
	if !strings.HasPrefix(returnTo, "/") || strings.HasPrefix(returnTo, "//") || strings.ContainsAny(returnTo, "\\\r\n") {
		k.s.renderError(w, r, pageErr(http.StatusBadRequest, "error.badrequest", errors.New("sign-in return path not local")))
		return
	}
	var levels []store.LevelRef
	for _, l := range []authn.Level{authn.LevelLow, authn.LevelSubstantial, authn.LevelHigh} {
		if l.Satisfies(level) {
			levels = append(levels, store.LevelRef{Level: l.String(), ClassRef: l.URI()})
		}
	}
	f := store.Flow{Request: store.PendingRequest{Levels: levels, ForceAuthn: fresh, ReturnTo: returnTo}}
	k.s.dispatch(w, r, &f, false)
}

// EndSession ends SSO session id without its browser (the account page's "end" for another
// device, the password reset) and tells its SPs over the back channel (Server.EndSession).
func (k *Kit) EndSession(ctx context.Context, id string) ([]LogoutOutcome, error) {
	return k.s.EndSession(ctx, id)
}

// EndUserSessions ends every session of the user but keep ("" for none) and tells their
// SPs over the back channel (Server.EndUserSessions): the password reset, "end all other
// sessions".
func (k *Kit) EndUserSessions(ctx context.Context, userID, keep string) (int, []LogoutOutcome, error) {
	return k.s.EndUserSessions(ctx, userID, keep)
}

// LogoutHere ends the browser's own session with single logout through the browser, as the
// "sign out everywhere" button does: the caller has checked the session's CSRF token.
func (k *Kit) LogoutHere(w http.ResponseWriter, r *http.Request) { k.s.beginLogout(w, r, nil, nil) }

// SPName is what pages call a service: its metadata display name, else its entityID.
func (k *Kit) SPName(entityID, lang string) string { return k.s.sloSPName(entityID, lang) }

// Sessions lists the user's live SSO sessions.
func (k *Kit) Sessions(ctx context.Context, userID string) ([]store.Session, error) {
	return k.s.deps.Store.ListSessionsBySubject(ctx, userID)
}

// SessionHandle is a public name of session id for a page (an "end" button): a keyed hash,
// so the page never carries the store key, which is itself a hash of the cookie.
func (k *Kit) SessionHandle(id string) string {
	return k.s.mac(k.s.deps.Secrets.Store, "handle", id)[:22]
}

// ClearFailures forgets the failed passwords counted for a DNI/NIE in the shared store (the
// self-service unblock clears them with the directory's own counter).
func (k *Kit) ClearFailures(ctx context.Context, dniNumber string) error {
	return k.s.ClearFailures(ctx, dniNumber)
}

// ErrSealed means a sealed value does not open: tampered, or sealed for another flow.
var ErrSealed = errors.New("idp: sealed value does not open")

// sealer is the AES-256-GCM of (purpose, flowID), keyed by a keyed hash under the IdP's
// secret: only this IdP (and replicas sharing the secret) opens what it sealed, and each flow
// and purpose has its own key.
func (k *Kit) sealer(purpose, flowID string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte(k.MAC(purpose+"-seal", flowID)))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts a value a journey needs in clear at its end (the activation code Enrol
// consumes) for keeping in flow flowID's Data, which must never hold it so. The flow ID is
// the associated data: a sealed value copied into another flow does not open.
func (k *Kit) Seal(purpose, flowID, value string) (string, error) {
	g, err := k.sealer(purpose, flowID)
	if err != nil {
		return "", fmt.Errorf("idp: seal: %w", err)
	}
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, []byte(value), []byte(flowID))), nil
}

// Open reverses Seal; ErrSealed when the value was tampered with or sealed elsewhere.
func (k *Kit) Open(purpose, flowID, sealed string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", ErrSealed
	}
	g, err := k.sealer(purpose, flowID)
	if err != nil {
		return "", fmt.Errorf("idp: open: %w", err)
	}
	if len(raw) < g.NonceSize() {
		return "", ErrSealed
	}
	pt, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(flowID))
	if err != nil {
		return "", ErrSealed
	}
	return string(pt), nil
}
