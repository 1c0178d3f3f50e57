package directory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/ateaidp/atea/idp/dni"
)

// Sentinel errors. Test with errors.Is: most are returned wrapped with context.
var (
	// ErrNotFound means there is no user with that DNI/NIE or ID.
	ErrNotFound = errors.New("directory: not found")
	// ErrExists means the DNI/NIE is already registered. A person holds one credential at most.
	ErrExists = errors.New("directory: already registered")
	// ErrInvalid means bad user data. The wrapping error names the field, e.g.
	// "directory: invalid birth date: in the future".
	ErrInvalid = errors.New("directory: invalid")
	// ErrWeakPassword means the password breaks the policy. The wrapping error names the rule and
	// never contains the password.
	ErrWeakPassword = errors.New("directory: weak password")
	// ErrInvalidCredentials means an unknown DNI/NIE or wrong password; deliberately indistinguishable.
	ErrInvalidCredentials = errors.New("directory: invalid credentials")
	// ErrLocked means the account is not active (locked after too many failures). Returned only
	// after the same password hashing as any other attempt, so callers may show the same page
	// as for ErrInvalidCredentials without a timing difference.
	ErrLocked = errors.New("directory: account locked")
	// ErrBusy means the directory file is held by another process (or another Open).
	ErrBusy = errors.New("directory: file in use")
	// ErrCorrupt means a stored record cannot be read, e.g. a malformed password hash. Such a user
	// never authenticates (fail closed); an operator must repair the record.
	ErrCorrupt = errors.New("directory: corrupt record")
)

// Status is the state of a user's credential.
type Status string

// The statuses (issue 5's lifecycle; CheckTransition has the allowed changes). Only
// StatusActive may authenticate; any other status, including an unknown one, is refused with
// ErrLocked.
const (
	// StatusPending: registered, not yet activated by the citizen (activation journeys).
	StatusPending Status = "pending_activation"
	// StatusActive: may authenticate.
	StatusActive Status = "active"
	// StatusLocked: blocked after too many failed passwords or by an administrator (Lock).
	StatusLocked Status = "locked"
	// StatusRevoked: ended for good (Revoke); final.
	StatusRevoked Status = "revoked"
)

// PermanentDocument is the DocumentExpiry of an ID document that does not expire: the seed's
// "01/01/9999" of a permanent DNI.
const PermanentDocument = "9999-01-01"

// Credential types (the seeds' B@k and B@kQ).
const (
	CredentialBak  = "bak"
	CredentialBakQ = "bakq"
)

// User is a citizen as the directory returns it. It never carries the password hash.
type User struct {
	ID         string // internal random ID: 128 bits, starts with a letter (an xs:NCName), never changes
	DNI        string // canonical dni.Parse form, unique
	GivenName  string
	FamilyName string
	BirthDate  string // YYYY-MM-DD
	// DocumentExpiry is the ID document's expiry date, YYYY-MM-DD (PermanentDocument for a
	// permanent DNI); empty when unknown, as in records made before it was kept.
	DocumentExpiry string
	Email          string // optional
	Phone          string // optional, "+" and 8 to 15 digits
	Credential     string // CredentialBak or CredentialBakQ
	Status         Status
	Failures       int // consecutive failed password attempts
	// HasCard tells whether a coordinate card is issued (see IssueCard); CardLocked whether
	// it is blocked after too many wrong answers (see UnlockCard).
	HasCard    bool
	CardLocked bool
	// TermsVersion is the version of the terms of use the citizen accepted, at
	// TermsAcceptedAt; empty and zero when none was recorded (see AcceptTerms).
	TermsVersion    string
	TermsAcceptedAt time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// LogValue keeps whole DNI, names and contact data out of logs if a User is ever logged
// (SECURITY.md §4.22).
func (u User) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", u.ID),
		slog.String("dni", dni.Mask(u.DNI)),
		slog.String("status", string(u.Status)),
	)
}

