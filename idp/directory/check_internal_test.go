package directory

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCheckFindsBrokenInvariants breaks each invariant Check guards by writing the buckets
// directly (what a bug or a torn write would do) and expects Check to name it.
func TestCheckFindsBrokenInvariants(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		corrupt func(tx *bolt.Tx, id, dniNumber string) error
		want    string
	}{
		{"index-missing", func(tx *bolt.Tx, _, dniNumber string) error {
			return tx.Bucket([]byte(bucketByDNI)).Delete([]byte(dniNumber))
		}, "by_dni does not point"},
		{"index-dangling", func(tx *bolt.Tx, _, _ string) error {
			return tx.Bucket([]byte(bucketByDNI)).Put([]byte("00000000T"), []byte("unobody"))
		}, "points at no matching user"},
		{"active-without-password", func(tx *bolt.Tx, id, _ string) error {
			r, err := getByID(tx, id)
			if err != nil {
				return err
			}
			r.Status, r.PasswordHash = StatusActive, ""
			return putRecord(tx, &r)
		}, "active without a password"},
		{"code-index-dangling", func(tx *bolt.Tx, id, _ string) error {
			return tx.Bucket([]byte(bucketCodesByUser)).Put([]byte(id+"\x00other"), []byte("nothing"))
		}, "without code"},
		{"audit-dangling", func(tx *bolt.Tx, id, _ string) error {
			return tx.Bucket([]byte(bucketAuditByUser)).Put(append([]byte(id+"\x00"), make([]byte, 16)...), nil)
		}, "without event"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := openTest(t, filepath.Join(t.TempDir(), "d.db"), Options{})
			u, err := d.Add(t.Context(), User{DNI: "48151623L", GivenName: "Ane", FamilyName: "Etxeberria", BirthDate: "1990-05-17",
				Credential: CredentialBak, Status: StatusPending}, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.IssueCode(t.Context(), PurposeActivation, u.DNI, time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := d.Check(t.Context()); err != nil {
				t.Fatalf("Check before breaking anything: %v", err)
			}
			if err := d.db.Update(func(tx *bolt.Tx) error { return tc.corrupt(tx, u.ID, u.DNI) }); err != nil {
				t.Fatal(err)
			}
			err = d.Check(t.Context())
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check() = %v, want ErrCorrupt naming %q", err, tc.want)
			}
		})
	}
}
