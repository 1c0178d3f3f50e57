package recovery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/directory"
)

// Journey is the flows' journey name (store.Flow.Journey).
const Journey = "recovery"

// The flow's states (see the package documentation).
const (
	StateStart = "start" // the DNI/NIE + document expiry form
	StateCode  = "code"  // the code + new password form
)

// The journey's paths.
const (
	PathStart   = "/recover"
	PathCode    = "/recover/code"
	PathResend  = "/recover/code/resend"
	PathSignIn  = "/recover/signin"
	PathWelcome = "/recover/welcome"
)

// Config are the journey's knobs. The zero value of a field means its default
// (DefaultConfig).
type Config struct {
	// CodeTTL is how long a code sent by SMS is valid (10 minutes).
	CodeTTL time.Duration
	// ResendCooldown is the wait before "I did not receive the SMS" sends another (60 s).
	ResendCooldown time.Duration
	// MaxSends is how many codes one recovery may send, the first included (3).
	MaxSends int
	// MaxAttempts is how many codes may be tried in one recovery, across resends (5).
	MaxAttempts int
	// CodeDigits is the code's length, 6 to 10 digits (8).
	CodeDigits int
	// AddressLimit requests (start or resend) per client address per AddressWindow (30 an
	// hour), and IDLimit per DNI/NIE per IDWindow (5 an hour): the anti-automation limits of
	// SECURITY.md §4.7. Both count whether or not the ID exists.
	AddressLimit  int
	AddressWindow time.Duration
	IDLimit       int
	IDWindow      time.Duration
	// DeliveryTimeout bounds one background SMS delivery (30 s).
	DeliveryTimeout time.Duration
	// AccountURL is linked from the page shown after signing in with the new password
	// ("/account"); "none" hides the link.
	AccountURL string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		CodeTTL: 10 * time.Minute, ResendCooldown: 60 * time.Second, MaxSends: 3, MaxAttempts: 5,
		CodeDigits: 8, AddressLimit: 30, AddressWindow: time.Hour, IDLimit: 5, IDWindow: time.Hour,
		DeliveryTimeout: 30 * time.Second, AccountURL: "/account",
	}
}

// withDefaults fills the zero fields of c from DefaultConfig and checks the result.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	durations := []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.CodeTTL, d.CodeTTL}, {&c.ResendCooldown, d.ResendCooldown}, {&c.AddressWindow, d.AddressWindow},
		{&c.IDWindow, d.IDWindow}, {&c.DeliveryTimeout, d.DeliveryTimeout}}
	for _, x := range durations {
		if *x.v == 0 {
			*x.v = x.def
		}
	}
	ints := []struct {
		v   *int
		def int
	}{{&c.MaxSends, d.MaxSends}, {&c.MaxAttempts, d.MaxAttempts}, {&c.CodeDigits, d.CodeDigits},
		{&c.AddressLimit, d.AddressLimit}, {&c.IDLimit, d.IDLimit}}
	for _, x := range ints {
		if *x.v == 0 {
			*x.v = x.def
		}
	}
	if c.AccountURL == "" {
		c.AccountURL = d.AccountURL
	}
	var problems []error
	for _, x := range durations {
		if *x.v < 0 {
			problems = append(problems, fmt.Errorf("recovery: negative duration %v", *x.v))
		}
	}
	for _, x := range ints {
		if *x.v < 0 {
			problems = append(problems, fmt.Errorf("recovery: negative limit %d", *x.v))
		}
	}
	if c.CodeDigits < 6 || c.CodeDigits > 10 {
		problems = append(problems, fmt.Errorf("recovery: code digits %d, want 6 to 10 (ASVS 5.0 V6.5.4: at least 20 bits)", c.CodeDigits))
	}
	if c.AccountURL != "none" && (!strings.HasPrefix(c.AccountURL, "/") || strings.HasPrefix(c.AccountURL, "//")) {
		problems = append(problems, fmt.Errorf("recovery: account URL %q is not a local path", c.AccountURL))
	}
	return c, errors.Join(problems...)
}

// Directory is what the journey needs of the citizens' directory (*directory.Directory).
type Directory interface {
	Get(ctx context.Context, dniOrNIE string) (directory.User, error)
	SetPassword(ctx context.Context, dniOrNIE, password string, unlock bool, reason string) error
}

var _ Directory = (*directory.Directory)(nil)

// Deps are the journey's collaborators.
type Deps struct {
	Kit       *idp.Kit
	Directory Directory
	// SMS delivers the codes and the "your password was changed" notice to the mobile on
	// record.
	SMS smsotp.Sender
	// Now is the clock; nil means Kit.Now.
	Now func() time.Time
}

