package smsotp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/store"
)

// ID is the method's name in config, logs and store.FactorState.Method.
const ID = "smsotp"

// Defaults applied to zero Config fields (seed 001; SECURITY.md §4.8).
const (
	DefaultDigits      = 7
	DefaultShown       = 3
	DefaultMaxAttempts = 3
	DefaultMaxSends    = 5
	DefaultLockAfter   = 10
	DefaultTTL         = 5 * time.Minute
	DefaultCooldown    = 60 * time.Second
	DefaultLockWindow  = 24 * time.Hour
	DefaultLang        = "es"
)

// ShowNone, as Config.Shown, shows no prefix: the citizen types the whole code (a zero
// Shown means DefaultShown).
const ShowNone = -1

// maxTTL is the longest code lifetime accepted (ASVS 4.0.3 2.7.2: at most 10 minutes).
const maxTTL = 10 * time.Minute

// MinKeyLen is the shortest key New accepts (256 bits, the HMAC-SHA256 block strength).
const MinKeyLen = 32

// Errors of this package; each wraps the authn sentinel the IdP maps it by.
var (
	// ErrSendLimit: the flow has sent its MaxSends codes; the citizen starts the sign-in
	// again. It wraps authn.ErrTooManyAttempts.
	ErrSendLimit = fmt.Errorf("smsotp: too many codes sent in this flow: %w", authn.ErrTooManyAttempts)
	// ErrInvalidConfig is wrapped by Config.Validate and New.
	ErrInvalidConfig = errors.New("smsotp: invalid config")
)

// Flows is the part of the store the method needs: the atomic update of the sign-in flow,
// where the code's state lives (store.Flow.Factor). store.Flows implements it.
type Flows interface {
	// UpdateFlow is store.Flows.UpdateFlow: atomic, fn pure and possibly run more than once.
	UpdateFlow(ctx context.Context, id string, fn func(store.Flow) (store.Flow, error)) (store.Flow, error)
}

// Counters are the store's fixed-window counters (store.Counters), used for the factor lock.
type Counters interface {
	// Incr is store.Counters.Incr.
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	// Count is store.Counters.Count.
	Count(ctx context.Context, key string) (int64, error)
	// ResetCounter is store.Counters.ResetCounter.
	ResetCounter(ctx context.Context, key string) error
}

// Config is the method's configuration. Zero fields take the Default values.
type Config struct {
	// Digits is the code length (6–10); Shown how many leading digits the page shows
	// (0..Digits-4; ShowNone for none). The citizen types Digits-Shown ≥ 4 digits.
	Digits, Shown int
	// MaxAttempts is the number of answers one code allows; MaxSends the codes one flow may
	// send; LockAfter the failed answers within LockWindow that lock the factor.
	MaxAttempts, MaxSends, LockAfter int
	// TTL is a code's lifetime (≤ 10 min); Cooldown the wait between sends; LockWindow the
	// lock counter's window.
	TTL, Cooldown, LockWindow time.Duration
	// Level is the level password + SMS reaches (default authn.LevelSubstantial).
	Level authn.Level
	// Lang is the SMS language when the request's context names none (WithLang): "es",
	// "eu" or "en"; default "es".
	Lang string
}

// withDefaults returns c with zero fields set to the defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Digits, DefaultDigits)
	def(&c.Shown, DefaultShown)
	if c.Shown == ShowNone {
		c.Shown = 0
	}
	def(&c.MaxAttempts, DefaultMaxAttempts)
	def(&c.MaxSends, DefaultMaxSends)
	def(&c.LockAfter, DefaultLockAfter)
	defD(&c.TTL, DefaultTTL)
	defD(&c.Cooldown, DefaultCooldown)
	defD(&c.LockWindow, DefaultLockWindow)
	if c.Level == authn.LevelNone {
		c.Level = authn.LevelSubstantial
	}
	if c.Lang == "" {
		c.Lang = DefaultLang
	}
	return c
}

// Validate reports every problem in c (after defaults), joined, each wrapping
// ErrInvalidConfig.
func (c Config) Validate() error {
	d := c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if d.Digits < 6 || d.Digits > 10 {
		bad("digits %d not in 6..10", d.Digits)
	}
	if c.Shown < ShowNone || d.Shown > d.Digits-4 {
		// At least 4 typed digits: fewer would make the limits in doc.go meaningless.
		bad("shown %d not in 0..digits-4 (%d)", c.Shown, d.Digits-4)
	}
	if d.MaxAttempts < 1 {
		bad("maxAttempts %d < 1", d.MaxAttempts)
	}
	if d.MaxSends < 1 {
		bad("maxSends %d < 1", d.MaxSends)
	}
	if d.LockAfter < 1 {
		bad("lockAfter %d < 1", d.LockAfter)
	}
	if d.TTL < 0 || d.TTL > maxTTL {
		bad("ttl %s not in (0, %s] (ASVS 2.7.2)", d.TTL, maxTTL)
	}
	if d.Cooldown < 0 {
		bad("cooldown %s < 0", d.Cooldown)
	}
	if d.LockWindow < 0 {
		bad("lockWindow %s < 0", d.LockWindow)
	}
	if d.Level < authn.LevelLow || d.Level > authn.LevelHigh {
		bad("level %d unknown", d.Level)
	}
	if !knownLang(d.Lang) {
		bad("lang %q not es, eu or en", d.Lang)
	}
	return errors.Join(errs...)
}

