package desk

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
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/templates"
)

// maxForm bounds every posted form: a few short fields.
const maxForm = 8 << 10

// Config tunes the desk. A zero field takes its default (DefaultConfig).
type Config struct {
	// TermsVersion is the version of the B@kQ terms the citizen accepts.
	TermsVersion string
	// MinimumAge is the youngest a citizen registered at the desk may be (issue 5: over 16).
	MinimumAge int
	// LinkTTL is how long the e-mailed enrolment link works.
	LinkTTL time.Duration
	// CookieName names the console's session cookie; CookieSecure sets its Secure attribute
	// (the IdP's session.cookieSecure: it needs an https base URL).
	CookieName   string
	CookieSecure bool
	// SessionIdle ends a console session without activity; SessionMax ends it regardless.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// AgentCodeTTL is how long the agent's SMS sign-in code works; MaxAgentCodeAttempts wrong
	// codes end the sign-in.
	AgentCodeTTL         time.Duration
	MaxAgentCodeAttempts int
	// AddressLimit attempts per client address in AddressWindow, for the agents' sign-in
	// and for opening enrolment links.
	AddressLimit  int
	AddressWindow time.Duration
	// TempPasswordTTL, TempPasswordLength, MaxTempAttempts, ResendCooldown and MaxSends tune
	// the citizen's temporary password by SMS (as the activation journey's).
	TempPasswordTTL    time.Duration
	TempPasswordLength int
	MaxTempAttempts    int
	ResendCooldown     time.Duration
	MaxSends           int
	// UserSMSLimit SMS per citizen in UserSMSWindow, across flows.
	UserSMSLimit  int
	UserSMSWindow time.Duration
	// MaxSignInAttempts wrong passwords in the first sign-in end the enrolment flow (a
	// pending credential is not locked by the directory).
	MaxSignInAttempts int
	// SignInReturn is where the "sign in" link of the last page returns after the sign-in.
	SignInReturn string
}

