package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// maxForm bounds a posted form: every field here is short (an address is at most 254 bytes).
const maxForm = 8 << 10

// useTTL is how long a consumed code's single-use key is kept: longer than any flow lives.
const useTTL = 24 * time.Hour

// Errors of the flow updates (never shown: they pick the page).
var (
	errStale    = errors.New("account: flow changed meanwhile")
	errAttempts = errors.New("account: too many code attempts")
	errNoMore   = errors.New("account: no more codes in this change")
)

// Keys of a change flow's Data.
const (
	keyUser    = "uid"    // the citizen's directory ID
	keySession = "sh"     // Kit.SessionHandle of the session that started the change
	keyField   = "field"  // FieldEmail or FieldPhone
	keyValue   = "value"  // the new address or number, normalised
	keyCode    = "c"      // Kit.MAC of the code with the flow ID (never the code)
	keyExpiry  = "exp"    // the code's expiry, Unix seconds
	keyResend  = "resend" // the earliest resend, Unix seconds
	keySends   = "sends"  // codes sent in this change
	keyGen     = "gen"    // generation of the code, for its single-use key
)

// --- small request helpers ---------------------------------------------------------------

// withPath is r as if it had asked for path: the language links of a page rendered in
// answer to a POST must point at a page's GET address (Kit.Base uses the request's path).
func withPath(r *http.Request, path string) *http.Request {
	r2 := r.WithContext(r.Context())
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = path, "", ""
	r2.URL = &u
	return r2
}

// link is path with q's values and the language in its query.
func link(path, lang string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	q.Set("lang", lang)
	return path + "?" + q.Encode()
}

func unix(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Unix(n, 0)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func validField(f string) bool { return f == FieldEmail || f == FieldPhone }

// extend keeps a flow alive until a while after its code expires.
func extend(f *store.Flow, codeExpiry time.Time) {
	if until := codeExpiry.Add(5 * time.Minute); f.ExpiresAt.Before(until) {
		f.ExpiresAt = until
	}
}

// signedIn returns the browser's session and its citizen. Without a session it returns
// ok false and has answered nothing (the caller decides: a sign-in, a redirect); on any
// other failure it has answered and ok is false with answered true.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) (sess store.Session, u directory.User, ok, answered bool) {
	sess, err := h.kit.Session(r)
	if errors.Is(err, store.ErrNotFound) {
		return sess, u, false, false
	}
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return sess, u, false, true
	}
	u, err = h.dir.GetByID(r.Context(), sess.UserID)
	if errors.Is(err, directory.ErrNotFound) {
		// A session of someone the directory does not hold (removed meanwhile): no account.
		h.kit.Error(w, r, http.StatusNotFound, "error.notfound", err)
		return sess, u, false, true
	}
	if err != nil {
		h.kit.Unavailable(w, r, fmt.Errorf("account: directory: %w", err))
		return sess, u, false, true
	}
	return sess, u, true, false
}

// sessionPost parses a session-bound form (bounded, same-site) and checks its CSRF token
// against the browser's session. Without a session (ended meanwhile, another tab) the
// browser is sent to the account page, which asks for a sign-in.
func (h *Handler) sessionPost(w http.ResponseWriter, r *http.Request) (store.Session, directory.User, bool) {
	if !h.kit.ParseForm(w, r, maxForm) {
		return store.Session{}, directory.User{}, false
	}
	sess, u, ok, answered := h.signedIn(w, r)
	if !ok {
		if !answered {
			http.Redirect(w, r, link(PathAccount, h.kit.Lang(r)), http.StatusSeeOther)
		}
		return sess, u, false
	}
	if !h.kit.CheckSessionCSRF(r, sess) {
		h.kit.Error(w, r, http.StatusForbidden, "error.csrf", errors.New("account: bad session csrf token"))
		return sess, u, false
	}
	return sess, u, true
}

