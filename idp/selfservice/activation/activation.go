package activation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
	"github.com/ateaidp/atea/idp/selfservice/internal/secret"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/templates"
)

// Journey is the flows' journey name.
const Journey = "activation"

// The flow's states (see the package doc).
const (
	StateEnter    = "enter"
	StateSMS      = "sms"
	StatePassword = "password"
	StateDone     = "done"
)

// The routes.
const (
	PathStart    = "/activate"
	PathEnter    = "/activate/enter"
	PathSMS      = "/activate/sms"
	PathResend   = "/activate/resend"
	PathPassword = "/activate/password"
	PathSignIn   = "/activate/signin"
)

// maxForm bounds every posted form: a few short fields.
const maxForm = 8 << 10

// Keys of the flow's Data.
const (
	dataPoW      = "pow"     // the current proof-of-work challenge
	dataUser     = "uid"     // the citizen's directory ID, once the code checked
	dataCode     = "code"    // the activation code, sealed (see seal)
	dataMasked   = "masked"  // the mobile, masked for the page ("***707")
	dataTemp     = "tmp"     // MAC of the live temporary password; "" when none
	dataTempAt   = "tmp_at"  // when it was sent, Unix nanoseconds
	dataSends    = "sends"   // SMS sent in this flow
	dataFailures = "fails"   // wrong temporary passwords in this flow
	dataDNIMask  = "dnimask" // the masked DNI/NIE, for audit lines
)

// Config tunes the journey. A zero field takes its default (DefaultConfig).
type Config struct {
	// TermsVersion is the version of the terms the citizen accepts ("2026-01").
	TermsVersion string
	// TempPasswordTTL is how long the SMS temporary password works (ASVS 5.0 V6.5.5: at most
	// 10 minutes for an out-of-band secret).
	TempPasswordTTL time.Duration
	// TempPasswordLength is its length in characters of an unambiguous alphabet (31 symbols:
	// 10 characters ≈ 49 bits).
	TempPasswordLength int
	// MaxTempAttempts wrong temporary passwords end the flow.
	MaxTempAttempts int
	// ResendCooldown is the wait between two SMS of one flow; MaxSends how many a flow sends.
	ResendCooldown time.Duration
	MaxSends       int
	// PoWBits is the proof of work's difficulty: leading zero bits of SHA-256.
	PoWBits int
	// AddressLimit submissions of the code form per client address in AddressWindow.
	AddressLimit  int
	AddressWindow time.Duration
	// CodeLimit submissions per activation code in CodeWindow (the directory also burns a
	// code after directory.MaxCodeAttempts mismatches).
	CodeLimit  int
	CodeWindow time.Duration
	// UserSMSLimit SMS per credential in UserSMSWindow, across flows: restarting the journey
	// does not turn Atea into an SMS cannon.
	UserSMSLimit  int
	UserSMSWindow time.Duration
	// SignInReturn is where the "sign in" link of the last page returns after the sign-in.
	SignInReturn string
}

