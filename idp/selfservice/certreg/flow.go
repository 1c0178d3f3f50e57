package certreg

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/selfservice/internal/secret"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// Keys of the flow's Data. The personal data typed stays in the flow until the directory
// holds it (at most the flow's lifetime); once registered, only the user ID, the reference
// and the fingerprint remain, for the receipt.
const (
	dataDNI    = "dni"    // canonical DNI/NIE from the certificate
	dataGiven  = "gn"     // given name from the certificate
	dataFamily = "sn"     // surnames from the certificate
	dataFP     = "fp"     // the certificate's SHA-256 fingerprint, hex
	dataBirth  = "birth"  // YYYY-MM-DD
	dataExpiry = "expiry" // YYYY-MM-DD
	dataEmail  = "email"
	dataPhone  = "phone"  // E.164
	dataCode   = "code"   // Kit.MAC of the live SMS code with the flow ID; "" when none
	dataCodeAt = "codeat" // when it was sent, Unix nanoseconds
	dataSends  = "sends"  // SMS sent in this flow
	dataFails  = "fails"  // wrong codes in this flow
	dataUser   = "uid"    // the directory ID, once registered
	dataRef    = "ref"    // the registration reference
	dataAt     = "at"     // when the registration completed, Unix nanoseconds
)

var (
	errStale      = errors.New("certreg: flow changed meanwhile")
	errResendWait = errors.New("certreg: resend cooldown")
	errResendMax  = errors.New("certreg: no sends left")
	errSMSLimit   = errors.New("certreg: sms limit")
	errSendFailed = errors.New("certreg: sms delivery failed")
)

// getStart reads the certificate and starts a flow.
func (h *Handler) getStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := h.certs.Authenticate(r)
	if err != nil {
		h.audit(ctx, "certreg_refused", "", "reason", "certificate", "detail", certReason(err))
		h.renderProblem(w, r, certProblem(err))
		return
	}
	given, family := Names(id.Subject)
	if given == "" || family == "" {
		h.audit(ctx, "certreg_refused", id.DNI, "reason", "no_names")
		h.renderProblem(w, r, problemNoNames)
		return
	}
	u, err := h.dir.Get(ctx, id.DNI)
	switch {
	case err == nil:
		if p, stop := registeredProblem(u); stop {
			h.audit(ctx, "certreg_refused", id.DNI, "reason", "registered", "status", string(u.Status))
			h.renderProblem(w, r, p)
			return
		}
	case !errors.Is(err, directory.ErrNotFound):
		h.kit.Unavailable(w, r, err)
		return
	}
	f, err := h.kit.StartFlow(w, r, Journey, StateForm, map[string]string{
		dataDNI: id.DNI, dataGiven: given, dataFamily: family, dataFP: id.Fingerprint,
	})
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	h.audit(ctx, "certreg_started", id.DNI, "fingerprint", shortFP(id.Fingerprint))
	// The forms post to Atea's own origin (see the package doc).
	http.Redirect(w, r, h.stepURL(f.ID, h.kit.Lang(r)), http.StatusSeeOther)
}

// certReason is a short, log-safe name of a CertReader error.
func certReason(err error) string {
	p := certProblem(err)
	return strings.TrimSuffix(strings.TrimPrefix(p.title, "certreg."), ".title")
}

// stepURL is the page of flow id on Atea's own origin.
func (h *Handler) stepURL(id, lang string) string {
	return h.kit.BaseURL() + PathStep + "?" + url.Values{"flow": {id}, "lang": {lang}}.Encode()
}

