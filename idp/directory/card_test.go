package directory_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/directory"
)

// testCells is a two-cell "card" of opaque hashes: the directory never interprets them.
func testCells() map[string][]byte {
	return map[string][]byte{"A1": []byte("hash-a1"), "B2": []byte("hash-b2")}
}

func pickFixed(p ...string) func() []string { return func() []string { return p } }

// checkAnswer returns a check that is true when the stored hash of every asked position
// equals want's.
func checkAnswer(want map[string][]byte) func([]string, map[string][]byte) bool {
	return func(pos []string, cells map[string][]byte) bool {
		for _, p := range pos {
			if string(cells[p]) != string(want[p]) {
				return false
			}
		}
		return true
	}
}

func never([]string, map[string][]byte) bool { return false }

var lim3 = directory.CardLimits{MaxConsecutive: 3}

func TestCardLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	u := f.add(t, ane(), anePW)

	if got := f.get(t, aneDNI); got.HasCard || got.CardLocked {
		t.Fatalf("before IssueCard: HasCard, CardLocked = %v, %v; want false, false", got.HasCard, got.CardLocked)
	}
	if _, _, err := f.d.CardChallenge(ctx, u.ID, pickFixed("A1")); !errors.Is(err, directory.ErrNoCard) {
		t.Fatalf("CardChallenge without card = %v, want ErrNoCard", err)
	}
	if err := f.d.IssueCard(ctx, u.ID, testCells()); err != nil {
		t.Fatalf("IssueCard() = %v", err)
	}
	if got := f.get(t, aneDNI); !got.HasCard || got.CardLocked {
		t.Fatalf("after IssueCard: HasCard, CardLocked = %v, %v; want true, false", got.HasCard, got.CardLocked)
	}
	if _, _, err := f.d.VerifyCard(ctx, u.ID, never, lim3); !errors.Is(err, directory.ErrNoChallenge) {
		t.Fatalf("VerifyCard before a challenge = %v, want ErrNoChallenge", err)
	}

	pos, locked, err := f.d.CardChallenge(ctx, u.ID, pickFixed("A1", "B2"))
	if err != nil || locked {
		t.Fatalf("CardChallenge() = %v, %v, %v", pos, locked, err)
	}
	// A second call must not pick again.
	again, _, err := f.d.CardChallenge(ctx, u.ID, func() []string { t.Error("pick called again"); return nil })
	if err != nil || !slices.Equal(again, pos) {
		t.Fatalf("CardChallenge() again = %v, %v; want %v", again, err, pos)
	}

	ok, locked, err := f.d.VerifyCard(ctx, u.ID, checkAnswer(testCells()), lim3)
	if err != nil || !ok || locked {
		t.Fatalf("VerifyCard(right) = %v, %v, %v; want true, false, nil", ok, locked, err)
	}
	// Consumed: the same answer again finds no challenge.
	if _, _, err := f.d.VerifyCard(ctx, u.ID, checkAnswer(testCells()), lim3); !errors.Is(err, directory.ErrNoChallenge) {
		t.Fatalf("VerifyCard after success = %v, want ErrNoChallenge", err)
	}

	if err := f.d.RevokeCard(ctx, u.ID); err != nil {
		t.Fatalf("RevokeCard() = %v", err)
	}
	if got := f.get(t, aneDNI); got.HasCard {
		t.Errorf("after RevokeCard: HasCard = true")
	}
	if err := f.d.RevokeCard(ctx, u.ID); !errors.Is(err, directory.ErrNoCard) {
		t.Errorf("RevokeCard twice = %v, want ErrNoCard", err)
	}
	for _, ev := range []string{"card_issued", "card_revoked"} {
		if n := len(f.audit.events(t, ev)); n != 1 {
			t.Errorf("%d %s events, want 1", n, ev)
		}
	}
}

func TestCardUnknownUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	calls := map[string]error{}
	calls["IssueCard"] = f.d.IssueCard(ctx, "u-nobody", testCells())
	_, _, calls["CardChallenge"] = f.d.CardChallenge(ctx, "u-nobody", pickFixed("A1"))
	_, _, calls["VerifyCard"] = f.d.VerifyCard(ctx, "u-nobody", never, lim3)
	calls["UnlockCard"] = f.d.UnlockCard(ctx, "u-nobody")
	calls["RevokeCard"] = f.d.RevokeCard(ctx, "u-nobody")
	for name, err := range calls {
		if !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("%s(unknown user) = %v, want ErrNotFound", name, err)
		}
	}
}

func TestCardInvalidInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	u := f.add(t, ane(), anePW)

	for name, cells := range map[string]map[string][]byte{
		"no cells":   nil,
		"empty hash": {"A1": nil},
	} {
		if err := f.d.IssueCard(ctx, u.ID, cells); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("IssueCard(%s) = %v, want ErrInvalid", name, err)
		}
	}
	if err := f.d.IssueCard(ctx, u.ID, testCells()); err != nil {
		t.Fatal(err)
	}
	for name, pick := range map[string]func() []string{
		"nothing":     pickFixed(),
		"not on card": pickFixed("A1", "D4"),
		"repeated":    pickFixed("A1", "A1"),
	} {
		if _, _, err := f.d.CardChallenge(ctx, u.ID, pick); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("CardChallenge(pick %s) = %v, want ErrInvalid", name, err)
		}
	}
	// The bad picks stored nothing: a good one is taken.
	if pos, _, err := f.d.CardChallenge(ctx, u.ID, pickFixed("B2")); err != nil || !slices.Equal(pos, []string{"B2"}) {
		t.Errorf("CardChallenge() after bad picks = %v, %v; want [B2]", pos, err)
	}
	for name, lim := range map[string]directory.CardLimits{
		"zero":              {},
		"negative recent":   {MaxConsecutive: 3, MaxRecent: -1},
		"recent, no window": {MaxConsecutive: 3, MaxRecent: 5},
	} {
		if _, _, err := f.d.VerifyCard(ctx, u.ID, never, lim); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("VerifyCard(limits %s) = %v, want ErrInvalid", name, err)
		}
	}
	if got := f.get(t, aneDNI); got.CardLocked {
		t.Error("rejected VerifyCard calls locked the card")
	}
}

func TestCardLockUnlock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	u := f.add(t, ane(), anePW)
	if err := f.d.IssueCard(ctx, u.ID, testCells()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.d.CardChallenge(ctx, u.ID, pickFixed("A1", "B2")); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		ok, locked, err := f.d.VerifyCard(ctx, u.ID, never, lim3)
		if err != nil || ok || locked != (i == 3) {
			t.Fatalf("wrong answer %d: VerifyCard() = %v, %v, %v; want false, %v, nil", i, ok, locked, err, i == 3)
		}
		if i == 1 {
			// The count is durable: it survives closing and reopening the file.
			f.reopen(t)
		}
	}
	if got := f.get(t, aneDNI); !got.CardLocked || got.Status != directory.StatusActive {
		t.Errorf("after 3 failures: CardLocked = %v, Status = %q; want true, active (the password is not locked)", got.CardLocked, got.Status)
	}
	// Locked: a right answer is not even checked, and no positions are shown.
	ok, locked, err := f.d.VerifyCard(ctx, u.ID, func([]string, map[string][]byte) bool {
		t.Error("check called on a locked card")
		return true
	}, lim3)
	if err != nil || ok || !locked {
		t.Errorf("VerifyCard(locked) = %v, %v, %v; want false, true, nil", ok, locked, err)
	}
	if pos, locked, err := f.d.CardChallenge(ctx, u.ID, pickFixed("A1")); err != nil || !locked || pos != nil {
		t.Errorf("CardChallenge(locked) = %v, %v, %v; want nil, true, nil", pos, locked, err)
	}

	if err := f.d.UnlockCard(ctx, u.ID); err != nil {
		t.Fatalf("UnlockCard() = %v", err)
	}
	// Unlocking keeps the pending challenge: no new positions to shop for.
	pos, locked, err := f.d.CardChallenge(ctx, u.ID, pickFixed("A1"))
	if err != nil || locked || !slices.Equal(pos, []string{"A1", "B2"}) {
		t.Errorf("CardChallenge after unlock = %v, %v, %v; want [A1 B2], false, nil", pos, locked, err)
	}
	// And the count starts again: one failure does not lock.
	if _, locked, _ := f.d.VerifyCard(ctx, u.ID, never, lim3); locked {
		t.Error("one failure after unlock locked the card")
	}

	for ev, want := range map[string]int{"card_failed": 4, "card_locked": 1, "card_unlocked": 1} {
		evs := f.audit.events(t, ev)
		if len(evs) != want {
			t.Errorf("%d %s events, want %d", len(evs), ev, want)
		}
		for _, e := range evs {
			if e["user"] == aneDNI || e["user_id"] != u.ID {
				t.Errorf("%s event user = %v, user_id = %v; want masked DNI and %s", ev, e["user"], e["user_id"], u.ID)
			}
		}
	}
	if strings.Contains(f.audit.String(), aneDNI) {
		t.Error("audit log holds the whole DNI")
	}
}

func TestCardRecentFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	u := f.add(t, ane(), anePW)
	if err := f.d.IssueCard(ctx, u.ID, testCells()); err != nil {
		t.Fatal(err)
	}
	lim := directory.CardLimits{MaxConsecutive: 3, MaxRecent: 4, Window: 30 * 24 * time.Hour}
	answer := func(right bool) bool {
		t.Helper()
		if _, _, err := f.d.CardChallenge(ctx, u.ID, pickFixed("A1")); err != nil {
			t.Fatal(err)
		}
		check := never
		if right {
			check = checkAnswer(testCells())
		}
		ok, locked, err := f.d.VerifyCard(ctx, u.ID, check, lim)
		if err != nil || ok != right {
			t.Fatalf("VerifyCard(right=%v) = %v, %v, %v", right, ok, locked, err)
		}
		return locked
	}
	// Two failures, a success, one more failure: 3 in the window, 1 consecutive.
	for _, right := range []bool{false, false, true, false} {
		if answer(right) {
			t.Fatal("locked too early")
		}
	}
	// Once the first two have aged out of the window, another failure does not lock.
	f.clock.Advance(31 * 24 * time.Hour)
	if answer(false) {
		t.Fatal("failures outside the window still counted")
	}
	// With successes in between (never 3 in a row), the 4th failure within the window locks.
	for i, right := range []bool{true, false, true, false} {
		if answer(right) {
			t.Fatalf("locked at step %d", i)
		}
	}
	if !answer(false) {
		t.Error("4th failure within the window, interleaved with successes, did not lock")
	}
}

// TestCardConcurrentFailures: parallel wrong answers are all counted (one transaction each,
// no lost update), so exactly MaxConsecutive-1 are plain failures before the card locks.
func TestCardConcurrentFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	u := f.add(t, ane(), anePW)
	if err := f.d.IssueCard(ctx, u.ID, testCells()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.d.CardChallenge(ctx, u.ID, pickFixed("A1")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	unlocked := 0
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, locked, err := f.d.VerifyCard(ctx, u.ID, never, lim3)
			if err != nil {
				t.Errorf("VerifyCard() = %v", err)
			}
			if !locked {
				mu.Lock()
				unlocked++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if unlocked != 2 {
		t.Errorf("%d answers saw an unlocked card, want 2", unlocked)
	}
	if n := len(f.audit.events(t, "card_failed")); n != 3 {
		t.Errorf("%d card_failed events, want 3 (answers to a locked card are not checked)", n)
	}
}
