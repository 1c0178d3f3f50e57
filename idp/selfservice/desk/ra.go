package desk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// JourneySignIn is the agents' sign-in flows' journey name.
const JourneySignIn = "ra-signin"

// The agents' sign-in states.
const (
	StateAgentPassword = "password"
	StateAgentCode     = "code"
)

// The console's routes.
const (
	PathConsole  = "/ra"
	PathSignIn   = "/ra/signin"
	PathCode     = "/ra/code"
	PathRegister = "/ra/register"
	PathSignOut  = "/ra/signout"
)

// Keys of the sign-in flow's Data.
const (
	dataAgent     = "agent"   // the agent's directory ID, after the password
	dataCodeMAC   = "codemac" // MAC of the SMS code
	dataCodeAt    = "code_at" // when it was sent, Unix nanoseconds
	dataCodeFails = "fails"   // wrong codes in this flow
	dataAgentTo   = "to"      // the agent's mobile, masked
)

// agentPrefix is the UserID prefix of console sessions in the store.
const agentPrefix = "agent:"

var (
	errNoSession   = errors.New("no console session")
	errNotCodeStep = errors.New("flow no longer waits for the code")
)

func raProblem(status int, title, message, help string) problem {
	return problem{status: status, eyebrow: "desk.ra.eyebrow", title: title, message: message, helpKy: help,
		link: PathSignIn, linkKey: "desk.problem.signin"}
}

// getSignIn starts an agent's sign-in, or re-shows the page of its state (?flow=: a reload,
// a language switch).
func (h *Handler) getSignIn(w http.ResponseWriter, r *http.Request) {
	if id := r.URL.Query().Get("flow"); id != "" {
		f, ok := h.kit.LoadFlow(w, r, JourneySignIn, id)
		if !ok {
			return
		}
		if f.State == StateAgentCode {
			h.renderCode(w, r, http.StatusOK, f, "", nil)
			return
		}
		h.renderSignIn(w, r, http.StatusOK, f, "", "", "")
		return
	}
	f, err := h.kit.StartFlow(w, r, JourneySignIn, StateAgentPassword, nil)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	notice := ""
	switch {
	case r.URL.Query().Has("out"):
		notice = "desk.signin.notice.out"
	case r.URL.Query().Has("expired"):
		notice = "desk.signin.notice.expired"
	}
	h.renderSignIn(w, r, http.StatusOK, f, "", "", notice)
}

// postSignIn checks the agent's password and sends the SMS code.
func (h *Handler) postSignIn(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, JourneySignIn, StateAgentPassword)
	if !ok {
		return
	}
	ctx := r.Context()
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if username == "" || password == "" {
		h.renderSignIn(w, r, http.StatusBadRequest, f, username, "desk.signin.error.required", "")
		return
	}
	n, err := h.kit.Store().Incr(ctx, "desk:ra:addr:"+h.kit.MAC("desk-ra-addr", h.kit.ClientIP(r)), h.cfg.AddressWindow)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if n > int64(h.cfg.AddressLimit) {
		h.audit(ctx, "ra_signin_refused", "ra", "reason", "address_limit")
		h.renderSignIn(w, r, http.StatusTooManyRequests, f, username, "desk.signin.error.ratelimit", "")
		return
	}
	agent, err := h.dir.AuthenticateAgent(ctx, username, password)
	switch {
	case errors.Is(err, directory.ErrInvalidCredentials), errors.Is(err, directory.ErrLocked):
		// One message for both (SECURITY.md §4.9); the typed username is not logged: it may
		// be a password typed in the wrong field.
		h.audit(ctx, "ra_signin_failed", "ra", "locked", errors.Is(err, directory.ErrLocked))
		h.renderSignIn(w, r, http.StatusUnauthorized, f, username, "desk.signin.error.invalid", "")
		return
	case err != nil:
		h.kit.Unavailable(w, r, err)
		return
	}
	code, err := randomString("0123456789", 6)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	mac := h.kit.MAC("desk-ra-code", f.ID, code)
	f, err = h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != StateAgentPassword {
			return fl, errNotCodeStep
		}
		fl.State = StateAgentCode
		fl.Data = map[string]string{dataAgent: agent.ID, dataCodeMAC: mac, dataCodeAt: nanos(h.now()),
			dataCodeFails: "0", dataAgentTo: smsotp.MaskPhone(agent.Phone)}
		return fl, nil
	})
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	if err := h.sms.Send(ctx, smsotp.Message{To: agent.Phone, Body: agentCodeText(h.lang(r), code, h.codeMinutes()), Kind: smsotp.KindSMS}); err != nil {
		h.kit.Logger().WarnContext(ctx, "desk: send agent code", "to", smsotp.MaskTo(agent.Phone), "err", err)
		_ = h.kit.EndFlow(ctx, f.ID)
		h.renderProblem(w, r, raProblem(http.StatusServiceUnavailable, "desk.problem.smsfailed.title", "desk.problem.smsfailed.text", ""))
		return
	}
	h.audit(ctx, "ra_code_sent", "ra", "agent", agent.Username)
	h.renderCode(w, r, http.StatusOK, f, "", nil)
}