// audit writes one of the journey's audit events (masked DNI only).
func (h *Handler) audit(ctx context.Context, event string, u directory.User, attrs ...any) {
	h.kit.Audit().InfoContext(ctx, event, append([]any{"event", event, "user", dni.Mask(u.DNI), "user_id", u.ID}, attrs...)...)
}

// send delivers m by SMS or e-mail, bounded by SendTimeout and detached from the request's
// cancellation (a citizen closing the tab must not cut a notice in half).
func (h *Handler) send(ctx context.Context, m smsotp.Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.SendTimeout)
	defer cancel()
	s := h.sms
	if m.Kind == smsotp.KindEmail {
		s = h.mail
	}
	return s.Send(ctx, m)
}

// overLimit counts one code sent for u against SendLimit per SendWindow, keyed by a MAC so
// the store names no citizen.
func (h *Handler) overLimit(ctx context.Context, u directory.User) (bool, error) {
	n, err := h.kit.Store().Incr(ctx, "account:send:"+h.kit.MAC("account-rate", u.ID), h.cfg.SendWindow)
	if err != nil {
		return false, err
	}
	return n > int64(h.cfg.SendLimit), nil
}

// --- the account page --------------------------------------------------------------------

func (h *Handler) getAccount(w http.ResponseWriter, r *http.Request) {
	lang := h.kit.Lang(r)
	sess, u, ok, answered := h.signedIn(w, r)
	if answered {
		return
	}
	if !ok {
		// B@k (level low) is enough to see the page; changes ask for more.
		h.kit.SignIn(w, r, authn.LevelLow, link(PathAccount, lang), false)
		return
	}
	h.renderHome(w, r, http.StatusOK, sess, u, lang, templates.AccountHomePage{})
}

