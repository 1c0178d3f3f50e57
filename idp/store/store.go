package store

import (
	"context"
	"time"
)

// LevelRef is one level of assurance acceptable to the SP, with the AuthnContextClassRef that
// the assertion must state if the user reaches it (saml-core-2.0-os §3.3.2.2.1: the class
// stated is one the SP asked for, which for legacy SPs may be their own URI for the level).
type LevelRef struct {
	// Level is the level's name: "low", "substantial" or "high".
	Level string `json:"level"`
	// ClassRef is the AuthnContextClassRef to state in the assertion for this level.
	ClassRef string `json:"classRef"`
}

// PendingRequest is a validated AuthnRequest waiting for the user to sign in: what Atea needs
// to answer it (saml-core-2.0-os §3.4.1) once the flow is done.
type PendingRequest struct {
	// SPEntityID is the requesting SP's entity ID (the request's Issuer).
	SPEntityID string `json:"spEntityID"`
	// RequestID is the AuthnRequest's ID, echoed as InResponseTo.
	RequestID string `json:"requestID"`
	// ACSURL is the AssertionConsumerService location the response goes to, checked
	// against the SP's metadata.
	ACSURL string `json:"acsURL"`
	// ACSBinding is the binding used to deliver the response to ACSURL.
	ACSBinding string `json:"acsBinding"`
	// RelayState is returned to the SP unchanged (saml-bindings-2.0-os §3.4.3, §3.5.3).
	RelayState string `json:"relayState"`
	// HasRelayState tells an empty RelayState from an absent one.
	HasRelayState bool `json:"hasRelayState"`
	// Binding is the binding the request arrived on.
	Binding string `json:"binding"`
	// ForceAuthn asks for fresh authentication even with a live session
	// (saml-core-2.0-os §3.4.1).
	ForceAuthn bool `json:"forceAuthn"`
	// IsPassive forbids any user interaction (saml-core-2.0-os §3.4.1).
	IsPassive bool `json:"isPassive"`
	// NameIDFormat is the NameIDPolicy Format requested, or empty.
	NameIDFormat string `json:"nameIDFormat"`
	// AllowCreate is the NameIDPolicy AllowCreate attribute (saml-core-2.0-os §3.4.1.1).
	AllowCreate bool `json:"allowCreate"`
	// Levels are the acceptable levels, weakest first.
	Levels []LevelRef `json:"levels"`
	// ReturnTo marks a local sign-in (Atea's own self-service pages asking for a sign-in):
	// the local path the browser goes back to once signed in, instead of an assertion to an
	// SP. SPEntityID is then empty.
	ReturnTo string `json:"returnTo,omitempty"`
}

// Flow is one sign-in in progress: the pending request plus the state of the login state
// machine. A flow is bound to the browser that started it through BrowserHash.
type Flow struct {
	// ID is the flow's identifier, unique in the store.
	ID string `json:"id"`
	// State is the state machine's current state.
	State string `json:"state"`
	// BrowserHash is a keyed hash of the browser's flow cookie; the cookie value itself is
	// never stored.
	BrowserHash string `json:"browserHash"`
	// CreatedAt is when the flow started.
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt is when the flow stops existing; it must be set.
	ExpiresAt time.Time `json:"expiresAt"`
	// Attempts counts credential submissions in this flow (counted before comparing).
	Attempts int `json:"attempts"`
	// PendingUser is the citizen (directory ID) the flow's second factor is for, once the
	// first factor or an existing session has identified them; "" before.
	PendingUser string `json:"pendingUser,omitempty"`
	// FactorMethod is the ID of the second factor the flow runs ("coordcard", "smsotp").
	FactorMethod string `json:"factorMethod,omitempty"`
	// Chosen is the method the citizen picked in the chooser ("password", "bakq", "cert").
	Chosen string `json:"chosen,omitempty"`
	// Factor is the state of the flow's one-time second-factor challenge (the SMS code).
	Factor FactorState `json:"factor,omitempty"`
	// Request is the AuthnRequest the flow will answer; empty in a local sign-in (ReturnTo
	// set) and in the self-service journeys.
	Request PendingRequest `json:"request"`
	// Journey names the self-service journey a flow belongs to ("activation", "recovery",
	// …); "" for a sign-in. A journey's handlers refuse flows of any other.
	Journey string `json:"journey,omitempty"`
	// Data is the journey's own state (which citizen, which step's MACs…): never a secret in
	// clear (store MACs of codes and passwords, as FactorState does).
	Data map[string]string `json:"data,omitempty"`
}

