package directory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ateaidp/atea/idp/dni"
)

// Errors of the one-time codes (activation letters, enrolment links). Test with errors.Is.
var (
	// ErrCodeInvalid: no such code (never issued, mistyped, superseded by a newer one, or
	// burned after too many attempts with data that did not match).
	ErrCodeInvalid = errors.New("directory: code not valid")
	// ErrCodeUsed: the code was already used (or its credential is no longer pending).
	ErrCodeUsed = errors.New("directory: code already used")
	// ErrCodeExpired: the code's validity has ended.
	ErrCodeExpired = errors.New("directory: code expired")
	// ErrMismatch: the code is valid but the DNI/NIE or document expiry typed with it is not
	// the citizen's. The attempt is counted against the code.
	ErrMismatch = errors.New("directory: data does not match")
)

// Code purposes.
const (
	// PurposeActivation: the activation letter of journey 1 (B@k without a desk).
	PurposeActivation = "activation"
	// PurposeEnrolment: the e-mailed link of journey 2, after a registration desk.
	PurposeEnrolment = "enrolment"
)

// MaxCodeAttempts is how many mismatching submissions burn a code (ErrCodeInvalid after).
const MaxCodeAttempts = 5

// codeAlphabet has no 0/O, 1/I/L: letters a citizen copies from paper without confusion.
const codeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// codeLength characters of codeAlphabet: 16 × log2(31) ≈ 79 bits.
const codeLength = 16

// Bucket names of the codes: "codes" maps HMAC(code) to a codeRecord, "codes_by_user" maps
// user ID, NUL, purpose to the HMAC of that user's live code of that purpose (one at a time),
// "meta" holds the file's code-MAC key.
const (
	bucketCodes       = "codes"
	bucketCodesByUser = "codes_by_user"
	bucketMeta        = "meta"
	metaCodeKey       = "code_mac_key"
)

