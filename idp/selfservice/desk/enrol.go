package desk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/selfservice/internal/secret"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// JourneyEnrol is the citizens' enrolment flows' journey name.
const JourneyEnrol = "enrol"

// The enrolment's states (see the package doc).
const (
	StateConfirm  = "confirm"
	StatePassword = "password"
	StateSignIn   = "signin"
	StateCard     = "card"
	StateTerms    = "terms"
	StateDone     = "done"
)

// The enrolment's routes.
const (
	PathEnrol         = "/enrol"
	PathEnrolConfirm  = "/enrol/confirm"
	PathEnrolResend   = "/enrol/resend"
	PathEnrolPassword = "/enrol/password"
	PathEnrolSignIn   = "/enrol/signin"
	PathEnrolCard     = "/enrol/card"
	PathEnrolTerms    = "/enrol/terms"
	PathEnrolLogin    = "/enrol/login"
)

// Keys of the enrolment flow's Data.
const (
	dataUser      = "uid"        // the citizen's directory ID
	dataCode      = "code"       // the link's code, sealed (see seal)
	dataDNIMask   = "dnimask"    // the masked DNI/NIE, for audit lines
	dataMasked    = "masked"     // the mobile, masked
	dataTemp      = "tmp"        // MAC of the live temporary password; "" when none
	dataTempAt    = "tmp_at"     // when it was sent, Unix nanoseconds
	dataTempOK    = "tmp_ok"     // "1" once the temporary password was right
	dataSends     = "sends"      // SMS sent in this flow
	dataTempFails = "tmp_fails"  // wrong temporary passwords
	dataSignFails = "sign_fails" // wrong passwords in the first sign-in
)

var (
	errWrongState = errors.New("flow moved to another step")
	errResendWait = errors.New("resend cooldown")
	errResendMax  = errors.New("no sends left")
	errSMSLimit   = errors.New("sms limit of the credential")
	errSendFailed = errors.New("sms delivery failed")
)

func enrolProblem(status int, title, message, help string) problem {
	return problem{status: status, eyebrow: "desk.enrol.eyebrow", title: title, message: message, helpKy: help}
}

var (
	problemLinkInvalid = enrolProblem(http.StatusBadRequest, "desk.link.invalid.title", "desk.link.invalid.text", "desk.link.invalid.help")
	problemLinkUsed    = enrolProblem(http.StatusConflict, "desk.link.used.title", "desk.link.used.text", "desk.link.used.help")
	problemLinkExpired = enrolProblem(http.StatusGone, "desk.link.expired.title", "desk.link.expired.text", "desk.link.expired.help")
	problemAttempts    = enrolProblem(http.StatusTooManyRequests, "desk.enrol.attempts.title", "desk.enrol.attempts.text", "desk.enrol.attempts.help")
	problemCardLocked  = enrolProblem(http.StatusForbidden, "desk.enrol.cardlocked.title", "desk.enrol.cardlocked.text", "desk.enrol.cardlocked.help")
	problemSMSLimit    = enrolProblem(http.StatusTooManyRequests, "desk.enrol.smslimit.title", "desk.enrol.smslimit.text", "desk.enrol.smslimit.help")
	problemRate        = enrolProblem(http.StatusTooManyRequests, "desk.enrol.ratelimit.title", "desk.enrol.ratelimit.text", "")
)

// codeProblem is the page of a code error of the directory, or false for another error.
func codeProblem(err error) (problem, string, bool) {
	switch {
	case errors.Is(err, directory.ErrCodeInvalid):
		return problemLinkInvalid, "code_invalid", true
	case errors.Is(err, directory.ErrCodeUsed), errors.Is(err, directory.ErrTransition):
		return problemLinkUsed, "code_used", true
	case errors.Is(err, directory.ErrCodeExpired):
		return problemLinkExpired, "code_expired", true
	}
	return problem{}, "", false
}