// postCode checks the SMS code and opens the console session.
func (h *Handler) postCode(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, JourneySignIn, StateAgentCode)
	if !ok {
		return
	}
	ctx := r.Context()
	typed := normaliseTyped(r.PostForm.Get("code"))
	if typed == "" {
		h.renderCode(w, r, http.StatusBadRequest, f, "desk.code.error.required", nil)
		return
	}
	if !h.now().Before(unixNano(f.Data[dataCodeAt]).Add(h.cfg.AgentCodeTTL)) {
		_ = h.kit.EndFlow(ctx, f.ID)
		nf, err := h.kit.StartFlow(w, r, JourneySignIn, StateAgentPassword, nil)
		if err != nil {
			h.kit.Unavailable(w, r, err)
			return
		}
		h.renderSignIn(w, r, http.StatusBadRequest, nf, "", "desk.code.error.expired", "")
		return
	}
	mac := h.kit.MAC("desk-ra-code", f.ID, typed)
	var right bool
	var fails int
	// Counted and compared in one atomic update: concurrent guesses cannot share an attempt.
	f, err := h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != StateAgentCode {
			return fl, errNotCodeStep
		}
		fl.Data = cloneData(fl.Data)
		right = fl.Data[dataCodeMAC] != "" && idp.EqualMAC(mac, fl.Data[dataCodeMAC])
		fails = atoi(fl.Data[dataCodeFails])
		if right {
			fl.Data[dataCodeMAC] = "" // single use
			return fl, nil
		}
		fails++
		fl.Data[dataCodeFails] = strconv.Itoa(fails)
		return fl, nil
	})
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	if !right {
		h.audit(ctx, "ra_code_failed", "ra", "agent_id", f.Data[dataAgent], "failures", fails)
		if fails >= h.cfg.MaxAgentCodeAttempts {
			_ = h.kit.EndFlow(ctx, f.ID)
			h.renderProblem(w, r, raProblem(http.StatusTooManyRequests, "desk.problem.attempts.title", "desk.problem.attempts.text", ""))
			return
		}
		h.renderCode(w, r, http.StatusUnauthorized, f, "desk.code.error.wrong", []any{h.cfg.MaxAgentCodeAttempts - fails})
		return
	}
	_ = h.kit.EndFlow(ctx, f.ID)
	agent, err := h.dir.GetAgentByID(ctx, f.Data[dataAgent])
	if err != nil || agent.Status != directory.AgentActive {
		// Locked or removed between the password and the code.
		h.renderProblem(w, r, raProblem(http.StatusForbidden, "desk.signin.title", "desk.signin.error.invalid", ""))
		return
	}
	if err := h.startSession(ctx, w, agent); err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	h.audit(ctx, "ra_signed_in", "ra", "agent", agent.Username)
	h.agentAction(ctx, agent, "agent_signed_in", "")
	http.Redirect(w, r, h.withLang(r, PathConsole), http.StatusSeeOther)
}

// sessionID is the store key of a console cookie: a keyed hash, so a dump of the store
// cannot be replayed as cookies (SECURITY.md §4.15).
func (h *Handler) sessionID(token string) string { return h.kit.MAC("desk-ra-session", token) }

func (h *Handler) startSession(ctx context.Context, w http.ResponseWriter, agent directory.Agent) error {
	token := newSessionToken()
	now := h.now()
	sess := store.Session{ID: h.sessionID(token), UserID: agentPrefix + agent.ID, Level: "ra", Method: "password+sms",
		AuthnInstant: now, CreatedAt: now, ExpiresAt: now.Add(h.cfg.SessionIdle)}
	if err := h.kit.Store().CreateSession(ctx, sess); err != nil {
		return fmt.Errorf("desk: console session: %w", err)
	}
	h.setCookie(w, token, 0)
	return nil
}