// DefaultConfig is the journey's default tuning.
func DefaultConfig() Config {
	return Config{
		TermsVersion: "2026-01", TempPasswordTTL: 10 * time.Minute, TempPasswordLength: 10,
		MaxTempAttempts: 5, ResendCooldown: 60 * time.Second, MaxSends: 3, PoWBits: 18,
		AddressLimit: 20, AddressWindow: 10 * time.Minute,
		CodeLimit: 10, CodeWindow: time.Hour,
		UserSMSLimit: 10, UserSMSWindow: 24 * time.Hour,
		SignInReturn: "/",
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	if c.TermsVersion == "" {
		c.TermsVersion = d.TermsVersion
	}
	if c.SignInReturn == "" {
		c.SignInReturn = d.SignInReturn
	}
	set(&c.TempPasswordLength, d.TempPasswordLength)
	set(&c.MaxTempAttempts, d.MaxTempAttempts)
	set(&c.MaxSends, d.MaxSends)
	set(&c.PoWBits, d.PoWBits)
	set(&c.AddressLimit, d.AddressLimit)
	set(&c.CodeLimit, d.CodeLimit)
	set(&c.UserSMSLimit, d.UserSMSLimit)
	setD(&c.TempPasswordTTL, d.TempPasswordTTL)
	setD(&c.ResendCooldown, d.ResendCooldown)
	setD(&c.AddressWindow, d.AddressWindow)
	setD(&c.CodeWindow, d.CodeWindow)
	setD(&c.UserSMSWindow, d.UserSMSWindow)
	return c
}

func (c Config) validate() error {
	var problems []string
	if c.TempPasswordLength < 8 || c.TempPasswordLength > 32 {
		problems = append(problems, "TempPasswordLength want 8 to 32")
	}
	if c.PoWBits < 1 || c.PoWBits > 28 {
		problems = append(problems, "PoWBits want 1 to 28")
	}
	for name, v := range map[string]int{"MaxTempAttempts": c.MaxTempAttempts, "MaxSends": c.MaxSends,
		"AddressLimit": c.AddressLimit, "CodeLimit": c.CodeLimit, "UserSMSLimit": c.UserSMSLimit} {
		if v < 1 {
			problems = append(problems, name+" want at least 1")
		}
	}
	for name, v := range map[string]time.Duration{"TempPasswordTTL": c.TempPasswordTTL, "ResendCooldown": c.ResendCooldown,
		"AddressWindow": c.AddressWindow, "CodeWindow": c.CodeWindow, "UserSMSWindow": c.UserSMSWindow} {
		if v < 0 {
			problems = append(problems, name+" must not be negative")
		}
	}
	if !strings.HasPrefix(c.SignInReturn, "/") || strings.HasPrefix(c.SignInReturn, "//") {
		problems = append(problems, "SignInReturn want a local path")
	}
	if len(problems) > 0 {
		return fmt.Errorf("activation: config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Directory is what the journey needs of the user directory (*directory.Directory).
type Directory interface {
	CheckCode(ctx context.Context, cc directory.CodeCheck) (directory.User, error)
	Enrol(ctx context.Context, e directory.Enrolment) (directory.User, error)
	GetByID(ctx context.Context, id string) (directory.User, error)
}

// Deps are the journey's collaborators.
type Deps struct {
	Kit       *idp.Kit
	Directory Directory
	// SMS delivers the temporary password (Kind smsotp.KindSMS).
	SMS smsotp.Sender
	// Now is the clock; nil means Kit.Now.
	Now func() time.Time
}

// Handler serves the activation journey.
type Handler struct {
	cfg Config
	kit *idp.Kit
	dir Directory
	sms smsotp.Sender
	now func() time.Time
}

// New checks cfg (zero fields take defaults) and deps and returns the journey's handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Kit == nil || deps.Directory == nil || deps.SMS == nil {
		return nil, errors.New("activation: Kit, Directory and SMS are required")
	}
	now := deps.Now
	if now == nil {
		now = deps.Kit.Now
	}
	return &Handler{cfg: cfg, kit: deps.Kit, dir: deps.Directory, sms: deps.SMS, now: now}, nil
}

// Mount registers the journey's routes on srv.
func (h *Handler) Mount(srv *idp.Server) {
	srv.Handle("GET "+PathStart, http.HandlerFunc(h.getStart))
	srv.Handle("POST "+PathEnter, http.HandlerFunc(h.postEnter))
	srv.Handle("POST "+PathSMS, http.HandlerFunc(h.postSMS))
	srv.Handle("POST "+PathResend, http.HandlerFunc(h.postResend))
	srv.Handle("POST "+PathPassword, http.HandlerFunc(h.postPassword))
	srv.Handle("GET "+PathSignIn, http.HandlerFunc(h.getSignIn))
}

// getStart starts a flow, or shows the page of an existing flow's state again (a reload or
// a language switch keeps ?flow=).
func (h *Handler) getStart(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("flow")
	if id == "" {
		challenge, err := newChallenge()
		if err != nil {
			h.kit.Unavailable(w, r, err)
			return
		}
		f, err := h.kit.StartFlow(w, r, Journey, StateEnter, map[string]string{dataPoW: challenge})
		if err != nil {
			h.kit.Unavailable(w, r, err)
			return
		}
		h.renderEnter(w, r, http.StatusOK, f, enterForm{}, "")
		return
	}
	f, ok := h.kit.LoadFlow(w, r, Journey, id)
	if !ok {
		return
	}
	switch f.State {
	case StateEnter:
		h.renderEnter(w, r, http.StatusOK, f, enterForm{}, "")
	case StateSMS:
		h.renderSMS(w, r, http.StatusOK, f, "", nil, "")
	case StatePassword:
		h.renderPassword(w, r, http.StatusOK, f, "")
	case StateDone:
		h.renderDone(w, r, f)
	default:
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", fmt.Errorf("activation flow in state %q", f.State))
	}
}

// enterForm is what the citizen typed on the code page.
type enterForm struct{ code, dni, expiry string }

// problem names a page of ActivationProblemPage: its status and keys.
type problem struct {
	status                 int
	title, message, helpKy string
	retry                  bool // offer "try again" (a new flow)
}

var (
	problemUsed      = problem{http.StatusConflict, "activation.used.title", "activation.used.text", "activation.used.help", false}
	problemExpired   = problem{http.StatusGone, "activation.expired.title", "activation.expired.text", "activation.expired.help", false}
	problemInvalid   = problem{http.StatusBadRequest, "activation.invalid.title", "activation.error.invalid", "activation.expired.help", true}
	problemNoPhone   = problem{http.StatusConflict, "activation.nophone.title", "activation.nophone.text", "activation.nophone.help", false}
	problemRate      = problem{http.StatusTooManyRequests, "activation.ratelimit.title", "activation.ratelimit.text", "activation.ratelimit.help", true}
	problemAttempts  = problem{http.StatusTooManyRequests, "activation.attempts.title", "activation.attempts.text", "activation.attempts.help", true}
	problemSMSLimit  = problem{http.StatusTooManyRequests, "activation.smslimit.title", "activation.smslimit.text", "activation.smslimit.help", false}
	errResendWait    = errors.New("resend cooldown")
	errResendMax     = errors.New("no sends left")
	errSMSLimit      = errors.New("sms limit of the credential")
	errNotSMSState   = errors.New("flow no longer waits for the temporary password")
	errNotEnterState = errors.New("flow no longer waits for the code")
)

// postEnter checks the code page (see the package doc for the order of the checks).
func (h *Handler) postEnter(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateEnter)
	if !ok {
		return
	}
	ctx := r.Context()
	in := enterForm{
		code:   strings.TrimSpace(r.PostForm.Get("code")),
		dni:    strings.TrimSpace(r.PostForm.Get("dni")),
		expiry: strings.TrimSpace(r.PostForm.Get("expiry")),
	}
	n, err := h.kit.Store().Incr(ctx, "activation:addr:"+h.kit.MAC("activation-addr", h.kit.ClientIP(r)), h.cfg.AddressWindow)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if n > int64(h.cfg.AddressLimit) {
		h.audit(ctx, "activation_refused", "", "reason", "address_limit")
		h.renderProblem(w, r, problemRate)
		return
	}

	// The proof of work: whatever its outcome, this challenge is spent and the page gets a
	// new one.
	posted := r.PostForm.Get("challenge")
	powOK := idp.EqualMAC(posted, f.Data[dataPoW]) && checkPoW(posted, r.PostForm.Get("pow"), h.cfg.PoWBits)
	if powOK {
		first, err := h.kit.Store().Consume(ctx, "activation:pow:"+h.kit.MAC("activation-pow", posted), 2*time.Hour)
		if err != nil {
			h.kit.Unavailable(w, r, err)
			return
		}
		powOK = first
	}
	next, err := newChallenge()
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	f, err = h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != StateEnter {
			return fl, errNotEnterState
		}
		fl.Data = cloneData(fl.Data)
		fl.Data[dataPoW] = next
		return fl, nil
	})
	if err != nil {
		h.flowUpdateFailed(w, r, err)
		return
	}
	if !powOK {
		h.audit(ctx, "activation_refused", "", "reason", "proof_of_work")
		h.renderEnter(w, r, http.StatusBadRequest, f, in, "activation.error.pow")
		return
	}

	if in.code == "" || in.dni == "" || in.expiry == "" {
		h.renderEnter(w, r, http.StatusBadRequest, f, in, "activation.error.required")
		return
	}
	canonical, err := dni.Parse(in.dni)
	if err != nil {
		h.renderEnter(w, r, http.StatusBadRequest, f, in, "activation.error.dni")
		return
	}
	expiry, ok := parseExpiry(in.expiry)
	if !ok {
		h.renderEnter(w, r, http.StatusBadRequest, f, in, "activation.error.expiry")
		return
	}
	code := directory.NormaliseCode(in.code)
	n, err = h.kit.Store().Incr(ctx, "activation:code:"+h.kit.MAC("activation-code", code), h.cfg.CodeWindow)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	if n > int64(h.cfg.CodeLimit) {
		h.audit(ctx, "activation_refused", canonical, "reason", "code_limit")
		h.renderProblem(w, r, problemRate)
		return
	}

	u, err := h.dir.CheckCode(ctx, directory.CodeCheck{
		Purpose: directory.PurposeActivation, Code: code, DNI: canonical, DocumentExpiry: expiry,
	})
	switch {
	case errors.Is(err, directory.ErrCodeInvalid):
		h.audit(ctx, "activation_refused", canonical, "reason", "code_invalid")
		h.renderEnter(w, r, http.StatusBadRequest, f, in, "activation.error.invalid")
		return
	case errors.Is(err, directory.ErrMismatch):
		h.audit(ctx, "activation_refused", canonical, "reason", "mismatch")
		h.renderEnter(w, r, http.StatusBadRequest, f, in, "activation.error.mismatch")
		return
	case errors.Is(err, directory.ErrCodeUsed):
		h.audit(ctx, "activation_refused", canonical, "reason", "code_used")
		h.endWith(w, r, f, problemUsed)
		return
	case errors.Is(err, directory.ErrCodeExpired):
		h.audit(ctx, "activation_refused", canonical, "reason", "code_expired")
		h.endWith(w, r, f, problemExpired)
		return
	case err != nil:
		h.kit.Unavailable(w, r, err)
		return
	}
	if u.Phone == "" {
		h.audit(ctx, "activation_refused", u.DNI, "reason", "no_mobile")
		h.endWith(w, r, f, problemNoPhone)
		return
	}
	sealed, err := h.seal(f.ID, code)
	if err != nil {
		h.kit.Unavailable(w, r, err)
		return
	}
	h.audit(ctx, "activation_code_checked", u.DNI)
	f, err = h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
		if fl.State != StateEnter {
			return fl, errNotEnterState
		}
		fl.State = StateSMS
		fl.PendingUser = u.ID
		fl.Data = map[string]string{
			dataUser: u.ID, dataCode: sealed, dataMasked: smsotp.MaskPhone(u.Phone), dataDNIMask: dni.Mask(u.DNI),
			dataSends: "0", dataFailures: "0",
		}
		return fl, nil
	})
	if err != nil {
		h.flowUpdateFailed(w, r, err)
		return
	}
	f, sendErr := h.sendTemp(ctx, f, u, h.kit.Lang(r), false)
	h.afterSend(w, r, f, sendErr, "")
}