// getEnrol opens the e-mailed link (?code=) into a new flow, or re-shows a flow's page
// (?flow=: a reload, a language switch).
func (h *Handler) getEnrol(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	if id := q.Get("flow"); id != "" {
		f, ok := h.kit.LoadFlow(w, r, JourneyEnrol, id)
		if !ok {
			return
		}
		h.show(w, r, http.StatusOK, f)
		return
	}
	code := directory.NormaliseCode(q.Get("code"))
	if code == "" {
		h.renderProblem(w, r, problemLinkInvalid)
		return
	}
	n, err := h.kit.Store().Incr(ctx, "desk:enrol:addr:"+h.kit.MAC("desk-enrol-addr", h.kit.ClientIP(r)), h.cfg.AddressWindow)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if n > int64(h.cfg.AddressLimit) {
		h.audit(ctx, "enrol_refused", JourneyEnrol, "reason", "address_limit")
		h.renderProblem(w, r, problemRate)
		return
	}
	u, err := h.dir.CheckCode(ctx, directory.CodeCheck{Purpose: directory.PurposeEnrolment, Code: code})
	if p, reason, ok := codeProblem(err); ok {
		h.audit(ctx, "enrol_refused", JourneyEnrol, "reason", reason)
		h.renderProblem(w, r, p)
		return
	} else if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	f, err := h.kit.StartFlow(w, r, JourneyEnrol, StateConfirm, nil)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	sealed, err := h.seal(f.ID, code)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	f, err = h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
		fl.PendingUser = u.ID
		fl.Data = map[string]string{dataUser: u.ID, dataCode: sealed, dataDNIMask: dni.Mask(u.DNI),
			dataMasked: smsotp.MaskPhone(u.Phone), dataSends: "0"}
		return fl, nil
	})
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	h.audit(ctx, "enrol_link_opened", JourneyEnrol, "dni", f.Data[dataDNIMask])
	// The code leaves the address bar: a reload or a language switch uses the flow.
	http.Redirect(w, r, h.withLang(r, PathEnrol+"?flow="+f.ID), http.StatusSeeOther)
}

// show renders the page of f's state.
func (h *Handler) show(w http.ResponseWriter, r *http.Request, status int, f store.Flow) {
	switch f.State {
	case StateConfirm:
		h.renderConfirm(w, r, f)
	case StatePassword:
		h.renderPassword(w, r, status, f, "", nil, "")
	case StateSignIn:
		h.renderFirstSignIn(w, r, status, f, "", "", nil)
	case StateCard:
		h.beginCard(w, r, f, "")
	case StateTerms:
		h.renderTerms(w, r, status, f, "")
	case StateDone:
		h.renderDone(w, r, f)
	default:
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", fmt.Errorf("enrol flow in state %q", f.State))
	}
}

// user is the flow's citizen, still pending: a credential activated meanwhile (in another
// browser) ends this flow with the "link used" page and ok false.
func (h *Handler) user(w http.ResponseWriter, r *http.Request, f store.Flow) (directory.User, bool) {
	u, err := h.dir.GetByID(r.Context(), f.Data[dataUser])
	switch {
	case errors.Is(err, directory.ErrNotFound):
		h.endWith(w, r, f, problemLinkInvalid)
		return directory.User{}, false
	case err != nil:
		h.kit.Unavailable(w, r, err)
		return directory.User{}, false
	case u.Status != directory.StatusPending:
		h.endWith(w, r, f, problemLinkUsed)
		return directory.User{}, false
	}
	return u, true
}

// step moves flow f from state from to state to, applying set to its data.
func (h *Handler) step(ctx context.Context, f store.Flow, from, to string, set func(map[string]string)) (store.Flow, error) {
	return h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != from {
			return fl, errWrongState
		}
		fl.State = to
		fl.Data = cloneData(fl.Data)
		if set != nil {
			set(fl.Data)
		}
		return fl, nil
	})
}

