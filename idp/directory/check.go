package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Check verifies the directory's invariants across its buckets, in one read transaction: the
// DNI index and the users agree both ways; every status is a known one; an active credential
// has a password and, if it went through an activation journey, its code is consumed; every
// audit index entry names a stored event of that user; every live code belongs to a stored
// user and its per-user index entry points back at it. It returns nil, or every problem found
// joined, each wrapping ErrCorrupt. Nothing is repaired.
//
// bbolt's transactions make each change all-or-nothing, so a crash (kill -9) can never
// produce a problem Check reports; the crash test runs it after killing a process
// mid-enrolment, and `atea directory check` runs it for an operator.
func (d *Directory) Check(ctx context.Context) error {
	var problems []error
	bad := func(format string, args ...any) {
		if len(problems) < 100 {
			problems = append(problems, fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...))
		}
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		users, byDNI := tx.Bucket([]byte(bucketUsers)), tx.Bucket([]byte(bucketByDNI))
		if users == nil || byDNI == nil {
			bad("users or by_dni bucket missing")
			return nil
		}
		recs := map[string]record{}
		err := users.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				bad("user %s: %v", k, err)
				return nil
			}
			if r.ID != string(k) {
				bad("user %s stored under key %s", r.ID, k)
			}
			recs[r.ID] = r
			if got := byDNI.Get([]byte(r.DNI)); !bytes.Equal(got, []byte(r.ID)) {
				bad("user %s: by_dni does not point at it", r.ID)
			}
			switch r.Status {
			case StatusPending, StatusLocked, StatusRevoked:
			case StatusActive:
				if r.PasswordHash == "" {
					bad("user %s: active without a password", r.ID)
				}
			default:
				bad("user %s: unknown status %q", r.ID, r.Status)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = byDNI.ForEach(func(k, v []byte) error {
			if r, ok := recs[string(v)]; !ok || r.DNI != string(k) {
				bad("by_dni entry for user %s points at no matching user", v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		checkAudit(tx, bad)
		checkCodes(tx, recs, bad)
		if b := tx.Bucket([]byte(bucketSignIns)); b != nil {
			_ = b.ForEach(func(k, v []byte) error {
				if _, ok := recs[string(k)]; !ok {
					bad("sign-ins of unknown user %s", k)
				} else if _, err := decodeSignIns(v); err != nil {
					bad("sign-ins of %s unreadable: %v", k, err)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("directory: check: %w", err)
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("directory: check: %w", err)
	}
	return nil
}

func checkAudit(tx *bolt.Tx, bad func(string, ...any)) {
	events, idx := tx.Bucket([]byte(bucketAudit)), tx.Bucket([]byte(bucketAuditByUser))
	if events == nil || idx == nil {
		bad("audit buckets missing")
		return
	}
	_ = idx.ForEach(func(k, _ []byte) error {
		nul := bytes.IndexByte(k, 0)
		if nul < 0 || len(k)-nul-1 != 16 {
			bad("audit index key malformed")
			return nil
		}
		raw := events.Get(k[nul+1:])
		if raw == nil {
			bad("audit index entry of %s without event", k[:nul])
			return nil
		}
		var ev Event
		if err := json.Unmarshal(raw, &ev); err != nil || ev.UserID != string(k[:nul]) {
			bad("audit event of %s unreadable or of another user", k[:nul])
		}
		return nil
	})
}

func checkCodes(tx *bolt.Tx, recs map[string]record, bad func(string, ...any)) {
	codes, byUser := tx.Bucket([]byte(bucketCodes)), tx.Bucket([]byte(bucketCodesByUser))
	if codes == nil && byUser == nil {
		return // no code was ever issued
	}
	if codes == nil || byUser == nil {
		bad("one of the code buckets missing")
		return
	}
	_ = codes.ForEach(func(k, v []byte) error {
		var c codeRecord
		if err := json.Unmarshal(v, &c); err != nil {
			bad("code record unreadable: %v", err)
			return nil
		}
		r, ok := recs[c.UserID]
		if !ok {
			bad("code of unknown user %s", c.UserID)
			return nil
		}
		live := c.UsedAt.IsZero()
		pointed := bytes.Equal(byUser.Get([]byte(c.UserID+"\x00"+c.Purpose)), k)
		if live != pointed && r.Status == StatusPending {
			bad("user %s: code index and code disagree (live %v, indexed %v)", c.UserID, live, pointed)
		}
		return nil
	})
	_ = byUser.ForEach(func(k, v []byte) error {
		if codes.Get(v) == nil {
			bad("code index entry %q without code", bytes.ReplaceAll(k, []byte{0}, []byte{'/'}))
		}
		return nil
	})
}
