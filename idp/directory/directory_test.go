package directory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
)

const (
	aneDNI = "48151623L"
	anePW  = "a good password"
	nieID  = "X1234567L"
)

// tinyParams keep argon2id fast in tests; the cost is not what is under test.
func tinyParams() directory.Params { return directory.Params{MemoryKiB: 64, Time: 1, Threads: 1} }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// auditLog collects the audit logger's JSON lines.
type auditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (a *auditLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.buf.Write(p)
}

func (a *auditLog) String() string { a.mu.Lock(); defer a.mu.Unlock(); return a.buf.String() }

// events returns the audit records whose "event" is name.
func (a *auditLog) events(t *testing.T, name string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(a.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if m["event"] == name {
			out = append(out, m)
		}
	}
	return out
}

type fixture struct {
	d     *directory.Directory
	path  string
	clock *clock
	audit *auditLog
	opts  directory.Options
}

// newFixture opens a directory in a temp dir with tiny argon2 parameters, a fixed clock and a
// captured audit log; change adjusts the options first.
func newFixture(t *testing.T, change func(*directory.Options)) *fixture {
	t.Helper()
	f := &fixture{
		path:  filepath.Join(t.TempDir(), "directory.db"),
		clock: &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)},
		audit: &auditLog{},
	}
	f.opts = directory.Options{
		Params:      tinyParams(),
		MaxFailures: 3,
		Audit:       slog.New(slog.NewJSONHandler(f.audit, nil)),
		Now:         f.clock.Now,
	}
	if change != nil {
		change(&f.opts)
	}
	f.reopen(t)
	return f
}

// reopen (re)opens the file with f.opts, closing any previous handle.
func (f *fixture) reopen(t *testing.T) {
	t.Helper()
	if f.d != nil {
		if err := f.d.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
	}
	d, err := directory.Open(f.path, f.opts)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	f.d = d
	t.Cleanup(func() { _ = d.Close() })
}

func ane() directory.User {
	return directory.User{
		DNI: aneDNI, GivenName: "Ane", FamilyName: "Etxeberria Goñi", BirthDate: "1990-05-17",
		Email: "ane@example.eus", Phone: "+34600000707",
	}
}

func (f *fixture) add(t *testing.T, u directory.User, pw string) directory.User {
	t.Helper()
	got, err := f.d.Add(t.Context(), u, pw)
	if err != nil {
		t.Fatalf("Add(%s) = %v", dni.Mask(u.DNI), err)
	}
	return got
}

func (f *fixture) get(t *testing.T, id string) directory.User {
	t.Helper()
	u, err := f.d.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s) = %v", dni.Mask(id), err)
	}
	return u
}