// postConfirm: the citizen confirmed the data; the temporary password goes by SMS.
func (h *Handler) postConfirm(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, JourneyEnrol, StateConfirm)
	if !ok {
		return
	}
	u, ok := h.user(w, r, f)
	if !ok {
		return
	}
	f, err := h.step(r.Context(), f, StateConfirm, StatePassword, nil)
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	h.audit(r.Context(), "enrol_data_confirmed", JourneyEnrol, "dni", f.Data[dataDNIMask])
	f, err = h.sendTemp(r.Context(), f, u, h.lang(r), false)
	h.afterSend(w, r, f, err, "")
}

// sendTemp makes a temporary password, records its MAC in the flow (counting the send,
// atomically with the cooldown and maximum checks) and sends it by SMS. A failed delivery
// is undone in the flow, so the citizen may ask again at once.
func (h *Handler) sendTemp(ctx context.Context, f store.Flow, u directory.User, lang string, resend bool) (store.Flow, error) {
	pw, err := randomString(tempAlphabet, h.cfg.TempPasswordLength)
	if err != nil {
		return f, err
	}
	now := h.now()
	mac := h.kit.MAC("desk-temp", f.ID, pw)
	issue := secret.Issue{State: StatePassword, Ready: func(fl store.Flow) bool { return fl.Data[dataTempOK] != "1" },
		MACKey: dataTemp, AtKey: dataTempAt, SendsKey: dataSends,
		MaxSends: h.cfg.MaxSends, Cooldown: h.cfg.ResendCooldown, Stale: errWrongState, ErrMax: errResendMax, ErrWait: errResendWait}
	reserved, err := issue.Reserve(ctx, h.kit, f.ID, mac, now, resend)
	if err != nil {
		return f, err
	}
	f = reserved
	n, err := h.kit.Store().Incr(ctx, "desk:sms:"+h.kit.MAC("desk-sms", u.ID), h.cfg.UserSMSWindow)
	if err != nil {
		return f, err
	}
	if n > int64(h.cfg.UserSMSLimit) {
		return f, errSMSLimit
	}
	if err := h.sms.Send(ctx, smsotp.Message{To: u.Phone, Body: tempText(lang, pw, h.tempMinutes()), Kind: smsotp.KindSMS}); err != nil {
		h.kit.Logger().WarnContext(ctx, "desk: send temporary password", "to", smsotp.MaskTo(u.Phone), "err", err)
		if undone, uerr := issue.Undo(ctx, h.kit, f.ID); uerr == nil {
			f = undone
		}
		return f, fmt.Errorf("%w: %w", errSendFailed, err)
	}
	h.audit(ctx, "enrol_sms_sent", JourneyEnrol, "dni", f.Data[dataDNIMask], "send", f.Data[dataSends])
	return f, nil
}

// afterSend shows the password page after sendTemp.
func (h *Handler) afterSend(w http.ResponseWriter, r *http.Request, f store.Flow, err error, notice string) {
	switch {
	case err == nil:
		h.renderPassword(w, r, http.StatusOK, f, "", nil, notice)
	case errors.Is(err, errResendWait):
		h.renderPassword(w, r, http.StatusTooManyRequests, f, "desk.password.error.wait", nil, "")
	case errors.Is(err, errResendMax):
		h.renderPassword(w, r, http.StatusTooManyRequests, f, "desk.password.error.max", nil, "")
	case errors.Is(err, errSMSLimit):
		h.audit(r.Context(), "enrol_refused", JourneyEnrol, "dni", f.Data[dataDNIMask], "reason", "sms_limit")
		h.endWith(w, r, f, problemSMSLimit)
	case errors.Is(err, errSendFailed):
		h.renderPassword(w, r, http.StatusServiceUnavailable, f, "desk.password.error.failed", nil, "")
	default:
		h.flowFailed(w, r, err)
	}
}