// Method is the SMS code second factor. It is safe for concurrent use.
type Method struct {
	cfg      Config
	codeKey  []byte // MACs codes
	userKey  []byte // hashes user IDs into counter keys
	flows    Flows
	counters Counters
	sender   Sender
	now      func() time.Time
	log      *slog.Logger
}

var (
	_ authn.SecondFactor = (*Method)(nil)
	_ authn.Resender     = (*Method)(nil)
)

// New returns the method. key (≥ MinKeyLen bytes, from crypto/rand) keys the code MACs and
// the counter keys; two derived keys are used so that neither use can stand in for the other.
// now defaults to time.Now and log to a discarding logger.
func New(cfg Config, key []byte, flows Flows, counters Counters, sender Sender, now func() time.Time, log *slog.Logger) (*Method, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("%w: key has %d bytes, want at least %d", ErrInvalidConfig, len(key), MinKeyLen)
	}
	if flows == nil || counters == nil || sender == nil {
		return nil, fmt.Errorf("%w: flows, counters and sender are required", ErrInvalidConfig)
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Method{
		cfg:      cfg.withDefaults(),
		codeKey:  derive(key, "atea smsotp code v1"),
		userKey:  derive(key, "atea smsotp user v1"),
		flows:    flows,
		counters: counters,
		sender:   sender,
		now:      now,
		log:      log.With(slog.Group("method", "type", ID, "id", ID)),
	}, nil
}

// derive is HMAC-SHA256(key, label): a subkey per purpose.
func derive(key []byte, label string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(label))
	return h.Sum(nil)
}

// ID implements authn.SecondFactor.
func (m *Method) ID() string { return ID }

// Level implements authn.SecondFactor: Config.Level.
func (m *Method) Level() authn.Level { return m.cfg.Level }

// Config returns the configuration in force, defaults applied.
func (m *Method) Config() Config { return m.cfg }

// Begin implements authn.SecondFactor. If the flow already holds a code of this method, it
// returns that code's challenge and sends nothing, whatever the code's state (a reload must
// not send another SMS; a dead or expired code is replaced only by Resend). Otherwise it
// makes a code, stores its MAC in the flow, then sends it. ErrNoFactor without a phone,
// ErrLocked when the factor is locked.
func (m *Method) Begin(ctx context.Context, s authn.Subject, flowID string) (authn.Challenge, error) {
	if s.Phone == "" {
		return authn.Challenge{}, authn.ErrNoFactor
	}
	if err := m.checkLock(ctx, s.UserID); err != nil {
		return authn.Challenge{}, err
	}
	return m.issue(ctx, s, flowID, false)
}

// Resend implements authn.Resender: a new code replaces the flow's current one (which stops
// working) and is sent. ErrCooldown before the current code's ResendAt, ErrSendLimit after
// MaxSends codes in the flow, ErrNoFactor, ErrLocked.
func (m *Method) Resend(ctx context.Context, s authn.Subject, flowID string) (authn.Challenge, error) {
	if s.Phone == "" {
		return authn.Challenge{}, authn.ErrNoFactor
	}
	if err := m.checkLock(ctx, s.UserID); err != nil {
		return authn.Challenge{}, err
	}
	return m.issue(ctx, s, flowID, true)
}