func TestAddGetList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()

	in := ane()
	in.ID, in.Status, in.Failures = "chosen-by-caller", directory.StatusLocked, 7 // ignored by Add
	in.GivenName = "  Ane  "
	in.Phone = "+34 600 000 707"
	added := f.add(t, in, anePW)

	now := f.clock.Now()
	want := directory.User{
		ID: added.ID, DNI: aneDNI, GivenName: "Ane", FamilyName: "Etxeberria Goñi", BirthDate: "1990-05-17",
		Email: "ane@example.eus", Phone: "+34600000707", Credential: directory.CredentialBak,
		Status: directory.StatusActive, CreatedAt: now, UpdatedAt: now,
	}
	if diff := cmp.Diff(want, added); diff != "" {
		t.Errorf("Add() returned (-want +got):\n%s", diff)
	}
	if len(added.ID) != 33 || added.ID[0] != 'u' {
		t.Errorf("ID = %q, want \"u\" and 32 hex digits", added.ID)
	}

	for _, form := range []string{aneDNI, "48.151.623-l", " 48151623l "} {
		if diff := cmp.Diff(added, f.get(t, form)); diff != "" {
			t.Errorf("Get(%q) (-added +got):\n%s", form, diff)
		}
	}
	byID, err := f.d.GetByID(ctx, added.ID)
	if err != nil {
		t.Fatalf("GetByID() = %v", err)
	}
	if diff := cmp.Diff(added, byID); diff != "" {
		t.Errorf("GetByID() (-added +got):\n%s", diff)
	}

	nie := f.add(t, directory.User{DNI: "x-1234567-l", GivenName: "Jan", FamilyName: "Kowalski", BirthDate: "1985-11-30", Credential: "bakq"}, "zupelnie tajne")
	if nie.DNI != nieID || nie.Credential != directory.CredentialBakQ {
		t.Errorf("NIE user = %s %s, want %s bakq", nie.DNI, nie.Credential, nieID)
	}
	low := f.add(t, directory.User{DNI: "1234567L", GivenName: "Miren", FamilyName: "Zubiri", BirthDate: "1950-01-01"}, "another good one")
	if low.ID == added.ID || low.ID == nie.ID {
		t.Errorf("IDs not unique: %s %s %s", added.ID, nie.ID, low.ID)
	}

	list, err := f.d.List(ctx)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	var got []string
	for _, u := range list {
		got = append(got, u.DNI)
	}
	if diff := cmp.Diff([]string{"01234567L", aneDNI, nieID}, got); diff != "" {
		t.Errorf("List() DNIs (-want +got):\n%s", diff)
	}

	if ev := f.audit.events(t, "user_added"); len(ev) != 3 || ev[0]["user"] != "***623L" || ev[0]["user_id"] != added.ID {
		t.Errorf("user_added events = %v, want 3, the first for ***623L / %s", ev, added.ID)
	}
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	fi, err := os.Stat(f.path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("file mode = %v, want no group or other access", got)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	if _, err := f.d.Get(ctx, "12345678Z"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	_, err := f.d.Get(ctx, "not a number")
	if !errors.Is(err, directory.ErrNotFound) || !errors.Is(err, dni.ErrFormat) {
		t.Errorf("Get(malformed) = %v, want ErrNotFound and dni.ErrFormat", err)
	}
	if _, err := f.d.GetByID(ctx, "u00"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("GetByID(unknown) = %v, want ErrNotFound", err)
	}
	if err := f.d.Unlock(ctx, "12345678Z"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Unlock(unknown) = %v, want ErrNotFound", err)
	}
	list, err := f.d.List(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("List() of an empty directory = %v, %v; want [], nil", list, err)
	}
}

func TestAddDuplicate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.add(t, ane(), anePW)
	other := ane()
	other.DNI, other.GivenName = "48.151.623-l", "Someone Else"
	_, err := f.d.Add(t.Context(), other, "yet another password")
	if !errors.Is(err, directory.ErrExists) {
		t.Fatalf("Add(same DNI) = %v, want ErrExists", err)
	}
	if strings.Contains(err.Error(), "48151623") {
		t.Errorf("error %q contains the whole DNI", err)
	}
	if got := f.get(t, aneDNI).GivenName; got != "Ane" {
		t.Errorf("the refused Add overwrote the user: given name %q", got)
	}
}

// TestAddDuplicateConcurrent: of simultaneous registrations of one DNI exactly one wins.
func TestAddDuplicateConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = f.d.Add(t.Context(), ane(), anePW) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, directory.ErrExists):
			t.Errorf("Add() = %v, want nil or ErrExists", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent Adds succeeded, want 1", wins)
	}
	if list, _ := f.d.List(t.Context()); len(list) != 1 {
		t.Errorf("List() has %d users, want 1", len(list))
	}
}

func TestAddValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil) // the clock says 2026-03-01
	tests := []struct {
		name   string
		change func(*directory.User)
		field  string // "" means valid
	}{
		{"valid", func(*directory.User) {}, ""},
		{"malformed dni", func(u *directory.User) { u.DNI = "4815162" }, "dni"},
		{"wrong check letter", func(u *directory.User) { u.DNI = "48151623X" }, "dni"},
		{"empty given name", func(u *directory.User) { u.GivenName = "   " }, "given name"},
		{"empty family name", func(u *directory.User) { u.FamilyName = "" }, "family name"},
		{"100-rune name", func(u *directory.User) { u.FamilyName = strings.Repeat("ñ", 100) }, ""},
		{"101-rune name", func(u *directory.User) { u.FamilyName = strings.Repeat("ñ", 101) }, "family name"},
		{"newline in name", func(u *directory.User) { u.GivenName = "Ane\nevent=user_unlocked" }, "given name"},
		{"nul in name", func(u *directory.User) { u.FamilyName = "Goñi\x00" }, "family name"},
		{"bidi override in name", func(u *directory.User) { u.FamilyName = "Goñi\u202e" }, "family name"},
		{"invalid utf-8 name", func(u *directory.User) { u.GivenName = "An\xffe" }, "given name"},
		{"birth date unpadded", func(u *directory.User) { u.BirthDate = "1990-5-17" }, "birth date"},
		{"birth date 30 feb", func(u *directory.User) { u.BirthDate = "1990-02-30" }, "birth date"},
		{"birth date other format", func(u *directory.User) { u.BirthDate = "17/05/1990" }, "birth date"},
		{"birth date missing", func(u *directory.User) { u.BirthDate = "" }, "birth date"},
		{"born today", func(u *directory.User) { u.BirthDate = "2026-03-01" }, ""},
		{"born tomorrow", func(u *directory.User) { u.BirthDate = "2026-03-02" }, "birth date"},
		{"born before 1900", func(u *directory.User) { u.BirthDate = "1899-12-31" }, "birth date"},
		{"no email", func(u *directory.User) { u.Email = "" }, ""},
		{"email two @", func(u *directory.User) { u.Email = "a@b@example.eus" }, "email"},
		{"email no @", func(u *directory.User) { u.Email = "ane.example.eus" }, "email"},
		{"email domain without dot", func(u *directory.User) { u.Email = "ane@localhost" }, "email"},
		{"email domain trailing dot", func(u *directory.User) { u.Email = "ane@example." }, "email"},
		{"email empty local", func(u *directory.User) { u.Email = "@example.eus" }, "email"},
		{"email space", func(u *directory.User) { u.Email = "ane etx@example.eus" }, "email"},
		{"email 254 bytes", func(u *directory.User) { u.Email = "a@" + strings.Repeat("b", 248) + ".eus" }, ""},
		{"email 255 bytes", func(u *directory.User) { u.Email = "a@" + strings.Repeat("b", 249) + ".eus" }, "email"},
		{"no phone", func(u *directory.User) { u.Phone = "" }, ""},
		{"phone with spaces", func(u *directory.User) { u.Phone = "+34 600 000 707" }, ""},
		{"phone without plus", func(u *directory.User) { u.Phone = "34600000707" }, "phone"},
		{"phone 7 digits", func(u *directory.User) { u.Phone = "+3460000" }, "phone"},
		{"phone 15 digits", func(u *directory.User) { u.Phone = "+346000007071234" }, ""},
		{"phone 16 digits", func(u *directory.User) { u.Phone = "+3460000070712345" }, "phone"},
		{"phone letters", func(u *directory.User) { u.Phone = "+34600ABC707" }, "phone"},
		{"credential bakq", func(u *directory.User) { u.Credential = "bakq" }, ""},
		{"credential unknown", func(u *directory.User) { u.Credential = "clave" }, "credential"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := ane()
			// A distinct valid DNI per case, so valid cases do not collide.
			u.DNI = validDNI(10000000 + i)
			tt.change(&u)
			_, err := f.d.Add(t.Context(), u, anePW)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Add() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, directory.ErrInvalid) {
				t.Fatalf("Add() = %v, want ErrInvalid", err)
			}
			if want := "directory: invalid " + tt.field + ":"; !strings.Contains(err.Error(), want) {
				t.Errorf("Add() error %q does not name the field (%q)", err, want)
			}
		})
	}
}

func TestAddValidationReportsAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	_, err := f.d.Add(t.Context(), directory.User{DNI: "48151623", BirthDate: "x", Phone: "1"}, anePW)
	for _, field := range []string{"dni", "given name", "family name", "birth date", "phone"} {
		if err == nil || !strings.Contains(err.Error(), "invalid "+field+":") {
			t.Errorf("Add() error %q does not report %s", err, field)
		}
	}
}

// validDNI makes a valid DNI from an 8-digit number.
func validDNI(n int) string { return fmt.Sprintf("%08d%c", n, "TRWAGMYFPDXBNJZSQVHLCKE"[n%23]) }

