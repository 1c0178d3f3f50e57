package coordcard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/directory"
)

// ID is the method's name in config and logs.
const ID = "coordcard"

// The card layout: rows A–D, columns 1–4 (the B@kQ card).
const (
	rows = "ABCD"
	cols = 4
	// Cells is the number of positions on a card.
	Cells = len(rows) * cols
)

// Defaults and bounds of Config.
const (
	DefaultDigits            = 3
	DefaultAsk               = 2
	DefaultMaxFailures       = 3
	DefaultMaxRecentFailures = 10
	DefaultRecentWindow      = 30 * 24 * time.Hour

	minDigits, maxDigits = 2, 6
	minAsk, maxAsk       = 1, 4
	maxMaxFailures       = 10
	// maxAnswerBytes bounds the answer parsed: the longest well-formed answer (4 cells of 6
	// digits with separators) is far shorter.
	maxAnswerBytes = 128
	// minKeyBytes is the HMAC key size: the card's values are low-entropy, so the key is what
	// keeps a stolen directory file from being brute-forced offline (SECURITY.md §4.8).
	minKeyBytes = 32
)

// ErrInvalidConfig is wrapped by Config.Validate and New for a bad configuration.
var ErrInvalidConfig = errors.New("coordcard: invalid configuration")

// Config is the method's configuration. Zero fields take the defaults.
//
// Digits applies to cards issued after a change: changing it makes every older card
// unanswerable, so re-issue them. Ask applies to challenges created after a change; a pending
// challenge keeps its positions (it is sticky) and is answered at its own size.
type Config struct {
	// Digits per cell, 2–6 (0 → 3).
	Digits int
	// Ask is how many distinct positions a challenge asks for, 1–4 (0 → 2). Guessing odds
	// per attempt are 10^-(Ask×Digits): SECURITY.md §4.8 wants ≥ 20 bits, i.e. Ask×Digits ≥ 6.
	Ask int
	// MaxFailures locks the card after this many consecutive wrong answers, 1–10 (0 → 3).
	MaxFailures int
	// MaxRecentFailures locks the card after this many wrong answers within RecentWindow, even
	// when interleaved with correct ones (0 → 10, 30 days; SECURITY.md §4.8). It must not be
	// below MaxFailures.
	MaxRecentFailures int
	RecentWindow      time.Duration
	// Level is the level password + card reaches (LevelNone → LevelSubstantial): the
	// configuration decides which factors give substantial.
	Level authn.Level
}

// withDefaults returns c with the zero fields set to the defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Digits, DefaultDigits)
	def(&c.Ask, DefaultAsk)
	def(&c.MaxFailures, DefaultMaxFailures)
	def(&c.MaxRecentFailures, DefaultMaxRecentFailures)
	if c.RecentWindow == 0 {
		c.RecentWindow = DefaultRecentWindow
	}
	if c.Level == authn.LevelNone {
		c.Level = authn.LevelSubstantial
	}
	return c
}

// Validate reports every out-of-range field (after defaults) in one error wrapping
// ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Digits < minDigits || c.Digits > maxDigits, "digits %d not in %d..%d", c.Digits, minDigits, maxDigits)
	check(c.Ask < minAsk || c.Ask > maxAsk, "ask %d not in %d..%d", c.Ask, minAsk, maxAsk)
	check(c.MaxFailures < 1 || c.MaxFailures > maxMaxFailures, "maxFailures %d not in 1..%d", c.MaxFailures, maxMaxFailures)
	check(c.MaxRecentFailures < c.MaxFailures, "maxRecentFailures %d below maxFailures %d", c.MaxRecentFailures, c.MaxFailures)
	check(c.RecentWindow < 0, "recentWindow %v negative", c.RecentWindow)
	check(c.Level < authn.LevelLow || c.Level > authn.LevelHigh, "level %d unknown", int(c.Level))
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// EntropyBits is the guessing entropy of one challenge: Ask × Digits × log2(10).
func (c Config) EntropyBits() float64 {
	c = c.withDefaults()
	return float64(c.Ask*c.Digits) * math.Log2(10)
}

// Card is a coordinate card in clear, as Issue returns it once, to be printed or e-mailed.
// Atea keeps no copy of the values.
type Card struct {
	// Cells maps a position ("A1") to its value ("123").
	Cells map[string]string
}

// Positions returns the card's positions in reading order: A1, A2, A3, A4, B1, …, D4.
func (c Card) Positions() []string { return positions() }