// issue makes a code and stores it in the flow unless (for Begin) one is there already, and
// sends it if it stored it.
func (m *Method) issue(ctx context.Context, s authn.Subject, flowID string, resend bool) (authn.Challenge, error) {
	// Everything random or clock-dependent is computed outside fn, which must be pure.
	code, err := newCode(m.cfg.Digits)
	if err != nil {
		return authn.Challenge{}, err
	}
	now := m.now()
	fresh := store.FactorState{
		Method:    ID,
		CodeMAC:   m.mac(flowID, code),
		Prefix:    code[:m.cfg.Shown],
		Sends:     1,
		SentAt:    now,
		ExpiresAt: now.Add(m.cfg.TTL),
		ResendAt:  now.Add(m.cfg.Cooldown),
	}
	var stored bool
	f, err := m.flows.UpdateFlow(ctx, flowID, func(f store.Flow) (store.Flow, error) {
		stored = false
		cur := f.Factor
		if cur.Method == ID && len(cur.CodeMAC) > 0 {
			if !resend {
				return f, nil // the same challenge again
			}
			if now.Before(cur.ResendAt) {
				return f, authn.ErrCooldown
			}
			if cur.Sends >= m.cfg.MaxSends {
				return f, ErrSendLimit
			}
			next := fresh
			next.Sends = cur.Sends + 1
			f.Factor = next
		} else {
			f.Factor = fresh
		}
		stored = true
		return f, nil
	})
	if err != nil {
		return authn.Challenge{}, fmt.Errorf("smsotp: store code: %w", err)
	}
	ch := m.challenge(f.Factor, s.Phone)
	if !stored {
		return ch, nil
	}
	msg := Message{To: s.Phone, Body: Text(langFrom(ctx, m.cfg.Lang), code), Kind: KindSMS}
	if err := m.sender.Send(ctx, msg); err != nil {
		m.log.ErrorContext(ctx, "send sms code", "to", MaskPhone(s.Phone), "err", err)
		m.allowResend(ctx, flowID, fresh.CodeMAC)
		return authn.Challenge{}, fmt.Errorf("smsotp: send code: %w", err)
	}
	m.log.InfoContext(ctx, "sms code sent", "to", MaskPhone(s.Phone), "sends", f.Factor.Sends)
	return ch, nil
}

// allowResend lifts the cooldown of a code that could not be sent, so the citizen can ask
// again at once; the send still counts towards MaxSends (SMS pumping). Best effort.
func (m *Method) allowResend(ctx context.Context, flowID string, codeMAC []byte) {
	now := m.now()
	_, err := m.flows.UpdateFlow(ctx, flowID, func(f store.Flow) (store.Flow, error) {
		if f.Factor.Method == ID && hmac.Equal(f.Factor.CodeMAC, codeMAC) && now.Before(f.Factor.ResendAt) {
			f.Factor.ResendAt = now
		}
		return f, nil
	})
	if err != nil {
		m.log.WarnContext(ctx, "lift cooldown after failed send", "err", err)
	}
}

// challenge is what the page shows for st.
func (m *Method) challenge(st store.FactorState, phone string) authn.Challenge {
	return authn.Challenge{
		Method:      ID,
		MaskedPhone: MaskPhone(phone),
		Prefix:      st.Prefix,
		Typed:       m.cfg.Digits - len(st.Prefix),
		ExpiresAt:   st.ExpiresAt,
		ResendAt:    st.ResendAt,
	}
}

// outcome is what Verify's atomic update decided.
type outcome int

const (
	outcomeWrong outcome = iota
	outcomeRight
)

// Verify implements authn.SecondFactor. answer is the typed rest of the code (or the whole
// code); spaces are ignored. The failure counter is raised before anything is compared
// (doc.go), then, inside one atomic flow update, the code's attempt is counted before the
// constant-time comparison and a right answer consumes the code. Errors:
// authn.ErrInvalidCredentials, authn.ErrTooManyAttempts (the code is dead),
// authn.ErrExpired (expired, used or never sent), authn.ErrLocked.
func (m *Method) Verify(ctx context.Context, s authn.Subject, flowID, answer string) error {
	answer = strings.Join(strings.Fields(answer), "")
	if !allDigits(answer) || (len(answer) != m.cfg.Digits && len(answer) != m.cfg.Digits-m.cfg.Shown) {
		// Cannot match any code: refused without spending an attempt.
		return authn.ErrInvalidCredentials
	}
	tryKey, okKey := m.counterKeys(s.UserID)
	tries, err := m.counters.Incr(ctx, tryKey, m.cfg.LockWindow)
	if err != nil {
		return fmt.Errorf("smsotp: count attempt: %w", err)
	}
	oks, err := m.counters.Count(ctx, okKey)
	if err != nil {
		return fmt.Errorf("smsotp: count attempt: %w", err)
	}
	// tries includes this one: it is over the limit when the earlier failures reached it.
	if tries-1-oks >= int64(m.cfg.LockAfter) {
		return authn.ErrLocked
	}
	now := m.now()
	var res outcome
	var st store.FactorState
	_, err = m.flows.UpdateFlow(ctx, flowID, func(f store.Flow) (store.Flow, error) {
		res = outcomeWrong
		cur := f.Factor
		switch {
		case cur.Method != ID || len(cur.CodeMAC) == 0 || cur.Used || !now.Before(cur.ExpiresAt):
			return f, authn.ErrExpired
		case cur.Attempts >= m.cfg.MaxAttempts:
			return f, authn.ErrTooManyAttempts
		}
		full := answer
		if len(answer) != m.cfg.Digits {
			full = cur.Prefix + answer
		}
		// Count first, then compare: the count is stored whatever the comparison says.
		cur.Attempts++
		if hmac.Equal(cur.CodeMAC, m.mac(flowID, full)) {
			cur.Used = true
			res = outcomeRight
		}
		f.Factor = cur
		st = cur
		return f, nil
	})
	if err != nil {
		if errors.Is(err, authn.ErrExpired) || errors.Is(err, authn.ErrTooManyAttempts) {
			return err
		}
		return fmt.Errorf("smsotp: check code: %w", err)
	}
	if res == outcomeRight {
		if _, err := m.counters.Incr(ctx, okKey, m.cfg.LockWindow); err != nil {
			// The code is consumed and the citizen authenticated; failing now would strand
			// them. The lock only becomes stricter.
			m.log.ErrorContext(ctx, "count success", "err", err)
		}
		return nil
	}
	if tries-oks >= int64(m.cfg.LockAfter) {
		m.log.WarnContext(ctx, "sms factor locked", "to", MaskPhone(s.Phone))
		return authn.ErrLocked
	}
	if st.Attempts >= m.cfg.MaxAttempts {
		return authn.ErrTooManyAttempts
	}
	return authn.ErrInvalidCredentials
}

