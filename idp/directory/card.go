package directory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Card sentinels. Test with errors.Is: they are returned wrapped.
var (
	// ErrNoCard means the user has no coordinate card (never issued, or revoked).
	ErrNoCard = errors.New("directory: no coordinate card")
	// ErrNoChallenge means VerifyCard found no pending challenge: none was asked for, or a
	// concurrent correct answer has already consumed it.
	ErrNoChallenge = errors.New("directory: no pending card challenge")
)

// cardRecord is a coordinate card as stored inside the user's record. It never holds a cell's
// value: only the keyed hash the card method computed (SECURITY.md §4.8), which the directory
// treats as opaque bytes.
type cardRecord struct {
	// Cells maps a position ("A1") to the keyed hash of its value.
	Cells map[string][]byte `json:"cells"`
	// Challenge is the pending challenge's positions, kept per account until answered
	// correctly so that nobody can "shop" for positions they know (SECURITY.md §4.8).
	Challenge []string `json:"challenge,omitempty"`
	// Shown counts how often the pending challenge was displayed (a probing signal).
	Shown int `json:"shown,omitempty"`
	// Failures counts consecutive wrong answers; Recent holds the times of the wrong answers
	// within the long window, successes notwithstanding.
	Failures int         `json:"failures"`
	Recent   []time.Time `json:"recent_failures,omitempty"`
	Locked   bool        `json:"locked"`
	IssuedAt time.Time   `json:"issued_at"`
}

// CardLimits are the lockout rules VerifyCard applies; the card method owns them (they are its
// configuration), the directory enforces them inside its transaction.
type CardLimits struct {
	// MaxConsecutive locks the card after this many wrong answers in a row (must be ≥ 1).
	MaxConsecutive int
	// MaxRecent locks the card after this many wrong answers within Window, even when
	// interleaved with correct ones (SECURITY.md §4.8: "cap failures at 10 per 30 days");
	// 0 disables the rule.
	MaxRecent int
	Window    time.Duration
}

// IssueCard stores a new coordinate card for the user with internal ID userID: cells maps
// each position to the keyed hash of its value (never the value). It replaces any previous
// card, which invalidates all its cells (SECURITY.md §4.8, ASVS 5.0 V6.5.6), and starts
// unlocked with no failures and no pending challenge. Audit event card_issued.
//
// Errors: ErrNotFound (wrapped) for an unknown user; ErrInvalid for an empty card or cell.
func (d *Directory) IssueCard(ctx context.Context, userID string, cells map[string][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(cells) == 0 {
		return fmt.Errorf("%w card: no cells", ErrInvalid)
	}
	for _, h := range cells {
		if len(h) == 0 {
			return fmt.Errorf("%w card: empty cell hash", ErrInvalid)
		}
	}
	c := &cardRecord{Cells: maps.Clone(cells), IssuedAt: d.timestamp()}
	_, err := d.updateCard(ctx, userID, func(r *record) error {
		r.Card = c
		return nil
	}, always("card_issued"))
	if err != nil {
		return fmt.Errorf("directory: issue card: %w", err)
	}
	return nil
}

// CardChallenge returns the positions of the user's pending card challenge, creating it with
// pick() if there is none. Reading and creating happen in one write transaction, so two flows
// starting at once see the same positions, and the challenge survives restarts and is shared
// by every flow, browser and SP until VerifyCard consumes it. pick must return distinct
// positions of the card; it runs inside the transaction and must not block.
//
// A locked card gives (nil, true, nil): no positions are shown for it. Errors: ErrNotFound
// (unknown user), ErrNoCard, ErrInvalid if pick returns nothing or a position not on the card.
func (d *Directory) CardChallenge(ctx context.Context, userID string, pick func() []string) (positions []string, locked bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	_, err = d.updateCard(ctx, userID, func(r *record) error {
		c := r.Card
		if c == nil {
			return ErrNoCard
		}
		if c.Locked {
			locked = true
			return nil
		}
		if len(c.Challenge) == 0 {
			p := pick()
			if err := checkPositions(c, p); err != nil {
				return err
			}
			c.Challenge, c.Shown = slices.Clone(p), 0
		}
		c.Shown++
		positions = slices.Clone(c.Challenge)
		return nil
	}, nil)
	if err != nil {
		return nil, false, fmt.Errorf("directory: card challenge: %w", err)
	}
	return positions, locked, nil
}

// checkPositions refuses a challenge that is empty, repeats a position or names one the card
// lacks: such a challenge could never be answered, and fails closed.
func checkPositions(c *cardRecord, p []string) error {
	if len(p) == 0 {
		return fmt.Errorf("%w card challenge: no positions", ErrInvalid)
	}
	seen := make(map[string]bool, len(p))
	for _, pos := range p {
		if _, ok := c.Cells[pos]; !ok || seen[pos] {
			return fmt.Errorf("%w card challenge: bad or repeated position", ErrInvalid)
		}
		seen[pos] = true
	}
	return nil
}

// VerifyCard checks an answer to the user's pending challenge, all in ONE write transaction:
// it counts the attempt first, then calls check with the pending positions and the stored
// cell hashes, then either resets the failures and clears the challenge (ok) or locks the card
// when lim says so. Because the transaction is serialised, of two concurrent correct answers
// exactly one gets ok; the other finds the challenge gone (ErrNoChallenge). check must compare
// in constant time, must not block and must not keep the map.
//
// A locked card gives (false, true, nil) without calling check. locked is also true when this
// wrong answer locked the card. Audit events card_failed (each wrong answer) and card_locked.
// Errors: ErrNotFound (unknown user), ErrNoCard, ErrNoChallenge, ErrInvalid for bad limits.
func (d *Directory) VerifyCard(ctx context.Context, userID string, check func(positions []string, cells map[string][]byte) bool, lim CardLimits) (ok, locked bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, false, err
	}
	if lim.MaxConsecutive < 1 || lim.MaxRecent < 0 || (lim.MaxRecent > 0 && lim.Window <= 0) {
		return false, false, fmt.Errorf("%w card limits", ErrInvalid)
	}
	lockedNow, checked := false, false
	_, err = d.updateCard(ctx, userID, func(r *record) error {
		c := r.Card
		switch {
		case c == nil:
			return ErrNoCard
		case c.Locked:
			locked = true
			return nil
		case len(c.Challenge) == 0:
			return ErrNoChallenge
		}
		// Count first (kratos code_login.go: "increment the submit count before anything
		// else"): the count and the verdict commit together or not at all.
		now := d.timestamp()
		c.Failures++
		if lim.MaxRecent > 0 {
			c.Recent = append(pruneRecent(c.Recent, now, lim.Window), now)
		} else {
			c.Recent = nil
		}
		checked = true
		if check(slices.Clone(c.Challenge), maps.Clone(c.Cells)) {
			ok = true
			c.Failures, c.Challenge, c.Shown = 0, nil, 0
			if len(c.Recent) > 0 {
				c.Recent = c.Recent[:len(c.Recent)-1] // the attempt was no failure after all
			}
			return nil
		}
		if c.Failures >= lim.MaxConsecutive || (lim.MaxRecent > 0 && len(c.Recent) >= lim.MaxRecent) {
			c.Locked, locked, lockedNow = true, true, true
		}
		return nil
	}, func() []string {
		var names []string
		if checked && !ok {
			names = append(names, "card_failed")
		}
		if lockedNow {
			names = append(names, "card_locked")
		}
		return names
	})
	if err != nil {
		return false, false, fmt.Errorf("directory: verify card: %w", err)
	}
	return ok, locked, nil
}