// postResend sends another temporary password ("I did not receive the SMS").
func (h *Handler) postResend(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, JourneyEnrol, StatePassword)
	if !ok {
		return
	}
	u, ok := h.user(w, r, f)
	if !ok {
		return
	}
	f, err := h.sendTemp(r.Context(), f, u, h.lang(r), true)
	h.afterSend(w, r, f, err, "desk.password.notice.resent")
}

// postPassword checks the temporary password (while not yet right) and sets the personal
// password on the pending credential.
func (h *Handler) postPassword(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, JourneyEnrol, StatePassword)
	if !ok {
		return
	}
	ctx := r.Context()
	askTemp := f.Data[dataTempOK] != "1"
	typed := normaliseTyped(r.PostForm.Get("temp"))
	pw, repeat := r.PostForm.Get("password"), r.PostForm.Get("repeat")
	switch {
	case askTemp && typed == "":
		h.renderPassword(w, r, http.StatusBadRequest, f, "desk.password.error.temprequired", nil, "")
		return
	case pw == "" || repeat == "":
		h.renderPassword(w, r, http.StatusBadRequest, f, "desk.password.error.required", nil, "")
		return
	case pw != repeat:
		h.renderPassword(w, r, http.StatusBadRequest, f, "desk.password.error.repeat", nil, "")
		return
	}
	if askTemp {
		if f.Data[dataTemp] == "" || !h.now().Before(unixNano(f.Data[dataTempAt]).Add(h.cfg.TempPasswordTTL)) {
			h.renderPassword(w, r, http.StatusBadRequest, f, "desk.password.error.tempexpired", nil, "")
			return
		}
		mac := h.kit.MAC("desk-temp", f.ID, typed)
		var right bool
		var fails int
		var err error
		f, right, fails, err = secret.Answer{
			State: StatePassword, MACKey: dataTemp, AtKey: dataTempAt, FailKey: dataTempFails, Stale: errWrongState,
			OnRight: func(fl *store.Flow) { fl.Data[dataTempOK] = "1" },
		}.Check(ctx, h.kit, f.ID, mac)
		if err != nil {
			h.flowFailed(w, r, err)
			return
		}
		if !right {
			h.audit(ctx, "enrol_refused", JourneyEnrol, "dni", f.Data[dataDNIMask], "reason", "temp_password", "failures", fails)
			if fails >= h.cfg.MaxTempAttempts {
				h.endWith(w, r, f, problemAttempts)
				return
			}
			h.renderPassword(w, r, http.StatusBadRequest, f, "desk.password.error.tempwrong", []any{h.cfg.MaxTempAttempts - fails}, "")
			return
		}
		h.audit(ctx, "enrol_sms_verified", JourneyEnrol, "dni", f.Data[dataDNIMask])
	}
	u, ok := h.user(w, r, f)
	if !ok {
		return
	}
	// The status check above and SetPassword are two transactions; a credential activated
	// in between by another browser of the same link only gets the password this citizen
	// chose after proving the mobile: no one else's.
	err := h.dir.SetPassword(ctx, u.DNI, pw, false, "desk")
	switch {
	case errors.Is(err, directory.ErrWeakPassword):
		h.renderPassword(w, r, http.StatusBadRequest, f, weakKey(err), nil, "")
		return
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrTransition):
		h.endWith(w, r, f, problemLinkInvalid)
		return
	case err != nil:
		h.kit.Unavailable(w, r, err)
		return
	}
	f, err = h.step(ctx, f, StatePassword, StateSignIn, nil)
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	h.audit(ctx, "enrol_password_set", JourneyEnrol, "dni", f.Data[dataDNIMask])
	h.renderFirstSignIn(w, r, http.StatusOK, f, "", "", nil)
}