func TestWeakPasswords(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name string
		dni  string
		pw   string
		rule string // "" means accepted
	}{
		{"eight ascii", aneDNI, "kT9#vq2!", ""},
		{"seven ascii", aneDNI, "kT9#vq2", "shorter than 8"},
		{"eight runes, sixteen bytes", aneDNI, "ññññññññ", ""},
		{"seven runes, fourteen bytes", aneDNI, "ñññññññ", "shorter than 8"},
		{"empty", aneDNI, "", "shorter than 8"},
		{"256 bytes", aneDNI, strings.Repeat("x", 255) + "y", ""},
		{"257 bytes", aneDNI, strings.Repeat("x", 256) + "y", "longer than 256"},
		{"dni digits", aneDNI, "my48151623pass", "DNI/NIE"},
		{"whole dni", aneDNI, "48151623L", "DNI/NIE"},
		{"nie digits", nieID, "xx1234567xx", "DNI/NIE"},
		{"leading zeros dropped", "01234567L", "pw1234567pw", "DNI/NIE"},
		{"other digits fine", aneDNI, "4815162 is not it", ""},
		{"common", aneDNI, "password1", "too common"},
		{"common any case", aneDNI, "PassWord123", "too common"},
		{"common spanish", aneDNI, "contraseña", "too common"},
		{"common basque", aneDNI, "pasahitza", "too common"},
		{"common digits", aneDNI, "12345678", "too common"},
		{"common keyboard", aneDNI, "qwertyui", "too common"},
		{"spaces are characters", aneDNI, "        ", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := ane()
			u.DNI = tt.dni
			if tt.rule == "" {
				u.DNI = validDNI(20000000 + i) // accepted cases must not collide
			}
			_, err := f.d.Add(t.Context(), u, tt.pw)
			if tt.rule == "" {
				if err != nil {
					t.Fatalf("Add() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, directory.ErrWeakPassword) {
				t.Fatalf("Add() = %v, want ErrWeakPassword", err)
			}
			if !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("Add() error %q does not name the rule %q", err, tt.rule)
			}
			if tt.pw != "" && strings.Contains(err.Error(), tt.pw) {
				t.Errorf("Add() error %q echoes the password", err)
			}
		})
	}
	if _, err := f.d.Get(t.Context(), aneDNI); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("a refused Add stored the user: Get() = %v", err)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *directory.Options) { o.MaxFailures = 100 })
	added := f.add(t, ane(), anePW)
	ctx := t.Context()

	tests := []struct {
		name     string
		id, pw   string
		wantErr  error
		failures int // Ane's failure count afterwards
	}{
		{"ok", aneDNI, anePW, nil, 0},
		{"ok, other spelling", "48.151.623-l", anePW, nil, 0},
		{"wrong", aneDNI, "a good passwore", directory.ErrInvalidCredentials, 1},
		{"case matters", aneDNI, "A good password", directory.ErrInvalidCredentials, 2},
		{"not trimmed", aneDNI, anePW + " ", directory.ErrInvalidCredentials, 3},
		{"empty", aneDNI, "", directory.ErrInvalidCredentials, 4},
		{"overlong", aneDNI, anePW + strings.Repeat("x", 300), directory.ErrInvalidCredentials, 5},
		{"unknown dni", "12345678Z", anePW, directory.ErrInvalidCredentials, 5},
		{"wrong letter", "48151623X", anePW, directory.ErrInvalidCredentials, 5},
		{"malformed", "whatever", anePW, directory.ErrInvalidCredentials, 5},
		{"ok resets", aneDNI, anePW, nil, 0},
	}
	// Sequential: each case sees the failures the previous ones left.
	for _, tt := range tests {
		u, err := f.d.Authenticate(ctx, tt.id, tt.pw)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Fatalf("%s: Authenticate() = %v, want %v", tt.name, err, tt.wantErr)
		}
		if tt.wantErr == nil && (u.ID != added.ID || u.Failures != 0) {
			t.Errorf("%s: Authenticate() user = %s with %d failures, want %s with 0", tt.name, u.ID, u.Failures, added.ID)
		}
		if tt.wantErr != nil && u.ID != "" {
			t.Errorf("%s: Authenticate() returned user %s with an error", tt.name, u.ID)
		}
		if got := f.get(t, aneDNI).Failures; got != tt.failures {
			t.Errorf("%s: Failures = %d, want %d", tt.name, got, tt.failures)
		}
	}
}

func TestLockoutAndUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil) // MaxFailures 3
	ctx := t.Context()
	added := f.add(t, ane(), anePW)

	wrong := func() error {
		_, err := f.d.Authenticate(ctx, aneDNI, "not the password")
		return err
	}
	for i := 0; i < 2; i++ {
		if err := wrong(); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	if u := f.get(t, aneDNI); u.Status != directory.StatusActive || u.Failures != 2 {
		t.Fatalf("after 2 failures: %s/%d, want active/2", u.Status, u.Failures)
	}
	if _, err := f.d.Authenticate(ctx, aneDNI, anePW); err != nil {
		t.Fatalf("right password before the limit: %v", err)
	}
	if got := f.get(t, aneDNI).Failures; got != 0 {
		t.Fatalf("Failures after success = %d, want 0 (consecutive failures)", got)
	}

	for i := 0; i < 3; i++ {
		if err := wrong(); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	f.clock.Advance(time.Minute)
	if u := f.get(t, aneDNI); u.Status != directory.StatusLocked || u.Failures != 3 {
		t.Fatalf("after 3 failures: %s/%d, want locked/3", u.Status, u.Failures)
	}
	ev := f.audit.events(t, "user_locked")
	if len(ev) != 1 || ev[0]["user"] != "***623L" || ev[0]["user_id"] != added.ID {
		t.Errorf("user_locked events = %v, want one for ***623L / %s", ev, added.ID)
	}
	if _, err := f.d.Authenticate(ctx, aneDNI, anePW); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("right password while locked: %v, want ErrLocked", err)
	}
	if err := wrong(); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("wrong password while locked: %v, want ErrLocked", err)
	}
	if len(f.audit.events(t, "user_locked")) != 1 {
		t.Error("user_locked logged again for an already locked account")
	}

	if err := f.d.Unlock(ctx, "48151623l"); err != nil {
		t.Fatalf("Unlock() = %v", err)
	}
	u := f.get(t, aneDNI)
	if u.Status != directory.StatusActive || u.Failures != 0 || !u.UpdatedAt.Equal(f.clock.Now()) {
		t.Errorf("after Unlock: %s/%d updated %v, want active/0 updated %v", u.Status, u.Failures, u.UpdatedAt, f.clock.Now())
	}
	if ev := f.audit.events(t, "user_unlocked"); len(ev) != 1 || ev[0]["user"] != "***623L" || ev[0]["user_id"] != added.ID {
		t.Errorf("user_unlocked events = %v, want one for ***623L / %s", ev, added.ID)
	}
	if _, err := f.d.Authenticate(ctx, aneDNI, anePW); err != nil {
		t.Errorf("right password after Unlock: %v", err)
	}
	if log := f.audit.String(); strings.Contains(log, "48151623") {
		t.Errorf("audit log contains the whole DNI:\n%s", log)
	}
}

// TestDurability: everything written is there after closing and reopening the file.
func TestDurability(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	a := f.add(t, ane(), anePW)
	f.add(t, directory.User{DNI: nieID, GivenName: "Jan", FamilyName: "Kowalski", BirthDate: "1985-11-30"}, "zupelnie tajne")
	if _, err := f.d.Authenticate(ctx, aneDNI, "wrong one"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	before, err := f.d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}

	f.reopen(t)
	after, err := f.d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("List() after reopening (-before +after):\n%s", diff)
	}
	if got := f.get(t, aneDNI); got.ID != a.ID || got.Failures != 1 {
		t.Errorf("after reopening: %s with %d failures, want %s with 1", got.ID, got.Failures, a.ID)
	}
	if _, err := f.d.GetByID(ctx, a.ID); err != nil {
		t.Errorf("GetByID() after reopening = %v", err)
	}
	if _, err := f.d.Authenticate(ctx, aneDNI, anePW); err != nil {
		t.Errorf("Authenticate() after reopening = %v", err)
	}
	if _, err := f.d.Add(ctx, ane(), anePW); !errors.Is(err, directory.ErrExists) {
		t.Errorf("Add(same DNI) after reopening = %v, want ErrExists", err)
	}
}

// TestBusy: bbolt's flock keeps a second Open (here in the same process) out.
func TestBusy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	d2, err := directory.Open(f.path, f.opts)
	if err == nil {
		_ = d2.Close()
		t.Fatal("second Open() succeeded, want ErrBusy")
	}
	if !errors.Is(err, directory.ErrBusy) {
		t.Errorf("second Open() = %v, want ErrBusy", err)
	}
	// The first handle still works.
	f.add(t, ane(), anePW)
}

func TestOpenRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts directory.Options
	}{
		{"zero time", directory.Options{Params: directory.Params{MemoryKiB: 64, Time: 0, Threads: 1}}},
		{"zero threads", directory.Options{Params: directory.Params{MemoryKiB: 64, Time: 1, Threads: 0}}},
		{"memory below 8*p", directory.Options{Params: directory.Params{MemoryKiB: 15, Time: 1, Threads: 2}}},
		{"negative max failures", directory.Options{Params: tinyParams(), MaxFailures: -1}},
		{"negative max concurrent", directory.Options{Params: tinyParams(), MaxConcurrent: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "d.db")
			d, err := directory.Open(path, tt.opts)
			if err == nil {
				_ = d.Close()
				t.Fatal("Open() = nil error, want one")
			}
			if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("Open() with bad options created the file (stat: %v)", statErr)
			}
		})
	}
}