// getStep shows the page of the flow's state (after the start, a reload, a language switch).
func (h *Handler) getStep(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.LoadFlow(w, r, Journey, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	switch f.State {
	case StateForm:
		h.renderForm(w, r, http.StatusOK, f, formInput{}, "", "", nil)
	case StateSMS:
		h.renderSMS(w, r, http.StatusOK, f, "", nil, "")
	case StatePassword:
		h.renderPassword(w, r, http.StatusOK, f, "")
	case StateDone:
		h.renderDone(w, r, f)
	default:
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", fmt.Errorf("certreg flow in state %q", f.State))
	}
}

// formInput is what the citizen typed on the form.
type formInput struct{ birth, expiry, email, phone string }

// postDetails checks the form and sends the code to the mobile.
func (h *Handler) postDetails(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateForm)
	if !ok {
		return
	}
	in := formInput{
		birth:  strings.TrimSpace(r.PostForm.Get("birth")),
		expiry: strings.TrimSpace(r.PostForm.Get("expiry")),
		email:  strings.TrimSpace(r.PostForm.Get("email")),
		phone:  strings.TrimSpace(r.PostForm.Get("phone")),
	}
	bad := func(field, key string, args ...any) {
		h.renderForm(w, r, http.StatusBadRequest, f, in, key, field, args)
	}
	if in.birth == "" || in.expiry == "" || in.email == "" || in.phone == "" {
		bad("", "certreg.form.error.required")
		return
	}
	today := h.now().In(h.cfg.Location)
	birth, ok := parseDate(in.birth)
	if !ok || birth > today.Format(time.DateOnly) || birth < "1900-01-01" {
		bad("birth", "certreg.form.error.birth")
		return
	}
	if !olderThan(birth, h.cfg.MinimumAge, today) {
		h.audit(r.Context(), "certreg_refused", f.Data[dataDNI], "reason", "under_age")
		bad("birth", "certreg.form.error.age", h.cfg.MinimumAge)
		return
	}
	expiry, ok := parseDate(in.expiry)
	if !ok {
		bad("expiry", "certreg.form.error.expiry")
		return
	}
	if expiry < today.Format(time.DateOnly) {
		bad("expiry", "certreg.form.error.expired")
		return
	}
	email, ok := normaliseEmail(in.email)
	if !ok {
		bad("email", "certreg.form.error.email")
		return
	}
	phone, ok := normalisePhone(in.phone)
	if !ok {
		bad("phone", "certreg.form.error.phone")
		return
	}
	f, err := h.kit.UpdateFlow(r.Context(), f.ID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != StateForm {
			return fl, errStale
		}
		fl.State = StateSMS
		fl.Data = cloneData(fl.Data)
		fl.Data[dataBirth], fl.Data[dataExpiry], fl.Data[dataEmail], fl.Data[dataPhone] = birth, expiry, email, phone
		fl.Data[dataCode], fl.Data[dataCodeAt], fl.Data[dataFails] = "", "", "0"
		// A corrected number gets the flow's remaining sends, not a fresh allowance.
		if fl.Data[dataSends] == "" {
			fl.Data[dataSends] = "0"
		}
		return fl, nil
	})
	if err != nil {
		h.flowUpdateFailed(w, r, err)
		return
	}
	f, err = h.sendCode(r.Context(), f, h.kit.Lang(r), false)
	h.afterSend(w, r, f, err, "")
}

// sendCode makes a new code, records its MAC in the flow (counting the send, atomically with
// the cooldown and maximum checks when resend is true) and sends it by SMS. A failed
// delivery is undone in the flow, so the citizen may ask again at once.
func (h *Handler) sendCode(ctx context.Context, f store.Flow, lang string, resend bool) (store.Flow, error) {
	code, err := newCode(h.cfg.CodeDigits)
	if err != nil {
		return f, err
	}
	now := h.now()
	mac := h.kit.MAC("certreg-code", f.ID, code)
	issue := secret.Issue{State: StateSMS, MACKey: dataCode, AtKey: dataCodeAt, SendsKey: dataSends,
		MaxSends: h.cfg.MaxSends, Cooldown: h.cfg.ResendCooldown, Stale: errStale, ErrMax: errResendMax, ErrWait: errResendWait}
	reserved, err := issue.Reserve(ctx, h.kit, f.ID, mac, now, resend)
	if err != nil {
		return f, err
	}
	f = reserved
	phone := f.Data[dataPhone]
	for _, key := range []string{"certreg:sms:to:" + h.kit.MAC("certreg-sms-to", phone), "certreg:sms:dni:" + h.kit.MAC("certreg-sms-dni", f.Data[dataDNI])} {
		n, err := h.kit.Store().Incr(ctx, key, h.cfg.SMSWindow)
		if err != nil {
			return f, err
		}
		if n > int64(h.cfg.SMSLimit) {
			return f, errSMSLimit
		}
	}
	if err := h.sms.Send(ctx, smsotp.Message{To: phone, Body: smsotp.Text(lang, code), Kind: smsotp.KindSMS}); err != nil {
		h.kit.Logger().WarnContext(ctx, "certreg: send code", "to", smsotp.MaskTo(phone), "err", err)
		if undone, uerr := issue.Undo(ctx, h.kit, f.ID); uerr == nil {
			f = undone
		}
		return f, fmt.Errorf("%w: %w", errSendFailed, err)
	}
	h.audit(ctx, "certreg_sms_sent", f.Data[dataDNI], "to", smsotp.MaskTo(phone), "send", f.Data[dataSends])
	return f, nil
}