// sendTemp makes a new temporary password, records its MAC in the flow (counting the send,
// atomically with the cooldown and maximum checks when resend is true) and sends it by SMS.
// A failed delivery is undone in the flow, so the citizen may ask again at once.
func (h *Handler) sendTemp(ctx context.Context, f store.Flow, u directory.User, lang string, resend bool) (store.Flow, error) {
	pw, err := newTempPassword(h.cfg.TempPasswordLength)
	if err != nil {
		return f, err
	}
	now := h.now()
	mac := h.kit.MAC("activation-temp", f.ID, pw)
	issue := secret.Issue{State: StateSMS, MACKey: dataTemp, AtKey: dataTempAt, SendsKey: dataSends,
		MaxSends: h.cfg.MaxSends, Cooldown: h.cfg.ResendCooldown, Stale: errNotSMSState, ErrMax: errResendMax, ErrWait: errResendWait}
	reserved, err := issue.Reserve(ctx, h.kit, f.ID, mac, now, resend)
	if err != nil {
		return f, err // f as it was: the page shows it again
	}
	f = reserved
	n, err := h.kit.Store().Incr(ctx, "activation:sms:"+h.kit.MAC("activation-sms", u.ID), h.cfg.UserSMSWindow)
	if err != nil {
		return f, err
	}
	if n > int64(h.cfg.UserSMSLimit) {
		return f, errSMSLimit
	}
	err = h.sms.Send(ctx, smsotp.Message{To: u.Phone, Body: smsText(lang, pw, h.minutes()), Kind: smsotp.KindSMS})
	if err != nil {
		h.kit.Logger().WarnContext(ctx, "activation: send temporary password", "to", smsotp.MaskTo(u.Phone), "err", err)
		undone, uerr := issue.Undo(ctx, h.kit, f.ID)
		if uerr == nil {
			f = undone
		}
		return f, fmt.Errorf("%w: %w", errSendFailed, err)
	}
	h.audit(ctx, "activation_sms_sent", "", "dni", f.Data[dataDNIMask], "send", f.Data[dataSends])
	return f, nil
}

