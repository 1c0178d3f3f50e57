package directory_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/directory"
)

type enrolClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *enrolClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *enrolClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newPending(t *testing.T) (*directory.Directory, *enrolClock, directory.User) {
	t.Helper()
	clock := &enrolClock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	d, err := directory.Open(filepath.Join(t.TempDir(), "d.db"), directory.Options{
		Params: directory.Params{MemoryKiB: 64, Time: 1, Threads: 1}, Now: clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	u, err := d.Add(t.Context(), directory.User{DNI: "48151623L", GivenName: "Ane", FamilyName: "Etxeberria",
		BirthDate: "1990-05-17", DocumentExpiry: "9999-01-01", Phone: "+34600000707", Credential: directory.CredentialBak,
		Status: directory.StatusPending}, "")
	if err != nil {
		t.Fatal(err)
	}
	return d, clock, u
}

// TestActivationCode walks a letter's code through its whole life: checked with the right
// data (not consumed), refused with wrong data (counted), consumed by Enrol together with the
// password, terms and activation, and refused afterwards.
func TestActivationCode(t *testing.T) {
	t.Parallel()
	d, _, u := newPending(t)
	ctx := t.Context()
	if _, err := d.Authenticate(ctx, u.DNI, "anything at all"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("Authenticate(pending, no password) = %v, want ErrInvalidCredentials", err)
	}
	code, exp, err := d.IssueCode(ctx, directory.PurposeActivation, u.DNI, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != 16 || exp.IsZero() {
		t.Fatalf("IssueCode = %q, %v", code, exp)
	}
	typed := strings.ToLower(directory.FormatCode(code))
	cc := directory.CodeCheck{Purpose: directory.PurposeActivation, Code: typed, DNI: "48151623-l", DocumentExpiry: "01/01/9999"}
	if got, err := d.CheckCode(ctx, cc); err != nil || got.ID != u.ID {
		t.Fatalf("CheckCode(right data, as typed) = %v, %v", got.ID, err)
	}
	if _, err := d.CheckCode(ctx, cc); err != nil {
		t.Fatalf("CheckCode consumed the code: %v", err)
	}
	wrong := cc
	wrong.DocumentExpiry = "01/01/2030"
	if _, err := d.CheckCode(ctx, wrong); !errors.Is(err, directory.ErrMismatch) {
		t.Errorf("CheckCode(wrong expiry) = %v, want ErrMismatch", err)
	}
	other := cc
	other.Purpose = directory.PurposeEnrolment
	if _, err := d.CheckCode(ctx, other); !errors.Is(err, directory.ErrCodeInvalid) {
		t.Errorf("CheckCode(other purpose) = %v, want ErrCodeInvalid", err)
	}
	if _, err := d.Enrol(ctx, directory.Enrolment{DNI: u.DNI, Purpose: directory.PurposeActivation, Code: code,
		Password: "short", TermsVersion: "t1", Activate: true}); !errors.Is(err, directory.ErrWeakPassword) {
		t.Errorf("Enrol(weak password) = %v, want ErrWeakPassword", err)
	}
	got, err := d.Enrol(ctx, directory.Enrolment{DNI: u.DNI, Purpose: directory.PurposeActivation, Code: typed,
		Password: "a good password", TermsVersion: "t1", Activate: true, Reason: "activation"})
	if err != nil {
		t.Fatalf("Enrol: %v", err)
	}
	if got.Status != directory.StatusActive || got.TermsVersion != "t1" {
		t.Errorf("after Enrol: status %s, terms %q", got.Status, got.TermsVersion)
	}
	if _, err := d.Authenticate(ctx, u.DNI, "a good password"); err != nil {
		t.Errorf("Authenticate after activation: %v", err)
	}
	if _, err := d.CheckCode(ctx, cc); !errors.Is(err, directory.ErrCodeUsed) {
		t.Errorf("CheckCode after use = %v, want ErrCodeUsed", err)
	}
	if _, err := d.Enrol(ctx, directory.Enrolment{DNI: u.DNI, Purpose: directory.PurposeActivation, Code: code,
		Password: "another good password", Activate: true}); !errors.Is(err, directory.ErrCodeUsed) {
		t.Errorf("second Enrol = %v, want ErrCodeUsed", err)
	}
	if _, err := d.Authenticate(ctx, u.DNI, "a good password"); err != nil {
		t.Errorf("a refused second Enrol changed the password: %v", err)
	}
	if err := d.Check(ctx); err != nil {
		t.Error(err)
	}
}

// TestCodeExpiryAttemptsAndSupersede: a code expires, burns after MaxCodeAttempts
// mismatches, and a newer code replaces the older one.
func TestCodeExpiryAttemptsAndSupersede(t *testing.T) {
	t.Parallel()
	d, clock, u := newPending(t)
	ctx := t.Context()
	cc := func(code string) directory.CodeCheck {
		return directory.CodeCheck{Purpose: directory.PurposeActivation, Code: code, DNI: u.DNI, DocumentExpiry: "9999-01-01"}
	}
	first, _, err := d.IssueCode(ctx, directory.PurposeActivation, u.DNI, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := d.IssueCode(ctx, directory.PurposeActivation, u.DNI, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CheckCode(ctx, cc(first)); !errors.Is(err, directory.ErrCodeInvalid) {
		t.Errorf("superseded code: %v, want ErrCodeInvalid", err)
	}
	if _, err := d.CheckCode(ctx, cc("ABCDEFGHJKMNPQRS")); !errors.Is(err, directory.ErrCodeInvalid) {
		t.Errorf("never issued: %v, want ErrCodeInvalid", err)
	}
	clock.add(time.Hour)
	if _, err := d.CheckCode(ctx, cc(second)); !errors.Is(err, directory.ErrCodeExpired) {
		t.Errorf("after its hour: %v, want ErrCodeExpired", err)
	}
	third, _, err := d.IssueCode(ctx, directory.PurposeActivation, u.DNI, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bad := cc(third)
	bad.DNI = "12345678Z"
	for i := range directory.MaxCodeAttempts {
		if _, err := d.CheckCode(ctx, bad); !errors.Is(err, directory.ErrMismatch) {
			t.Fatalf("mismatch %d: %v", i+1, err)
		}
	}
	if _, err := d.CheckCode(ctx, cc(third)); !errors.Is(err, directory.ErrCodeInvalid) {
		t.Errorf("after %d mismatches the right data: %v, want ErrCodeInvalid (burned)", directory.MaxCodeAttempts, err)
	}
	if _, _, err := d.IssueCode(ctx, directory.PurposeActivation, "12345678Z", time.Hour); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("IssueCode(unknown) = %v, want ErrNotFound", err)
	}
}

// TestSetPasswordAndContact: recovery unblocks a locked credential, a revoked one gets no
// password, and contact changes are validated.
func TestSetPasswordAndContact(t *testing.T) {
	t.Parallel()
	d, _, u := newPending(t)
	ctx := t.Context()
	if _, _, err := d.IssueCode(ctx, directory.PurposeActivation, u.DNI, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPassword(ctx, u.DNI, "a good password", false, "desk"); err != nil {
		t.Fatalf("SetPassword(pending): %v", err)
	}
	if _, err := d.AuthenticatePending(ctx, u.DNI, "not the password"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("AuthenticatePending(wrong) = %v, want ErrInvalidCredentials", err)
	}
	if _, err := d.AuthenticatePending(ctx, u.DNI, "a good password"); err != nil {
		t.Errorf("AuthenticatePending after one wrong password: %v", err)
	}
	if _, err := d.Authenticate(ctx, u.DNI, "a good password"); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("Authenticate(pending) = %v, want ErrLocked", err)
	}
	if _, err := d.Enrol(ctx, directory.Enrolment{DNI: u.DNI, TermsVersion: "t1", Activate: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AuthenticatePending(ctx, u.DNI, "a good password"); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("AuthenticatePending(active) = %v, want ErrLocked", err)
	}
	if err := d.Lock(ctx, u.DNI, "test"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPassword(ctx, u.DNI, "48151623 password", true, "recovery"); !errors.Is(err, directory.ErrWeakPassword) {
		t.Errorf("SetPassword(contains DNI) = %v, want ErrWeakPassword", err)
	}
	if err := d.SetPassword(ctx, u.DNI, "a new good password", true, "recovery"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, u.DNI, "a new good password"); err != nil {
		t.Errorf("after recovery with unlock: %v", err)
	}
	if err := d.SetContact(ctx, u.DNI, "phone", "+34 600 111 222"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetContact(ctx, u.DNI, "email", "not an address"); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("SetContact(bad e-mail) = %v, want ErrInvalid", err)
	}
	if err := d.SetContact(ctx, u.DNI, "name", "x"); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("SetContact(unknown field) = %v, want ErrInvalid", err)
	}
	if got, _ := d.Get(ctx, u.DNI); got.Phone != "+34600111222" {
		t.Errorf("phone = %q", got.Phone)
	}
	if err := d.Revoke(ctx, u.DNI, "test"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetPassword(ctx, u.DNI, "yet another password", true, "recovery"); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("SetPassword(revoked) = %v, want ErrTransition", err)
	}
	evs, err := d.History(ctx, u.DNI, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range evs {
		names = append(names, e.Name)
	}
	for _, want := range []string{"code_issued", "password_set", "terms_accepted", "status_changed", "user_locked", "user_unlocked", "phone_changed", "user_revoked"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("history %v lacks %s", names, want)
		}
	}
}

// TestPasswordRule: each policy rule is named from the error Add and SetPassword return, not
// from its text.
func TestPasswordRule(t *testing.T) {
	t.Parallel()
	d, _, u := newPending(t)
	for pw, want := range map[string]string{"short": "short", strings.Repeat("x", 300): "long", "my 48151623 pw": "dni", "password": "common"} {
		err := d.SetPassword(t.Context(), u.DNI, pw, false, "test")
		if !errors.Is(err, directory.ErrWeakPassword) || directory.PasswordRule(err) != want {
			t.Errorf("SetPassword(%.12q…) = %v, rule %q, want %q", pw, err, directory.PasswordRule(err), want)
		}
	}
	if got := directory.PasswordRule(directory.ErrNotFound); got != "" {
		t.Errorf("PasswordRule(ErrNotFound) = %q, want \"\"", got)
	}
}