// Options configure Open. The zero value is usable: default argon2id parameters, lockout after
// 5 failures, 2*GOMAXPROCS concurrent hashes, no audit log, the system clock.
type Options struct {
	// Params is the argon2id cost for new hashes; the zero value means DefaultParams. Open
	// accepts lower costs (tests use tiny ones); production configuration should not go below
	// DefaultParams.
	Params Params
	// MaxFailures locks an account after this many consecutive failed passwords (0 → 5).
	MaxFailures int
	// MaxConcurrent bounds the argon2id computations running at once (0 → 2*GOMAXPROCS).
	// Each one holds Params.MemoryKiB of memory, so this also bounds memory; a caller waiting
	// for a slot gives up when its ctx ends.
	MaxConcurrent int
	// Audit receives the directory's audit events (nil → discarded).
	Audit *slog.Logger
	// Now is the clock (nil → time.Now).
	Now func() time.Time
	// IDKey, when set (≥ 32 bytes), makes a new user's internal ID a keyed hash of the DNI/NIE
	// instead of random bits: instances that share the key give the same citizen the same ID
	// (sessions in a shared store name users by ID; pairwise NameIDs derive from it), while the
	// ID still reveals nothing about the number. The ID is fixed at creation either way.
	IDKey []byte
}

// Directory is an open user directory. Its methods may be called concurrently.
type Directory struct {
	db          *bolt.DB
	params      Params
	maxFailures int
	sem         chan struct{}
	audit       *slog.Logger
	now         func() time.Time
	common      map[string]struct{}
	idKey       []byte
	// kdf is argon2.IDKey; internal tests replace it to count or block computations.
	kdf func(password, salt []byte, p Params, keyLen uint32) []byte
}

// Bucket names (see the package doc).
const (
	bucketUsers = "users"
	bucketByDNI = "by_dni"
)

// buckets are created by Open; older files gain the audit buckets on their first Open.
var buckets = []string{bucketUsers, bucketByDNI, bucketAudit, bucketAuditByUser}

const (
	defaultMaxFailures = 5
	openTimeout        = time.Second
	fileMode           = 0o600
)

// Open opens (creating if needed, mode 0600) the directory file at path. If another process
// holds the file, Open gives up after about a second with an error wrapping ErrBusy.
func Open(path string, opts Options) (*Directory, error) {
	d, err := newDirectory(opts)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, fileMode, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked by another process", ErrBusy, path)
		}
		return nil, fmt.Errorf("directory: open: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("directory: create buckets: %w", err)
	}
	d.db = db
	return d, nil
}