var errSendFailed = errors.New("sms delivery failed")

// afterSend shows the SMS page after sendTemp, with notice on success or the reason the SMS
// did not go.
func (h *Handler) afterSend(w http.ResponseWriter, r *http.Request, f store.Flow, err error, notice string) {
	switch {
	case err == nil:
		h.renderSMS(w, r, http.StatusOK, f, "", nil, notice)
	case errors.Is(err, errResendWait):
		h.renderSMS(w, r, http.StatusTooManyRequests, f, "activation.sms.error.wait", nil, "")
	case errors.Is(err, errResendMax):
		h.renderSMS(w, r, http.StatusTooManyRequests, f, "activation.sms.error.max", nil, "")
	case errors.Is(err, errSMSLimit):
		h.audit(r.Context(), "activation_refused", "", "dni", f.Data[dataDNIMask], "reason", "sms_limit")
		h.endWith(w, r, f, problemSMSLimit)
	case errors.Is(err, errSendFailed):
		h.renderSMS(w, r, http.StatusServiceUnavailable, f, "activation.sms.error.failed", nil, "")
	case errors.Is(err, errNotSMSState), errors.Is(err, store.ErrNotFound):
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
	default:
		h.kit.Unavailable(w, r, err)
	}
}

// postSMS checks the temporary password.
func (h *Handler) postSMS(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateSMS)
	if !ok {
		return
	}
	ctx := r.Context()
	typed := normaliseTemp(r.PostForm.Get("temp"))
	if typed == "" {
		h.renderSMS(w, r, http.StatusBadRequest, f, "activation.sms.error.required", nil, "")
		return
	}
	if f.Data[dataTemp] == "" || !h.now().Before(unixNano(f.Data[dataTempAt]).Add(h.cfg.TempPasswordTTL)) {
		h.renderSMS(w, r, http.StatusBadRequest, f, "activation.sms.error.expired", nil, "")
		return
	}
	mac := h.kit.MAC("activation-temp", f.ID, typed)
	f, right, failures, err := secret.Answer{
		State: StateSMS, MACKey: dataTemp, AtKey: dataTempAt, FailKey: dataFailures, Stale: errNotSMSState,
		OnRight: func(fl *store.Flow) { fl.State = StatePassword },
	}.Check(ctx, h.kit, f.ID, mac)
	if err != nil {
		h.flowUpdateFailed(w, r, err)
		return
	}
	if right {
		h.audit(ctx, "activation_sms_verified", "", "dni", f.Data[dataDNIMask])
		h.renderPassword(w, r, http.StatusOK, f, "")
		return
	}
	h.audit(ctx, "activation_refused", "", "dni", f.Data[dataDNIMask], "reason", "temp_password", "failures", failures)
	if failures >= h.cfg.MaxTempAttempts {
		h.endWith(w, r, f, problemAttempts)
		return
	}
	h.renderSMS(w, r, http.StatusBadRequest, f, "activation.sms.error.wrong", []any{h.cfg.MaxTempAttempts - failures}, "")
}