// postFirstSignIn is the first B@kQ sign-in's password: the new password of this flow's
// pending credential.
func (h *Handler) postFirstSignIn(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, JourneyEnrol, StateSignIn)
	if !ok {
		return
	}
	ctx := r.Context()
	typedDNI := strings.TrimSpace(r.PostForm.Get("username"))
	pw := r.PostForm.Get("password")
	if typedDNI == "" || pw == "" {
		h.renderFirstSignIn(w, r, http.StatusBadRequest, f, typedDNI, "desk.first.error.required", nil)
		return
	}
	u, err := h.dir.AuthenticatePending(ctx, typedDNI, pw)
	switch {
	case err == nil && u.ID == f.Data[dataUser]:
	case err == nil, errors.Is(err, directory.ErrInvalidCredentials), errors.Is(err, directory.ErrLocked):
		// Another citizen's pending credential counts as a wrong answer: this flow is for one
		// credential only.
		var fails int
		f, err = h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
			if fl.State != StateSignIn {
				return fl, errWrongState
			}
			fl.Data = cloneData(fl.Data)
			fails = atoi(fl.Data[dataSignFails]) + 1
			fl.Data[dataSignFails] = strconv.Itoa(fails)
			return fl, nil
		})
		if err != nil {
			h.flowFailed(w, r, err)
			return
		}
		h.audit(ctx, "enrol_refused", JourneyEnrol, "dni", f.Data[dataDNIMask], "reason", "first_signin_password", "failures", fails)
		if fails >= h.cfg.MaxSignInAttempts {
			h.endWith(w, r, f, problemAttempts)
			return
		}
		h.renderFirstSignIn(w, r, http.StatusUnauthorized, f, typedDNI, "desk.first.error.invalid", []any{h.cfg.MaxSignInAttempts - fails})
		return
	default:
		h.kit.Unavailable(w, r, err)
		return
	}
	f, err = h.step(ctx, f, StateSignIn, StateCard, nil)
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	h.audit(ctx, "enrol_first_password_ok", JourneyEnrol, "dni", f.Data[dataDNIMask])
	h.beginCard(w, r, f, "")
}

func subjectOf(u directory.User) authn.Subject {
	return authn.Subject{UserID: u.ID, DNI: u.DNI, Phone: u.Phone, Email: u.Email}
}

// beginCard shows the card's (sticky) challenge.
func (h *Handler) beginCard(w http.ResponseWriter, r *http.Request, f store.Flow, errKey string) {
	u, ok := h.user(w, r, f)
	if !ok {
		return
	}
	ch, err := h.card.Begin(r.Context(), subjectOf(u), f.ID)
	switch {
	case errors.Is(err, authn.ErrLocked):
		h.audit(r.Context(), "enrol_refused", JourneyEnrol, "dni", f.Data[dataDNIMask], "reason", "card_locked")
		h.endWith(w, r, f, problemCardLocked)
		return
	case errors.Is(err, authn.ErrNoFactor):
		h.endWith(w, r, f, problemLinkInvalid)
		return
	case err != nil:
		h.kit.Unavailable(w, r, err)
		return
	}
	status := http.StatusOK
	if errKey != "" {
		status = http.StatusUnauthorized
	}
	h.kit.Render(w, r, status, templates.PageDeskCard, &templates.DeskCardPage{
		Base: h.base(w, r, f.ID, PathEnrol), Action: h.withLang(r, PathEnrolCard), FlowID: f.ID, CSRF: h.kit.CSRF(f),
		Positions: ch.Positions, Digits: max(ch.Digits, 3), ErrorKey: errKey,
	})
}

