package directory_test

import (
	"errors"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/ateaidp/atea/idp/directory"
)

// TestCheckTransition: every pair of statuses against the lifecycle table of issue 5.
func TestCheckTransition(t *testing.T) {
	t.Parallel()
	all := []directory.Status{directory.StatusPending, directory.StatusActive, directory.StatusLocked, directory.StatusRevoked, "", "bogus"}
	allowed := map[[2]directory.Status]bool{
		{directory.StatusPending, directory.StatusActive}:  true,
		{directory.StatusPending, directory.StatusRevoked}: true,
		{directory.StatusActive, directory.StatusLocked}:   true,
		{directory.StatusActive, directory.StatusRevoked}:  true,
		{directory.StatusLocked, directory.StatusActive}:   true,
		{directory.StatusLocked, directory.StatusRevoked}:  true,
	}
	for _, from := range all {
		for _, to := range all {
			err := directory.CheckTransition(from, to)
			if want := allowed[[2]directory.Status{from, to}]; want {
				if err != nil {
					t.Errorf("CheckTransition(%q, %q) = %v, want nil", from, to, err)
				}
				continue
			}
			if !errors.Is(err, directory.ErrTransition) || !strings.Contains(err.Error(), string(from)) || !strings.Contains(err.Error(), string(to)) {
				t.Errorf("CheckTransition(%q, %q) = %v, want ErrTransition naming both", from, to, err)
			}
		}
	}
}

// TestLockRevokeLifecycle: Lock, Unlock, Revoke and Activate through the table, with audit
// events in the bucket (History, across a reopen) and on the slog logger.
func TestLockRevokeLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	added := f.add(t, ane(), anePW)

	if err := f.d.Lock(ctx, aneDNI, "reported stolen"); err != nil {
		t.Fatalf("Lock() = %v", err)
	}
	if _, err := f.d.Authenticate(ctx, aneDNI, anePW); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("Authenticate after Lock = %v, want ErrLocked", err)
	}
	if err := f.d.Lock(ctx, aneDNI, ""); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("Lock(locked) = %v, want ErrTransition", err)
	}
	if err := f.d.Unlock(ctx, aneDNI); err != nil {
		t.Fatalf("Unlock() = %v", err)
	}
	if err := f.d.Revoke(ctx, aneDNI, "deceased"); err != nil {
		t.Fatalf("Revoke() = %v", err)
	}
	// Revoked is final: nothing brings it back, and it never authenticates.
	for name, err := range map[string]error{
		"Unlock":   f.d.Unlock(ctx, aneDNI),
		"Lock":     f.d.Lock(ctx, aneDNI, ""),
		"Revoke":   f.d.Revoke(ctx, aneDNI, ""),
		"Activate": f.d.Activate(ctx, aneDNI, ""),
	} {
		if !errors.Is(err, directory.ErrTransition) {
			t.Errorf("%s(revoked) = %v, want ErrTransition", name, err)
		}
	}
	if _, err := f.d.Authenticate(ctx, aneDNI, anePW); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("Authenticate after Revoke = %v, want ErrLocked", err)
	}
	if got := f.get(t, aneDNI).Status; got != directory.StatusRevoked {
		t.Errorf("status = %q, want revoked", got)
	}
	if err := f.d.Lock(ctx, "12345678Z", ""); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Lock(unknown) = %v, want ErrNotFound", err)
	}
	if err := f.d.Lock(ctx, aneDNI, "line\nforged"); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("Lock(reason with newline) = %v, want ErrInvalid", err)
	}

	want := []directory.Event{
		{Name: "user_added", To: directory.StatusActive},
		{Name: "user_locked", From: directory.StatusActive, To: directory.StatusLocked, Reason: "reported stolen"},
		{Name: "user_unlocked", From: directory.StatusLocked, To: directory.StatusActive},
		{Name: "user_revoked", From: directory.StatusActive, To: directory.StatusRevoked, Reason: "deceased"},
	}
	check := func(when string) {
		t.Helper()
		got, err := f.d.History(ctx, "48151623l", 0)
		if err != nil {
			t.Fatalf("%s: History() = %v", when, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: History() = %d events %+v, want %d", when, len(got), got, len(want))
		}
		for i, ev := range got {
			w := want[i]
			if ev.Name != w.Name || ev.From != w.From || ev.To != w.To || ev.Reason != w.Reason ||
				ev.UserID != added.ID || ev.User != "***623L" || !ev.Time.Equal(f.clock.Now()) {
				t.Errorf("%s: event %d = %+v, want %+v for %s", when, i, ev, w, added.ID)
			}
		}
		last, err := f.d.History(ctx, aneDNI, 2)
		if err != nil || len(last) != 2 || last[0].Name != "user_unlocked" || last[1].Name != "user_revoked" {
			t.Errorf("%s: History(2) = %+v, %v; want the last two, oldest first", when, last, err)
		}
	}
	check("open")
	f.reopen(t)
	check("after reopen")

	for _, w := range want[1:] {
		ev := f.audit.events(t, w.Name)
		if len(ev) != 1 || ev[0]["from"] != string(w.From) || ev[0]["to"] != string(w.To) || ev[0]["user_id"] != added.ID {
			t.Errorf("slog %s events = %v, want one %s → %s for %s", w.Name, ev, w.From, w.To, added.ID)
		}
	}
	if log := f.audit.String(); strings.Contains(log, "48151623") {
		t.Errorf("audit log contains the whole DNI:\n%s", log)
	}
}