// postResend sends a new temporary password ("I did not receive the SMS").
func (h *Handler) postResend(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StateSMS)
	if !ok {
		return
	}
	u, err := h.dir.GetByID(r.Context(), f.Data[dataUser])
	if err != nil {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	f, err = h.sendTemp(r.Context(), f, u, h.kit.Lang(r), true)
	h.afterSend(w, r, f, err, "activation.sms.notice.resent")
}

// postPassword sets the password, accepts the terms and activates, in one Enrol.
func (h *Handler) postPassword(w http.ResponseWriter, r *http.Request) {
	f, ok := h.kit.Post(w, r, maxForm, Journey, StatePassword)
	if !ok {
		return
	}
	ctx := r.Context()
	pw, repeat := r.PostForm.Get("password"), r.PostForm.Get("repeat")
	switch {
	case pw == "" || repeat == "":
		h.renderPassword(w, r, http.StatusBadRequest, f, "activation.password.error.required")
		return
	case pw != repeat:
		h.renderPassword(w, r, http.StatusBadRequest, f, "activation.password.error.repeat")
		return
	case r.PostForm.Get("accept") != "yes":
		h.renderPassword(w, r, http.StatusBadRequest, f, "activation.password.error.terms")
		return
	}
	code, err := h.open(f.ID, f.Data[dataCode])
	if err != nil {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	u, err := h.dir.GetByID(ctx, f.Data[dataUser])
	if err != nil {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	_, err = h.dir.Enrol(ctx, directory.Enrolment{
		DNI: u.DNI, Purpose: directory.PurposeActivation, Code: code, Password: pw,
		TermsVersion: h.cfg.TermsVersion, Activate: true, Reason: "activation",
	})
	switch {
	case errors.Is(err, directory.ErrWeakPassword):
		h.renderPassword(w, r, http.StatusBadRequest, f, weakKey(err))
		return
	case errors.Is(err, directory.ErrCodeUsed), errors.Is(err, directory.ErrTransition):
		// Another browser finished first, or the credential changed status meanwhile.
		h.audit(ctx, "activation_refused", u.DNI, "reason", "code_used")
		h.endWith(w, r, f, problemUsed)
		return
	case errors.Is(err, directory.ErrCodeExpired):
		h.audit(ctx, "activation_refused", u.DNI, "reason", "code_expired")
		h.endWith(w, r, f, problemExpired)
		return
	case errors.Is(err, directory.ErrCodeInvalid):
		// Superseded by a newer letter, or burned from another browser.
		h.audit(ctx, "activation_refused", u.DNI, "reason", "code_invalid")
		h.endWith(w, r, f, problemInvalid)
		return
	case errors.Is(err, directory.ErrNotFound):
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	case err != nil:
		h.kit.Unavailable(w, r, err)
		return
	}
	h.audit(ctx, "activation_completed", u.DNI, "terms", h.cfg.TermsVersion)
	f, err = h.kit.UpdateFlow(ctx, f.ID, func(fl store.Flow) (store.Flow, error) {
		fl.State = StateDone
		fl.Data = map[string]string{dataUser: fl.Data[dataUser]}
		return fl, nil
	})
	if err != nil {
		// Activated all the same: show the last page without the flow.
		f = store.Flow{Data: map[string]string{dataUser: u.ID}}
	}
	h.renderDone(w, r, f)
}

// getSignIn sends the browser through Atea's sign-in (the "sign in" link of the last page).
func (h *Handler) getSignIn(w http.ResponseWriter, r *http.Request) {
	h.kit.SignIn(w, r, authn.LevelLow, h.cfg.SignInReturn, false)
}

// weakKey maps the directory's policy error to its message (directory.PasswordRule).
func weakKey(err error) string {
	if rule := directory.PasswordRule(err); rule != "" {
		return "activation.password.error." + rule
	}
	return "activation.password.error.weak"
}

// endWith ends the flow and shows p: the journey cannot go on with this flow.
func (h *Handler) endWith(w http.ResponseWriter, r *http.Request, f store.Flow, p problem) {
	if err := h.kit.EndFlow(r.Context(), f.ID); err != nil {
		h.kit.Logger().WarnContext(r.Context(), "activation: end flow", "err", err)
	}
	h.renderProblem(w, r, p)
}

// flowUpdateFailed answers a failed UpdateFlow: a flow that moved on or expired meanwhile
// (a double submission) gets the "start again" page, a store failure the 503 page.
func (h *Handler) flowUpdateFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, errNotEnterState) || errors.Is(err, errNotSMSState) {
		h.kit.Error(w, r, http.StatusBadRequest, "error.flowexpired", err)
		return
	}
	h.kit.Unavailable(w, r, err)
}