// FactorState is a one-time second-factor challenge kept in its flow (the SMS code of
// smsotp). It never holds the code itself: only a keyed MAC of it bound to the flow ID
// (SECURITY.md §4.8), the part of the code that the page shows anyway, and the counters.
type FactorState struct {
	// Method is the ID of the method that made the challenge ("smsotp").
	Method string `json:"method,omitempty"`
	// CodeMAC is HMAC-SHA256 over the flow ID and the code; never the code.
	CodeMAC []byte `json:"codeMAC,omitempty"`
	// Prefix is the start of the code shown on the page (seed 001: "starts with 869").
	Prefix string `json:"prefix,omitempty"`
	// Attempts counts answers checked against this code (counted before comparing); Sends
	// counts codes sent in this flow.
	Attempts int `json:"attempts,omitempty"`
	Sends    int `json:"sends,omitempty"`
	// SentAt is when the code was made, ExpiresAt when it stops being valid, ResendAt the
	// earliest time another may be sent.
	SentAt    time.Time `json:"sentAt,omitzero"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	ResendAt  time.Time `json:"resendAt,omitzero"`
	// Used is set when the code was answered correctly: it is consumed.
	Used bool `json:"used,omitempty"`
}

// SPParticipation records that an SP received an assertion in a session, with what single
// logout needs to address it (saml-core-2.0-os §3.7.1: NameID and SessionIndex).
type SPParticipation struct {
	// EntityID is the SP's entity ID.
	EntityID string `json:"entityID"`
	// NameID is the NameID value stated to the SP.
	NameID string `json:"nameID"`
	// NameIDFormat is the Format of that NameID.
	NameIDFormat string `json:"nameIDFormat"`
	// SessionIndex is the SessionIndex stated in the AuthnStatement.
	SessionIndex string `json:"sessionIndex"`
	// At is when the assertion was issued.
	At time.Time `json:"at"`
}

// Session is an SSO session. Its ID is a keyed hash of the session cookie, so a dump of the
// store cannot be replayed as cookies (SECURITY.md §4.15).
type Session struct {
	// ID is the session's store key, unique in the store.
	ID string `json:"id"`
	// UserID is the internal pseudonymous user ID (never a DNI, phone or e-mail).
	UserID string `json:"userID"`
	// Level is the level of assurance reached: "low", "substantial" or "high".
	Level string `json:"level"`
	// Method names the authentication method used.
	Method string `json:"method"`
	// AuthnInstant is when the user authenticated (saml-core-2.0-os §2.7.2).
	AuthnInstant time.Time `json:"authnInstant"`
	// CreatedAt is when the session was created.
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt is when the session stops existing; it must be set.
	ExpiresAt time.Time `json:"expiresAt"`
	// SPs are the SPs that received assertions in this session, in issue order.
	SPs []SPParticipation `json:"sps"`
}

// Sessions stores SSO sessions. Implementations are safe for concurrent use.
//
// A session is live while the store's clock is before its ExpiresAt; from ExpiresAt on it is
// expired, and every method treats it exactly as if it did not exist. Records passed in and
// returned are deep copies: the caller may mutate them, SPs included, without changing what
// is stored.
type Sessions interface {
	// CreateSession stores s under s.ID. It fails with ErrExists if a live session already has
	// that ID (an expired one is replaced), and with ErrInvalid if s.ID is empty or
	// s.ExpiresAt is zero. A session whose ExpiresAt has already passed is accepted and is
	// never visible.
	CreateSession(ctx context.Context, s Session) error

	// GetSession returns the live session with the given ID, or an error wrapping ErrNotFound
	// if there is none or it has expired.
	GetSession(ctx context.Context, id string) (Session, error)

	// UpdateSession atomically replaces the live session id with fn's result and returns what
	// was stored. fn receives a copy of the current session; it may be called more than once
	// (backends that update optimistically re-run it on contention), so it must be pure and
	// must not call the store. If fn returns an error, nothing is stored and that error is
	// returned wrapped (errors.Is finds it). UpdateSession fails with ErrNotFound, without
	// calling fn, if the session is missing or expired; with ErrInvalid if fn changes the ID
	// or clears ExpiresAt; and with ErrConflict if the backend gave up on contention. fn may
	// move ExpiresAt: into the past, the session expires at once.
	UpdateSession(ctx context.Context, id string, fn func(Session) (Session, error)) (Session, error)

	// DeleteSession removes the session with the given ID. Deleting a missing or expired
	// session is a no-op that returns nil, so logout is idempotent.
	DeleteSession(ctx context.Context, id string) error

	// ListSessionsBySubject returns the live sessions whose UserID is userID, in no
	// particular order, for logout and for "see and end your sessions". A user with none gets
	// an empty slice and a nil error.
	ListSessionsBySubject(ctx context.Context, userID string) ([]Session, error)
}

// Flows stores sign-in flows. The contracts are those of [Sessions], with Flow for Session:
// expired means ErrNotFound, create of a live ID is ErrExists, update is atomic and may re-run
// fn, deleting a missing flow returns nil, and records are deep copies (Request.Levels
// included). Implementations are safe for concurrent use.
type Flows interface {
	// CreateFlow stores f under f.ID; ErrExists if a live flow has that ID, ErrInvalid if
	// f.ID is empty or f.ExpiresAt is zero.
	CreateFlow(ctx context.Context, f Flow) error

	// GetFlow returns the live flow with the given ID, or ErrNotFound.
	GetFlow(ctx context.Context, id string) (Flow, error)

	// UpdateFlow atomically replaces the live flow id with fn's result, as
	// [Sessions.UpdateSession] does: fn gets a copy, may run more than once and must be pure;
	// its error aborts the update and is returned wrapped; ErrNotFound if missing or
	// expired; ErrInvalid if fn changes the ID or clears ExpiresAt.
	UpdateFlow(ctx context.Context, id string, fn func(Flow) (Flow, error)) (Flow, error)

	// DeleteFlow removes the flow with the given ID; a missing flow is a no-op returning nil.
	DeleteFlow(ctx context.Context, id string) error
}

// Once is a set of single-use keys: the replay cache for AuthnRequest IDs and assertion IDs
// (saml-profiles-2.0-os §4.1.4.5), and the consumption of one-time codes. It is the smallstep
// UseToken primitive. Implementations are safe for concurrent use.
type Once interface {
	// Consume marks key as used for ttl and reports whether this call was the first to do so.
	// Among any number of concurrent and sequential callers, exactly one gets true for a key
	// until ttl has passed since that call; after that the key may be consumed again. ttl
	// must be positive (ErrInvalid otherwise: a key is never used "forever", and a zero TTL
	// must not reach a backend where it means "no expiry"), and key must not be empty. On any
	// error first is false, so a failing store never lets a replay through (SECURITY.md
	// §4.15: fail closed).
	Consume(ctx context.Context, key string, ttl time.Duration) (first bool, err error)
}

// Counters are fixed-window counters for attempt limits and lockouts. Implementations are safe
// for concurrent use.
type Counters interface {
	// Incr adds one to the counter key and returns the new count. The first Incr of a missing
	// or expired counter starts a window of length window; later calls count into it without
	// extending it, and once it has passed the counter starts again from zero. window must be
	// positive and key non-empty (ErrInvalid otherwise). Concurrent calls are atomic: n calls
	// add exactly n.
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)

	// Count returns the counter's current value: 0 if it is missing or its window has passed.
	Count(ctx context.Context, key string) (int64, error)

	// ResetCounter drops the counter key, so the next Incr starts a new window from one (a
	// success ends a run of failures; an administrator lifts a lockout). A missing counter is
	// a no-op returning nil; key must be non-empty (ErrInvalid otherwise).
	ResetCounter(ctx context.Context, key string) error
}

// Store is everything the IdP keeps between requests. Every method takes ctx first and,
// when ctx is already done, does nothing and returns an error wrapping ctx.Err(). After Close
// every method fails with an error wrapping ErrClosed.
type Store interface {
	Sessions
	Flows
	Once
	Counters

	// Ping reports whether the store is usable (the readiness probe): nil, or the reason it
	// is not.
	Ping(ctx context.Context) error

	// Close releases the store's resources. Calls after Close fail with ErrClosed.
	Close() error
}