// afterSend shows the SMS page after sendCode, with notice on success or the reason the SMS
// did not go.
func (h *Handler) afterSend(w http.ResponseWriter, r *http.Request, f store.Flow, err error, notice string) {
	switch {
	case err == nil:
		h.renderSMS(w, r, http.StatusOK, f, "", nil, notice)
	case errors.Is(err, errResendWait):
		h.renderSMS(w, r, http.StatusTooManyRequests, f, "certreg.sms.error.wait", nil, "")
	case errors.Is(err, errResendMax):
		h.renderSMS(w, r, http.StatusTooManyRequests, f, "certreg.sms.error.max", nil, "")
	case errors.Is(err, errSMSLimit):
		h.audit(r.Context(), "certreg_refused", f.Data[dataDNI], "reason", "sms_limit")
		h.endWith(w, r, f.ID, problemSMSLimit)
	case errors.Is(err, errSendFailed):
		h.renderSMS(w, r, http.StatusServiceUnavailable, f, "certreg.sms.error.failed", nil, "")
	default:
		h.flowUpdateFailed(w, r, err)
	}
}

// postSMS checks the code.
func (h *Handler) postSMS(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateSMS)
	if !ok {
		return
	}
	ctx := r.Context()
	typed := strings.NewReplacer(" ", "", "-", "").Replace(r.PostForm.Get("code"))
	if typed == "" {
		h.renderSMS(w, r, http.StatusBadRequest, f, "certreg.sms.error.required", nil, "")
		return
	}
	if f.Data[dataCode] == "" || !h.now().Before(unixNano(f.Data[dataCodeAt]).Add(h.cfg.CodeTTL)) {
		h.renderSMS(w, r, http.StatusBadRequest, f, "certreg.sms.error.expired", nil, "")
		return
	}
	mac := h.kit.MAC("certreg-code", f.ID, typed)
	f, right, fails, err := secret.Answer{
		State: StateSMS, MACKey: dataCode, AtKey: dataCodeAt, FailKey: dataFails, Stale: errStale,
		OnRight: func(fl *store.Flow) { fl.State = StatePassword },
	}.Check(ctx, h.kit, f.ID, mac)
	if err != nil {
		h.flowUpdateFailed(w, r, err)
		return
	}
	if right {
		h.audit(ctx, "certreg_mobile_verified", f.Data[dataDNI])
		h.renderPassword(w, r, http.StatusOK, f, "")
		return
	}
	h.audit(ctx, "certreg_refused", f.Data[dataDNI], "reason", "sms_code", "failures", fails)
	if fails >= h.cfg.MaxCodeAttempts {
		h.endWith(w, r, f.ID, problemAttempts)
		return
	}
	h.renderSMS(w, r, http.StatusBadRequest, f, "certreg.sms.error.wrong", []any{h.cfg.MaxCodeAttempts - fails}, "")
}

// postResend sends a new code ("I did not receive the SMS").
func (h *Handler) postResend(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateSMS)
	if !ok {
		return
	}
	f, err := h.sendCode(r.Context(), f, h.kit.Lang(r), true)
	h.afterSend(w, r, f, err, "certreg.sms.notice.resent")
}

// postEdit goes back to the form to correct the data (a mistyped mobile). The live code is
// dropped; the sends already made still count.
func (h *Handler) postEdit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateSMS)
	if !ok {
		return
	}
	f, err := h.kit.UpdateFlow(r.Context(), f.ID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != StateSMS {
			return fl, errStale
		}
		fl.State = StateForm
		fl.Data = cloneData(fl.Data)
		fl.Data[dataCode], fl.Data[dataCodeAt] = "", ""
		return fl, nil
	})
	if err != nil {
		h.flowUpdateFailed(w, r, err)
		return
	}
	h.renderForm(w, r, http.StatusOK, f, formInput{
		birth: displayDate(f.Data[dataBirth]), expiry: displayDate(f.Data[dataExpiry]), email: f.Data[dataEmail], phone: f.Data[dataPhone],
	}, "", "", nil)
}

