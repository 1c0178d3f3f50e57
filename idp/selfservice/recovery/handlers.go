package recovery

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// maxForm bounds a posted form: the fields are short (a password is at most 256 bytes).
const maxForm = 8 << 10

// useTTL is how long a consumed code's single-use key is kept: longer than any flow lives.
const useTTL = 24 * time.Hour

// Errors of the flow updates (never shown: they pick the page).
var (
	errStale    = errors.New("recovery: flow changed meanwhile")
	errAttempts = errors.New("recovery: too many code attempts")
	errNoMore   = errors.New("recovery: no more codes in this flow")
)

// Keys of the flow's Data (see the package documentation).
const (
	keyDNI    = "dni"
	keyUser   = "uid"
	keyMatch  = "m"
	keyCode   = "c"
	keyExpiry = "exp"
	keyResend = "resend"
	keySends  = "sends"
	keyGen    = "gen"
)

// withPath is r as if it had asked for path: the language links of a page rendered in answer
// to a POST must point at the page's GET address (Kit.Base uses the request's path).
func withPath(r *http.Request, path string) *http.Request {
	r2 := r.WithContext(r.Context())
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	return r2
}

// link is path with the flow and the language in its query.
func link(path, flowID, lang string) string {
	q := url.Values{}
	if flowID != "" {
		q.Set("flow", flowID)
	}
	q.Set("lang", lang)
	return path + "?" + q.Encode()
}

// action is a form's target: the language rides in the query, so a language chosen with the
// switcher stays after the post (Kit.Lang reads ?lang= before Accept-Language).
func action(path, lang string) string { return path + "?lang=" + url.QueryEscape(lang) }

