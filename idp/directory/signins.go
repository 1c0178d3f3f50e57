package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// SignIn is one sign-in of a citizen as the account page lists it ("recent sign-ins", issue 5
// journey 5): when, at which level, with which method and from which network. It names no
// service provider and no full address (the IdP cuts the host part before recording it), so
// the list is no tracking record.
type SignIn struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`             // low, substantial, high
	Method  string    `json:"method"`            // password, coordcard, smsotp, certificate
	Network string    `json:"network,omitempty"` // e.g. 192.0.2.0/24
}

// MaxSignIns is how many sign-ins RecordSignIn keeps per citizen; older ones are dropped.
const MaxSignIns = 20

// bucketSignIns maps a user ID to the JSON list of that user's last sign-ins, newest first.
// One value per user keeps the trim to MaxSignIns a single Put in the recording transaction.
const bucketSignIns = "signins"

// maxSignInField bounds each text field of a SignIn: they are short words and a prefix.
const maxSignInField = 64

// RecordSignIn adds si to the recent sign-ins of the user with internal ID userID, keeping
// the newest MaxSignIns (the oldest are dropped in the same transaction). A zero si.Time
// means now. It records no audit event: the IdP logs every sign-in already, and the trail
// is for changes to the credential. Errors wrap ErrNotFound (no such user) or ErrInvalid
// (a field too long or with control characters).
func (d *Directory) RecordSignIn(ctx context.Context, userID string, si SignIn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for name, v := range map[string]string{"level": si.Level, "method": si.Method, "network": si.Network} {
		if problem := checkSignInField(v); problem != "" {
			return fmt.Errorf("directory: record sign-in: %w %s: %s", ErrInvalid, name, problem)
		}
	}
	if si.Time.IsZero() {
		si.Time = d.timestamp()
	} else {
		si.Time = si.Time.Round(0).UTC()
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		if _, err := getByID(tx, userID); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists([]byte(bucketSignIns))
		if err != nil {
			return err
		}
		list, err := decodeSignIns(b.Get([]byte(userID)))
		if err != nil {
			return err
		}
		list = append(list, si)
		// Newest first by time, not by arrival: instances sharing a directory may record
		// slightly out of order.
		slices.SortStableFunc(list, func(a, b SignIn) int { return b.Time.Compare(a.Time) })
		if len(list) > MaxSignIns {
			list = list[:MaxSignIns]
		}
		raw, err := json.Marshal(list)
		if err != nil {
			return fmt.Errorf("encode sign-ins: %w", err)
		}
		return b.Put([]byte(userID), raw)
	})
	if err != nil {
		return fmt.Errorf("directory: record sign-in: %w", err)
	}
	return nil
}

// RecentSignIns returns the last n sign-ins of the user with internal ID userID, newest
// first (n ≤ 0: all that are kept, at most MaxSignIns). A user who never signed in since
// sign-ins were recorded has none. Errors wrap ErrNotFound (no such user) or ErrCorrupt.
func (d *Directory) RecentSignIns(ctx context.Context, userID string, n int) ([]SignIn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []SignIn
	err := d.db.View(func(tx *bolt.Tx) error {
		if _, err := getByID(tx, userID); err != nil {
			return err
		}
		b := tx.Bucket([]byte(bucketSignIns))
		if b == nil {
			return nil // no sign-in was ever recorded in this file
		}
		var err error
		out, err = decodeSignIns(b.Get([]byte(userID)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("directory: recent sign-ins: %w", err)
	}
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// decodeSignIns reads a stored list (nil: none yet).
func decodeSignIns(raw []byte) ([]SignIn, error) {
	if raw == nil {
		return nil, nil
	}
	var list []SignIn
	if err := json.Unmarshal(raw, &list); err != nil {
		// No %w on the JSON error: callers branch on ErrCorrupt, not on encoding/json's types.
		return nil, fmt.Errorf("%w: sign-ins: %v", ErrCorrupt, err)
	}
	return list, nil
}

// checkSignInField says why v cannot be stored in a SignIn, or "".
func checkSignInField(v string) string {
	if len(v) > maxSignInField {
		return fmt.Sprintf("longer than %d bytes", maxSignInField)
	}
	if slices.ContainsFunc([]rune(v), badRune) {
		return "contains a control character"
	}
	if !utf8.ValidString(v) {
		return "not UTF-8"
	}
	return ""
}
