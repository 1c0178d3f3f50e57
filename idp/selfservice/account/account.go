package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
)

// Journey is the change flows' journey name (store.Flow.Journey).
const Journey = "account"

// StateCode is the one state of a change flow: the code was sent, the citizen types it.
const StateCode = "code"

// The journey's paths.
const (
	PathAccount    = "/account"
	PathEndSession = "/account/sessions/end"
	PathEndOthers  = "/account/sessions/end-others"
	PathContact    = "/account/contact"
	PathSend       = "/account/contact/send"
	PathCode       = "/account/contact/code"
	PathResend     = "/account/contact/resend"
)

// The contact fields a citizen may change here (directory.SetContact's names).
const (
	FieldEmail = "email"
	FieldPhone = "phone"
)

// Config are the journey's knobs. The zero value of a field means its default
// (DefaultConfig).
type Config struct {
	// FreshFor is how recent a substantial sign-in must be to change contact data (10 min).
	FreshFor time.Duration
	// CodeTTL is how long a confirmation code is valid (10 min: ASVS 5.0 V6.5.5's limit for
	// out-of-band codes).
	CodeTTL time.Duration
	// ResendCooldown is the wait before another code may be sent in one change (60 s).
	ResendCooldown time.Duration
	// MaxAttempts is how many codes may be tried in one change, across resends (5).
	MaxAttempts int
	// MaxSends is how many codes one change may send, the first included (3).
	MaxSends int
	// SendLimit codes per citizen per SendWindow, over all changes (5 an hour: SECURITY.md
	// §4.8 "≤ 5 sends/h per account").
	SendLimit  int
	SendWindow time.Duration
	// CodeDigits is the code's length, 6 to 10 digits (8).
	CodeDigits int
	// SignIns is how many recent sign-ins the page lists (10; at most
	// directory.MaxSignIns are kept).
	SignIns int
	// SendTimeout bounds one delivery of a code or a notice (30 s).
	SendTimeout time.Duration
	// Location is the time zone of the times shown (nil: the server's local zone).
	Location *time.Location
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		FreshFor: 10 * time.Minute, CodeTTL: 10 * time.Minute, ResendCooldown: 60 * time.Second,
		MaxAttempts: 5, MaxSends: 3, SendLimit: 5, SendWindow: time.Hour, CodeDigits: 8,
		SignIns: 10, SendTimeout: 30 * time.Second, Location: time.Local,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig and checks the result.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	durations := []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.FreshFor, d.FreshFor}, {&c.CodeTTL, d.CodeTTL}, {&c.ResendCooldown, d.ResendCooldown},
		{&c.SendWindow, d.SendWindow}, {&c.SendTimeout, d.SendTimeout}}
	ints := []struct {
		v   *int
		def int
	}{{&c.MaxAttempts, d.MaxAttempts}, {&c.MaxSends, d.MaxSends}, {&c.SendLimit, d.SendLimit},
		{&c.CodeDigits, d.CodeDigits}, {&c.SignIns, d.SignIns}}
	var problems []error
	for _, x := range durations {
		if *x.v == 0 {
			*x.v = x.def
		}
		if *x.v < 0 {
			problems = append(problems, fmt.Errorf("account: negative duration %v", *x.v))
		}
	}
	for _, x := range ints {
		if *x.v == 0 {
			*x.v = x.def
		}
		if *x.v < 0 {
			problems = append(problems, fmt.Errorf("account: negative limit %d", *x.v))
		}
	}
	if c.Location == nil {
		c.Location = d.Location
	}
	if c.CodeDigits < 6 || c.CodeDigits > 10 {
		problems = append(problems, fmt.Errorf("account: code digits %d, want 6 to 10 (ASVS 5.0 V6.5.4: at least 20 bits)", c.CodeDigits))
	}
	if c.CodeTTL > 10*time.Minute {
		problems = append(problems, fmt.Errorf("account: code validity %v, want at most 10m (ASVS 5.0 V6.5.5)", c.CodeTTL))
	}
	return c, errors.Join(problems...)
}

// Directory is what the journey needs of the citizens' directory (*directory.Directory).
type Directory interface {
	GetByID(ctx context.Context, id string) (directory.User, error)
	SetContact(ctx context.Context, dniOrNIE, field, value string) error
	RecentSignIns(ctx context.Context, userID string, n int) ([]directory.SignIn, error)
}

var _ Directory = (*directory.Directory)(nil)

// Deps are the journey's collaborators.
type Deps struct {
	Kit       *idp.Kit
	Directory Directory
	// SMS delivers the codes to a new mobile and the notice to the old one; Mail the same
	// for e-mail addresses (Kind smsotp.KindEmail).
	SMS  smsotp.Sender
	Mail smsotp.Sender
	// Now is the clock; nil means Kit.Now.
	Now func() time.Time
}

// Handler serves the account pages.
type Handler struct {
	cfg  Config
	kit  *idp.Kit
	dir  Directory
	sms  smsotp.Sender
	mail smsotp.Sender
	now  func() time.Time
}

// New returns the journey's handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Kit == nil || deps.Directory == nil || deps.SMS == nil || deps.Mail == nil {
		return nil, errors.New("account: Kit, Directory, SMS and Mail are required")
	}
	now := deps.Now
	if now == nil {
		now = deps.Kit.Now
	}
	return &Handler{cfg: cfg, kit: deps.Kit, dir: deps.Directory, sms: deps.SMS, mail: deps.Mail, now: now}, nil
}