// postPassword registers: the password and the terms on one page.
func (h *Handler) postPassword(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StatePassword)
	if !ok {
		return
	}
	ctx := r.Context()
	pw, repeat := r.PostForm.Get("password"), r.PostForm.Get("repeat")
	switch {
	case pw == "" || repeat == "":
		h.renderPassword(w, r, http.StatusBadRequest, f, "certreg.password.error.required")
		return
	case pw != repeat:
		h.renderPassword(w, r, http.StatusBadRequest, f, "certreg.password.error.repeat")
		return
	case r.PostForm.Get("accept") != "yes":
		h.renderPassword(w, r, http.StatusBadRequest, f, "certreg.password.error.terms")
		return
	}
	// Claim the step, so a double submission does not register twice.
	f, err := h.setState(ctx, f.ID, StatePassword, StateSaving)
	if err != nil {
		h.flowUpdateFailed(w, r, err)
		return
	}
	u, err := h.register(ctx, f, pw)
	if err != nil {
		h.registerFailed(w, r, f, err)
		return
	}
	ref, err := newReference()
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	now := h.now()
	h.audit(ctx, "certreg_completed", u.DNI, "user_id", u.ID, "reference", ref, "terms", h.cfg.TermsVersion,
		"fingerprint", shortFP(f.Data[dataFP]))
	f, err = h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
		fl.State = StateDone
		fl.Data = map[string]string{dataUser: u.ID, dataRef: ref, dataFP: fl.Data[dataFP], dataAt: strconv.FormatInt(now.UnixNano(), 10)}
		// The receipt can be fetched for ReceiptTTL from now, whatever was left of the flow.
		fl.ExpiresAt = now.Add(h.cfg.ReceiptTTL)
		return fl, nil
	})
	if err != nil {
		// Registered all the same: show the last page without the receipt.
		f = store.Flow{Data: map[string]string{dataUser: u.ID, dataRef: ref}}
	}
	h.renderDone(w, r, f)
}

var (
	errRegistered = errors.New("certreg: a credential exists for the DNI/NIE")
)

// register adds the credential and activates it; an interrupted earlier registration of the
// same DNI/NIE is continued (see the package doc).
func (h *Handler) register(ctx context.Context, f store.Flow, pw string) (directory.User, error) {
	d := f.Data
	_, err := h.dir.Add(ctx, directory.User{
		DNI: d[dataDNI], GivenName: d[dataGiven], FamilyName: d[dataFamily], BirthDate: d[dataBirth],
		DocumentExpiry: d[dataExpiry], Email: d[dataEmail], Phone: d[dataPhone],
		Credential: directory.CredentialBak, Status: directory.StatusPending,
	}, pw)
	e := directory.Enrolment{DNI: d[dataDNI], TermsVersion: h.cfg.TermsVersion, Activate: true, Reason: "certificate"}
	switch {
	case err == nil:
		// Add set the password (checked by the policy before anything was written).
	case errors.Is(err, directory.ErrExists):
		u, gerr := h.dir.Get(ctx, d[dataDNI])
		if gerr != nil {
			return directory.User{}, gerr
		}
		if !resumable(u) {
			return u, fmt.Errorf("%w (%s)", errRegistered, u.Status)
		}
		h.audit(ctx, "certreg_resumed", u.DNI, "user_id", u.ID)
		if u.Email != d[dataEmail] {
			if err := h.dir.SetContact(ctx, u.DNI, "email", d[dataEmail]); err != nil {
				return directory.User{}, err
			}
		}
		if u.Phone != d[dataPhone] {
			if err := h.dir.SetContact(ctx, u.DNI, "phone", d[dataPhone]); err != nil {
				return directory.User{}, err
			}
		}
		e.Password = pw
	default:
		return directory.User{}, err
	}
	return h.dir.Enrol(ctx, e)
}