// newDirectory checks opts and builds everything but the database.
func newDirectory(opts Options) (*Directory, error) {
	p := opts.Params
	if p == (Params{}) {
		p = DefaultParams()
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("directory: argon2id parameters: %w", err)
	}
	if opts.MaxFailures < 0 {
		return nil, errors.New("directory: MaxFailures must not be negative")
	}
	if opts.MaxConcurrent < 0 {
		return nil, errors.New("directory: MaxConcurrent must not be negative")
	}
	d := &Directory{
		params:      p,
		maxFailures: opts.MaxFailures,
		audit:       opts.Audit,
		now:         opts.Now,
		common:      commonPasswords(),
		kdf:         idKey,
		idKey:       opts.IDKey,
	}
	if opts.IDKey != nil && len(opts.IDKey) < 32 {
		return nil, errors.New("directory: IDKey must hold at least 32 bytes")
	}
	if d.maxFailures == 0 {
		d.maxFailures = defaultMaxFailures
	}
	n := opts.MaxConcurrent
	if n == 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	d.sem = make(chan struct{}, n)
	if d.audit == nil {
		d.audit = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// Close closes the file, releasing its lock.
func (d *Directory) Close() error {
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("directory: close: %w", err)
	}
	return nil
}

// record is a user as stored: the User fields plus the password hash, with stable JSON names
// so the file format does not depend on Go field names.
type record struct {
	ID           string      `json:"id"`
	DNI          string      `json:"dni"`
	GivenName    string      `json:"given_name"`
	FamilyName   string      `json:"family_name"`
	BirthDate    string      `json:"birth_date"`
	DocExpiry    string      `json:"document_expiry,omitempty"`
	Email        string      `json:"email,omitempty"`
	Phone        string      `json:"phone,omitempty"`
	Credential   string      `json:"credential"`
	Status       Status      `json:"status"`
	Failures     int         `json:"failures"`
	PasswordHash string      `json:"password_hash"`  // PHC string, see parsePHC
	Card         *cardRecord `json:"card,omitempty"` // nil: no coordinate card
	TermsVersion string      `json:"terms_version,omitempty"`
	TermsAt      time.Time   `json:"terms_accepted_at,omitzero"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
}

func (r *record) user() User {
	return User{ID: r.ID, DNI: r.DNI, GivenName: r.GivenName, FamilyName: r.FamilyName, BirthDate: r.BirthDate,
		Email: r.Email, Phone: r.Phone, Credential: r.Credential, Status: r.Status, Failures: r.Failures,
		HasCard: r.Card != nil, CardLocked: r.Card != nil && r.Card.Locked,
		DocumentExpiry: r.DocExpiry, TermsVersion: r.TermsVersion, TermsAcceptedAt: r.TermsAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// getByID reads a record inside tx; ErrNotFound if absent.
func getByID(tx *bolt.Tx, id string) (record, error) {
	raw := tx.Bucket([]byte(bucketUsers)).Get([]byte(id))
	if raw == nil {
		return record{}, ErrNotFound
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		// No %w on the JSON error: callers branch on ErrCorrupt, not on encoding/json's types.
		return record{}, fmt.Errorf("%w: user %s: %v", ErrCorrupt, id, err)
	}
	return r, nil
}

// getByDNI reads a record by canonical DNI inside tx; ErrNotFound if absent.
func getByDNI(tx *bolt.Tx, canonical string) (record, error) {
	id := tx.Bucket([]byte(bucketByDNI)).Get([]byte(canonical))
	if id == nil {
		return record{}, ErrNotFound
	}
	r, err := getByID(tx, string(id))
	if errors.Is(err, ErrNotFound) {
		// The index points at nothing: not a missing user but a broken file.
		return record{}, fmt.Errorf("%w: index entry without user", ErrCorrupt)
	}
	return r, err
}

func putRecord(tx *bolt.Tx, r *record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("directory: encode user: %w", err)
	}
	return tx.Bucket([]byte(bucketUsers)).Put([]byte(r.ID), raw)
}

// parseKey normalises a DNI/NIE given to a lookup. A malformed number cannot be registered, so
// it is reported as not found; the dni error stays reachable with errors.Is/As.
func parseKey(dniOrNIE string) (string, error) {
	c, err := dni.Parse(dniOrNIE)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return c, nil
}

// newID returns "u" and 32 hex digits (128 random bits). The letter first keeps it a valid
// xs:NCName wherever it ends up in SAML (dex storage.go: "Avoid the identifier to begin with
// number").
func (d *Directory) newID(dniNumber string) string {
	if d.idKey != nil {
		m := hmac.New(sha256.New, d.idKey)
		m.Write([]byte("atea/directory/user-id\x00" + dniNumber))
		return "u" + hex.EncodeToString(m.Sum(nil)[:16])
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+: it aborts the program instead)
	return "u" + hex.EncodeToString(b[:])
}

// timestamp is the clock reading as stored: UTC, without the monotonic part, so a record
// compares equal before and after a round trip through the file.
func (d *Directory) timestamp() time.Time { return d.now().Round(0).UTC() }

// Add validates u, checks password against the policy, hashes it, and stores a new active user
// under a fresh ID (pending activation instead if u.Status is StatusPending). It returns the
// user as stored. ID, Failures, the terms, the card and the timestamps of u are ignored, and
// any other Status; names, e-mail and phone are stored trimmed (and the phone without spaces),
// DocumentExpiry as YYYY-MM-DD (DD/MM/YYYY is accepted too). Audit event user_added.
//
// Errors wrap ErrInvalid (naming every bad field), ErrWeakPassword (naming the rule) or
// ErrExists.
func (d *Directory) Add(ctx context.Context, u User, password string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	u, err := d.normalise(u)
	if err != nil {
		return User{}, err
	}
	// A pending credential may be registered without a password (the activation letter, the
	// registration desk): the citizen sets one in the journey.
	pendingNoPassword := u.Status == StatusPending && password == ""
	if !pendingNoPassword {
		if err := d.checkPassword(u.DNI, password); err != nil {
			return User{}, err
		}
	}
	// A cheap check before spending an argon2id computation; the Update below re-checks.
	err = d.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucketByDNI)).Get([]byte(u.DNI)) != nil {
			return ErrExists
		}
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("directory: add %s: %w", dni.Mask(u.DNI), err)
	}
	var hash string
	if !pendingNoPassword {
		if hash, err = d.hash(ctx, password); err != nil {
			return User{}, err
		}
	}
	now := d.timestamp()
	status := StatusActive
	if u.Status == StatusPending {
		status = StatusPending
	}
	r := record{
		ID: d.newID(u.DNI), DNI: u.DNI, GivenName: u.GivenName, FamilyName: u.FamilyName, BirthDate: u.BirthDate,
		DocExpiry: u.DocumentExpiry, Email: u.Email, Phone: u.Phone, Credential: u.Credential, Status: status,
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	ev := d.newEvent("user_added", &r)
	ev.To = status
	err = d.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucketByDNI)).Get([]byte(r.DNI)) != nil {
			return ErrExists
		}
		if tx.Bucket([]byte(bucketUsers)).Get([]byte(r.ID)) != nil {
			// 128 random bits do not collide; if they ever do, refuse rather than overwrite.
			return errors.New("user ID collision")
		}
		if err := putRecord(tx, &r); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketByDNI)).Put([]byte(r.DNI), []byte(r.ID)); err != nil {
			return err
		}
		return appendEvent(tx, ev)
	})
	if err != nil {
		return User{}, fmt.Errorf("directory: add %s: %w", dni.Mask(u.DNI), err)
	}
	d.emit(ctx, ev)
	return r.user(), nil
}

// Get returns the user with that DNI/NIE, given in any form dni.Parse accepts. A malformed
// number gives an error wrapping ErrNotFound (and the dni error).
func (d *Directory) Get(ctx context.Context, dniOrNIE string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	c, err := parseKey(dniOrNIE)
	if err != nil {
		return User{}, err
	}
	var r record
	err = d.db.View(func(tx *bolt.Tx) error {
		r, err = getByDNI(tx, c)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("directory: get %s: %w", dni.Mask(c), err)
	}
	return r.user(), nil
}

// GetByID returns the user with that internal ID, or an error wrapping ErrNotFound.
func (d *Directory) GetByID(ctx context.Context, id string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	var r record
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getByID(tx, id)
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("directory: get by id: %w", err)
	}
	return r.user(), nil
}

// List returns every user, sorted by canonical DNI/NIE (byte order: DNIs before X, Y, Z NIEs).
func (d *Directory) List(ctx context.Context) ([]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []User
	err := d.db.View(func(tx *bolt.Tx) error {
		// bbolt iterates keys in byte order, so walking the index yields DNI order.
		return tx.Bucket([]byte(bucketByDNI)).ForEach(func(_, id []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := getByID(tx, string(id))
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: index entry without user", ErrCorrupt)
			}
			if err != nil {
				return err
			}
			out = append(out, r.user())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("directory: list: %w", err)
	}
	return out, nil
}