// postCard checks the card's answer.
func (h *Handler) postCard(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, JourneyEnrol, StateCard)
	if !ok {
		return
	}
	ctx := r.Context()
	u, ok := h.user(w, r, f)
	if !ok {
		return
	}
	// Begin returns the pending challenge again (it sends nothing): which cells, in order.
	ch, err := h.card.Begin(ctx, subjectOf(u), f.ID)
	if err != nil {
		h.beginCard(w, r, f, "")
		return
	}
	parts := make([]string, 0, len(ch.Positions))
	for _, p := range ch.Positions {
		v := strings.TrimSpace(r.PostForm.Get("cell_" + p))
		if v == "" {
			h.beginCard(w, r, f, "desk.card.error.required")
			return
		}
		parts = append(parts, v)
	}
	err = h.card.Verify(ctx, subjectOf(u), f.ID, strings.Join(parts, " "))
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, authn.ErrExpired), errors.Is(err, authn.ErrTooManyAttempts):
		h.audit(ctx, "enrol_refused", JourneyEnrol, "dni", f.Data[dataDNIMask], "reason", "card_answer")
		h.beginCard(w, r, f, "desk.card.error.wrong")
		return
	case errors.Is(err, authn.ErrLocked):
		h.audit(ctx, "enrol_refused", JourneyEnrol, "dni", f.Data[dataDNIMask], "reason", "card_locked")
		h.endWith(w, r, f, problemCardLocked)
		return
	default:
		h.kit.Unavailable(w, r, err)
		return
	}
	f, err = h.step(ctx, f, StateCard, StateTerms, nil)
	if err != nil {
		h.flowFailed(w, r, err)
		return
	}
	h.audit(ctx, "enrol_first_signin", JourneyEnrol, "dni", f.Data[dataDNIMask], "method", "password+coordcard")
	h.renderTerms(w, r, http.StatusOK, f, "")
}

// postTerms accepts the terms and activates, in one Enrol.
func (h *Handler) postTerms(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, JourneyEnrol, StateTerms)
	if !ok {
		return
	}
	ctx := r.Context()
	if r.PostForm.Get("accept") != "yes" {
		h.renderTerms(w, r, http.StatusBadRequest, f, "desk.terms.error.required")
		return
	}
	code, err := h.open(f.ID, f.Data[dataCode])
	if err != nil {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	u, ok := h.user(w, r, f)
	if !ok {
		return
	}
	_, err = h.dir.Enrol(ctx, directory.Enrolment{
		DNI: u.DNI, Purpose: directory.PurposeEnrolment, Code: code, TermsVersion: h.cfg.TermsVersion,
		Credential: directory.CredentialBakQ, Activate: true, Reason: "desk",
	})
	if p, reason, ok := codeProblem(err); ok {
		h.audit(ctx, "enrol_refused", JourneyEnrol, "dni", f.Data[dataDNIMask], "reason", reason)
		h.endWith(w, r, f, p)
		return
	} else if errors.Is(err, directory.ErrNotFound) {
		h.endWith(w, r, f, problemLinkInvalid)
		return
	} else if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	h.audit(ctx, "enrol_completed", JourneyEnrol, "dni", f.Data[dataDNIMask], "terms", h.cfg.TermsVersion, "credential", directory.CredentialBakQ)
	f, err = h.step(ctx, f, StateTerms, StateDone, func(d map[string]string) {
		for k := range d {
			if k != dataUser {
				delete(d, k)
			}
		}
	})
	if err != nil {
		// Active all the same: show the last page without the flow.
		f = store.Flow{Data: map[string]string{dataUser: u.ID}}
	}
	h.renderDone(w, r, f)
}

// getLogin sends the browser through Atea's sign-in at the substantial level (the "sign in"
// link of the last page: B@kQ's level).
func (h *Handler) getLogin(w http.ResponseWriter, r *http.Request) {
	h.kit.SignIn(w, r, authn.LevelSubstantial, h.cfg.SignInReturn, false)
}

// endWith ends the flow and shows p.
func (h *Handler) endWith(w http.ResponseWriter, r *http.Request, f store.Flow, p problem) {
	if f.ID != "" {
		if err := h.kit.EndFlow(r.Context(), f.ID); err != nil {
			h.kit.Logger().WarnContext(r.Context(), "desk: end flow", "err", err)
		}
	}
	h.renderProblem(w, r, p)
}

// weakKey maps the directory's policy error to its message (directory.PasswordRule).
func weakKey(err error) string {
	if rule := directory.PasswordRule(err); rule != "" {
		return "desk.password.error." + rule
	}
	return "desk.password.error.weak"
}