func unix(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Unix(n, 0)
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// extend keeps the flow alive until a while after the code expires, so the citizen has the
// code's whole validity to type a new password.
func extend(f *store.Flow, codeExpiry time.Time) {
	if until := codeExpiry.Add(5 * time.Minute); f.ExpiresAt.Before(until) {
		f.ExpiresAt = until
	}
}

// rateKeys are the counters of one request: per client address and per DNI/NIE, both keyed
// by a MAC so the store never names an address or an ID.
func (h *Handler) rateKeys(r *http.Request, canonical string) (addr, id string) {
	return "recovery:addr:" + h.kit.MAC("recovery-rate", "addr", h.kit.ClientIP(r)),
		"recovery:dni:" + h.kit.MAC("recovery-rate", "dni", canonical)
}

// limited counts a request (start or resend) against both limits, whether or not the ID
// exists, and reports whether either is exceeded.
func (h *Handler) limited(ctx context.Context, r *http.Request, canonical string) (bool, error) {
	addrKey, idKey := h.rateKeys(r, canonical)
	na, err := h.kit.Store().Incr(ctx, addrKey, h.cfg.AddressWindow)
	if err != nil {
		return false, err
	}
	ni, err := h.kit.Store().Incr(ctx, idKey, h.cfg.IDWindow)
	if err != nil {
		return false, err
	}
	return na > int64(h.cfg.AddressLimit) || ni > int64(h.cfg.IDLimit), nil
}

// eligible tells whether u may recover a password by SMS: an active or locked (blocked)
// credential with a mobile on record and a known document expiry. A pending credential
// activates through its own journey; a revoked one is ended for good.
func eligible(u directory.User) bool {
	return (u.Status == directory.StatusActive || u.Status == directory.StatusLocked) && u.Phone != "" && u.DocumentExpiry != ""
}

// --- pages -------------------------------------------------------------------------------

func (h *Handler) renderStart(w http.ResponseWriter, r *http.Request, status int, f store.Flow, lang string, p templates.RecoveryStartPage) {
	p.Base = h.kit.Base(w, withPath(r, PathStart), lang, f.ID)
	p.Action, p.FlowID, p.CSRF = action(PathStart, lang), f.ID, h.kit.CSRF(f)
	h.kit.Render(w, r, status, templates.PageRecoveryStart, &p)
}

func (h *Handler) renderCode(w http.ResponseWriter, r *http.Request, status int, f store.Flow, lang string, p templates.RecoveryCodePage) {
	p.Base = h.kit.Base(w, withPath(r, PathCode), lang, f.ID)
	p.Action, p.ResendAction = action(PathCode, lang), action(PathResend, lang)
	p.FlowID, p.CSRF = f.ID, h.kit.CSRF(f)
	p.Digits, p.ExpiresMinutes = h.cfg.CodeDigits, int(h.cfg.CodeTTL/time.Minute)
	p.CanResend = atoi(f.Data[keySends]) < h.cfg.MaxSends
	h.kit.Render(w, r, status, templates.PageRecoveryCode, &p)
}

// stop ends the flow (when there is one) and shows why the recovery cannot go on.
func (h *Handler) stop(w http.ResponseWriter, r *http.Request, status int, flowID, lang, key string, args ...any) {
	if flowID != "" {
		if err := h.kit.EndFlow(r.Context(), flowID); err != nil {
			h.kit.Logger().WarnContext(r.Context(), "recovery: end flow", "err", err)
		}
	}
	p := templates.RecoveryStopPage{
		Base:       h.kit.Base(w, withPath(r, PathStart), lang, ""),
		MessageKey: key, MessageArgs: args, RestartURL: link(PathStart, "", lang),
	}
	h.kit.Render(w, r, status, templates.PageRecoveryStop, &p)
}

// --- GET /recover ------------------------------------------------------------------------

func (h *Handler) getStart(w http.ResponseWriter, r *http.Request) {
	lang := h.kit.Lang(r)
	if id := r.URL.Query().Get("flow"); id != "" {
		// A reload or a language switch of a recovery in progress.
		f, ok := h.kit.LoadFlow(w, r, Journey, id)
		if !ok {
			return
		}
		if f.State == StateCode {
			http.Redirect(w, r, link(PathCode, f.ID, lang), http.StatusSeeOther)
			return
		}
		h.renderStart(w, r, http.StatusOK, f, lang, templates.RecoveryStartPage{})
		return
	}
	f, err := h.kit.StartFlow(w, r, Journey, StateStart, map[string]string{})
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	h.renderStart(w, r, http.StatusOK, f, lang, templates.RecoveryStartPage{})
}

// --- POST /recover -----------------------------------------------------------------------

func (h *Handler) postStart(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateStart)
	if !ok {
		return
	}
	lang := h.kit.Lang(r)
	typedDNI := strings.TrimSpace(r.PostForm.Get("dni"))
	typedExpiry := strings.TrimSpace(r.PostForm.Get("expiry"))
	again := templates.RecoveryStartPage{DNI: typedDNI, Expiry: typedExpiry}
	bad := func(key string, args []any, field string) {
		again.ErrorKey, again.ErrorArgs, again.ErrorField = key, args, field
		h.renderStart(w, r, http.StatusBadRequest, f, lang, again)
	}
	switch {
	case typedDNI == "":
		bad("recovery.error.required", nil, "dni")
		return
	case typedExpiry == "":
		bad("recovery.error.required", nil, "expiry")
		return
	}
	canonical, err := dni.Parse(typedDNI)
	if err != nil {
		var cle *dni.CheckLetterError
		if errors.As(err, &cle) {
			bad("recovery.error.letter", []any{numberPart(typedDNI), string(cle.Want)}, "dni")
			return
		}
		bad("recovery.error.format", nil, "dni")
		return
	}
	expiry, ok := parseExpiry(typedExpiry)
	if !ok {
		bad("recovery.error.expiry", nil, "expiry")
		return
	}
	ctx := r.Context()
	// From here on, every path does the same work whatever the directory holds (see the
	// package documentation): count, one Get, a code and its MAC, one flow update.
	over, err := h.limited(ctx, r, canonical)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if over {
		h.kit.Audit().InfoContext(ctx, "recovery_limited", "event", "recovery_limited", "user", dni.Mask(canonical))
		h.stop(w, r, http.StatusTooManyRequests, f.ID, lang, "recovery.error.busy")
		return
	}
	u, err := h.dir.Get(ctx, canonical)
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		h.kit.Unavailable(w, r, fmt.Errorf("recovery: directory: %w", err))
		return
	}
	reason := "matched"
	switch {
	case err != nil:
		reason, u = "unknown", directory.User{}
	case !eligible(u):
		reason = "not_eligible"
	case subtle.ConstantTimeCompare([]byte(u.DocumentExpiry), []byte(expiry)) != 1:
		reason = "expiry_mismatch"
	}
	match := reason == "matched"
	code, err := newCode(h.cfg.CodeDigits)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	now := h.now()
	codeExpiry := now.Add(h.cfg.CodeTTL)
	mac := h.kit.MAC("recovery-code", f.ID, code)
	uid, m := "", "0"
	if match {
		uid, m = u.ID, "1"
	}
	f, err = h.kit.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
		if cur.State != StateStart {
			return cur, errStale
		}
		cur.State, cur.Attempts = StateCode, 0
		cur.Data = map[string]string{
			keyDNI: canonical, keyUser: uid, keyMatch: m, keyCode: mac,
			keyExpiry: strconv.FormatInt(codeExpiry.Unix(), 10), keyResend: strconv.FormatInt(now.Add(h.cfg.ResendCooldown).Unix(), 10),
			keySends: "1", keyGen: "0",
		}
		extend(&cur, codeExpiry)
		return cur, nil
	})
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	if match {
		h.deliver(ctx, u.Phone, codeText(lang, code), "recovery code")
	}
	h.kit.Audit().InfoContext(ctx, "recovery_requested", "event", "recovery_requested", "user", dni.Mask(canonical), "result", reason)
	// Post/redirect/get: a reload of the code page does not post the form again.
	http.Redirect(w, r, link(PathCode, f.ID, lang), http.StatusSeeOther)
}