// setCookie writes the console cookie: HttpOnly, SameSite=Strict (no cross-site request
// carries it, not even a top-level link), scoped to /ra, Secure per configuration.
// maxAge < 0 deletes it.
func (h *Handler) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: h.cfg.CookieName, Value: value, Path: PathConsole, MaxAge: maxAge,
		HttpOnly: true, Secure: h.cfg.CookieSecure, SameSite: http.SameSiteStrictMode})
}

// agentSession returns the live console session of the request and its agent, extending the
// idle expiry. errNoSession when there is none (or it ended: idle, absolute limit, agent
// locked); other errors are store or directory failures.
func (h *Handler) agentSession(r *http.Request) (store.Session, directory.Agent, error) {
	ctx := r.Context()
	c, err := r.Cookie(h.cfg.CookieName)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return store.Session{}, directory.Agent{}, errNoSession
	}
	sess, err := h.kit.Store().GetSession(ctx, h.sessionID(c.Value))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Session{}, directory.Agent{}, errNoSession
	case err != nil:
		return store.Session{}, directory.Agent{}, err
	}
	id, ok := strings.CutPrefix(sess.UserID, agentPrefix)
	now := h.now()
	if !ok || !now.Before(sess.CreatedAt.Add(h.cfg.SessionMax)) {
		_ = h.kit.Store().DeleteSession(ctx, sess.ID)
		return store.Session{}, directory.Agent{}, errNoSession
	}
	agent, err := h.dir.GetAgentByID(ctx, id)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		_ = h.kit.Store().DeleteSession(ctx, sess.ID)
		return store.Session{}, directory.Agent{}, errNoSession
	case err != nil:
		return store.Session{}, directory.Agent{}, err
	case agent.Status != directory.AgentActive:
		// A locked agent loses the console at once, not at the session's end.
		_ = h.kit.Store().DeleteSession(ctx, sess.ID)
		return store.Session{}, directory.Agent{}, errNoSession
	}
	exp := now.Add(h.cfg.SessionIdle)
	if limit := sess.CreatedAt.Add(h.cfg.SessionMax); limit.Before(exp) {
		exp = limit
	}
	sess, err = h.kit.Store().UpdateSession(ctx, sess.ID, func(s store.Session) (store.Session, error) {
		s.ExpiresAt = exp
		return s, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, directory.Agent{}, errNoSession
	}
	if err != nil {
		return store.Session{}, directory.Agent{}, err
	}
	return sess, agent, nil
}

// requireAgent is agentSession for a console page: without a session it has sent the
// browser to the sign-in and ok is false.
func (h *Handler) requireAgent(w http.ResponseWriter, r *http.Request) (store.Session, directory.Agent, bool) {
	sess, agent, err := h.agentSession(r)
	switch {
	case errors.Is(err, errNoSession):
		target := PathSignIn
		if _, cerr := r.Cookie(h.cfg.CookieName); cerr == nil {
			target += "?expired=1"
			h.setCookie(w, "", -1)
		}
		http.Redirect(w, r, h.withLang(r, target), http.StatusSeeOther)
		return store.Session{}, directory.Agent{}, false
	case err != nil:
		h.kit.Unavailable(w, r, err)
		return store.Session{}, directory.Agent{}, false
	}
	return sess, agent, true
}

// getConsole shows the registration form.
func (h *Handler) getConsole(w http.ResponseWriter, r *http.Request) {
	sess, agent, ok := h.requireAgent(w, r)
	if !ok {
		return
	}
	h.renderConsole(w, r, http.StatusOK, sess, agent, registration{}, "", "", nil)
}

// registration is what the agent typed.
type registration struct {
	dni, expiry, given, family, birth, email, phone string
}

