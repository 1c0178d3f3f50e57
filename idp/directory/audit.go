package directory

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ateaidp/atea/idp/dni"
)

// Event is one audit event as the directory keeps it in its own file (bucket "audit") and
// writes it to Options.Audit. It names the user by ID and masked DNI/NIE only (SECURITY.md
// §4.22): the trail must not become a second copy of the personal data.
type Event struct {
	Time   time.Time `json:"time"`
	Name   string    `json:"event"`          // e.g. user_added, user_locked, status_changed
	UserID string    `json:"user_id"`        // the internal ID
	User   string    `json:"user"`           // the masked DNI/NIE (dni.Mask)
	From   Status    `json:"from,omitempty"` // status before, for status changes
	To     Status    `json:"to,omitempty"`   // status after, for status changes
	Reason string    `json:"reason,omitempty"`
}

// Bucket names of the audit trail (see the package doc).
const (
	bucketAudit       = "audit"
	bucketAuditByUser = "audit_by_user"
)

// newEvent builds an event about r at the directory's clock.
func (d *Directory) newEvent(name string, r *record) Event {
	return Event{Time: d.timestamp(), Name: name, UserID: r.ID, User: dni.Mask(r.DNI)}
}

// appendEvent stores ev inside tx, so the event commits with the change it describes or not
// at all (a kill -9 cannot leave a change without its event, nor an event without its change).
//
// Keys of "audit" are the event time (Unix nanoseconds, big-endian) and the bucket's sequence
// number, so byte order is time order and two events of one instant stay distinct.
// "audit_by_user" maps user ID, NUL, that key to nothing: an index for History.
func appendEvent(tx *bolt.Tx, ev Event) error {
	b := tx.Bucket([]byte(bucketAudit))
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("directory: audit sequence: %w", err)
	}
	var key [16]byte
	binary.BigEndian.PutUint64(key[:8], uint64(ev.Time.UnixNano()))
	binary.BigEndian.PutUint64(key[8:], seq)
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("directory: encode audit event: %w", err)
	}
	if err := b.Put(key[:], raw); err != nil {
		return fmt.Errorf("directory: store audit event: %w", err)
	}
	ik := append(append([]byte(ev.UserID), 0), key[:]...)
	if err := tx.Bucket([]byte(bucketAuditByUser)).Put(ik, nil); err != nil {
		return fmt.Errorf("directory: index audit event: %w", err)
	}
	return nil
}

// emit writes committed events to the audit logger, with a fixed "event" attribute
// (STYLE.md §B5) and the masked DNI, never the whole number.
func (d *Directory) emit(ctx context.Context, evs ...Event) {
	for _, ev := range evs {
		attrs := []slog.Attr{
			slog.String("event", ev.Name),
			slog.String("user", ev.User),
			slog.String("user_id", ev.UserID),
		}
		if ev.From != "" || ev.To != "" {
			attrs = append(attrs, slog.String("from", string(ev.From)), slog.String("to", string(ev.To)))
		}
		if ev.Reason != "" {
			attrs = append(attrs, slog.String("reason", ev.Reason))
		}
		d.audit.LogAttrs(ctx, slog.LevelInfo, ev.Name, attrs...)
	}
}

// History returns the last n audit events of the user with that DNI/NIE, oldest first; n ≤ 0
// returns them all. Errors wrap ErrNotFound for an unknown or malformed number, ErrCorrupt for
// an unreadable event.
func (d *Directory) History(ctx context.Context, dniOrNIE string, n int) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := parseKey(dniOrNIE)
	if err != nil {
		return nil, err
	}
	var out []Event
	err = d.db.View(func(tx *bolt.Tx) error {
		r, err := getByDNI(tx, c)
		if err != nil {
			return err
		}
		prefix := append([]byte(r.ID), 0)
		events := tx.Bucket([]byte(bucketAudit))
		cur := tx.Bucket([]byte(bucketAuditByUser)).Cursor()
		// Walk the user's index entries backwards from the newest: seek past the prefix
		// (17 bytes of 0xff sort after every 16-byte key), then step back.
		k, _ := cur.Seek(append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 17)...))
		if k == nil {
			k, _ = cur.Last()
		} else {
			k, _ = cur.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && (n <= 0 || len(out) < n); k, _ = cur.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			raw := events.Get(k[len(prefix):])
			if raw == nil {
				return fmt.Errorf("%w: audit index entry without event", ErrCorrupt)
			}
			var ev Event
			if err := json.Unmarshal(raw, &ev); err != nil {
				// No %w: callers branch on ErrCorrupt, not on encoding/json's types.
				return fmt.Errorf("%w: audit event: %v", ErrCorrupt, err)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("directory: history %s: %w", dni.Mask(c), err)
	}
	// Collected newest first; hand them back in time order.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