// codeRecord is a code as stored: never the code itself, only its keyed MAC as the key
// (kratos persister_code.go: CodeHMAC), so a copy of the file gives no usable code.
type codeRecord struct {
	Purpose   string    `json:"purpose"`
	UserID    string    `json:"user_id"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	Attempts  int       `json:"attempts"`
}

// NormaliseCode turns a code as typed ("abcd-efgh 2345…") into its stored form: upper case,
// without spaces or dashes.
func NormaliseCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// FormatCode groups a code by four for a letter or a page: "ABCD-EFGH-JKMN-PQRS".
func FormatCode(code string) string {
	var b strings.Builder
	for i, r := range code {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func newCode() string {
	b := make([]byte, codeLength)
	for i := range b {
		b[i] = codeAlphabet[randIntn(len(codeAlphabet))]
	}
	return string(b)
}

// randIntn is a uniform crypto/rand integer in [0, n) by rejection sampling (never byte % n).
func randIntn(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// codeKey returns the file's code-MAC key, creating it in tx on first use.
func codeKey(tx *bolt.Tx) ([]byte, error) {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
	if err != nil {
		return nil, err
	}
	if k := b.Get([]byte(metaCodeKey)); k != nil {
		return append([]byte(nil), k...), nil
	}
	if !tx.Writable() {
		return nil, ErrCodeInvalid // no key yet: no code was ever issued
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k, b.Put([]byte(metaCodeKey), k)
}

func codeMAC(key []byte, purpose, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("atea/directory/code\x00" + purpose + "\x00" + code))
	return m.Sum(nil)
}

func codeBuckets(tx *bolt.Tx) (codes, byUser *bolt.Bucket, err error) {
	if codes, err = tx.CreateBucketIfNotExists([]byte(bucketCodes)); err != nil {
		return nil, nil, err
	}
	byUser, err = tx.CreateBucketIfNotExists([]byte(bucketCodesByUser))
	return codes, byUser, err
}

// IssueCode makes a one-time code of purpose for the pending credential with that DNI/NIE,
// valid for ttl, and returns it (in NormaliseCode form; print it with FormatCode) with its
// expiry. A newer code of the same purpose supersedes the user's earlier one. Audit event
// code_issued with the purpose as reason; the code itself is never logged or stored.
// Errors wrap ErrNotFound, ErrTransition (the credential is not pending) or ErrInvalid.
func (d *Directory) IssueCode(ctx context.Context, purpose, dniOrNIE string, ttl time.Duration) (string, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, err
	}
	if purpose == "" || checkReason(purpose) != nil || ttl <= 0 {
		return "", time.Time{}, fmt.Errorf("directory: issue code: %w purpose or validity", ErrInvalid)
	}
	c, err := parseKey(dniOrNIE)
	if err != nil {
		return "", time.Time{}, err
	}
	code := newCode()
	now := d.timestamp()
	exp := now.Add(ttl)
	var ev Event
	err = d.db.Update(func(tx *bolt.Tx) error {
		r, err := getByDNI(tx, c)
		if err != nil {
			return err
		}
		if r.Status != StatusPending {
			return fmt.Errorf("%w: codes are for %q credentials, not %q", ErrTransition, StatusPending, r.Status)
		}
		key, err := codeKey(tx)
		if err != nil {
			return err
		}
		codes, byUser, err := codeBuckets(tx)
		if err != nil {
			return err
		}
		ukey := []byte(r.ID + "\x00" + purpose)
		if old := byUser.Get(ukey); old != nil {
			if err := codes.Delete(old); err != nil {
				return err
			}
		}
		mac := codeMAC(key, purpose, code)
		raw, err := json.Marshal(codeRecord{Purpose: purpose, UserID: r.ID, IssuedAt: now, ExpiresAt: exp})
		if err != nil {
			return err
		}
		if err := codes.Put(mac, raw); err != nil {
			return err
		}
		if err := byUser.Put(ukey, mac); err != nil {
			return err
		}
		ev = d.newEvent("code_issued", &r)
		ev.Reason = purpose
		return appendEvent(tx, ev)
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("directory: issue code %s: %w", dni.Mask(c), err)
	}
	d.emit(ctx, ev)
	return code, exp, nil
}

// CodeCheck is what a citizen typed with a code. DNI and DocumentExpiry are compared with
// the credential when not empty (the activation letter needs both; an enrolment link, whose
// code is in the link, needs none). DocumentExpiry takes YYYY-MM-DD or DD/MM/YYYY, and
// 01/01/9999 for a permanent DNI.
type CodeCheck struct {
	Purpose, Code, DNI, DocumentExpiry string
}

// CheckCode reports whether the code is live and belongs to the data typed with it, and
// returns its citizen. It does not consume the code (Enrol does, atomically with the
// activation), so a citizen who abandons the journey may start again. Errors wrap
// ErrCodeInvalid, ErrCodeUsed, ErrCodeExpired or ErrMismatch; a mismatch counts against the
// code, and the MaxCodeAttempts-th burns it.
func (d *Directory) CheckCode(ctx context.Context, cc CodeCheck) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	code := NormaliseCode(cc.Code)
	if len(code) != codeLength || strings.Trim(code, codeAlphabet) != "" {
		return User{}, fmt.Errorf("directory: check code: %w", ErrCodeInvalid)
	}
	var wantDNI, wantExp string
	if cc.DNI != "" {
		c, err := dni.Parse(cc.DNI)
		if err != nil {
			return User{}, fmt.Errorf("directory: check code: %w: %w", ErrMismatch, err)
		}
		wantDNI = c
	}
	if cc.DocumentExpiry != "" {
		e, problem := normaliseExpiry(cc.DocumentExpiry)
		if problem != "" {
			return User{}, fmt.Errorf("directory: check code: %w: document expiry %s", ErrMismatch, problem)
		}
		wantExp = e
	}
	var u User
	var evs []Event
	var result error
	err := d.db.Update(func(tx *bolt.Tx) error {
		evs, result = nil, nil
		rec, mac, err := d.lookupCode(tx, cc.Purpose, code)
		if err != nil {
			return err
		}
		r, err := getByID(tx, rec.UserID)
		if err != nil {
			return err
		}
		if err := d.liveCode(rec, r); err != nil {
			return err
		}
		if (wantDNI != "" && wantDNI != r.DNI) || (wantExp != "" && wantExp != r.DocExpiry) {
			rec.Attempts++
			ev := d.newEvent("code_mismatch", &r)
			ev.Reason = cc.Purpose
			evs = append(evs, ev)
			if err := putCode(tx, mac, rec); err != nil {
				return err
			}
			result = ErrMismatch
			return appendEvent(tx, ev)
		}
		u = r.user()
		return nil
	})
	if err == nil {
		err = result
	}
	d.emit(ctx, evs...)
	if err != nil {
		return User{}, fmt.Errorf("directory: check code: %w", err)
	}
	return u, nil
}

func putCode(tx *bolt.Tx, mac []byte, rec codeRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Bucket([]byte(bucketCodes)).Put(mac, raw)
}

// lookupCode finds a code's record in tx by its MAC.
func (d *Directory) lookupCode(tx *bolt.Tx, purpose, code string) (codeRecord, []byte, error) {
	key, err := codeKey(tx)
	if err != nil {
		return codeRecord{}, nil, err
	}
	codes := tx.Bucket([]byte(bucketCodes))
	if codes == nil {
		return codeRecord{}, nil, ErrCodeInvalid
	}
	mac := codeMAC(key, purpose, code)
	raw := codes.Get(mac)
	if raw == nil {
		return codeRecord{}, nil, ErrCodeInvalid
	}
	var rec codeRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return codeRecord{}, nil, fmt.Errorf("%w: code record: %v", ErrCorrupt, err)
	}
	if rec.Purpose != purpose {
		return codeRecord{}, nil, ErrCodeInvalid
	}
	return rec, mac, nil
}

// liveCode reports why a found code cannot be used now, or nil.
func (d *Directory) liveCode(rec codeRecord, r record) error {
	switch {
	case rec.Attempts >= MaxCodeAttempts:
		return ErrCodeInvalid
	case !rec.UsedAt.IsZero() || r.Status != StatusPending:
		return ErrCodeUsed
	case !d.timestamp().Before(rec.ExpiresAt):
		return ErrCodeExpired
	}
	return nil
}

// Enrolment is the end of an activation journey, applied by Enrol in one transaction.
type Enrolment struct {
	// DNI names the citizen (any form dni.Parse accepts).
	DNI string
	// Purpose and Code, when Code is not empty, name a code of that citizen to consume: Enrol
	// fails, changing nothing, unless it is still live (ErrCodeUsed when another browser got
	// there first).
	Purpose, Code string
	// Password, when not empty, becomes the password (policy-checked first).
	Password string
	// TermsVersion, when not empty, records the terms accepted.
	TermsVersion string
	// Credential, when not empty, sets the credential type (CredentialBak, CredentialBakQ).
	Credential string
	// Activate makes the pending credential active.
	Activate bool
	// Reason is kept in the audit events ("activation", "desk", "certificate").
	Reason string
}

// Enrol applies e atomically: the code is consumed, the password, terms and credential set
// and the status made active together or not at all, so a crash (kill -9) mid-way leaves a
// pending credential with a live code, never half an activation. Audit events code_used,
// password_set, terms_accepted, credential_changed and status_changed, as they apply. Errors
// wrap ErrNotFound, ErrWeakPassword, ErrInvalid, ErrTransition (not pending, with Activate)
// or one of the code errors.
func (d *Directory) Enrol(ctx context.Context, e Enrolment) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	c, err := parseKey(e.DNI)
	if err != nil {
		return User{}, err
	}
	if e.Credential != "" && e.Credential != CredentialBak && e.Credential != CredentialBakQ {
		return User{}, fmt.Errorf("directory: enrol %s: %w credential %q", dni.Mask(c), ErrInvalid, e.Credential)
	}
	if e.TermsVersion != "" && checkReason(e.TermsVersion) != nil {
		return User{}, fmt.Errorf("directory: enrol %s: %w terms version", dni.Mask(c), ErrInvalid)
	}
	var hash string
	if e.Password != "" {
		if err := d.checkPassword(c, e.Password); err != nil {
			return User{}, err
		}
		if hash, err = d.hash(ctx, e.Password); err != nil {
			return User{}, err
		}
	}
	code := NormaliseCode(e.Code)
	var u User
	var evs []Event
	err = d.db.Update(func(tx *bolt.Tx) error {
		evs = nil
		r, err := getByDNI(tx, c)
		if err != nil {
			return err
		}
		now := d.timestamp()
		event := func(name string) Event {
			ev := d.newEvent(name, &r)
			ev.Reason = e.Reason
			return ev
		}
		if code != "" {
			rec, mac, err := d.lookupCode(tx, e.Purpose, code)
			if err != nil {
				return err
			}
			if rec.UserID != r.ID {
				return ErrCodeInvalid
			}
			if err := d.liveCode(rec, r); err != nil {
				return err
			}
			rec.UsedAt = now
			if err := putCode(tx, mac, rec); err != nil {
				return err
			}
			if err := tx.Bucket([]byte(bucketCodesByUser)).Delete([]byte(r.ID + "\x00" + e.Purpose)); err != nil {
				return err
			}
			evs = append(evs, event("code_used"))
		}
		if hash != "" {
			r.PasswordHash, r.Failures = hash, 0
			evs = append(evs, event("password_set"))
		}
		if e.TermsVersion != "" {
			r.TermsVersion, r.TermsAt = e.TermsVersion, now
			ev := event("terms_accepted")
			ev.Reason = e.TermsVersion
			evs = append(evs, ev)
		}
		if e.Credential != "" && e.Credential != r.Credential {
			r.Credential = e.Credential
			evs = append(evs, event("credential_changed"))
		}
		r.UpdatedAt = now
		for _, ev := range evs {
			if err := appendEvent(tx, ev); err != nil {
				return err
			}
		}
		if e.Activate {
			if r.Status != StatusPending {
				return fmt.Errorf("%w: activate applies to %q, not %q", ErrTransition, StatusPending, r.Status)
			}
			if r.PasswordHash == "" {
				return fmt.Errorf("%w: no password set", ErrInvalid)
			}
			// setStatus stores r and its own event.
			ev, err := d.setStatus(tx, &r, StatusActive, e.Reason)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		} else if err := putRecord(tx, &r); err != nil {
			return err
		}
		u = r.user()
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("directory: enrol %s: %w", dni.Mask(c), err)
	}
	d.emit(ctx, evs...)
	return u, nil
}

// SetPassword replaces the citizen's password, after the policy check, and clears the failure
// counter (audit event password_set, with reason: "change", "recovery"…). With unlock, a
// locked credential becomes active in the same transaction: the self-service unblock of
// journey 5, which proves the person with the document expiry and a code to the registered
// mobile. A pending credential may get a password (enrolment sets it before activating); a
// revoked one never does (ErrTransition). Errors wrap ErrNotFound, ErrWeakPassword or
// ErrTransition.
func (d *Directory) SetPassword(ctx context.Context, dniOrNIE, password string, unlock bool, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := parseKey(dniOrNIE)
	if err != nil {
		return err
	}
	if err := d.checkPassword(c, password); err != nil {
		return err
	}
	hash, err := d.hash(ctx, password)
	if err != nil {
		return err
	}
	var evs []Event
	err = d.db.Update(func(tx *bolt.Tx) error {
		evs = nil
		r, err := getByDNI(tx, c)
		if err != nil {
			return err
		}
		if r.Status == StatusRevoked {
			return fmt.Errorf("%w: %q credentials get no password", ErrTransition, r.Status)
		}
		r.PasswordHash, r.Failures, r.UpdatedAt = hash, 0, d.timestamp()
		ev := d.newEvent("password_set", &r)
		ev.Reason = reason
		evs = append(evs, ev)
		if unlock && r.Status == StatusLocked {
			sev, err := d.setStatus(tx, &r, StatusActive, reason)
			if err != nil {
				return err
			}
			evs = append(evs, sev)
		} else if err := putRecord(tx, &r); err != nil {
			return err
		}
		return appendEvent(tx, ev)
	})
	if err != nil {
		return fmt.Errorf("directory: set password %s: %w", dni.Mask(c), err)
	}
	d.emit(ctx, evs...)
	return nil
}

// SetContact changes the citizen's e-mail address or mobile number: field is "email" or
// "phone" (audit events email_changed, phone_changed; the values are never in the trail).
// The caller has proved the new address or number with a code sent to it. Errors wrap
// ErrNotFound or ErrInvalid (a malformed value, an unknown field).
func (d *Directory) SetContact(ctx context.Context, dniOrNIE, field, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := parseKey(dniOrNIE)
	if err != nil {
		return err
	}
	value = strings.TrimSpace(value)
	var problem string
	switch field {
	case "email":
		problem = checkEmail(value)
	case "phone":
		value = strings.ReplaceAll(value, " ", "")
		problem = checkPhone(value)
	default:
		problem = "unknown field " + field
	}
	if value == "" {
		problem = "empty"
	}
	if problem != "" {
		return fmt.Errorf("directory: set %s %s: %w %s: %s", field, dni.Mask(c), ErrInvalid, field, problem)
	}
	var ev Event
	err = d.db.Update(func(tx *bolt.Tx) error {
		r, err := getByDNI(tx, c)
		if err != nil {
			return err
		}
		if field == "email" {
			r.Email = value
		} else {
			r.Phone = value
		}
		r.UpdatedAt = d.timestamp()
		if err := putRecord(tx, &r); err != nil {
			return err
		}
		ev = d.newEvent(field+"_changed", &r)
		return appendEvent(tx, ev)
	})
	if err != nil {
		return fmt.Errorf("directory: set %s %s: %w", field, dni.Mask(c), err)
	}
	d.emit(ctx, ev)
	return nil
}
