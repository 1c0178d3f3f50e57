package authn

import (
	"context"
	"errors"
	"time"
)

// Sentinels that methods return; the IdP maps each to one message (never err.Error()).
var (
	// ErrInvalidCredentials: the answer was wrong (or the subject unknown: indistinguishable).
	ErrInvalidCredentials = errors.New("authn: invalid credentials")
	// ErrLocked: the factor is blocked (too many failures); an administrator or the recovery
	// journey lifts it.
	ErrLocked = errors.New("authn: locked")
	// ErrTooManyAttempts: this challenge has used up its attempts; a new one is needed.
	ErrTooManyAttempts = errors.New("authn: too many attempts")
	// ErrExpired: the challenge is no longer valid (or was already used).
	ErrExpired = errors.New("authn: challenge expired")
	// ErrNoFactor: the subject has no factor of this kind (no card issued, no mobile number).
	ErrNoFactor = errors.New("authn: subject has no such factor")
	// ErrCooldown: a new challenge (an SMS resend) was asked for too soon.
	ErrCooldown = errors.New("authn: too soon, wait before asking again")
)

// Subject is whom a second factor is for: the citizen already identified by the first
// factor (DNI/NIE + password) in this flow.
type Subject struct {
	UserID string // the directory's internal ID
	DNI    string // canonical DNI/NIE
	Phone  string // mobile, E.164 (may be empty)
	Email  string
}

// Challenge is what the second-factor page shows. Fields a method does not use are zero.
type Challenge struct {
	// Method is the ID of the method that made it ("coordcard", "smsotp").
	Method string
	// Positions are the coordinate-card cells asked for, e.g. ["B3", "D1"]; Digits is how many
	// digits each cell's value has.
	Positions []string
	Digits    int
	// MaskedPhone is where the code went, masked as the seed shows it ("***707").
	MaskedPhone string
	// Prefix is the start of the code shown on screen ("869"), binding the SMS to this page;
	// Typed is how many more digits the citizen types.
	Prefix string
	Typed  int
	// ExpiresAt is when the challenge stops being valid; ResendAt is the earliest time a new
	// code may be sent (zero when resending makes no sense).
	ExpiresAt, ResendAt time.Time
}

// SecondFactor is a method that runs after the password: it shows a challenge, then checks
// the answer. Implementations count an attempt before comparing, compare in constant time,
// consume a correct answer atomically (exactly one of two concurrent correct submissions
// wins) and are safe for concurrent use. flowID binds the challenge to one sign-in flow.
type SecondFactor interface {
	// ID is the method's name in config and logs ("coordcard", "smsotp").
	ID() string
	// Level is the level the password plus this factor reaches.
	Level() Level
	// Begin returns the challenge for subject in flow flowID, creating it if needed; calling
	// it again returns the same challenge (a reload must not show another one). It may send
	// a message (SMS). ErrNoFactor when the subject lacks the factor, ErrLocked when blocked.
	Begin(ctx context.Context, s Subject, flowID string) (Challenge, error)
	// Verify checks answer for the challenge Begin made. nil means authenticated. Errors:
	// ErrInvalidCredentials (wrong; attempts remain), ErrTooManyAttempts, ErrExpired,
	// ErrLocked.
	Verify(ctx context.Context, s Subject, flowID, answer string) error
}

// Resender is a SecondFactor that can send its challenge again ("I did not receive the code").
type Resender interface {
	SecondFactor
	// Resend sends a new code for the flow and returns the new challenge; ErrCooldown when
	// called before the previous challenge's ResendAt.
	Resend(ctx context.Context, s Subject, flowID string) (Challenge, error)
}

// langKey is the context key of the citizen's page language (request-scoped data, STYLE.md
// §B4), for methods that send messages in it.
type langKey struct{}

// WithLang returns ctx carrying the citizen's page language ("es", "eu", "en").
func WithLang(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, langKey{}, lang)
}

// LangFrom returns the language WithLang put in ctx.
func LangFrom(ctx context.Context) (string, bool) {
	l, ok := ctx.Value(langKey{}).(string)
	return l, ok
}