// flowFailed answers a failed flow update: a flow that changed meanwhile (another tab, a
// double submit) or expired is "start again"; anything else is the store failing.
func (h *Handler) flowFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errStale) || errors.Is(err, store.ErrNotFound) {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	h.kit.Unavailable(w, r, err)
}

// numberPart is the digits (and NIE prefix) of a typed ID, without its last letter, for the
// "the letter does not match the number …" message.
func numberPart(typed string) string {
	s := strings.ToUpper(strings.NewReplacer(" ", "", "-", "", ".", "").Replace(typed))
	if len(s) > 1 {
		s = s[:len(s)-1]
	}
	return s
}

// --- GET /recover/code -------------------------------------------------------------------

func (h *Handler) getCode(w http.ResponseWriter, r *http.Request) {
	lang := h.kit.Lang(r)
	f, ok := h.kit.LoadFlow(w, r, Journey, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	if f.State != StateCode {
		http.Redirect(w, r, link(PathStart, f.ID, lang), http.StatusSeeOther)
		return
	}
	h.renderCode(w, r, http.StatusOK, f, lang, templates.RecoveryCodePage{})
}

// --- POST /recover/code ------------------------------------------------------------------

func (h *Handler) postCode(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateCode)
	if !ok {
		return
	}
	lang := h.kit.Lang(r)
	ctx := r.Context()
	code := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
	password, repeat := r.PostForm.Get("password"), r.PostForm.Get("password2")
	bad := func(status int, key string, args []any, field string) {
		h.renderCode(w, r, status, f, lang, templates.RecoveryCodePage{ErrorKey: key, ErrorArgs: args, ErrorField: field})
	}
	switch {
	case code == "":
		bad(http.StatusBadRequest, "recovery.error.required", nil, "code")
		return
	case password == "" || repeat == "":
		bad(http.StatusBadRequest, "recovery.error.required", nil, "password")
		return
	case len(code) != h.cfg.CodeDigits || strings.Trim(code, "0123456789") != "":
		// Not a guess at a code: not counted.
		bad(http.StatusBadRequest, "recovery.error.codeformat", []any{h.cfg.CodeDigits}, "code")
		return
	case password != repeat:
		bad(http.StatusBadRequest, "recovery.error.repeat", nil, "password")
		return
	case !h.now().Before(unix(f.Data[keyExpiry])):
		bad(http.StatusBadRequest, "recovery.error.expired", nil, "code")
		return
	}
	// Count the attempt before comparing (SECURITY.md §4.8), so parallel guesses are counted
	// too, and compare with the code of the same update.
	flowID := f.ID
	f, err := h.kit.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
		if cur.State != StateCode {
			return cur, errStale
		}
		if cur.Attempts >= h.cfg.MaxAttempts {
			return cur, errAttempts
		}
		cur.Attempts++
		return cur, nil
	})
	if errors.Is(err, errAttempts) {
		h.stop(w, r, http.StatusTooManyRequests, flowID, lang, "recovery.error.attempts")
		return
	}
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	// Both comparisons run whatever the first gives: a flow whose data matched no credential
	// has a code nobody received, and must refuse even a lucky guess of it.
	right := idp.EqualMAC(h.kit.MAC("recovery-code", f.ID, code), f.Data[keyCode])
	matched := subtle.ConstantTimeCompare([]byte(f.Data[keyMatch]), []byte("1")) == 1
	if !right || !matched {
		left := h.cfg.MaxAttempts - f.Attempts
		h.kit.Audit().InfoContext(ctx, "recovery_code_wrong", "event", "recovery_code_wrong", "user", dni.Mask(f.Data[keyDNI]), "attempts", f.Attempts)
		if left <= 0 {
			h.stop(w, r, http.StatusTooManyRequests, f.ID, lang, "recovery.error.attempts")
			return
		}
		bad(http.StatusBadRequest, "recovery.error.code", []any{left}, "code")
		return
	}
	// Single use: of two submissions of the same code, only the first goes on.
	first, err := h.kit.Store().Consume(ctx, "recovery:use:"+h.kit.MAC("recovery-use", f.ID, f.Data[keyCode], f.Data[keyGen]), useTTL)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if !first {
		h.stop(w, r, http.StatusConflict, f.ID, lang, "recovery.error.used")
		return
	}
	h.reset(w, r, f, lang, password)
}