// registerFailed answers a failed register and gives the step back where it can be retried.
func (h *Handler) registerFailed(w http.ResponseWriter, r *http.Request, f store.Flow, err error) {
	ctx := r.Context()
	back := func() (store.Flow, bool) {
		nf, uerr := h.setState(ctx, f.ID, StateSaving, StatePassword)
		if uerr != nil {
			h.flowUpdateFailed(w, r, uerr)
			return nf, false
		}
		return nf, true
	}
	switch {
	case errors.Is(err, directory.ErrWeakPassword):
		if nf, ok := back(); ok {
			h.renderPassword(w, r, http.StatusBadRequest, nf, weakKey(err))
		}
	case errors.Is(err, errRegistered), errors.Is(err, directory.ErrTransition):
		// Registered meanwhile (another browser, or a desk): one credential per person.
		h.audit(ctx, "certreg_refused", f.Data[dataDNI], "reason", "registered")
		p := problemRegistered
		if u, gerr := h.dir.Get(ctx, f.Data[dataDNI]); gerr == nil {
			p, _ = registeredProblem(u)
		}
		h.endWith(w, r, f.ID, p)
	case errors.Is(err, directory.ErrInvalid):
		// Data the directory refuses that the form let through (a name with control
		// characters from the certificate, say): the form again.
		h.kit.Logger().WarnContext(ctx, "certreg: directory refused the data", "dni", dni.Mask(f.Data[dataDNI]), "err", err)
		nf, uerr := h.setState(ctx, f.ID, StateSaving, StateForm)
		if uerr != nil {
			h.flowUpdateFailed(w, r, uerr)
			return
		}
		h.renderForm(w, r, http.StatusBadRequest, nf, formInput{
			birth: displayDate(nf.Data[dataBirth]), expiry: displayDate(nf.Data[dataExpiry]), email: nf.Data[dataEmail], phone: nf.Data[dataPhone],
		}, "certreg.form.error.invalid", "", nil)
	default:
		if _, ok := back(); ok {
			h.kit.Unavailable(w, r, err)
		}
	}
}

// setState moves flow id from state from to state to, atomically.
func (h *Handler) setState(ctx context.Context, id, from, to string) (store.Flow, error) {
	return h.kit.UpdateFlow(ctx, id, func(fl store.Flow) (store.Flow, error) {
		if fl.State != from {
			return fl, errStale
		}
		fl.State = to
		return fl, nil
	})
}

// weakKey maps the directory's policy error to its message (directory.PasswordRule).
func weakKey(err error) string {
	if rule := directory.PasswordRule(err); rule != "" {
		return "certreg.password.error." + rule
	}
	return "certreg.password.error.weak"
}

// flowUpdateFailed answers a failed UpdateFlow: a flow that moved on or expired meanwhile
// (a double submission) gets the "start again" page, a store failure the 503 page.
func (h *Handler) flowUpdateFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errStale) {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	h.kit.Unavailable(w, r, err)
}

