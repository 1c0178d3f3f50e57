package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/ateaidp/atea/idp/dni"
)

// ErrTransition means a status change the lifecycle does not allow (see CheckTransition); the
// wrapping error names both statuses, e.g. "directory: status transition not allowed: revoked
// → active".
var ErrTransition = errors.New("directory: status transition not allowed")

// transitions is the credential lifecycle (issue 5): the only status changes there are. A
// pending credential is activated once; an active one can be locked (too many failures or an
// administrator) and unlocked; any but a revoked one can be revoked, and revoked is final, so
// no unlock, recovery or activation can bring a revoked credential back.
var transitions = map[Status][]Status{
	StatusPending: {StatusActive, StatusRevoked},
	StatusActive:  {StatusLocked, StatusRevoked},
	StatusLocked:  {StatusActive, StatusRevoked},
}

// CheckTransition reports whether a credential may go from status from to status to: nil if
// the lifecycle allows it, else an error wrapping ErrTransition naming both. Staying in the
// same status is not a transition and is refused too, as is any unknown status.
func CheckTransition(from, to Status) error {
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("%w: %q → %q", ErrTransition, from, to)
}

// statusEvent is the audit event name of a status change.
func statusEvent(from, to Status) string {
	switch {
	case to == StatusLocked:
		return "user_locked"
	case to == StatusRevoked:
		return "user_revoked"
	case from == StatusLocked && to == StatusActive:
		return "user_unlocked"
	}
	return "status_changed"
}

// setStatus is the one place a status changes: it checks the transition, updates r (a
// transition to active also clears the failures), and stores r and its audit event inside
// tx. It returns the event for the caller to emit once tx has committed.
func (d *Directory) setStatus(tx *bolt.Tx, r *record, to Status, reason string) (Event, error) {
	from := r.Status
	if err := CheckTransition(from, to); err != nil {
		return Event{}, err
	}
	r.Status, r.UpdatedAt = to, d.timestamp()
	if to == StatusActive {
		r.Failures = 0
	}
	if err := putRecord(tx, r); err != nil {
		return Event{}, err
	}
	ev := d.newEvent(statusEvent(from, to), r)
	ev.From, ev.To, ev.Reason = from, to, reason
	if err := appendEvent(tx, ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

const maxReasonRunes = 200

// checkReason refuses a reason that could forge or bloat audit lines. The reason is an
// administrator's note; it should not hold personal data, which the directory cannot check.
func checkReason(reason string) error {
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > maxReasonRunes ||
		strings.IndexFunc(reason, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w reason: at most %d printable characters", ErrInvalid, maxReasonRunes)
	}
	return nil
}

// changeStatus moves the credential of dniOrNIE to status to in one transaction, with its
// audit event; allow, if set, may refuse the change first (returning an error).
func (d *Directory) changeStatus(ctx context.Context, op, dniOrNIE string, to Status, reason string, allow func(from Status) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := parseKey(dniOrNIE)
	if err != nil {
		return err
	}
	if err := checkReason(reason); err != nil {
		return fmt.Errorf("directory: %s %s: %w", op, dni.Mask(c), err)
	}
	var ev Event
	err = d.db.Update(func(tx *bolt.Tx) error {
		r, err := getByDNI(tx, c)
		if err != nil {
			return err
		}
		if allow != nil {
			if err := allow(r.Status); err != nil {
				return err
			}
		}
		ev, err = d.setStatus(tx, &r, to, reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("directory: %s %s: %w", op, dni.Mask(c), err)
	}
	d.emit(ctx, ev)
	return nil
}

// Lock blocks an active credential by an administrator's decision (audit event user_locked
// with the reason); Authenticate then answers ErrLocked until Unlock. Errors wrap
// ErrNotFound, ErrTransition (not active) or ErrInvalid (a reason over 200 characters or with
// control characters).
func (d *Directory) Lock(ctx context.Context, dniOrNIE, reason string) error {
	return d.changeStatus(ctx, "lock", dniOrNIE, StatusLocked, reason, nil)
}

// Revoke ends a pending, active or locked credential for good (audit event user_revoked):
// revoked is final, nothing in the directory makes it active again. A new credential for the
// person would need the record removed first, which the directory does not offer yet.
// Errors wrap ErrNotFound, ErrTransition (already revoked) or ErrInvalid (bad reason).
func (d *Directory) Revoke(ctx context.Context, dniOrNIE, reason string) error {
	return d.changeStatus(ctx, "revoke", dniOrNIE, StatusRevoked, reason, nil)
}

// Activate makes a pending credential active (audit event status_changed), the last step of
// the activation journeys. Errors wrap ErrNotFound or ErrTransition (not pending).
func (d *Directory) Activate(ctx context.Context, dniOrNIE, reason string) error {
	return d.changeStatus(ctx, "activate", dniOrNIE, StatusActive, reason, func(from Status) error {
		if from != StatusPending {
			return fmt.Errorf("%w: activate applies to %q, not %q", ErrTransition, StatusPending, from)
		}
		return nil
	})
}

// Unlock makes a locked account active with no failures: the administrator's or self-service
// unblock (audit event user_unlocked). On an active account it only clears the failure counter
// (audit event failures_cleared, when there were any), so unblocking twice is harmless. Any
// other status is refused with an error wrapping ErrTransition: an unblock never activates a
// pending credential nor revives a revoked one.
func (d *Directory) Unlock(ctx context.Context, dniOrNIE string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := parseKey(dniOrNIE)
	if err != nil {
		return err
	}
	var evs []Event
	err = d.db.Update(func(tx *bolt.Tx) error {
		r, err := getByDNI(tx, c)
		if err != nil {
			return err
		}
		switch r.Status {
		case StatusActive:
			if r.Failures == 0 {
				return nil
			}
			r.Failures, r.UpdatedAt = 0, d.timestamp()
			if err := putRecord(tx, &r); err != nil {
				return err
			}
			ev := d.newEvent("failures_cleared", &r)
			evs = append(evs, ev)
			return appendEvent(tx, ev)
		case StatusLocked:
			ev, err := d.setStatus(tx, &r, StatusActive, "")
			evs = append(evs, ev)
			return err
		}
		return fmt.Errorf("%w: unlock applies to %q, not %q", ErrTransition, StatusLocked, r.Status)
	})
	if err != nil {
		return fmt.Errorf("directory: unlock %s: %w", dni.Mask(c), err)
	}
	d.emit(ctx, evs...)
	return nil
}

// AcceptTerms records that the citizen accepted version of the terms of use, now (audit event
// terms_accepted with the version as reason). Errors wrap ErrNotFound, or ErrInvalid for an
// empty version or one with control characters or over 200 characters.
func (d *Directory) AcceptTerms(ctx context.Context, dniOrNIE, version string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := parseKey(dniOrNIE)
	if err != nil {
		return err
	}
	if version == "" || checkReason(version) != nil {
		return fmt.Errorf("directory: accept terms %s: %w terms version", dni.Mask(c), ErrInvalid)
	}
	var ev Event
	err = d.db.Update(func(tx *bolt.Tx) error {
		r, err := getByDNI(tx, c)
		if err != nil {
			return err
		}
		r.TermsVersion, r.TermsAt = version, d.timestamp()
		r.UpdatedAt = r.TermsAt
		if err := putRecord(tx, &r); err != nil {
			return err
		}
		ev = d.newEvent("terms_accepted", &r)
		ev.Reason = version
		return appendEvent(tx, ev)
	})
	if err != nil {
		return fmt.Errorf("directory: accept terms %s: %w", dni.Mask(c), err)
	}
	d.emit(ctx, ev)
	return nil
}