// reset sets the new password of the citizen of f, whose code was right.
func (h *Handler) reset(w http.ResponseWriter, r *http.Request, f store.Flow, lang, password string) {
	ctx := r.Context()
	canonical := f.Data[keyDNI]
	masked := dni.Mask(canonical)
	u, err := h.dir.Get(ctx, canonical)
	if err == nil && u.ID != f.Data[keyUser] {
		err = fmt.Errorf("recovery: %w: the credential changed meanwhile", directory.ErrNotFound)
	}
	if err == nil {
		err = h.dir.SetPassword(ctx, canonical, password, true, "recovery")
	}
	switch {
	case errors.Is(err, directory.ErrWeakPassword):
		// The policy refused the password: the code stays usable with another one. The
		// next generation names a fresh single-use key, and the attempt is given back (the
		// code was right).
		f2, uerr := h.kit.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
			if cur.State != StateCode || cur.Data == nil {
				return cur, errStale
			}
			cur.Data[keyGen] = itoa(atoi(cur.Data[keyGen]) + 1)
			if cur.Attempts > 0 {
				cur.Attempts--
			}
			return cur, nil
		})
		if uerr != nil {
			h.flowFailed(w, r, uerr)
			return
		}
		h.renderCode(w, r, http.StatusBadRequest, f2, lang, templates.RecoveryCodePage{ErrorKey: policyKey(err), ErrorField: "password"})
		return
	case errors.Is(err, directory.ErrTransition), errors.Is(err, directory.ErrNotFound):
		// Revoked (or removed) since the code was sent: never revived.
		h.kit.Audit().InfoContext(ctx, "recovery_refused", "event", "recovery_refused", "user", masked, "err", err)
		h.stop(w, r, http.StatusConflict, f.ID, lang, "recovery.error.failed")
		return
	case err != nil:
		h.kit.Unavailable(w, r, fmt.Errorf("recovery: set password: %w", err))
		return
	}
	log := h.kit.Logger()
	// The password is set: what follows must not turn the answer into an error page.
	if err := h.kit.ClearFailures(ctx, canonical); err != nil {
		log.ErrorContext(ctx, "recovery: clear failures", "user", masked, "err", err)
	}
	// Every session ends; their services hear of it over the back channel where they can.
	ended, _, err := h.kit.EndUserSessions(ctx, u.ID, "")
	if err != nil {
		log.ErrorContext(ctx, "recovery: end sessions", "user", masked, "err", err)
	}
	if err := h.kit.EndFlow(ctx, f.ID); err != nil {
		log.WarnContext(ctx, "recovery: end flow", "err", err)
	}
	unblocked := u.Status == directory.StatusLocked
	h.kit.Audit().InfoContext(ctx, "recovery_password_reset", "event", "recovery_password_reset", "user", masked,
		"user_id", u.ID, "unblocked", unblocked, "sessions_ended", ended)
	h.deliver(ctx, u.Phone, noticeText(lang), "password changed notice")
	p := templates.RecoveryDonePage{
		Base:      h.kit.Base(w, withPath(r, PathStart), lang, ""),
		SignInURL: link(PathSignIn, "", lang), SessionsEnded: ended, WasUnblocked: unblocked,
	}
	h.kit.Render(w, r, http.StatusOK, templates.PageRecoveryDone, &p)
}