// getReceipt sends the PDF receipt to the browser that registered.
func (h *Handler) getReceipt(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.LoadFlow(w, r, Journey, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	at := unixNano(f.Data[dataAt])
	if f.State != StateDone || at.IsZero() || !h.now().Before(at.Add(h.cfg.ReceiptTTL)) {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", errors.New("certreg: no receipt in this flow"))
		return
	}
	u, err := h.dir.GetByID(r.Context(), f.Data[dataUser])
	if err != nil {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	pdf, err := buildReceipt(receipt{
		Lang: h.kit.Lang(r), At: at.In(h.cfg.Location), GivenName: u.GivenName, FamilyName: u.FamilyName,
		MaskedDNI: dni.Mask(u.DNI), Email: u.Email, MaskedPhone: smsotp.MaskPhone(u.Phone),
		Credential: credentialName(u.Credential), TermsVersion: h.cfg.TermsVersion,
		Fingerprint: shortFP(f.Data[dataFP]), Reference: f.Data[dataRef],
	})
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/pdf")
	// The file name carries the reference, never the DNI/NIE: downloads folders are shared.
	hd.Set("Content-Disposition", `attachment; filename="atea-`+f.Data[dataRef]+`.pdf"`)
	hd.Set("Content-Length", strconv.Itoa(len(pdf)))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(pdf)
	h.audit(r.Context(), "certreg_receipt", u.DNI, "reference", f.Data[dataRef])
}

// credentialName is a credential's name as printed.
func credentialName(c string) string {
	if c == directory.CredentialBakQ {
		return "B@kQ"
	}
	return "B@k"
}

// --- pages ----------------------------------------------------------------------------------

// base is the pages' shared part; its language links reopen the flow's page at PathStep.
func (h *Handler) base(w http.ResponseWriter, r *http.Request, flowID string) templates.Base {
	b := h.kit.Base(w, r, h.kit.Lang(r), flowID)
	for i := range b.LangLinks {
		u, err := url.Parse(b.LangLinks[i].URL)
		if err != nil {
			continue
		}
		u.Path = PathStep
		b.LangLinks[i].URL = u.String()
	}
	return b
}

func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, status int, f store.Flow, in formInput, errKey, errField string, errArgs []any) {
	h.kit.Render(w, r, status, templates.PageCertRegForm, &templates.CertRegFormPage{
		Base: h.base(w, r, f.ID), Action: PathDetails, FlowID: f.ID, CSRF: h.kit.CSRF(f),
		GivenName: f.Data[dataGiven], FamilyName: f.Data[dataFamily], MaskedDNI: dni.Mask(f.Data[dataDNI]),
		BirthDate: in.birth, DocumentExpiry: in.expiry, Email: in.email, Phone: in.phone,
		ErrorKey: errKey, ErrorArgs: errArgs, ErrorField: errField,
	})
}

func (h *Handler) renderSMS(w http.ResponseWriter, r *http.Request, status int, f store.Flow, errKey string, errArgs []any, notice string) {
	p := &templates.CertRegSMSPage{
		Base: h.base(w, r, f.ID), Action: PathSMS, ResendAction: PathResend, EditAction: PathEdit,
		FlowID: f.ID, CSRF: h.kit.CSRF(f), MaskedPhone: smsotp.MaskPhone(f.Data[dataPhone]),
		Digits: h.cfg.CodeDigits, ValidMinutes: max(1, int(h.cfg.CodeTTL/time.Minute)),
		ErrorKey: errKey, ErrorArgs: errArgs, NoticeKey: notice,
	}
	switch {
	case atoi(f.Data[dataSends]) >= h.cfg.MaxSends:
		p.ResendKey = "certreg.sms.resend.max"
	case f.Data[dataCodeAt] != "" && h.now().Sub(unixNano(f.Data[dataCodeAt])) < h.cfg.ResendCooldown:
		p.ResendKey = "certreg.sms.resend.wait"
	default:
		p.CanResend = true
	}
	h.kit.Render(w, r, status, templates.PageCertRegSMS, p)
}

func (h *Handler) renderPassword(w http.ResponseWriter, r *http.Request, status int, f store.Flow, errKey string) {
	h.kit.Render(w, r, status, templates.PageCertRegPassword, &templates.CertRegPasswordPage{
		Base: h.base(w, r, f.ID), Action: PathPassword, FlowID: f.ID, CSRF: h.kit.CSRF(f),
		TermsVersion: h.cfg.TermsVersion, ErrorKey: errKey,
	})
}

func (h *Handler) renderDone(w http.ResponseWriter, r *http.Request, f store.Flow) {
	lang := h.kit.Lang(r)
	p := &templates.CertRegDonePage{Base: h.base(w, r, f.ID), Reference: f.Data[dataRef], SignInURL: withLang(PathSignIn, lang)}
	if f.ID != "" {
		p.ReceiptURL = PathReceipt + "?" + url.Values{"flow": {f.ID}, "lang": {lang}}.Encode()
	}
	if u, err := h.dir.GetByID(r.Context(), f.Data[dataUser]); err == nil {
		p.GivenName = u.GivenName
	}
	h.kit.Render(w, r, http.StatusOK, templates.PageCertRegDone, p)
}

// audit writes an audit line with the masked DNI/NIE.
func (h *Handler) audit(ctx context.Context, event, dniNumber string, attrs ...any) {
	args := []any{"event", event, "journey", Journey}
	if dniNumber != "" {
		args = append(args, "dni", dni.Mask(dniNumber))
	}
	h.kit.Audit().InfoContext(ctx, "certreg", append(args, attrs...)...)
}

// --- small helpers --------------------------------------------------------------------------

// shortFP is the first 16 hex digits of a fingerprint: enough to match a certificate, short
// enough to print and read aloud.
func shortFP(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}

// newCode returns n uniform random decimal digits.
func newCode(n int) (string, error) {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		v, err := rand.Int(rand.Reader, ten)
		if err != nil {
			return "", fmt.Errorf("certreg: code: %w", err)
		}
		b[i] = byte('0' + v.Int64())
	}
	return string(b), nil
}

// refAlphabet has no 0/O, 1/I/L: a reference read over the phone is not misheard.
const refAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// newReference is a random registration reference, "XXXXX-XXXXX" (about 49 bits).
func newReference() (string, error) {
	var b strings.Builder
	limit := big.NewInt(int64(len(refAlphabet)))
	for i := range 10 {
		if i == 5 {
			b.WriteByte('-')
		}
		v, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("certreg: reference: %w", err)
		}
		b.WriteByte(refAlphabet[v.Int64()])
	}
	return b.String(), nil
}

func cloneData(d map[string]string) map[string]string {
	out := make(map[string]string, len(d)+4)
	for k, v := range d {
		out[k] = v
	}
	return out
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// unixNano reads a time kept in the flow's data; "" or garbage is the zero time.
func unixNano(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