// TestPendingActivation: a user added pending does not authenticate until Activate; Unlock
// does not activate it.
func TestPendingActivation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	u := ane()
	u.Status, u.DocumentExpiry = directory.StatusPending, "01/01/9999"
	added := f.add(t, u, anePW)
	if added.Status != directory.StatusPending || added.DocumentExpiry != directory.PermanentDocument {
		t.Fatalf("Add(pending) = %s, expiry %q; want pending, %q", added.Status, added.DocumentExpiry, directory.PermanentDocument)
	}
	if _, err := f.d.Authenticate(ctx, aneDNI, anePW); !errors.Is(err, directory.ErrLocked) {
		t.Errorf("Authenticate(pending) = %v, want ErrLocked", err)
	}
	if err := f.d.Unlock(ctx, aneDNI); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("Unlock(pending) = %v, want ErrTransition", err)
	}
	if err := f.d.Activate(ctx, aneDNI, "activation code"); err != nil {
		t.Fatalf("Activate() = %v", err)
	}
	if _, err := f.d.Authenticate(ctx, aneDNI, anePW); err != nil {
		t.Errorf("Authenticate after Activate = %v", err)
	}
	if err := f.d.Activate(ctx, aneDNI, ""); !errors.Is(err, directory.ErrTransition) {
		t.Errorf("Activate(active) = %v, want ErrTransition", err)
	}
	if ev := f.audit.events(t, "status_changed"); len(ev) != 1 || ev[0]["from"] != "pending_activation" || ev[0]["to"] != "active" {
		t.Errorf("status_changed events = %v, want one pending_activation → active", ev)
	}
	if err := f.d.AcceptTerms(ctx, aneDNI, "2026-01"); err != nil {
		t.Fatalf("AcceptTerms() = %v", err)
	}
	f.reopen(t)
	got := f.get(t, aneDNI)
	if got.TermsVersion != "2026-01" || !got.TermsAcceptedAt.Equal(f.clock.Now()) || got.DocumentExpiry != directory.PermanentDocument {
		t.Errorf("after reopen: terms %q at %v, expiry %q", got.TermsVersion, got.TermsAcceptedAt, got.DocumentExpiry)
	}
	bad := ane()
	bad.DNI, bad.DocumentExpiry = nieID, "31/02/2030"
	if _, err := f.d.Add(ctx, bad, anePW); !errors.Is(err, directory.ErrInvalid) || !strings.Contains(err.Error(), "document expiry") {
		t.Errorf("Add(expiry 31/02/2030) = %v, want ErrInvalid naming the document expiry", err)
	}
}

// TestAuditBucketWithChange: the lockout after failed passwords stores its event in the
// "audit" bucket of the file itself, as JSON without the whole DNI.
func TestAuditBucketWithChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil) // MaxFailures 3
	ctx := t.Context()
	f.add(t, ane(), anePW)
	for range 3 {
		_, _ = f.d.Authenticate(ctx, aneDNI, "not the password")
	}
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	f.d = nil
	db, err := bolt.Open(f.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var raws []string
	_ = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		if b == nil {
			t.Fatal("no audit bucket in the file")
		}
		return b.ForEach(func(_, v []byte) error { raws = append(raws, string(v)); return nil })
	})
	if len(raws) != 2 || !strings.Contains(raws[1], `"event":"user_locked"`) || !strings.Contains(raws[1], `"reason":"too many failed passwords"`) {
		t.Errorf("audit bucket = %q, want user_added then user_locked with its reason", raws)
	}
	for _, r := range raws {
		if strings.Contains(r, "48151623") {
			t.Errorf("audit bucket entry %q holds the whole DNI", r)
		}
	}
}