// TestConcurrentAuthenticate: simultaneous logins, right and wrong, on several users; every
// failure is counted (the read-modify-write is one transaction) and -race sees no data race.
func TestConcurrentAuthenticate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *directory.Options) { o.MaxFailures = 1000; o.MaxConcurrent = 3 })
	f.add(t, ane(), anePW)
	f.add(t, directory.User{DNI: nieID, GivenName: "Jan", FamilyName: "Kowalski", BirthDate: "1985-11-30"}, "zupelnie tajne")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for range n {
		wg.Go(func() {
			if _, err := f.d.Authenticate(t.Context(), aneDNI, "wrong password"); !errors.Is(err, directory.ErrInvalidCredentials) {
				errs <- err
			}
		})
		wg.Go(func() {
			if _, err := f.d.Authenticate(t.Context(), nieID, "zupelnie tajne"); err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			if _, err := f.d.Authenticate(t.Context(), "12345678Z", "zupelnie tajne"); !errors.Is(err, directory.ErrInvalidCredentials) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Authenticate() = %v", err)
	}
	if got := f.get(t, aneDNI).Failures; got != n {
		t.Errorf("Failures after %d concurrent wrong passwords = %d, want %d", n, got, n)
	}
	if got := f.get(t, nieID).Failures; got != 0 {
		t.Errorf("Failures of the user who always succeeded = %d, want 0", got)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.add(t, ane(), anePW)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]error{}
	_, calls["Add"] = f.d.Add(ctx, directory.User{DNI: nieID, GivenName: "J", FamilyName: "K", BirthDate: "1985-11-30"}, "zupelnie tajne")
	_, calls["Get"] = f.d.Get(ctx, aneDNI)
	_, calls["GetByID"] = f.d.GetByID(ctx, "u1")
	_, calls["List"] = f.d.List(ctx)
	calls["Unlock"] = f.d.Unlock(ctx, aneDNI)
	_, calls["Authenticate"] = f.d.Authenticate(ctx, aneDNI, "wrong password")
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s(cancelled ctx) = %v, want context.Canceled", name, err)
		}
	}
	if got := f.get(t, aneDNI).Failures; got != 0 {
		t.Errorf("a cancelled Authenticate counted a failure: %d", got)
	}
}

func TestUserLogValue(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	u := ane()
	u.ID = "u1"
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "user", u)
	if s := buf.String(); strings.Contains(s, "48151623") || strings.Contains(s, "600000707") || strings.Contains(s, "Ane") || !strings.Contains(s, "***623L") {
		t.Errorf("logged user = %q, want only the masked DNI and ID", s)
	}
}

// TestIDKey: with a shared IDKey two directories (two instances) give a citizen the same
// internal ID, which is neither the number nor the same for another number; without one, IDs
// are random.
func TestIDKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	open := func(k []byte) *directory.Directory {
		d, err := directory.Open(filepath.Join(t.TempDir(), "d.db"), directory.Options{Params: directory.Params{MemoryKiB: 64, Time: 1, Threads: 1}, IDKey: k})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		return d
	}
	add := func(d *directory.Directory, id string) string {
		u, err := d.Add(t.Context(), directory.User{DNI: id, GivenName: "A", FamilyName: "B", BirthDate: "1990-01-01"}, "a good password")
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	a, b, r1, r2 := open(key), open(key), open(nil), open(nil)
	if ida, idb := add(a, "48151623L"), add(b, "48151623L"); ida != idb || strings.Contains(ida, "48151623") {
		t.Errorf("IDs with a shared key = %q, %q; want equal and not the number", ida, idb)
	}
	if add(a, "X1234567L") == add(b, "12345678Z") {
		t.Error("two numbers got the same ID")
	}
	if add(r1, "48151623L") == add(r2, "48151623L") {
		t.Error("without IDKey two directories gave the same ID: want random IDs")
	}
	if _, err := directory.Open(filepath.Join(t.TempDir(), "d.db"), directory.Options{IDKey: []byte("short")}); err == nil {
		t.Error("Open accepted a short IDKey")
	}
}