// postRegister registers a citizen seen in person, issues the card and the link, and
// e-mails them.
func (h *Handler) postRegister(w http.ResponseWriter, r *http.Request) {
	if !h.kit.ParseForm(w, r, maxForm) {
		return
	}
	sess, agent, ok := h.requireAgent(w, r)
	if !ok {
		return
	}
	if !h.kit.CheckSessionCSRF(r, sess) {
		h.kit.Error(w, r, http.StatusForbidden, "error.csrf", errors.New("desk: bad console csrf token"))
		return
	}
	ctx := r.Context()
	in := registration{
		dni: strings.TrimSpace(r.PostForm.Get("dni")), expiry: strings.TrimSpace(r.PostForm.Get("expiry")),
		given: strings.TrimSpace(r.PostForm.Get("given")), family: strings.TrimSpace(r.PostForm.Get("family")),
		birth: strings.TrimSpace(r.PostForm.Get("birth")), email: strings.TrimSpace(r.PostForm.Get("email")),
		phone: normalisePhone(r.PostForm.Get("phone")),
	}
	refuse := func(status int, reason, key, field string, args ...any) {
		h.audit(ctx, "ra_registration_refused", "ra", "agent", agent.Username, "reason", reason)
		h.renderConsole(w, r, status, sess, agent, in, key, field, args)
	}
	if in.dni == "" || in.expiry == "" || in.given == "" || in.family == "" || in.birth == "" || in.email == "" || in.phone == "" {
		refuse(http.StatusBadRequest, "required", "desk.console.error.required", "")
		return
	}
	canonical, err := dni.Parse(in.dni)
	if err != nil {
		var cle *dni.CheckLetterError
		if errors.As(err, &cle) {
			refuse(http.StatusBadRequest, "dni_letter", "desk.console.error.dniletter", "dni")
			return
		}
		refuse(http.StatusBadRequest, "dni", "desk.console.error.dni", "dni")
		return
	}
	expiry, ok := parseDate(in.expiry)
	if !ok {
		refuse(http.StatusBadRequest, "expiry", "desk.console.error.expiry", "expiry")
		return
	}
	today := h.now().Format("2006-01-02")
	if expiry < today {
		refuse(http.StatusBadRequest, "document_expired", "desk.console.error.expired", "expiry")
		return
	}
	birth, ok := parseDate(in.birth)
	if !ok || birth > today {
		refuse(http.StatusBadRequest, "birth", "desk.console.error.birth", "birth")
		return
	}
	if age(birth, h.now()) < h.cfg.MinimumAge {
		refuse(http.StatusBadRequest, "under_age", "desk.console.error.underage", "birth", h.cfg.MinimumAge)
		return
	}
	u, err := h.dir.Add(ctx, directory.User{
		DNI: canonical, GivenName: in.given, FamilyName: in.family, BirthDate: birth, DocumentExpiry: expiry,
		Email: in.email, Phone: in.phone, Credential: directory.CredentialBakQ, Status: directory.StatusPending,
	}, "")
	switch {
	case errors.Is(err, directory.ErrExists):
		h.agentAction(ctx, agent, "agent_registration_refused", dni.Mask(canonical)+" already registered")
		refuse(http.StatusConflict, "exists", "desk.console.error.exists", "dni")
		return
	case errors.Is(err, directory.ErrInvalid):
		key, field := invalidField(err)
		refuse(http.StatusBadRequest, "invalid_"+field, key, field)
		return
	case err != nil:
		h.kit.Unavailable(w, r, err)
		return
	}
	masked := dni.Mask(u.DNI)
	incomplete := func(step string, err error) {
		h.kit.Logger().ErrorContext(ctx, "desk: registration incomplete", "step", step, "dni", masked, "err", err)
		h.audit(ctx, "ra_registration_incomplete", "ra", "agent", agent.Username, "dni", masked, "step", step)
		h.agentAction(ctx, agent, "agent_registration_incomplete", masked+" "+step)
		h.renderProblem(w, r, problem{status: http.StatusServiceUnavailable, eyebrow: "desk.ra.eyebrow",
			title: "desk.problem.failed.title", message: "desk.problem.failed.text", helpKy: "desk.problem.failed.help",
			link: PathConsole, linkKey: "desk.registered.another"})
	}
	card, err := h.card.Issue(ctx, u.ID)
	if err != nil {
		incomplete("card", err)
		return
	}
	code, exp, err := h.dir.IssueCode(ctx, directory.PurposeEnrolment, u.DNI, h.cfg.LinkTTL)
	if err != nil {
		incomplete("code", err)
		return
	}
	link := h.kit.BaseURL() + PathEnrol + "?code=" + code
	if err := h.mail.Send(ctx, smsotp.Message{To: u.Email, Subject: mailSubject, Body: mailBody(u.GivenName, card, link, exp), Kind: smsotp.KindEmail}); err != nil {
		incomplete("mail", err)
		return
	}
	h.audit(ctx, "ra_citizen_registered", "ra", "agent", agent.Username, "dni", masked, "email", smsotp.MaskTo(u.Email))
	h.agentAction(ctx, agent, "agent_registered_citizen", masked)
	h.kit.Render(w, r, http.StatusOK, templates.PageDeskRegistered, &templates.DeskRegisteredPage{
		Base: h.base(w, r, "", PathConsole), AgentName: agent.Name, MaskedDNI: masked, MaskedEmail: smsotp.MaskTo(u.Email),
		LinkDays: max(1, int(h.cfg.LinkTTL.Hours()/24)), ConsoleURL: h.withLang(r, PathConsole),
		SignOutAction: h.withLang(r, PathSignOut), CSRF: h.kit.SessionCSRF(sess),
	})
}