// Mount adds the journey's routes to srv (before it serves).
func (h *Handler) Mount(srv *idp.Server) {
	srv.Handle("GET "+PathAccount, http.HandlerFunc(h.getAccount))
	srv.Handle("POST "+PathEndSession, http.HandlerFunc(h.postEndSession))
	srv.Handle("POST "+PathEndOthers, http.HandlerFunc(h.postEndOthers))
	srv.Handle("POST "+PathContact, http.HandlerFunc(h.postContact))
	srv.Handle("GET "+PathContact, http.HandlerFunc(h.getContact))
	srv.Handle("POST "+PathSend, http.HandlerFunc(h.postSend))
	srv.Handle("GET "+PathCode, http.HandlerFunc(h.getCode))
	srv.Handle("POST "+PathCode, http.HandlerFunc(h.postCode))
	srv.Handle("POST "+PathResend, http.HandlerFunc(h.postResend))
}

// SignInWriter is where Recorder keeps sign-ins (*directory.Directory).
type SignInWriter interface {
	RecordSignIn(ctx context.Context, userID string, si directory.SignIn) error
}

var _ SignInWriter = (*directory.Directory)(nil)

// Recorder is the idp.SignInRecorder that keeps each citizen's recent sign-ins in the
// directory, for the account page's list. Set it as idp.Deps.SignIns.
type Recorder struct{ dir SignInWriter }

var _ idp.SignInRecorder = (*Recorder)(nil)

// NewRecorder returns a Recorder writing to d.
func NewRecorder(d SignInWriter) *Recorder { return &Recorder{dir: d} }

// RecordSignIn implements idp.SignInRecorder.
func (r *Recorder) RecordSignIn(ctx context.Context, userID string, si idp.SignIn) error {
	return r.dir.RecordSignIn(ctx, userID, directory.SignIn{Time: si.Time, Level: si.Level, Method: si.Method, Network: si.Network})
}

// --- small helpers -----------------------------------------------------------------------

// newCode returns n uniformly random decimal digits (crypto/rand, never byte % 10).
func newCode(n int) (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", fmt.Errorf("account: random code: %w", err)
	}
	return fmt.Sprintf("%0*d", n, v), nil
}

// normalise returns a typed value in the form the directory stores, or the message key of
// why it is not valid. The syntax rules are the directory's (SetContact checks them again):
// an e-mail address with one @ and a dotted domain; a mobile as "+", the country code and 8
// to 15 digits in all (ITU-T E.164), spaces, dots, dashes and brackets allowed when typed.
func normalise(field, typed string) (string, string) {
	v := strings.TrimSpace(typed)
	if v == "" {
		return "", "account.error.required"
	}
	switch field {
	case FieldEmail:
		local, domain, ok := strings.Cut(v, "@")
		switch {
		case !ok || local == "" || strings.Contains(domain, "@") || len(v) > 254 || len(local) > 64,
			!strings.Contains(domain, "."), strings.HasPrefix(domain, "."), strings.HasSuffix(domain, "."),
			strings.Contains(domain, ".."), strings.ContainsFunc(v, badEmailRune):
			return "", "account.error.email"
		}
		return v, ""
	case FieldPhone:
		v = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '.', '-', '(', ')', '\u00a0':
				return -1
			}
			return r
		}, v)
		digits, ok := strings.CutPrefix(v, "+")
		if !ok || len(digits) < 8 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" || digits[0] == '0' {
			return "", "account.error.phone"
		}
		return v, ""
	}
	return "", "account.error.field"
}

// badEmailRune reports characters no address here may hold: spaces, controls, and anything
// outside printable ASCII or letters (which would also let a bidi override in).
func badEmailRune(r rune) bool {
	return r <= ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' ||
		(r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' ||
		r == '<' || r == '>' || r == '"' || r == ','
}

// sameValue reports whether a new value equals the one on record (e-mail domains and local
// parts compared case-insensitively: no provider Atea's citizens use tells them apart).
func sameValue(field, a, b string) bool {
	if field == FieldEmail {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// display is a contact value as the account page shows it: the mobile masked ("***707"),
// the e-mail address whole (the citizen's own, on their own page).
func display(field, v string) string {
	if v == "" {
		return ""
	}
	if field == FieldPhone {
		return smsotp.MaskPhone(v)
	}
	return v
}

// formatTime is t in the configured zone, in the page language's date order (Basque writes
// the year first).
func (h *Handler) formatTime(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(h.cfg.Location)
	if lang == "eu" {
		return t.Format("2006/01/02 15:04")
	}
	return t.Format("02/01/2006 15:04")
}

// methodKey is the message key of a session's or sign-in's method: the IdP names them
// "password", "password+coordcard", "password+smsotp", "certificate".
func methodKey(m string) string {
	switch {
	case strings.HasSuffix(m, "coordcard"):
		return "account.method.coordcard"
	case strings.HasSuffix(m, "smsotp"):
		return "account.method.smsotp"
	case m == "certificate":
		return "account.method.certificate"
	case m == "password":
		return "account.method.password"
	}
	return "account.method.other"
}

// levelKey is the message key of a level name (the core catalog's "level.*").
func levelKey(l string) string {
	switch l {
	case "low", "substantial", "high":
		return "level." + l
	}
	return "account.status.unknown"
}

// statusKey is the message key of a credential status.
func statusKey(s directory.Status) string {
	switch s {
	case directory.StatusActive, directory.StatusPending, directory.StatusLocked, directory.StatusRevoked:
		return "account.status." + string(s)
	}
	return "account.status.unknown"
}

// canChange reports whether u may change contact data online: only a credential that can
// reach the substantial level (B@kQ) can give the fresh substantial sign-in it takes.
func canChange(u directory.User) bool {
	return u.Credential == directory.CredentialBakQ && u.Status == directory.StatusActive
}