// checkLock returns authn.ErrLocked when the user's failures in the current window reached
// LockAfter.
func (m *Method) checkLock(ctx context.Context, userID string) error {
	tryKey, okKey := m.counterKeys(userID)
	tries, err := m.counters.Count(ctx, tryKey)
	if err != nil {
		return fmt.Errorf("smsotp: read lock: %w", err)
	}
	oks, err := m.counters.Count(ctx, okKey)
	if err != nil {
		return fmt.Errorf("smsotp: read lock: %w", err)
	}
	if tries-oks >= int64(m.cfg.LockAfter) {
		return authn.ErrLocked
	}
	return nil
}

// Locked reports whether the user's SMS factor is locked now.
func (m *Method) Locked(ctx context.Context, userID string) (bool, error) {
	err := m.checkLock(ctx, userID)
	if errors.Is(err, authn.ErrLocked) {
		return true, nil
	}
	return false, err
}

// Unlock lifts the user's lock and forgets their failures in the current window (an
// administrator's "user unblock").
func (m *Method) Unlock(ctx context.Context, userID string) error {
	tryKey, okKey := m.counterKeys(userID)
	if err := m.counters.ResetCounter(ctx, tryKey); err != nil {
		return fmt.Errorf("smsotp: unlock: %w", err)
	}
	if err := m.counters.ResetCounter(ctx, okKey); err != nil {
		return fmt.Errorf("smsotp: unlock: %w", err)
	}
	return nil
}

// counterKeys are the checks and successes counters of userID in the current window. The
// window is aligned to multiples of LockWindow so that both counters cover the same span
// (failures = checks - successes); the user ID appears only as a keyed hash, so a store dump
// does not list who failed.
func (m *Method) counterKeys(userID string) (tries, oks string) {
	h := hmac.New(sha256.New, m.userKey)
	h.Write([]byte(userID))
	u := hex.EncodeToString(h.Sum(nil)[:16])
	w := strconv.FormatInt(m.now().UnixNano()/int64(m.cfg.LockWindow), 10)
	return "smsotp:try:" + u + ":" + w, "smsotp:ok:" + u + ":" + w
}

// mac is HMAC-SHA256(codeKey, flowID ‖ 0x00 ‖ code): the NUL keeps (flowID, code) pairs
// apart when lengths differ.
func (m *Method) mac(flowID, code string) []byte {
	h := hmac.New(sha256.New, m.codeKey)
	h.Write([]byte(flowID))
	h.Write([]byte{0})
	h.Write([]byte(code))
	return h.Sum(nil)
}

// newCode returns n digits, each uniform from crypto/rand (STYLE.md §B4: rand.Int, not
// byte%10, which would favour 0–5).
func newCode(n int) (string, error) {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			return "", fmt.Errorf("smsotp: random code: %w", err)
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b), nil
}

// allDigits reports whether s is non-empty ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MaskPhone masks a phone number to its last 3 digits, as seed 001's page shows it:
// "+34600000707" → "***707". Fewer than 6 digits give "***": masking must not reveal most
// of a short number.
func MaskPhone(e164 string) string {
	var digits []byte
	for i := 0; i < len(e164); i++ {
		if c := e164[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	if len(digits) < 6 {
		return "***"
	}
	return "***" + string(digits[len(digits)-3:])
}