// postSignOut ends the console session.
func (h *Handler) postSignOut(w http.ResponseWriter, r *http.Request) {
	if !h.kit.ParseForm(w, r, maxForm) {
		return
	}
	sess, agent, ok := h.requireAgent(w, r)
	if !ok {
		return
	}
	if !h.kit.CheckSessionCSRF(r, sess) {
		h.kit.Error(w, r, http.StatusForbidden, "error.csrf", errors.New("desk: bad console csrf token"))
		return
	}
	if err := h.kit.Store().DeleteSession(r.Context(), sess.ID); err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	h.setCookie(w, "", -1)
	h.audit(r.Context(), "ra_signed_out", "ra", "agent", agent.Username)
	h.agentAction(r.Context(), agent, "agent_signed_out", "")
	http.Redirect(w, r, h.withLang(r, PathSignIn+"?out=1"), http.StatusSeeOther)
}

// agentAction records what the agent did in the directory's trail too. A failure there is
// logged, not shown: the action itself has happened and the IdP's audit line has it.
func (h *Handler) agentAction(ctx context.Context, agent directory.Agent, action, detail string) {
	if err := h.dir.RecordAgentAction(ctx, agent.ID, action, detail); err != nil {
		h.kit.Logger().WarnContext(ctx, "desk: record agent action", "action", action, "err", err)
	}
}

// invalidField maps the directory's ErrInvalid to a message key and the form field, by the
// first bad field it names (directory.FieldError).
func invalidField(err error) (key, field string) {
	var fe *directory.FieldError
	if errors.As(err, &fe) {
		fields := map[string]string{"dni": "dni", "document expiry": "expiry", "given name": "given",
			"family name": "family", "birth date": "birth", "email": "email", "phone": "phone"}
		if f, ok := fields[fe.Field]; ok {
			return "desk.console.error." + f, f
		}
	}
	return "desk.console.error.invalid", ""
}

// normalisePhone is a mobile as typed at the desk, without spaces, dots or dashes; a Spanish
// mobile typed without the country code (9 digits starting with 6 or 7) gets +34.
func normalisePhone(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '.' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if len(s) == 9 && (s[0] == '6' || s[0] == '7') && strings.Trim(s, "0123456789") == "" {
		s = "+34" + s
	}
	return s
}

func (h *Handler) codeMinutes() int { return max(1, int(h.cfg.AgentCodeTTL.Minutes())) }

func (h *Handler) flowFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errNotCodeStep) || errors.Is(err, errWrongState) {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	h.kit.Unavailable(w, r, err)
}

func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, f store.Flow, username, errKey, notice string) {
	h.kit.Render(w, r, status, templates.PageDeskSignIn, &templates.DeskSignInPage{
		Base: h.base(w, r, f.ID, PathSignIn), Action: h.withLang(r, PathSignIn), FlowID: f.ID, CSRF: h.kit.CSRF(f),
		Username: username, ErrorKey: errKey, NoticeKey: notice,
	})
}

func (h *Handler) renderCode(w http.ResponseWriter, r *http.Request, status int, f store.Flow, errKey string, errArgs []any) {
	h.kit.Render(w, r, status, templates.PageDeskCode, &templates.DeskCodePage{
		Base: h.base(w, r, f.ID, PathSignIn), Action: h.withLang(r, PathCode), FlowID: f.ID, CSRF: h.kit.CSRF(f),
		MaskedPhone: f.Data[dataAgentTo], ValidMinutes: h.codeMinutes(), ErrorKey: errKey, ErrorArgs: errArgs,
	})
}

func (h *Handler) renderConsole(w http.ResponseWriter, r *http.Request, status int, sess store.Session, agent directory.Agent, in registration, errKey, field string, errArgs []any) {
	h.kit.Render(w, r, status, templates.PageDeskConsole, &templates.DeskConsolePage{
		Base: h.base(w, r, "", PathConsole), AgentName: agent.Name, Action: h.withLang(r, PathRegister),
		SignOutAction: h.withLang(r, PathSignOut), CSRF: h.kit.SessionCSRF(sess), MinimumAge: h.cfg.MinimumAge,
		DNI: in.dni, Expiry: in.expiry, GivenName: in.given, FamilyName: in.family, BirthDate: in.birth,
		Email: in.email, Phone: in.phone, ErrorKey: errKey, ErrorArgs: errArgs, ErrorField: field,
	})
}
