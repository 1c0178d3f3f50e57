package certreg

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/certauth"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/templates"
)

// Journey is the flows' journey name.
const Journey = "certreg"

// The flow's states (see the package doc).
const (
	StateForm     = "form"
	StateSMS      = "sms"
	StatePassword = "password"
	StateSaving   = "saving" // the password step is being applied: a second submission waits out
	StateDone     = "done"
)

// The routes.
const (
	PathStart    = "/register/certificate"
	PathStep     = "/register/certificate/step"
	PathDetails  = "/register/certificate/details"
	PathSMS      = "/register/certificate/sms"
	PathResend   = "/register/certificate/resend"
	PathEdit     = "/register/certificate/edit"
	PathPassword = "/register/certificate/password"
	PathReceipt  = "/register/certificate/receipt"
	PathSignIn   = "/register/certificate/signin"
)

// maxForm bounds every posted form: a few short fields.
const maxForm = 8 << 10

// MinAge is the default age a citizen must be over to register (BRIEF.md journey 2's requirement,
// which holds for every credential).
const MinAge = 16

// Config tunes the journey. A zero field takes its default (DefaultConfig).
type Config struct {
	// TermsVersion is the version of the terms the citizen accepts.
	TermsVersion string
	// MinimumAge is the age a citizen must have reached (0 → MinAge).
	MinimumAge int
	// CodeTTL is how long the SMS code works (ASVS 5.0 V6.5.5: at most 10 minutes for an
	// out-of-band secret); CodeDigits its length.
	CodeTTL    time.Duration
	CodeDigits int
	// MaxCodeAttempts wrong codes end the flow.
	MaxCodeAttempts int
	// ResendCooldown is the wait between two SMS of one flow; MaxSends how many a flow sends.
	ResendCooldown time.Duration
	MaxSends       int
	// SMSLimit SMS per mobile number and per DNI/NIE in SMSWindow, across flows: restarting
	// the journey does not turn Atea into an SMS cannon.
	SMSLimit  int
	SMSWindow time.Duration
	// ReceiptTTL is how long after the registration the browser may download the receipt.
	ReceiptTTL time.Duration
	// Location is the time zone of the receipt's date (nil → time.Local).
	Location *time.Location
	// SignInReturn is where PathSignIn (the "sign in" links) returns after Atea's sign-in.
	SignInReturn string
	// CertBaseURL is the origin that serves PathStart with the client certificate (Atea's
	// mutual-TLS listener, certificate.baseURL); "" when a trusted proxy asks for the
	// certificate on Atea's own origin. The "start again" links use it.
	CertBaseURL string
	// RecoveryPath is the "forgot your password" journey, linked from "already registered"
	// and "blocked".
	RecoveryPath string
}

// DefaultConfig is the journey's default tuning.
func DefaultConfig() Config {
	return Config{
		TermsVersion: "2026-01", MinimumAge: MinAge, CodeTTL: 10 * time.Minute, CodeDigits: 6, MaxCodeAttempts: 5,
		ResendCooldown: 60 * time.Second, MaxSends: 3, SMSLimit: 10, SMSWindow: 24 * time.Hour,
		ReceiptTTL: 30 * time.Minute, Location: time.Local,
		SignInReturn: "/", RecoveryPath: "/recover",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	for _, p := range []struct {
		v   *int
		def int
	}{{&c.MinimumAge, d.MinimumAge}, {&c.CodeDigits, d.CodeDigits}, {&c.MaxCodeAttempts, d.MaxCodeAttempts}, {&c.MaxSends, d.MaxSends}, {&c.SMSLimit, d.SMSLimit}} {
		if *p.v == 0 {
			*p.v = p.def
		}
	}
	for _, p := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.CodeTTL, d.CodeTTL}, {&c.ResendCooldown, d.ResendCooldown}, {&c.SMSWindow, d.SMSWindow}, {&c.ReceiptTTL, d.ReceiptTTL}} {
		if *p.v == 0 {
			*p.v = p.def
		}
	}
	if c.TermsVersion == "" {
		c.TermsVersion = d.TermsVersion
	}
	if c.Location == nil {
		c.Location = d.Location
	}
	if c.SignInReturn == "" {
		c.SignInReturn = d.SignInReturn
	}
	if c.RecoveryPath == "" {
		c.RecoveryPath = d.RecoveryPath
	}
	return c
}