// --- POST /recover/code/resend -----------------------------------------------------------

func (h *Handler) postResend(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateCode)
	if !ok {
		return
	}
	lang := h.kit.Lang(r)
	ctx := r.Context()
	now := h.now()
	if atoi(f.Data[keySends]) >= h.cfg.MaxSends {
		h.renderCode(w, r, http.StatusTooManyRequests, f, lang, templates.RecoveryCodePage{ErrorKey: "recovery.error.nomore"})
		return
	}
	if wait := unix(f.Data[keyResend]).Sub(now); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		h.renderCode(w, r, http.StatusTooManyRequests, f, lang, templates.RecoveryCodePage{ErrorKey: "recovery.error.cooldown", ErrorArgs: []any{secs}})
		return
	}
	canonical := f.Data[keyDNI]
	over, err := h.limited(ctx, r, canonical)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if over {
		h.stop(w, r, http.StatusTooManyRequests, f.ID, lang, "recovery.error.busy")
		return
	}
	// The same work as the first request: one Get (the mobile may have changed since), a
	// code and its MAC, one update; the SMS only when the flow matched and still does.
	u, err := h.dir.Get(ctx, canonical)
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		h.kit.Unavailable(w, r, fmt.Errorf("recovery: directory: %w", err))
		return
	}
	match := err == nil && f.Data[keyMatch] == "1" && u.ID == f.Data[keyUser] && eligible(u)
	code, err := newCode(h.cfg.CodeDigits)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	codeExpiry := now.Add(h.cfg.CodeTTL)
	mac := h.kit.MAC("recovery-code", f.ID, code)
	sends := f.Data[keySends]
	f, err = h.kit.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
		if cur.State != StateCode || cur.Data == nil || cur.Data[keySends] != sends {
			return cur, errStale // another resend got there first
		}
		if atoi(cur.Data[keySends]) >= h.cfg.MaxSends {
			return cur, errNoMore
		}
		cur.Data[keyCode] = mac
		cur.Data[keyExpiry] = strconv.FormatInt(codeExpiry.Unix(), 10)
		cur.Data[keyResend] = strconv.FormatInt(now.Add(h.cfg.ResendCooldown).Unix(), 10)
		cur.Data[keySends] = itoa(atoi(cur.Data[keySends]) + 1)
		cur.Data[keyGen] = itoa(atoi(cur.Data[keyGen]) + 1)
		extend(&cur, codeExpiry)
		return cur, nil
	})
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	if match {
		h.deliver(ctx, u.Phone, codeText(lang, code), "recovery code (resend)")
	}
	h.kit.Audit().InfoContext(ctx, "recovery_resent", "event", "recovery_resent", "user", dni.Mask(canonical), "sends", f.Data[keySends])
	h.renderCode(w, r, http.StatusOK, f, lang, templates.RecoveryCodePage{NoticeKey: "recovery.notice.resent"})
}

// --- sign-in with the new password -------------------------------------------------------

// getSignIn sends the browser through Atea's own sign-in (any level: the password alone will
// do, and a B@kQ holder may use the second factor) and back to the welcome page.
func (h *Handler) getSignIn(w http.ResponseWriter, r *http.Request) {
	h.kit.SignIn(w, r, authn.LevelLow, PathWelcome, false)
}

func (h *Handler) getWelcome(w http.ResponseWriter, r *http.Request) {
	lang := h.kit.Lang(r)
	if _, err := h.kit.Session(r); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			http.Redirect(w, r, link(PathSignIn, "", lang), http.StatusSeeOther)
			return
		}
		h.kit.Unavailable(w, r, err)
		return
	}
	p := templates.RecoveryWelcomePage{Base: h.kit.Base(w, r, lang, "")}
	if h.cfg.AccountURL != "none" {
		p.AccountURL = h.cfg.AccountURL
	}
	h.kit.Render(w, r, http.StatusOK, templates.PageRecoveryWelcome, &p)
}
