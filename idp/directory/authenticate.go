package directory

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ateaidp/atea/idp/dni"
)

// errPasswordChanged: the hash changed between verification and the update that follows it.
var errPasswordChanged = errors.New("directory: password changed during login")

// Authenticate checks a password for a DNI/NIE (any form dni.Parse accepts) and returns the
// user on success.
//
// Errors: ErrInvalidCredentials for an unknown or malformed number and for a wrong password;
// ErrLocked for an account that is not active, whether or not the password was right;
// ErrCorrupt (wrapped) if the stored hash cannot be parsed; ctx's error if it ends while
// waiting for a hashing slot. Callers should show the same message for ErrInvalidCredentials
// and ErrLocked: the three cases do the same work, one argon2id computation at the same cost
// and one write transaction, so neither the answer nor its timing tells which DNIs are
// registered (SECURITY.md §4.7, §4.9; kratos password/login.go:80).
//
// A wrong password increments the user's consecutive failures durably; reaching
// Options.MaxFailures locks the account (audit event user_locked) until Unlock. A right
// password resets the failures. If the stored hash is cheaper than Options.Params (see
// needsRehash), a successful login stores a new hash at the current cost (audit event
// password_rehashed): the login is the only time the password is available to re-hash.
func (d *Directory) Authenticate(ctx context.Context, dniNumber, password string) (User, error) {
	return d.authenticate(ctx, dniNumber, password, StatusActive)
}

// AuthenticatePending is Authenticate for a credential still pending activation: the first
// sign-in inside an enrolment journey (journey 2: "first authentication with B@kQ" before the
// terms), which must prove the new password before the credential becomes active. It
// refuses every other status with ErrLocked, so it can never stand in for Authenticate.
func (d *Directory) AuthenticatePending(ctx context.Context, dniNumber, password string) (User, error) {
	return d.authenticate(ctx, dniNumber, password, StatusPending)
}

func (d *Directory) authenticate(ctx context.Context, dniNumber, password string, want Status) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	// Add never accepts a password this long, so it cannot match. Hash a fixed stand-in
	// instead, so an attacker cannot make hashing dearer with huge inputs (SECURITY.md §4.16),
	// and treat the attempt as a wrong password.
	candidate, overlong := []byte(password), len(password) > maxPasswordBytes
	if overlong {
		candidate = []byte(dummySalt)
	}
	var r record
	found := false
	if c, err := dni.Parse(dniNumber); err == nil {
		err = d.db.View(func(tx *bolt.Tx) error {
			var err error
			r, err = getByDNI(tx, c)
			return err
		})
		switch {
		case err == nil:
			// A pending credential may have no password yet: answer as for an unknown
			// number, after the same dummy hashing.
			found = r.PasswordHash != "" || r.Status != StatusPending
		case !errors.Is(err, ErrNotFound):
			return User{}, fmt.Errorf("directory: authenticate: %w", err)
		}
	}
	if !found {
		if err := d.dummy(ctx, candidate); err != nil {
			return User{}, err
		}
		if err := d.pad(); err != nil {
			return User{}, err
		}
		return User{}, ErrInvalidCredentials
	}
	h, err := parsePHC(r.PasswordHash)
	if err != nil {
		// Fail closed: no hash we can trust means no login. Not ErrInvalidCredentials,
		// so the operator sees a fault rather than a citizen typing wrong passwords.
		return User{}, fmt.Errorf("directory: authenticate user %s: %w", r.ID, err)
	}
	ok, err := d.verify(ctx, h, candidate)
	if err != nil {
		return User{}, err
	}
	ok = ok && !overlong
	if r.Status != want {
		// Hashed all the same (above), so a locked account answers as slowly as any other.
		if err := d.pad(); err != nil {
			return User{}, err
		}
		return User{}, ErrLocked
	}
	if !ok {
		return User{}, d.fail(ctx, r.ID)
	}
	return d.succeed(ctx, r, h, password)
}

// pad commits an empty write transaction. The wrong-password path commits one (the failure
// counter) and a commit's fsync takes milliseconds; without this, unknown DNIs and locked
// accounts would answer measurably faster (SECURITY.md §4.9: "one code path shape").
func (d *Directory) pad() error {
	if err := d.db.Update(func(*bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("directory: authenticate: %w", err)
	}
	return nil
}

// fail records a wrong password for user id, locking the account on reaching the limit. The
// read-modify-write is one transaction, so concurrent failures are all counted. It returns
// ErrInvalidCredentials, or the storage error.
func (d *Directory) fail(ctx context.Context, id string) error {
	var (
		r      record
		ev     Event
		locked bool
	)
	err := d.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = getByID(tx, id); err != nil {
			return err
		}
		r.Failures++
		r.UpdatedAt = d.timestamp()
		if r.Failures >= d.maxFailures && r.Status == StatusActive {
			locked = true
			ev, err = d.setStatus(tx, &r, StatusLocked, "too many failed passwords")
			return err
		}
		return putRecord(tx, &r)
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrInvalidCredentials // removed meanwhile
	case err != nil:
		return fmt.Errorf("directory: record failed attempt: %w", err)
	}
	if locked {
		d.emit(ctx, ev)
	}
	return ErrInvalidCredentials
}

// succeed finishes a login with the right password: it resets the failures and re-hashes a
// hash below the configured cost, writing only when one of the two is needed.
func (d *Directory) succeed(ctx context.Context, r record, h phc, password string) (User, error) {
	rehash := d.needsRehash(h)
	if r.Failures == 0 && !rehash {
		return r.user(), nil
	}
	var newHash string
	if rehash {
		var err error
		if newHash, err = d.hash(ctx, password); err != nil {
			return User{}, err
		}
	}
	var ev Event
	err := d.db.Update(func(tx *bolt.Tx) error {
		cur, err := getByID(tx, r.ID)
		if err != nil {
			return err
		}
		switch {
		case cur.PasswordHash != r.PasswordHash:
			// The password we verified is no longer the user's.
			return errPasswordChanged
		case cur.Status != r.Status:
			// Locked by concurrent failures (or otherwise changed) after we read it: the
			// change wins. r.Status is the status authenticate accepted (active, or pending
			// in an enrolment's first sign-in).
			return ErrLocked
		}
		cur.Failures = 0
		if rehash {
			cur.PasswordHash = newHash
		}
		cur.UpdatedAt = d.timestamp()
		r = cur
		if err := putRecord(tx, &cur); err != nil {
			return err
		}
		if !rehash {
			return nil
		}
		ev = d.newEvent("password_rehashed", &cur)
		return appendEvent(tx, ev)
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, errPasswordChanged):
		return User{}, ErrInvalidCredentials
	case errors.Is(err, ErrLocked):
		return User{}, ErrLocked
	case err != nil:
		return User{}, fmt.Errorf("directory: record login: %w", err)
	}
	if rehash {
		d.emit(ctx, ev)
	}
	return r.user(), nil
}