// Handler serves the recovery pages.
type Handler struct {
	cfg Config
	kit *idp.Kit
	dir Directory
	sms smsotp.Sender
	now func() time.Time
	// deliveries are the SMS being handed to the sender in the background (see deliver).
	deliveries sync.WaitGroup
}

// New returns the journey's handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Kit == nil || deps.Directory == nil || deps.SMS == nil {
		return nil, errors.New("recovery: Kit, Directory and SMS are required")
	}
	now := deps.Now
	if now == nil {
		now = deps.Kit.Now
	}
	return &Handler{cfg: cfg, kit: deps.Kit, dir: deps.Directory, sms: deps.SMS, now: now}, nil
}

// Mount adds the journey's routes to srv (before it serves).
func (h *Handler) Mount(srv *idp.Server) {
	srv.Handle("GET "+PathStart, http.HandlerFunc(h.getStart))
	srv.Handle("POST "+PathStart, http.HandlerFunc(h.postStart))
	srv.Handle("GET "+PathCode, http.HandlerFunc(h.getCode))
	srv.Handle("POST "+PathCode, http.HandlerFunc(h.postCode))
	srv.Handle("POST "+PathResend, http.HandlerFunc(h.postResend))
	srv.Handle("GET "+PathSignIn, http.HandlerFunc(h.getSignIn))
	srv.Handle("GET "+PathWelcome, http.HandlerFunc(h.getWelcome))
}

// Wait blocks until the SMS handed to the sender so far are delivered or have failed: for
// tests, and for a shutdown that wants no code lost.
func (h *Handler) Wait() { h.deliveries.Wait() }

// deliver hands an SMS to the sender in the background. The answer to the citizen must not
// wait for it: a request that matched a credential would take the gateway's time longer than
// one that did not, and tell an attacker which IDs exist (SECURITY.md §4.7). A failure is
// logged (masked); the citizen has the resend button, and no page may say "we could not send
// it", for the same reason.
func (h *Handler) deliver(ctx context.Context, to, body, what string) {
	ctx = context.WithoutCancel(ctx)
	h.deliveries.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, h.cfg.DeliveryTimeout)
		defer cancel()
		if err := h.sms.Send(ctx, smsotp.Message{To: to, Body: body, Kind: smsotp.KindSMS}); err != nil {
			h.kit.Logger().WarnContext(ctx, "recovery: SMS not delivered", "what", what, "to", smsotp.MaskTo(to), "err", err)
		}
	})
}

// newCode returns n uniformly random decimal digits.
func newCode(n int) (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", fmt.Errorf("recovery: random code: %w", err)
	}
	return fmt.Sprintf("%0*d", n, v), nil
}

// codeText is the SMS carrying a recovery code: it says what the code is for and not to share
// it (relay phishing), in one SMS even in UCS-2 (70 characters).
func codeText(lang, code string) string {
	switch lang {
	case "eu":
		return "Atea: pasahitza berreskuratzeko kodea: " + code + ". Ez partekatu."
	case "en":
		return "Atea: password recovery code: " + code + ". Do not share it."
	default:
		return "Atea: código para recuperar su contraseña: " + code + ". No lo comparta."
	}
}

// noticeText is the SMS sent after a password was reset (ASVS 4.0.3 2.5.5: notify the
// citizen), so a reset they did not make does not go unnoticed.
func noticeText(lang string) string {
	switch lang {
	case "eu":
		return "Atea: zure pasahitza aldatu da. Zuk ez baduzu egin, jo laguntzara."
	case "en":
		return "Atea: your password was changed. If it was not you, contact support."
	default:
		return "Atea: se ha cambiado su contraseña. Si no fue usted, avise a soporte."
	}
}

// parseExpiry reads an ID document's expiry date as typed: DD/MM/YYYY as printed on the
// document (also with "-", "." or one-digit day and month), or YYYY-MM-DD. A permanent DNI is
// typed 01/01/9999 (directory.PermanentDocument). It returns YYYY-MM-DD.
func parseExpiry(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format(time.DateOnly), true
	}
	s = strings.NewReplacer("-", "/", ".", "/", " ", "").Replace(s)
	if t, err := time.Parse("2/1/2006", s); err == nil {
		return t.Format(time.DateOnly), true
	}
	return "", false
}

// policyKey maps a directory.ErrWeakPassword to the message naming the rule (the wrapped
// error's text names it, never the password).
func policyKey(err error) string {
	if rule := directory.PasswordRule(err); rule != "" {
		return "recovery.error." + rule
	}
	return "recovery.error.weak"
}