// audit writes an audit line with the masked DNI/NIE (dniNumber may be "" when the caller
// passes a masked "dni" attribute itself).
func (h *Handler) audit(ctx context.Context, event, dniNumber string, attrs ...any) {
	args := []any{"event", event, "journey", Journey}
	if dniNumber != "" {
		args = append(args, "dni", dni.Mask(dniNumber))
	}
	h.kit.Audit().InfoContext(ctx, "activation", append(args, attrs...)...)
}

// minutes is the temporary password's lifetime in whole minutes (at least 1), for texts.
func (h *Handler) minutes() int { return max(1, int(h.cfg.TempPasswordTTL/time.Minute)) }

// base is the pages' shared part; its language links reopen the flow's page at /activate.
func (h *Handler) base(w http.ResponseWriter, r *http.Request, flowID string) templates.Base {
	b := h.kit.Base(w, r, h.kit.Lang(r), flowID)
	for i := range b.LangLinks {
		u, err := url.Parse(b.LangLinks[i].URL)
		if err != nil {
			continue
		}
		u.Path = PathStart
		b.LangLinks[i].URL = u.String()
	}
	return b
}

func (h *Handler) renderEnter(w http.ResponseWriter, r *http.Request, status int, f store.Flow, in enterForm, errKey string) {
	h.kit.Render(w, r, status, templates.PageActivationEnter, &templates.ActivationEnterPage{
		Base: h.base(w, r, f.ID), Action: PathEnter, FlowID: f.ID, CSRF: h.kit.CSRF(f),
		Code: in.code, DNI: in.dni, Expiry: in.expiry, Challenge: f.Data[dataPoW], Bits: h.cfg.PoWBits,
		ErrorKey: errKey,
	})
}