func (c Config) validate() error {
	var problems []string
	if c.CodeDigits < 6 || c.CodeDigits > 10 {
		problems = append(problems, "CodeDigits want 6 to 10")
	}
	for name, v := range map[string]int{"MaxCodeAttempts": c.MaxCodeAttempts, "MaxSends": c.MaxSends, "SMSLimit": c.SMSLimit} {
		if v < 1 {
			problems = append(problems, name+" want at least 1")
		}
	}
	for name, v := range map[string]time.Duration{"CodeTTL": c.CodeTTL, "ResendCooldown": c.ResendCooldown, "SMSWindow": c.SMSWindow, "ReceiptTTL": c.ReceiptTTL} {
		if v < 0 {
			problems = append(problems, name+" must not be negative")
		}
	}
	for name, p := range map[string]string{"SignInReturn": c.SignInReturn, "RecoveryPath": c.RecoveryPath} {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
			problems = append(problems, name+" want a local path")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("certreg: config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// CertReader reads the verified client certificate of a request. *certauth.Method satisfies
// it; errors wrap certauth.ErrNoCertificate, certauth.ErrUntrusted or certauth.ErrNoDNI.
type CertReader interface {
	Authenticate(r *http.Request) (certauth.Identity, error)
}

var _ CertReader = (*certauth.Method)(nil)

// Directory is what the journey needs of the user directory (*directory.Directory).
type Directory interface {
	Get(ctx context.Context, dniOrNIE string) (directory.User, error)
	GetByID(ctx context.Context, id string) (directory.User, error)
	Add(ctx context.Context, u directory.User, password string) (directory.User, error)
	Enrol(ctx context.Context, e directory.Enrolment) (directory.User, error)
	SetContact(ctx context.Context, dniOrNIE, field, value string) error
}

var _ Directory = (*directory.Directory)(nil)

// Deps are the journey's collaborators.
type Deps struct {
	Kit       *idp.Kit
	Directory Directory
	// SMS delivers the code that proves the mobile (Kind smsotp.KindSMS).
	SMS smsotp.Sender
	// Certificates reads the client certificate; nil mounts only the "not available here"
	// page at PathStart.
	Certificates CertReader
	// Now is the clock; nil means Kit.Now.
	Now func() time.Time
}

// Handler serves the journey.
type Handler struct {
	cfg   Config
	kit   *idp.Kit
	dir   Directory
	sms   smsotp.Sender
	certs CertReader
	now   func() time.Time
}

// New checks cfg (zero fields take defaults) and deps and returns the journey's handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Kit == nil {
		return nil, errors.New("certreg: Kit is required")
	}
	if deps.Certificates != nil && (deps.Directory == nil || deps.SMS == nil) {
		return nil, errors.New("certreg: Directory and SMS are required with Certificates")
	}
	now := deps.Now
	if now == nil {
		now = deps.Kit.Now
	}
	return &Handler{cfg: cfg, kit: deps.Kit, dir: deps.Directory, sms: deps.SMS, certs: deps.Certificates, now: now}, nil
}

// Mount registers the journey's routes on srv. Without Certificates only PathStart is
// mounted, answering with the "registration with a certificate is not available here" page,
// so links to it never end on a bare 404.
func (h *Handler) Mount(srv *idp.Server) {
	if h.certs == nil {
		srv.Handle("GET "+PathStart, http.HandlerFunc(h.getUnavailable))
		return
	}
	srv.Handle("GET "+PathSignIn, http.HandlerFunc(h.getSignIn))
	srv.Handle("GET "+PathStart, http.HandlerFunc(h.getStart))
	srv.Handle("GET "+PathStep, http.HandlerFunc(h.getStep))
	srv.Handle("POST "+PathDetails, http.HandlerFunc(h.postDetails))
	srv.Handle("POST "+PathSMS, http.HandlerFunc(h.postSMS))
	srv.Handle("POST "+PathResend, http.HandlerFunc(h.postResend))
	srv.Handle("POST "+PathEdit, http.HandlerFunc(h.postEdit))
	srv.Handle("POST "+PathPassword, http.HandlerFunc(h.postPassword))
	srv.Handle("GET "+PathReceipt, http.HandlerFunc(h.getReceipt))
}

// problem names a page of CertRegProblemPage: its status, keys and links.
type problem struct {
	status                 int
	title, message, helpKy string
	links                  []string // linkSignIn, linkRecovery, linkRetry
}

const (
	linkSignIn   = "signin"
	linkRecovery = "recovery"
	linkRetry    = "retry"
)

var (
	problemNoCert      = problem{http.StatusUnauthorized, "certreg.nocert.title", "certreg.nocert.text", "certreg.nocert.help", []string{linkRetry}}
	problemUntrusted   = problem{http.StatusForbidden, "certreg.untrusted.title", "certreg.untrusted.text", "certreg.untrusted.help", nil}
	problemNoDNI       = problem{http.StatusForbidden, "certreg.nodni.title", "certreg.nodni.text", "certreg.nodni.help", nil}
	problemNoNames     = problem{http.StatusForbidden, "certreg.nonames.title", "certreg.nonames.text", "certreg.nonames.help", nil}
	problemRegistered  = problem{http.StatusConflict, "certreg.registered.title", "certreg.registered.text", "certreg.registered.help", []string{linkSignIn, linkRecovery}}
	problemLocked      = problem{http.StatusConflict, "certreg.registered.title", "certreg.locked.text", "certreg.locked.help", []string{linkRecovery}}
	problemRevoked     = problem{http.StatusConflict, "certreg.registered.title", "certreg.revoked.text", "certreg.revoked.help", nil}
	problemInProgress  = problem{http.StatusConflict, "certreg.registered.title", "certreg.inprogress.text", "certreg.inprogress.help", nil}
	problemUnavailable = problem{http.StatusNotFound, "certreg.unavailable.title", "certreg.unavailable.text", "certreg.unavailable.help", nil}
	problemAttempts    = problem{http.StatusTooManyRequests, "certreg.attempts.title", "certreg.attempts.text", "certreg.attempts.help", []string{linkRetry}}
	problemSMSLimit    = problem{http.StatusTooManyRequests, "certreg.smslimit.title", "certreg.smslimit.text", "certreg.smslimit.help", nil}
)

// getUnavailable answers PathStart when certificate sign-in is off.
func (h *Handler) getUnavailable(w http.ResponseWriter, r *http.Request) {
	h.renderProblem(w, r, problemUnavailable)
}

// registeredProblem is the page for a DNI/NIE that already has a record, or ok=false when
// the record is an interrupted registration of this journey that may be continued.
func registeredProblem(u directory.User) (problem, bool) {
	switch {
	case u.Status == directory.StatusPending && resumable(u):
		return problem{}, false
	case u.Status == directory.StatusPending:
		return problemInProgress, true
	case u.Status == directory.StatusLocked:
		return problemLocked, true
	case u.Status == directory.StatusRevoked:
		return problemRevoked, true
	}
	return problemRegistered, true
}

// resumable reports whether a pending record may be taken over by a certificate
// registration: a B@k credential without a card, as this journey's Add leaves it. A desk
// registration (B@kQ, with a card) is the citizen's other journey in progress.
func resumable(u directory.User) bool {
	return u.Status == directory.StatusPending && u.Credential == directory.CredentialBak && !u.HasCard
}

// certProblem maps a CertReader error to its page.
func certProblem(err error) problem {
	switch {
	case errors.Is(err, certauth.ErrNoDNI):
		return problemNoDNI
	case errors.Is(err, certauth.ErrUntrusted):
		return problemUntrusted
	}
	return problemNoCert
}

// getSignIn sends the browser through Atea's sign-in (the "sign in" links).
func (h *Handler) getSignIn(w http.ResponseWriter, r *http.Request) {
	h.kit.SignIn(w, r, authn.LevelLow, h.cfg.SignInReturn, false)
}

// abs is path on Atea's own origin: pages of PathStart may be served by the mutual-TLS
// listener, another origin, from which Atea's forms refuse posts.
func (h *Handler) abs(path, lang string) string { return h.kit.BaseURL() + withLang(path, lang) }

// startURL is PathStart on the origin that asks for the certificate.
func (h *Handler) startURL(lang string) string {
	base := strings.TrimRight(h.cfg.CertBaseURL, "/")
	if base == "" {
		base = h.kit.BaseURL()
	}
	return base + withLang(PathStart, lang)
}

// renderProblem shows p.
func (h *Handler) renderProblem(w http.ResponseWriter, r *http.Request, p problem) {
	lang := h.kit.Lang(r)
	page := &templates.CertRegProblemPage{
		Base: h.kit.Base(w, r, lang, ""), EyebrowKey: "certreg.eyebrow",
		TitleKey: p.title, MessageKey: p.message, HelpKey: p.helpKy,
	}
	for i, l := range p.links {
		switch l {
		case linkSignIn:
			page.Links = append(page.Links, templates.CertRegLink{URL: h.abs(PathSignIn, lang), LabelKey: "certreg.link.signin", Primary: i == 0})
		case linkRecovery:
			page.Links = append(page.Links, templates.CertRegLink{URL: h.abs(h.cfg.RecoveryPath, lang), LabelKey: "certreg.link.recovery", Primary: i == 0})
		case linkRetry:
			page.Links = append(page.Links, templates.CertRegLink{URL: h.startURL(lang), LabelKey: "certreg.link.retry", Primary: i == 0})
		}
	}
	h.kit.Render(w, r, p.status, templates.PageCertRegProblem, page)
}

// endWith ends the flow and shows p: the journey cannot go on with this flow.
func (h *Handler) endWith(w http.ResponseWriter, r *http.Request, flowID string, p problem) {
	if err := h.kit.EndFlow(r.Context(), flowID); err != nil {
		h.kit.Logger().WarnContext(r.Context(), "certreg: end flow", "err", err)
	}
	h.renderProblem(w, r, p)
}

// withLang is path with the page language in its query.
func withLang(path, lang string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "lang=" + lang
}