// DefaultConfig is the desk's default tuning.
func DefaultConfig() Config {
	return Config{
		TermsVersion: "2026-01", MinimumAge: 16, LinkTTL: 30 * 24 * time.Hour,
		CookieName: "atea_ra", SessionIdle: 15 * time.Minute, SessionMax: 8 * time.Hour,
		AgentCodeTTL: 5 * time.Minute, MaxAgentCodeAttempts: 5,
		AddressLimit: 30, AddressWindow: 10 * time.Minute,
		TempPasswordTTL: 10 * time.Minute, TempPasswordLength: 10, MaxTempAttempts: 5,
		ResendCooldown: 60 * time.Second, MaxSends: 3,
		UserSMSLimit: 10, UserSMSWindow: 24 * time.Hour,
		MaxSignInAttempts: 5, SignInReturn: "/",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	dur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	str(&c.TermsVersion, d.TermsVersion)
	str(&c.CookieName, d.CookieName)
	str(&c.SignInReturn, d.SignInReturn)
	num(&c.MinimumAge, d.MinimumAge)
	num(&c.MaxAgentCodeAttempts, d.MaxAgentCodeAttempts)
	num(&c.AddressLimit, d.AddressLimit)
	num(&c.TempPasswordLength, d.TempPasswordLength)
	num(&c.MaxTempAttempts, d.MaxTempAttempts)
	num(&c.MaxSends, d.MaxSends)
	num(&c.UserSMSLimit, d.UserSMSLimit)
	num(&c.MaxSignInAttempts, d.MaxSignInAttempts)
	dur(&c.LinkTTL, d.LinkTTL)
	dur(&c.SessionIdle, d.SessionIdle)
	dur(&c.SessionMax, d.SessionMax)
	dur(&c.AgentCodeTTL, d.AgentCodeTTL)
	dur(&c.AddressWindow, d.AddressWindow)
	dur(&c.TempPasswordTTL, d.TempPasswordTTL)
	dur(&c.ResendCooldown, d.ResendCooldown)
	dur(&c.UserSMSWindow, d.UserSMSWindow)
	return c
}

func (c Config) validate() error {
	var problems []string
	if c.MinimumAge < 14 || c.MinimumAge > 120 {
		problems = append(problems, "MinimumAge want 14 to 120")
	}
	if c.TempPasswordLength < 8 || c.TempPasswordLength > 32 {
		problems = append(problems, "TempPasswordLength want 8 to 32")
	}
	if c.SessionIdle > c.SessionMax {
		problems = append(problems, "SessionIdle must not exceed SessionMax")
	}
	for name, v := range map[string]int{"MaxAgentCodeAttempts": c.MaxAgentCodeAttempts, "AddressLimit": c.AddressLimit,
		"MaxTempAttempts": c.MaxTempAttempts, "MaxSends": c.MaxSends, "UserSMSLimit": c.UserSMSLimit,
		"MaxSignInAttempts": c.MaxSignInAttempts} {
		if v < 1 {
			problems = append(problems, name+" want at least 1")
		}
	}
	for name, v := range map[string]time.Duration{"LinkTTL": c.LinkTTL, "SessionIdle": c.SessionIdle, "SessionMax": c.SessionMax,
		"AgentCodeTTL": c.AgentCodeTTL, "AddressWindow": c.AddressWindow, "TempPasswordTTL": c.TempPasswordTTL,
		"ResendCooldown": c.ResendCooldown, "UserSMSWindow": c.UserSMSWindow} {
		if v < 0 {
			problems = append(problems, name+" must not be negative")
		}
	}
	if !strings.HasPrefix(c.SignInReturn, "/") || strings.HasPrefix(c.SignInReturn, "//") {
		problems = append(problems, "SignInReturn want a local path")
	}
	if len(problems) > 0 {
		return fmt.Errorf("desk: config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Directory is what the desk needs of the directory (*directory.Directory).
type Directory interface {
	Add(ctx context.Context, u directory.User, password string) (directory.User, error)
	GetByID(ctx context.Context, id string) (directory.User, error)
	IssueCode(ctx context.Context, purpose, dniOrNIE string, ttl time.Duration) (string, time.Time, error)
	CheckCode(ctx context.Context, cc directory.CodeCheck) (directory.User, error)
	SetPassword(ctx context.Context, dniOrNIE, password string, unlock bool, reason string) error
	AuthenticatePending(ctx context.Context, dniNumber, password string) (directory.User, error)
	Enrol(ctx context.Context, e directory.Enrolment) (directory.User, error)
	AuthenticateAgent(ctx context.Context, username, password string) (directory.Agent, error)
	GetAgentByID(ctx context.Context, id string) (directory.Agent, error)
	RecordAgentAction(ctx context.Context, agentID, action, detail string) error
}

var _ Directory = (*directory.Directory)(nil)

// Card issues and checks coordinate cards (*coordcard.Method).
type Card interface {
	Issue(ctx context.Context, userID string) (coordcard.Card, error)
	Begin(ctx context.Context, s authn.Subject, flowID string) (authn.Challenge, error)
	Verify(ctx context.Context, s authn.Subject, flowID, answer string) error
}

var _ Card = (*coordcard.Method)(nil)

// Deps are the desk's collaborators.
type Deps struct {
	Kit       *idp.Kit
	Directory Directory
	Card      Card
	// SMS delivers the agents' sign-in codes and the citizens' temporary passwords; Mail the
	// citizens' card and link.
	SMS  smsotp.Sender
	Mail smsotp.Sender
	// Now is the clock; nil means Kit.Now.
	Now func() time.Time
}

// Handler serves the console and the enrolment.
type Handler struct {
	cfg  Config
	kit  *idp.Kit
	dir  Directory
	card Card
	sms  smsotp.Sender
	mail smsotp.Sender
	now  func() time.Time
}

// New checks cfg (zero fields take defaults) and deps and returns the desk's handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Kit == nil || deps.Directory == nil || deps.Card == nil || deps.SMS == nil || deps.Mail == nil {
		return nil, errors.New("desk: Kit, Directory, Card, SMS and Mail are required")
	}
	now := deps.Now
	if now == nil {
		now = deps.Kit.Now
	}
	return &Handler{cfg: cfg, kit: deps.Kit, dir: deps.Directory, card: deps.Card, sms: deps.SMS, mail: deps.Mail, now: now}, nil
}

// Mount registers the console's and the enrolment's routes on srv.
func (h *Handler) Mount(srv *idp.Server) {
	srv.Handle("GET "+PathConsole, http.HandlerFunc(h.getConsole))
	srv.Handle("GET "+PathSignIn, http.HandlerFunc(h.getSignIn))
	srv.Handle("POST "+PathSignIn, http.HandlerFunc(h.postSignIn))
	srv.Handle("POST "+PathCode, http.HandlerFunc(h.postCode))
	srv.Handle("POST "+PathRegister, http.HandlerFunc(h.postRegister))
	srv.Handle("POST "+PathSignOut, http.HandlerFunc(h.postSignOut))

	srv.Handle("GET "+PathEnrol, http.HandlerFunc(h.getEnrol))
	srv.Handle("POST "+PathEnrolConfirm, http.HandlerFunc(h.postConfirm))
	srv.Handle("POST "+PathEnrolResend, http.HandlerFunc(h.postResend))
	srv.Handle("POST "+PathEnrolPassword, http.HandlerFunc(h.postPassword))
	srv.Handle("POST "+PathEnrolSignIn, http.HandlerFunc(h.postFirstSignIn))
	srv.Handle("POST "+PathEnrolCard, http.HandlerFunc(h.postCard))
	srv.Handle("POST "+PathEnrolTerms, http.HandlerFunc(h.postTerms))
	srv.Handle("GET "+PathEnrolLogin, http.HandlerFunc(h.getLogin))
}

// MountUnavailable mounts, in place of the desk, a page saying that B@kQ cannot be issued
// at a desk: the installation has no coordinate-card factor (BRIEF.md: B@kQ is B@k plus a
// card). Serving starts all the same, since the rest of Atea works; agents and citizens with
// a link get a clear 503 rather than a 404, and the links already sent work again once the
// factor is turned on (the codes live in the directory).
func MountUnavailable(srv *idp.Server, kit *idp.Kit) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		eyebrow := "desk.ra.eyebrow"
		if strings.HasPrefix(r.URL.Path, PathEnrol) {
			eyebrow = "desk.enrol.eyebrow"
		}
		kit.Render(w, r, http.StatusServiceUnavailable, templates.PageDeskProblem, &templates.DeskProblemPage{
			Base: kit.Base(w, r, kit.Lang(r), ""), EyebrowKey: eyebrow, TitleKey: "desk.problem.nocard.title",
			MessageKey: "desk.problem.nocard.text", HelpKey: "desk.problem.nocard.help",
		})
	})
	for _, p := range []string{PathConsole, PathConsole + "/", PathEnrol, PathEnrol + "/"} {
		srv.Handle(p, page)
	}
}