func (h *Handler) tempMinutes() int { return max(1, int(h.cfg.TempPasswordTTL.Minutes())) }

func (h *Handler) renderConfirm(w http.ResponseWriter, r *http.Request, f store.Flow) {
	u, ok := h.user(w, r, f)
	if !ok {
		return
	}
	// The mobile is shown masked as the seed shows it ("***707"): the page is reachable with
	// the link alone, and the number is personal data the link's holder need not learn.
	h.kit.Render(w, r, http.StatusOK, templates.PageDeskConfirm, &templates.DeskConfirmPage{
		Base: h.base(w, r, f.ID, PathEnrol), Action: h.withLang(r, PathEnrolConfirm), FlowID: f.ID, CSRF: h.kit.CSRF(f),
		GivenName: u.GivenName, FamilyName: u.FamilyName, BirthDate: showDate(u.BirthDate),
		DocumentExpiry: showDate(u.DocumentExpiry), MaskedDNI: dni.Mask(u.DNI), Email: u.Email,
		MaskedPhone: smsotp.MaskPhone(u.Phone),
	})
}

func (h *Handler) renderPassword(w http.ResponseWriter, r *http.Request, status int, f store.Flow, errKey string, errArgs []any, notice string) {
	p := &templates.DeskPasswordPage{
		Base: h.base(w, r, f.ID, PathEnrol), Action: h.withLang(r, PathEnrolPassword), ResendAction: h.withLang(r, PathEnrolResend),
		FlowID: f.ID, CSRF: h.kit.CSRF(f), AskTemp: f.Data[dataTempOK] != "1", MaskedPhone: f.Data[dataMasked],
		ValidMinutes: h.tempMinutes(), ErrorKey: errKey, ErrorArgs: errArgs, NoticeKey: notice,
	}
	switch {
	case atoi(f.Data[dataSends]) >= h.cfg.MaxSends:
		p.ResendKey = "desk.password.resend.max"
	case f.Data[dataTempAt] != "" && h.now().Sub(unixNano(f.Data[dataTempAt])) < h.cfg.ResendCooldown:
		p.ResendKey = "desk.password.resend.wait"
	default:
		p.CanResend = true
	}
	h.kit.Render(w, r, status, templates.PageDeskPassword, p)
}

func (h *Handler) renderFirstSignIn(w http.ResponseWriter, r *http.Request, status int, f store.Flow, typed, errKey string, errArgs []any) {
	h.kit.Render(w, r, status, templates.PageDeskFirstSignIn, &templates.DeskFirstSignInPage{
		Base: h.base(w, r, f.ID, PathEnrol), Action: h.withLang(r, PathEnrolSignIn), FlowID: f.ID, CSRF: h.kit.CSRF(f),
		DNI: typed, ErrorKey: errKey, ErrorArgs: errArgs,
	})
}

func (h *Handler) renderTerms(w http.ResponseWriter, r *http.Request, status int, f store.Flow, errKey string) {
	h.kit.Render(w, r, status, templates.PageDeskTerms, &templates.DeskTermsPage{
		Base: h.base(w, r, f.ID, PathEnrol), Action: h.withLang(r, PathEnrolTerms), FlowID: f.ID, CSRF: h.kit.CSRF(f),
		TermsVersion: h.cfg.TermsVersion, ErrorKey: errKey,
	})
}

func (h *Handler) renderDone(w http.ResponseWriter, r *http.Request, f store.Flow) {
	p := &templates.DeskDonePage{Base: h.base(w, r, f.ID, PathEnrol), SignInURL: h.withLang(r, PathEnrolLogin)}
	if f.ID == "" {
		p.Base.LangLinks = nil
	}
	if u, err := h.dir.GetByID(r.Context(), f.Data[dataUser]); err == nil {
		p.GivenName = u.GivenName
	}
	h.kit.Render(w, r, http.StatusOK, templates.PageDeskDone, p)
}