func (h *Handler) renderSMS(w http.ResponseWriter, r *http.Request, status int, f store.Flow, errKey string, errArgs []any, notice string) {
	p := &templates.ActivationSMSPage{
		Base: h.base(w, r, f.ID), Action: PathSMS, ResendAction: PathResend, FlowID: f.ID, CSRF: h.kit.CSRF(f),
		MaskedPhone: f.Data[dataMasked], ValidMinutes: h.minutes(), ErrorKey: errKey, ErrorArgs: errArgs, NoticeKey: notice,
	}
	switch {
	case atoi(f.Data[dataSends]) >= h.cfg.MaxSends:
		p.ResendKey = "activation.sms.resend.max"
	case f.Data[dataTempAt] != "" && h.now().Sub(unixNano(f.Data[dataTempAt])) < h.cfg.ResendCooldown:
		p.ResendKey = "activation.sms.resend.wait"
	default:
		p.CanResend = true
	}
	h.kit.Render(w, r, status, templates.PageActivationSMS, p)
}

func (h *Handler) renderPassword(w http.ResponseWriter, r *http.Request, status int, f store.Flow, errKey string) {
	h.kit.Render(w, r, status, templates.PageActivationPassword, &templates.ActivationPasswordPage{
		Base: h.base(w, r, f.ID), Action: PathPassword, FlowID: f.ID, CSRF: h.kit.CSRF(f),
		TermsVersion: h.cfg.TermsVersion, ErrorKey: errKey,
	})
}

func (h *Handler) renderDone(w http.ResponseWriter, r *http.Request, f store.Flow) {
	p := &templates.ActivationDonePage{Base: h.base(w, r, f.ID), SignInURL: PathSignIn + "?lang=" + url.QueryEscape(h.kit.Lang(r))}
	if u, err := h.dir.GetByID(r.Context(), f.Data[dataUser]); err == nil {
		p.GivenName = u.GivenName
	}
	h.kit.Render(w, r, http.StatusOK, templates.PageActivationDone, p)
}

func (h *Handler) renderProblem(w http.ResponseWriter, r *http.Request, p problem) {
	page := &templates.ActivationProblemPage{
		Base: h.base(w, r, ""), TitleKey: p.title, MessageKey: p.message, HelpKey: p.helpKy,
	}
	if p.retry {
		page.RetryURL = PathStart + "?lang=" + url.QueryEscape(h.kit.Lang(r))
	}
	h.kit.Render(w, r, p.status, templates.PageActivationProblem, page)
}

func cloneData(d map[string]string) map[string]string {
	out := make(map[string]string, len(d)+2)
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

// parseExpiry reads a document expiry date as citizens write it: DD/MM/YYYY (one-digit day
// and month too, and "-" or "." as separators) or YYYY-MM-DD; 01/01/9999 is a permanent DNI.
// It returns YYYY-MM-DD.
func parseExpiry(s string) (string, bool) {
	for _, layout := range []string{"2/1/2006", "2-1-2006", "2.1.2006", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(time.DateOnly), true
		}
	}
	return "", false
}