// problem names a DeskProblemPage: status and keys, and whether to offer a way on.
type problem struct {
	status                          int
	eyebrow, title, message, helpKy string
	link, linkKey                   string
}

// lang is the request's page language.
func (h *Handler) lang(r *http.Request) string { return h.kit.Lang(r) }

// withLang is path with the page's language, so a form post keeps it (Kit.Lang reads ?lang=).
func (h *Handler) withLang(r *http.Request, path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "lang=" + url.QueryEscape(h.lang(r))
}

// base is the pages' shared part; its language links reopen page (a GET path) with flowID.
func (h *Handler) base(w http.ResponseWriter, r *http.Request, flowID, page string) templates.Base {
	b := h.kit.Base(w, r, h.lang(r), flowID)
	for i := range b.LangLinks {
		u, err := url.Parse(b.LangLinks[i].URL)
		if err != nil {
			continue
		}
		u.Path = page
		b.LangLinks[i].URL = u.String()
	}
	return b
}

func (h *Handler) renderProblem(w http.ResponseWriter, r *http.Request, p problem) {
	page := &templates.DeskProblemPage{
		Base: h.base(w, r, "", r.URL.Path), EyebrowKey: p.eyebrow, TitleKey: p.title, MessageKey: p.message, HelpKey: p.helpKy,
		LinkKey: p.linkKey,
	}
	if p.link != "" {
		page.LinkURL = h.withLang(r, p.link)
	}
	if r.Method != http.MethodGet {
		page.Base = h.base(w, r, "", PathConsole)
		if strings.HasPrefix(r.URL.Path, PathEnrol) {
			page.Base.LangLinks = nil // a POST's page cannot be re-shown in another language
		}
	}
	h.kit.Render(w, r, p.status, templates.PageDeskProblem, page)
}

// audit writes an IdP audit line (never a whole DNI, a code or a password).
func (h *Handler) audit(ctx context.Context, event, journey string, attrs ...any) {
	h.kit.Audit().InfoContext(ctx, "desk", append([]any{"event", event, "journey", journey}, attrs...)...)
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

// unixNano reads a time kept in a flow's data; "" or garbage is the zero time.
func unixNano(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func nanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// parseDate reads a date as people write it at a desk: DD/MM/YYYY (one-digit day and month
// too, "-" or "." as separators) or YYYY-MM-DD. It returns YYYY-MM-DD.
func parseDate(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2/1/2006", "2-1-2006", "2.1.2006", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(time.DateOnly), true
		}
	}
	return "", false
}

// showDate is a YYYY-MM-DD date as the pages show it: DD/MM/YYYY.
func showDate(s string) string {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return s
	}
	return t.Format("02/01/2006")
}

// age is how many whole years someone born on birth (YYYY-MM-DD) has on today's date.
func age(birth string, now time.Time) int {
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		return -1
	}
	y, m, d := now.Date()
	years := y - b.Year()
	if m < b.Month() || (m == b.Month() && d < b.Day()) {
		years--
	}
	return years
}