// positions lists A1…D4 in reading order.
func positions() []string {
	out := make([]string, 0, Cells)
	for _, r := range rows {
		for col := 1; col <= cols; col++ {
			out = append(out, fmt.Sprintf("%c%d", r, col))
		}
	}
	return out
}

// String renders the card as a grid with a column header and a row letter per line:
//
//	     1    2    3    4
//	A  123  456  789  012
func (c Card) String() string {
	w := 1
	for _, v := range c.Cells {
		w = max(w, len(v))
	}
	var b strings.Builder
	b.WriteString(" ")
	for col := 1; col <= cols; col++ {
		fmt.Fprintf(&b, "  %*d", w, col)
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteRune(r)
		for col := 1; col <= cols; col++ {
			fmt.Fprintf(&b, "  %*s", w, c.Cells[fmt.Sprintf("%c%d", r, col)])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Store is what the method needs of the directory; *directory.Directory implements it. Each
// call is one atomic transaction. Unknown users give errors wrapping directory.ErrNotFound, a
// user without a card directory.ErrNoCard, a consumed challenge directory.ErrNoChallenge.
type Store interface {
	// IssueCard stores the per-position hashes of a new card, replacing (and so
	// invalidating) any old one; the new card is unlocked with no pending challenge.
	IssueCard(ctx context.Context, userID string, cells map[string][]byte) error
	// CardChallenge returns the pending challenge's positions, creating them with pick()
	// when there is none; locked is true (and positions nil) for a locked card.
	CardChallenge(ctx context.Context, userID string, pick func() []string) (positions []string, locked bool, err error)
	// VerifyCard counts an attempt, runs check on the pending challenge, and resets the
	// failures and clears the challenge (ok) or applies lim (locked), all in one transaction.
	VerifyCard(ctx context.Context, userID string, check func(positions []string, cells map[string][]byte) bool, lim directory.CardLimits) (ok, locked bool, err error)
}

var _ Store = (*directory.Directory)(nil)

// Method is the coordinate-card second factor. It is safe for concurrent use.
type Method struct {
	cfg  Config
	key  []byte
	st   Store
	rand io.Reader // crypto/rand.Reader; a field so internal tests can observe the picker
}

var _ authn.SecondFactor = (*Method)(nil)

// New validates cfg and returns the method. key (≥ 32 bytes, from the installation's
// secrets) keys the cell hashes: losing it invalidates every card, so it must be kept.
func New(cfg Config, key []byte, st Store) (*Method, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(key) < minKeyBytes {
		return nil, fmt.Errorf("%w: key must hold at least %d bytes", ErrInvalidConfig, minKeyBytes)
	}
	if st == nil {
		return nil, fmt.Errorf("%w: no store", ErrInvalidConfig)
	}
	return &Method{cfg: cfg.withDefaults(), key: slices.Clone(key), st: st, rand: rand.Reader}, nil
}

// ID returns "coordcard".
func (m *Method) ID() string { return ID }

// Level returns the configured level (default substantial).
func (m *Method) Level() authn.Level { return m.cfg.Level }

// Issue makes a new random card for the user, stores it hashed (replacing an old card, which
// also unlocks the factor) and returns it in clear: this is the only time the values exist
// outside the citizen's hands. Errors wrap directory.ErrNotFound for an unknown user.
func (m *Method) Issue(ctx context.Context, userID string) (Card, error) {
	card := Card{Cells: make(map[string]string, Cells)}
	hashes := make(map[string][]byte, Cells)
	for _, p := range positions() {
		v, err := m.value()
		if err != nil {
			return Card{}, fmt.Errorf("coordcard: issue: %w", err)
		}
		card.Cells[p] = v
		hashes[p] = m.mac(userID, p, v)
	}
	if err := m.st.IssueCard(ctx, userID, hashes); err != nil {
		return Card{}, fmt.Errorf("coordcard: issue: %w", err)
	}
	return card, nil
}

// value returns Digits uniform random decimal digits (leading zeros kept). rand.Int draws
// without modulo bias.
func (m *Method) value() (string, error) {
	n, err := rand.Int(m.rand, big.NewInt(int64(math.Pow10(m.cfg.Digits))))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", m.cfg.Digits, n), nil
}

// mac is HMAC-SHA256(key, domain ‖ userID ‖ position ‖ value). The user ID makes equal
// values on two cards hash differently; the NUL separators keep the fields apart (none
// contains a NUL). SECURITY.md §4.8.
func (m *Method) mac(userID, position, value string) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte("atea/coordcard/v1\x00" + userID + "\x00" + position + "\x00" + value))
	return h.Sum(nil)
}

// pick chooses Ask distinct positions uniformly at random (a partial Fisher–Yates shuffle
// with crypto/rand) and returns them in reading order, the order the page asks them in.
func (m *Method) pick() ([]string, error) {
	all := positions()
	for i := range m.cfg.Ask {
		j, err := rand.Int(m.rand, big.NewInt(int64(len(all)-i)))
		if err != nil {
			return nil, err
		}
		k := i + int(j.Int64())
		all[i], all[k] = all[k], all[i]
	}
	chosen := all[:m.cfg.Ask]
	order := positions()
	slices.SortFunc(chosen, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
	return chosen, nil
}

// Begin returns the account's pending challenge, creating it if there is none. The challenge
// belongs to the account, not to flowID: every flow, reload and browser gets the same
// positions until one answers correctly (SECURITY.md §4.8 "sticky challenge"). It has no
// expiry. Errors: authn.ErrNoFactor (no card, unknown user), authn.ErrLocked.
func (m *Method) Begin(ctx context.Context, s authn.Subject, flowID string) (authn.Challenge, error) {
	var pickErr error
	pos, locked, err := m.st.CardChallenge(ctx, s.UserID, func() []string {
		p, err := m.pick()
		pickErr = err
		return p
	})
	switch {
	case pickErr != nil:
		return authn.Challenge{}, fmt.Errorf("coordcard: choose positions: %w", pickErr)
	case err != nil:
		return authn.Challenge{}, mapStoreError("begin", err)
	case locked:
		return authn.Challenge{}, authn.ErrLocked
	}
	return authn.Challenge{Method: ID, Positions: pos}, nil
}

// Verify checks answer, the values of the challenge's positions in order ("123 456",
// "123-456" or "123456": spaces and separators are ignored). Every submission counts as an
// attempt, before any comparison, even a malformed one; the cells are compared in constant
// time. nil means authenticated and the challenge is consumed: of two concurrent correct
// answers one gets nil, the other authn.ErrExpired.
//
// Errors: authn.ErrInvalidCredentials (wrong; attempts remain), authn.ErrLocked (locked now or
// before), authn.ErrExpired (no pending challenge: Begin not called, or already answered),
// authn.ErrNoFactor (no card). flowID is not used: the challenge is per account.
func (m *Method) Verify(ctx context.Context, s authn.Subject, flowID, answer string) error {
	digits, wellFormed := parseAnswer(answer)
	ok, locked, err := m.st.VerifyCard(ctx, s.UserID, func(pos []string, cells map[string][]byte) bool {
		return wellFormed && m.check(s.UserID, pos, cells, digits)
	}, m.limits())
	switch {
	case err != nil:
		return mapStoreError("verify", err)
	case ok:
		return nil
	case locked:
		return authn.ErrLocked
	}
	return authn.ErrInvalidCredentials
}

// check compares the answer with every asked cell, in constant time and without stopping at
// the first mismatch, so timing reveals neither which cell was wrong nor how much of it.
func (m *Method) check(userID string, pos []string, cells map[string][]byte, digits string) bool {
	d := m.cfg.Digits
	if len(pos) == 0 || len(digits) != len(pos)*d {
		return false
	}
	ok := true
	for i, p := range pos {
		got := m.mac(userID, p, digits[i*d:(i+1)*d])
		ok = hmac.Equal(got, cells[p]) && ok
	}
	return ok
}

func (m *Method) limits() directory.CardLimits {
	return directory.CardLimits{
		MaxConsecutive: m.cfg.MaxFailures,
		MaxRecent:      m.cfg.MaxRecentFailures,
		Window:         m.cfg.RecentWindow,
	}
}

// parseAnswer keeps the ASCII digits of answer, skipping white space and the separators people
// type between cells; any other character, or an overlong answer, makes it malformed.
func parseAnswer(answer string) (string, bool) {
	if len(answer) > maxAnswerBytes {
		return "", false
	}
	var b strings.Builder
	for _, r := range answer {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case unicode.IsSpace(r), strings.ContainsRune("-‐–—.,;:/_|", r):
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

// mapStoreError turns the directory's sentinels into the authn contract's.
func mapStoreError(op string, err error) error {
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrNoCard):
		// An unknown user (removed since the password step) has no card either.
		return authn.ErrNoFactor
	case errors.Is(err, directory.ErrNoChallenge):
		return authn.ErrExpired
	}
	return fmt.Errorf("coordcard: %s: %w", op, err)
}