// renderHome renders the account page of u in session sess, with p's notice or error.
func (h *Handler) renderHome(w http.ResponseWriter, r *http.Request, status int, sess store.Session, u directory.User, lang string, p templates.AccountHomePage) {
	ctx := r.Context()
	sessions, err := h.kit.Sessions(ctx, u.ID)
	if err != nil {
		h.kit.Unavailable(w, r, fmt.Errorf("account: list sessions: %w", err))
		return
	}
	// This browser's session first, then the others newest first.
	slices.SortStableFunc(sessions, func(a, b store.Session) int {
		switch {
		case a.ID == sess.ID:
			return -1
		case b.ID == sess.ID:
			return 1
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	for _, s := range sessions {
		as := templates.AccountSession{
			Handle: h.kit.SessionHandle(s.ID), Created: h.formatTime(s.CreatedAt, lang),
			LevelKey: levelKey(s.Level), MethodKey: methodKey(s.Method), Current: s.ID == sess.ID,
		}
		// The services used in it help the citizen recognise a session.
		for _, sp := range s.SPs {
			as.Services = append(as.Services, h.kit.SPName(sp.EntityID, lang))
		}
		p.Sessions = append(p.Sessions, as)
	}
	signIns, err := h.dir.RecentSignIns(ctx, u.ID, h.cfg.SignIns)
	if err != nil {
		// The list is information, not a control: the page still serves without it.
		h.kit.Logger().ErrorContext(ctx, "account: recent sign-ins", "user", dni.Mask(u.DNI), "err", err)
	}
	for _, si := range signIns {
		p.SignIns = append(p.SignIns, templates.AccountSignIn{
			Time: h.formatTime(si.Time, lang), LevelKey: levelKey(si.Level), MethodKey: methodKey(si.Method), Network: si.Network,
		})
	}
	p.Base = h.kit.Base(w, withPath(r, PathAccount), lang, "")
	p.CSRF = h.kit.SessionCSRF(sess)
	p.ContactAction, p.EndAction = link(PathContact, lang), link(PathEndSession, lang)
	if len(sessions) > 1 {
		p.EndOthersAction = link(PathEndOthers, lang)
	}
	// Single logout of this session (issue 7): Atea's /logout, with the same session CSRF.
	p.LogoutAction = link(idp.PathLogout, lang)
	p.GivenName, p.FamilyName, p.MaskedDNI = u.GivenName, u.FamilyName, dni.Mask(u.DNI)
	p.Email, p.MaskedPhone = u.Email, display(FieldPhone, u.Phone)
	p.CredentialKey = "account.credential.bak"
	if u.Credential == directory.CredentialBakQ {
		p.CredentialKey = "account.credential.bakq"
	}
	p.StatusKey = statusKey(u.Status)
	p.TermsVersion, p.TermsDate = u.TermsVersion, h.formatTime(u.TermsAcceptedAt, lang)
	p.LevelKey, p.SignedInAt = levelKey(sess.Level), h.formatTime(sess.AuthnInstant, lang)
	p.CanChange = canChange(u)
	h.kit.Render(w, r, status, templates.PageAccountHome, &p)
}

// --- ending a session --------------------------------------------------------------------

func (h *Handler) postEndSession(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.sessionPost(w, r)
	if !ok {
		return
	}
	lang := h.kit.Lang(r)
	ctx := r.Context()
	handle := r.PostForm.Get("session")
	sessions, err := h.kit.Sessions(ctx, u.ID)
	if err != nil {
		h.kit.Unavailable(w, r, fmt.Errorf("account: list sessions: %w", err))
		return
	}
	// Only the citizen's own sessions are candidates: a handle of anyone else's, or a made-up
	// one, matches nothing.
	var target *store.Session
	for i := range sessions {
		if handle != "" && idp.EqualMAC(h.kit.SessionHandle(sessions[i].ID), handle) {
			target = &sessions[i]
			break
		}
	}
	if target == nil {
		h.audit(ctx, "account_session_end_refused", u)
		h.kit.Error(w, r, http.StatusNotFound, "account.error.nosession", errors.New("account: no such session of this citizen"))
		return
	}
	if target.ID == sess.ID {
		// This browser's own session: single logout through this browser, which reaches the
		// services that only offer the front channel too (the logout result page reports).
		h.audit(ctx, "account_session_ended", u, "current", true, "level", target.Level)
		h.kit.LogoutHere(w, r)
		return
	}
	outcomes, err := h.kit.EndSession(ctx, target.ID)
	if err != nil {
		h.kit.Unavailable(w, r, fmt.Errorf("account: end session: %w", err))
		return
	}
	h.audit(ctx, "account_session_ended", u, "current", false, "level", target.Level, "services", len(outcomes))
	page := templates.AccountHomePage{NoticeKey: "account.notice.sessionended"}
	h.addOutcomes(&page, outcomes, lang)
	h.renderHome(w, withPath(r, PathAccount), http.StatusOK, sess, u, lang, page)
}

// postEndOthers ends every session of the citizen but this browser's, each told to its
// services over the back channel as postEndSession does.
func (h *Handler) postEndOthers(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.sessionPost(w, r)
	if !ok {
		return
	}
	lang := h.kit.Lang(r)
	ctx := r.Context()
	ended, outcomes, err := h.kit.EndUserSessions(ctx, u.ID, sess.ID)
	if err != nil {
		h.kit.Unavailable(w, r, fmt.Errorf("account: end other sessions: %w", err))
		return
	}
	h.audit(ctx, "account_other_sessions_ended", u, "sessions", ended, "services", len(outcomes))
	page := templates.AccountHomePage{NoticeKey: "account.notice.othersended", NoticeArgs: []any{ended}}
	h.addOutcomes(&page, outcomes, lang)
	h.renderHome(w, withPath(r, PathAccount), http.StatusOK, sess, u, lang, page)
}

// addOutcomes lists what became of each service of the sessions just ended.
func (h *Handler) addOutcomes(page *templates.AccountHomePage, outcomes []idp.LogoutOutcome, lang string) {
	for _, o := range outcomes {
		page.EndedServices = append(page.EndedServices, templates.LogoutService{
			Name: h.kit.SPName(o.EntityID, lang), StateKey: "logout.state." + o.State, Confirmed: o.Confirmed(),
		})
	}
}

// --- starting a change -------------------------------------------------------------------

// postContact is the "change e-mail" / "change mobile" button: a fresh substantial sign-in
// first if the session has none, then the new value form.
func (h *Handler) postContact(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.sessionPost(w, r)
	if !ok {
		return
	}
	h.startChange(w, r, sess, u, r.PostForm.Get("field"))
}

// getContact is the new value form, where a fresh sign-in comes back to.
func (h *Handler) getContact(w http.ResponseWriter, r *http.Request) {
	field := r.URL.Query().Get("field")
	if !validField(field) {
		h.kit.Error(w, r, http.StatusBadRequest, "account.error.field", fmt.Errorf("account: field %q", field))
		return
	}
	sess, u, ok, answered := h.signedIn(w, r)
	if answered {
		return
	}
	if !ok {
		h.kit.SignIn(w, r, authn.LevelSubstantial, link(PathContact, h.kit.Lang(r), "field", field), false)
		return
	}
	h.startChange(w, r, sess, u, field)
}

// startChange answers a request to change field: the desk message for a credential that
// cannot do it online, a fresh sign-in for a session that is not, or the new value form.
func (h *Handler) startChange(w http.ResponseWriter, r *http.Request, sess store.Session, u directory.User, field string) {
	lang := h.kit.Lang(r)
	if !validField(field) {
		h.kit.Error(w, r, http.StatusBadRequest, "account.error.field", fmt.Errorf("account: field %q", field))
		return
	}
	if !canChange(u) {
		h.audit(r.Context(), "account_change_refused", u, "field", field, "reason", "credential")
		h.renderContact(w, r, http.StatusForbidden, sess, u, lang, templates.AccountContactPage{Field: field, Desk: true})
		return
	}
	if !h.kit.Fresh(sess, authn.LevelSubstantial, h.cfg.FreshFor) {
		// ForceAuthn: the session is not reused, the citizen proves both factors again.
		h.kit.SignIn(w, r, authn.LevelSubstantial, link(PathContact, lang, "field", field), true)
		return
	}
	if r.Method == http.MethodPost {
		// Post/redirect/get: a reload of the form does not post the button again.
		http.Redirect(w, r, link(PathContact, lang, "field", field), http.StatusSeeOther)
		return
	}
	h.renderContact(w, r, http.StatusOK, sess, u, lang, templates.AccountContactPage{Field: field})
}

func (h *Handler) renderContact(w http.ResponseWriter, r *http.Request, status int, sess store.Session, u directory.User, lang string, p templates.AccountContactPage) {
	p.Base = h.kit.Base(w, withPath(r, PathContact), lang, "")
	// Kit.Base keeps the path only: the field rides in the language links' query too.
	for i := range p.Base.LangLinks {
		if lu, err := url.Parse(p.Base.LangLinks[i].URL); err == nil {
			q := lu.Query()
			q.Set("field", p.Field)
			lu.RawQuery = q.Encode()
			p.Base.LangLinks[i].URL = lu.String()
		}
	}
	p.Action, p.CSRF = link(PathSend, lang), h.kit.SessionCSRF(sess)
	current := u.Email
	if p.Field == FieldPhone {
		current = u.Phone
	}
	p.Current = display(p.Field, current)
	p.AccountURL = link(PathAccount, lang)
	h.kit.Render(w, r, status, templates.PageAccountContact, &p)
}

// --- sending the code --------------------------------------------------------------------

func (h *Handler) postSend(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.sessionPost(w, r)
	if !ok {
		return
	}
	lang := h.kit.Lang(r)
	ctx := r.Context()
	field := r.PostForm.Get("field")
	if !validField(field) || !canChange(u) || !h.kit.Fresh(sess, authn.LevelSubstantial, h.cfg.FreshFor) {
		// The same answers as the button: the checks are made again on every step.
		h.startChange(w, r, sess, u, field)
		return
	}
	typed := r.PostForm.Get("value")
	again := templates.AccountContactPage{Field: field, Value: strings.TrimSpace(typed)}
	value, problem := normalise(field, typed)
	current := u.Email
	if field == FieldPhone {
		current = u.Phone
	}
	if problem == "" && sameValue(field, value, current) {
		problem = "account.error.same"
	}
	if problem != "" {
		again.ErrorKey = problem
		h.renderContact(w, withPath(r, PathContact), http.StatusBadRequest, sess, u, lang, again)
		return
	}
	over, err := h.overLimit(ctx, u)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if over {
		h.audit(ctx, "account_code_limited", u, "field", field)
		again.ErrorKey = "account.error.limit"
		h.renderContact(w, withPath(r, PathContact), http.StatusTooManyRequests, sess, u, lang, again)
		return
	}
	f, err := h.kit.StartFlow(w, r, Journey, StateCode, map[string]string{
		keyUser: u.ID, keySession: h.kit.SessionHandle(sess.ID), keyField: field, keyValue: value,
		keySends: "0", keyGen: "0",
	})
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	f, err = h.issueCode(ctx, f, u, lang, "0")
	if errors.Is(err, errSend) {
		_ = h.kit.EndFlow(ctx, f.ID)
		again.ErrorKey = "account.error.send"
		h.renderContact(w, withPath(r, PathContact), http.StatusServiceUnavailable, sess, u, lang, again)
		return
	}
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	http.Redirect(w, r, link(PathCode, lang, "flow", f.ID), http.StatusSeeOther)
}

// errSend marks a code that could not be handed to the sender.
var errSend = errors.New("account: code not sent")

// issueCode makes a new code for flow f (whose "sends" count must still be sends), stores
// its MAC, and sends it to the flow's new value. The flow is updated before the message is
// sent, so a code that reaches the citizen is always the one the flow holds.
func (h *Handler) issueCode(ctx context.Context, f store.Flow, u directory.User, lang, sends string) (store.Flow, error) {
	code, err := newCode(h.cfg.CodeDigits)
	if err != nil {
		return f, err
	}
	now := h.now()
	codeExpiry := now.Add(h.cfg.CodeTTL)
	mac := h.kit.MAC("account-code", f.ID, code)
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
		cur.Data[keySends] = strconv.Itoa(atoi(cur.Data[keySends]) + 1)
		cur.Data[keyGen] = strconv.Itoa(atoi(cur.Data[keyGen]) + 1)
		extend(&cur, codeExpiry)
		return cur, nil
	})
	if err != nil {
		return f, err
	}
	field, to := f.Data[keyField], f.Data[keyValue]
	if err := h.send(ctx, codeMessage(lang, field, to, code, int(h.cfg.CodeTTL/time.Minute))); err != nil {
		h.kit.Logger().WarnContext(ctx, "account: code not delivered", "field", field, "to", smsotp.MaskTo(to), "err", err)
		return f, fmt.Errorf("%w: %w", errSend, err)
	}
	h.audit(ctx, "account_code_sent", u, "field", field, "to", smsotp.MaskTo(to), "sends", f.Data[keySends])
	return f, nil
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

// --- the code ----------------------------------------------------------------------------

// boundFlow checks that change flow f belongs to this browser's session: the same citizen
// and the very session that started it (whose fresh sign-in authorised the change). On
// failure it has answered.
func (h *Handler) boundFlow(w http.ResponseWriter, r *http.Request, f store.Flow) (store.Session, directory.User, bool) {
	sess, u, ok, answered := h.signedIn(w, r)
	if answered {
		return sess, u, false
	}
	if !ok || sess.UserID != f.Data[keyUser] || u.ID != f.Data[keyUser] ||
		!idp.EqualMAC(h.kit.SessionHandle(sess.ID), f.Data[keySession]) {
		h.kit.Error(w, r, http.StatusForbidden, "account.error.changed", errors.New("account: flow of another session"))
		return sess, u, false
	}
	return sess, u, true
}

func (h *Handler) renderCode(w http.ResponseWriter, r *http.Request, status int, f store.Flow, lang string, p templates.AccountCodePage) {
	p.Base = h.kit.Base(w, withPath(r, PathCode), lang, f.ID)
	p.Field, p.To = f.Data[keyField], f.Data[keyValue]
	p.Action, p.ResendAction = link(PathCode, lang), link(PathResend, lang)
	p.FlowID, p.CSRF = f.ID, h.kit.CSRF(f)
	p.Digits, p.ExpiresMinutes = h.cfg.CodeDigits, int(h.cfg.CodeTTL/time.Minute)
	p.CanResend = atoi(f.Data[keySends]) < h.cfg.MaxSends
	p.AccountURL = link(PathAccount, lang)
	h.kit.Render(w, r, status, templates.PageAccountCode, &p)
}

// stop ends change flow f and shows the new value form again with why it stopped.
func (h *Handler) stop(w http.ResponseWriter, r *http.Request, status int, f store.Flow, sess store.Session, u directory.User, lang, key string) {
	if err := h.kit.EndFlow(r.Context(), f.ID); err != nil {
		h.kit.Logger().WarnContext(r.Context(), "account: end flow", "err", err)
	}
	h.renderContact(w, withPath(r, PathContact), status, sess, u, lang, templates.AccountContactPage{Field: f.Data[keyField], ErrorKey: key})
}

func (h *Handler) getCode(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.LoadFlow(w, r, Journey, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	if _, _, ok := h.boundFlow(w, r, f); !ok {
		return
	}
	h.renderCode(w, r, http.StatusOK, f, h.kit.Lang(r), templates.AccountCodePage{})
}

func (h *Handler) postCode(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateCode)
	if !ok {
		return
	}
	sess, u, ok := h.boundFlow(w, r, f)
	if !ok {
		return
	}
	lang := h.kit.Lang(r)
	ctx := r.Context()
	code := strings.Join(strings.Fields(r.PostForm.Get("code")), "")
	bad := func(status int, key string, args ...any) {
		h.renderCode(w, withPath(r, PathCode), status, f, lang, templates.AccountCodePage{ErrorKey: key, ErrorArgs: args})
	}
	switch {
	case code == "":
		bad(http.StatusBadRequest, "account.error.required")
		return
	case len(code) != h.cfg.CodeDigits || strings.Trim(code, "0123456789") != "":
		// Not a guess at a code: not counted.
		bad(http.StatusBadRequest, "account.error.codeformat", h.cfg.CodeDigits)
		return
	case !h.now().Before(unix(f.Data[keyExpiry])):
		bad(http.StatusBadRequest, "account.error.expired")
		return
	}
	// Count the attempt before comparing (SECURITY.md §4.8), so parallel guesses are counted
	// too, and compare with the code of the same update.
	f2, err := h.kit.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
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
		h.stop(w, r, http.StatusTooManyRequests, f, sess, u, lang, "account.error.attempts")
		return
	}
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	f = f2
	if !idp.EqualMAC(h.kit.MAC("account-code", f.ID, code), f.Data[keyCode]) {
		left := h.cfg.MaxAttempts - f.Attempts
		h.audit(ctx, "account_code_wrong", u, "field", f.Data[keyField], "attempts", f.Attempts)
		if left <= 0 {
			h.stop(w, r, http.StatusTooManyRequests, f, sess, u, lang, "account.error.attempts")
			return
		}
		bad(http.StatusBadRequest, "account.error.code", left)
		return
	}
	// Single use: of two submissions of the same code, only the first goes on.
	first, err := h.kit.Store().Consume(ctx, "account:use:"+h.kit.MAC("account-use", f.ID, f.Data[keyCode], f.Data[keyGen]), useTTL)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if !first {
		h.kit.Error(w, r, http.StatusConflict, "account.error.used", errors.New("account: code used twice"))
		return
	}
	h.apply(w, r, f, sess, u, lang)
}

// apply makes the change of flow f, whose code was right, and tells the old address.
func (h *Handler) apply(w http.ResponseWriter, r *http.Request, f store.Flow, sess store.Session, u directory.User, lang string) {
	ctx := r.Context()
	field, value := f.Data[keyField], f.Data[keyValue]
	old := u.Email
	if field == FieldPhone {
		old = u.Phone
	}
	err := h.dir.SetContact(ctx, u.DNI, field, value)
	switch {
	case errors.Is(err, directory.ErrInvalid):
		// normalise and the directory disagree: say the value is not valid, start again.
		key := "account.error.email"
		if field == FieldPhone {
			key = "account.error.phone"
		}
		h.stop(w, r, http.StatusBadRequest, f, sess, u, lang, key)
		return
	case errors.Is(err, directory.ErrNotFound):
		h.kit.Error(w, r, http.StatusConflict, "account.error.failed", err)
		return
	case err != nil:
		h.kit.Unavailable(w, r, fmt.Errorf("account: set contact: %w", err))
		return
	}
	// The change is made: what follows must not turn the answer into an error page.
	if err := h.kit.EndFlow(ctx, f.ID); err != nil {
		h.kit.Logger().WarnContext(ctx, "account: end flow", "err", err)
	}
	notified := false
	if old != "" {
		if err := h.send(ctx, noticeMessage(lang, field, old, value)); err != nil {
			h.kit.Logger().ErrorContext(ctx, "account: change notice not delivered", "field", field, "to", smsotp.MaskTo(old), "err", err)
		} else {
			notified = true
		}
	}
	h.audit(ctx, "account_contact_changed", u, "field", field, "to", smsotp.MaskTo(value), "old_notified", notified)
	if field == FieldPhone {
		u.Phone = value
	} else {
		u.Email = value
	}
	notice := "account.notice." + field
	if !notified {
		notice += ".new"
	}
	h.renderHome(w, withPath(r, PathAccount), http.StatusOK, sess, u, lang,
		templates.AccountHomePage{NoticeKey: notice, NoticeArgs: []any{display(field, value)}})
}

// --- another code ------------------------------------------------------------------------

func (h *Handler) postResend(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateCode)
	if !ok {
		return
	}
	_, u, ok := h.boundFlow(w, r, f)
	if !ok {
		return
	}
	lang := h.kit.Lang(r)
	ctx := r.Context()
	bad := func(status int, key string, args ...any) {
		h.renderCode(w, withPath(r, PathCode), status, f, lang, templates.AccountCodePage{ErrorKey: key, ErrorArgs: args})
	}
	if atoi(f.Data[keySends]) >= h.cfg.MaxSends {
		bad(http.StatusTooManyRequests, "account.error.nomore")
		return
	}
	if wait := unix(f.Data[keyResend]).Sub(h.now()); wait > 0 {
		bad(http.StatusTooManyRequests, "account.error.cooldown", int((wait+time.Second-1)/time.Second))
		return
	}
	over, err := h.overLimit(ctx, u)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if over {
		h.audit(ctx, "account_code_limited", u, "field", f.Data[keyField])
		bad(http.StatusTooManyRequests, "account.error.limit")
		return
	}
	f2, err := h.issueCode(ctx, f, u, lang, f.Data[keySends])
	switch {
	case errors.Is(err, errSend):
		h.renderCode(w, withPath(r, PathCode), http.StatusServiceUnavailable, f2, lang, templates.AccountCodePage{ErrorKey: "account.error.send"})
		return
	case errors.Is(err, errNoMore):
		bad(http.StatusTooManyRequests, "account.error.nomore")
		return
	case err != nil:
		h.flowFailed(w, r, err)
		return
	}
	h.renderCode(w, withPath(r, PathCode), http.StatusOK, f2, lang, templates.AccountCodePage{NoticeKey: "account.notice.resent"})
}