// pruneRecent drops failure times that are window or more before now.
func pruneRecent(recent []time.Time, now time.Time, window time.Duration) []time.Time {
	cut := now.Add(-window)
	return slices.DeleteFunc(recent, func(t time.Time) bool { return !t.After(cut) })
}

// UnlockCard lifts a card lock (an administrator's decision after checking the citizen's
// identity): failures reset, the same cells stay valid and the pending challenge, if any,
// stays, so an unlock cannot be used to obtain other positions. Re-issuing (IssueCard) is the
// way to invalidate a card that may be compromised. Audit event card_unlocked.
// Errors: ErrNotFound, ErrNoCard.
func (d *Directory) UnlockCard(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := d.updateCard(ctx, userID, func(r *record) error {
		if r.Card == nil {
			return ErrNoCard
		}
		r.Card.Locked, r.Card.Failures, r.Card.Recent = false, 0, nil
		return nil
	}, always("card_unlocked"))
	if err != nil {
		return fmt.Errorf("directory: unlock card: %w", err)
	}
	return nil
}

// RevokeCard deletes the user's card (lost or stolen card; ASVS 5.0 V6.5.6): afterwards the
// user has no card until IssueCard. Audit event card_revoked. Errors: ErrNotFound, ErrNoCard.
func (d *Directory) RevokeCard(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := d.updateCard(ctx, userID, func(r *record) error {
		if r.Card == nil {
			return ErrNoCard
		}
		r.Card = nil
		return nil
	}, always("card_revoked"))
	if err != nil {
		return fmt.Errorf("directory: revoke card: %w", err)
	}
	return nil
}

// updateCard runs fn on the user's record inside one write transaction and stores the result
// unless fn fails. It returns the record as stored (for audit events).
//
// events, if set, is called after fn succeeds and names the audit events of the change; they
// are stored in the same transaction and written to the audit logger after it commits.
func (d *Directory) updateCard(ctx context.Context, userID string, fn func(*record) error, events func() []string) (record, error) {
	var (
		r   record
		evs []Event
	)
	err := d.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = getByID(tx, userID); err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
		r.UpdatedAt = d.timestamp()
		if err := putRecord(tx, &r); err != nil {
			return err
		}
		evs = evs[:0]
		if events != nil {
			for _, name := range events() {
				ev := d.newEvent(name, &r)
				if err := appendEvent(tx, ev); err != nil {
					return err
				}
				evs = append(evs, ev)
			}
		}
		return nil
	})
	if err == nil {
		d.emit(ctx, evs...)
	}
	return r, err
}

// always names a fixed event for updateCard.
func always(name string) func() []string { return func() []string { return []string{name} } }
