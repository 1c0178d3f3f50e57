package coordcard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/coordcard"
	"github.com/ateaidp/atea/idp/directory"
)

const aneDNI = "48151623L"

func testKey() []byte { return bytes.Repeat([]byte{0x42}, 32) }

// syncBuffer collects the directory's audit log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// env is a real directory file with one citizen and a card method over it.
type env struct {
	path  string
	opts  directory.Options
	cfg   coordcard.Config
	dir   *directory.Directory
	m     *coordcard.Method
	subj  authn.Subject
	audit *syncBuffer
}

func newEnv(t *testing.T, cfg coordcard.Config) *env {
	t.Helper()
	e := &env{path: filepath.Join(t.TempDir(), "directory.db"), cfg: cfg, audit: &syncBuffer{}}
	e.opts = directory.Options{
		Params: directory.Params{MemoryKiB: 64, Time: 1, Threads: 1},
		Audit:  slog.New(slog.NewJSONHandler(e.audit, nil)),
		Now:    (&clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}).Now,
	}
	e.reopen(t)
	u, err := e.dir.Add(t.Context(), directory.User{
		DNI: aneDNI, GivenName: "Ane", FamilyName: "Etxeberria", BirthDate: "1990-05-17",
		Credential: directory.CredentialBakQ,
	}, "a good password")
	if err != nil {
		t.Fatalf("Add() = %v", err)
	}
	e.subj = authn.Subject{UserID: u.ID, DNI: u.DNI}
	return e
}

// reopen closes and reopens the directory file and builds a fresh Method over it, as a
// restarted (or another) instance would.
func (e *env) reopen(t *testing.T) {
	t.Helper()
	if e.dir != nil {
		if err := e.dir.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
	}
	d, err := directory.Open(e.path, e.opts)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	m, err := coordcard.New(e.cfg, testKey(), d)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	e.dir, e.m = d, m
}

func (e *env) issue(t *testing.T) coordcard.Card {
	t.Helper()
	c, err := e.m.Issue(t.Context(), e.subj.UserID)
	if err != nil {
		t.Fatalf("Issue() = %v", err)
	}
	return c
}

func (e *env) begin(t *testing.T, flowID string) []string {
	t.Helper()
	ch, err := e.m.Begin(t.Context(), e.subj, flowID)
	if err != nil {
		t.Fatalf("Begin(%s) = %v", flowID, err)
	}
	if ch.Method != coordcard.ID {
		t.Errorf("Challenge.Method = %q, want %q", ch.Method, coordcard.ID)
	}
	return ch.Positions
}

// answer is the right answer to pos on card c, separated by sep.
func answer(c coordcard.Card, pos []string, sep string) string {
	vals := make([]string, len(pos))
	for i, p := range pos {
		vals[i] = c.Cells[p]
	}
	return strings.Join(vals, sep)
}

// wrong is a wrong answer of the right shape: every digit changed.
func wrong(c coordcard.Card, pos []string) string {
	return strings.Map(func(r rune) rune { return '0' + (r-'0'+1)%10 }, answer(c, pos, ""))
}

func TestIssueBeginVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{})
	ctx := t.Context()
	card := e.issue(t)
	if got := slices.Sorted(maps.Keys(card.Cells)); !slices.Equal(got, slices.Sorted(slices.Values(card.Positions()))) || len(got) != 16 {
		t.Fatalf("card positions = %v, want the 16 of A1..D4", got)
	}
	u, err := e.dir.GetByID(ctx, e.subj.UserID)
	if err != nil || !u.HasCard || u.CardLocked {
		t.Fatalf("GetByID() = HasCard %v, CardLocked %v, %v; want true, false, nil", u.HasCard, u.CardLocked, err)
	}
	pos := e.begin(t, "flow-1")
	if len(pos) != 2 || pos[0] == pos[1] {
		t.Fatalf("Begin() positions = %v, want 2 distinct", pos)
	}
	if err := e.m.Verify(ctx, e.subj, "flow-1", answer(card, pos, " ")); err != nil {
		t.Fatalf("Verify(right) = %v, want nil", err)
	}
	if got, want := e.m.Level(), authn.LevelSubstantial; got != want {
		t.Errorf("Level() = %v, want %v", got, want)
	}
	if got := e.m.ID(); got != "coordcard" {
		t.Errorf("ID() = %q, want coordcard", got)
	}
	if !strings.Contains(e.audit.String(), `"card_issued"`) {
		t.Error("no card_issued audit event")
	}
}

func TestWrongAnswerLocksAndReissueUnlocks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{})
	ctx := t.Context()
	card := e.issue(t)
	pos := e.begin(t, "flow-1")
	bad := wrong(card, pos)

	for i, want := range []error{authn.ErrInvalidCredentials, authn.ErrInvalidCredentials, authn.ErrLocked} {
		if err := e.m.Verify(ctx, e.subj, "flow-1", bad); !errors.Is(err, want) {
			t.Fatalf("wrong answer %d: Verify() = %v, want %v", i+1, err, want)
		}
		if i == 0 {
			// The failure is durable: a restart does not forget it.
			e.reopen(t)
		}
	}
	if _, err := e.m.Begin(ctx, e.subj, "flow-2"); !errors.Is(err, authn.ErrLocked) {
		t.Errorf("Begin(locked) = %v, want ErrLocked", err)
	}
	if err := e.m.Verify(ctx, e.subj, "flow-1", answer(card, pos, "")); !errors.Is(err, authn.ErrLocked) {
		t.Errorf("Verify(right answer, locked) = %v, want ErrLocked", err)
	}
	if u, _ := e.dir.GetByID(ctx, e.subj.UserID); !u.CardLocked {
		t.Error("User.CardLocked = false after 3 failures")
	}
	log := e.audit.String()
	for _, ev := range []string{`"card_failed"`, `"card_locked"`} {
		if !strings.Contains(log, ev) {
			t.Errorf("no %s audit event", ev)
		}
	}
	for _, secret := range []string{aneDNI, bad, answer(card, pos, "")} {
		if strings.Contains(log, secret) {
			t.Errorf("audit log contains %q", secret)
		}
	}

	// Re-issue: unlocked, new values; the old card no longer works.
	card2 := e.issue(t)
	pos2 := e.begin(t, "flow-3")
	if card2.Cells[pos2[0]]+card2.Cells[pos2[1]] != card.Cells[pos2[0]]+card.Cells[pos2[1]] {
		if err := e.m.Verify(ctx, e.subj, "flow-3", answer(card, pos2, "")); !errors.Is(err, authn.ErrInvalidCredentials) {
			t.Errorf("Verify(old card) = %v, want ErrInvalidCredentials", err)
		}
	}
	if err := e.m.Verify(ctx, e.subj, "flow-3", answer(card2, pos2, "")); err != nil {
		t.Errorf("Verify(new card) = %v, want nil", err)
	}
}

func TestMaxFailuresConfigurable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{MaxFailures: 5})
	card := e.issue(t)
	bad := wrong(card, e.begin(t, "f"))
	for i := 1; i <= 5; i++ {
		err := e.m.Verify(t.Context(), e.subj, "f", bad)
		want := authn.ErrInvalidCredentials
		if i == 5 {
			want = authn.ErrLocked
		}
		if !errors.Is(err, want) {
			t.Fatalf("wrong answer %d: Verify() = %v, want %v", i, err, want)
		}
	}
}

// TestMalformedAnswersCount: every submission is an attempt, counted before any comparison,
// even one that cannot match; otherwise garbage would be a free probe of the lock state.
func TestMalformedAnswersCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{})
	e.issue(t)
	e.begin(t, "f")
	for i, want := range []error{authn.ErrInvalidCredentials, authn.ErrInvalidCredentials, authn.ErrLocked} {
		if err := e.m.Verify(t.Context(), e.subj, "f", "no digits here"); !errors.Is(err, want) {
			t.Fatalf("malformed answer %d: Verify() = %v, want %v", i+1, err, want)
		}
	}
}

// FuzzVerify: no answer panics, and only one whose digits are the asked values succeeds.
func FuzzVerify(f *testing.F) {
	for _, s := range []string{"", "123 456", "123-456", "\x00", "١٢٣", strings.Repeat("9", 300), "12 34 56"} {
		f.Add(s)
	}
	st := &memStore{}
	m, err := coordcard.New(coordcard.Config{MaxFailures: 10, MaxRecentFailures: 10}, testKey(), st)
	if err != nil {
		f.Fatal(err)
	}
	card, err := m.Issue(context.Background(), "u1")
	if err != nil {
		f.Fatal(err)
	}
	subj := authn.Subject{UserID: "u1"}
	f.Fuzz(func(t *testing.T, ans string) {
		// A fresh card state per input: re-issuing keeps the values (same store entry).
		st.mu.Lock()
		st.cards["u1"].locked, st.cards["u1"].failures, st.cards["u1"].challenge = false, 0, nil
		st.mu.Unlock()
		ch, err := m.Begin(t.Context(), subj, "f")
		if err != nil {
			t.Fatal(err)
		}
		right := answer(card, ch.Positions, "")
		err = m.Verify(t.Context(), subj, "f", ans)
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, ans)
		if err == nil && digits != right {
			t.Errorf("Verify(%q) = nil for challenge %v", ans, ch.Positions)
		}
		if err != nil && !errors.Is(err, authn.ErrInvalidCredentials) {
			t.Errorf("Verify(%q) = %v, want nil or ErrInvalidCredentials", ans, err)
		}
	})
}

func TestChallengeIsSticky(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{MaxFailures: 10})
	ctx := t.Context()
	card := e.issue(t)
	first := e.begin(t, "flow-1")
	check := func(what string, got []string) {
		t.Helper()
		if !slices.Equal(got, first) {
			t.Errorf("%s: positions = %v, want %v", what, got, first)
		}
	}
	check("reload", e.begin(t, "flow-1"))
	check("another flow (SP, browser)", e.begin(t, "flow-2"))
	if err := e.m.Verify(ctx, e.subj, "flow-2", wrong(card, first)); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("Verify(wrong) = %v", err)
	}
	check("after a wrong answer", e.begin(t, "flow-3"))
	e.reopen(t)
	check("after reopening the directory", e.begin(t, "flow-4"))

	// After a correct answer the next sign-in gets fresh positions. Each challenge is one of
	// 120 pairs, so 40 successive challenges all equal would happen with probability 120^-39.
	changed := false
	prev := first
	for range 40 {
		if err := e.m.Verify(ctx, e.subj, "f", answer(card, prev, "")); err != nil {
			t.Fatalf("Verify(right) = %v", err)
		}
		next := e.begin(t, "f")
		if !slices.Equal(next, prev) {
			changed = true
		}
		prev = next
	}
	if !changed {
		t.Error("positions never changed after correct answers")
	}
}

func TestPositionsUniform(t *testing.T) {
	t.Parallel()
	st := &memStore{}
	m, err := coordcard.New(coordcard.Config{Ask: 1}, testKey(), st)
	if err != nil {
		t.Fatal(err)
	}
	card, err := m.Issue(t.Context(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	const n = 3200 // 200 per position expected
	for range n {
		ch, err := m.Begin(t.Context(), authn.Subject{UserID: "u1"}, "f")
		if err != nil {
			t.Fatal(err)
		}
		counts[ch.Positions[0]]++
		if err := m.Verify(t.Context(), authn.Subject{UserID: "u1"}, "f", card.Cells[ch.Positions[0]]); err != nil {
			t.Fatalf("Verify() = %v", err)
		}
	}
	for _, p := range card.Positions() {
		// ±50% is ~7 standard deviations: a smoke test for a biased or stuck picker.
		if c := counts[p]; c < 100 || c > 300 {
			t.Errorf("position %s asked %d times of %d, want about %d", p, c, n, n/16)
		}
	}
}

func TestDigits(t *testing.T) {
	t.Parallel()
	for _, digits := range []int{2, 3, 4, 5, 6} {
		t.Run(fmt.Sprint(digits), func(t *testing.T) {
			t.Parallel()
			m, err := coordcard.New(coordcard.Config{Digits: digits}, testKey(), &memStore{})
			if err != nil {
				t.Fatal(err)
			}
			freq := map[rune]int{}
			const cards = 100
			for i := range cards {
				c, err := m.Issue(t.Context(), fmt.Sprint("u", i))
				if err != nil {
					t.Fatal(err)
				}
				for p, v := range c.Cells {
					if len(v) != digits || strings.Trim(v, "0123456789") != "" {
						t.Fatalf("cell %s = %q, want %d decimal digits", p, v, digits)
					}
					for _, r := range v {
						freq[r]++
					}
				}
			}
			// Uniformity smoke test: each digit about a tenth of all (±30%, > 5 sigma).
			total := cards * 16 * digits
			for r := '0'; r <= '9'; r++ {
				if got, want := freq[r], total/10; got < want*7/10 || got > want*13/10 {
					t.Errorf("digit %c appeared %d times of %d, want about %d", r, got, total, want)
				}
			}
		})
	}
}

func TestCellsNeverStoredInClear(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{Digits: 6})
	card := e.issue(t)
	pos := e.begin(t, "f")
	if err := e.m.Verify(t.Context(), e.subj, "f", answer(card, pos, "")); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	// The scan can see stored data: the DNI is in the file.
	if !bytes.Contains(raw, []byte(aneDNI)) {
		t.Fatal("DNI not found in the file: the scan is not looking at the records")
	}
	for p, v := range card.Cells {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("cell %s value found in clear in the directory file", p)
		}
	}
}

func TestConcurrentCorrectAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{})
	card := e.issue(t)
	for round := range 20 {
		pos := e.begin(t, "f")
		ans := answer(card, pos, " ")
		var errs [2]error
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { errs[i] = e.m.Verify(t.Context(), e.subj, fmt.Sprint("flow-", i), ans) })
		}
		wg.Wait()
		nils := 0
		for _, err := range errs {
			switch {
			case err == nil:
				nils++
			case !errors.Is(err, authn.ErrExpired):
				t.Errorf("round %d: Verify() = %v, want nil or ErrExpired", round, err)
			}
		}
		if nils != 1 {
			t.Fatalf("round %d: %d of 2 concurrent correct answers succeeded, want exactly 1 (%v)", round, nils, errs)
		}
	}
}

func TestAnswerFormats(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{MaxFailures: 10, MaxRecentFailures: 100})
	card := e.issue(t)
	right := func(sep string) func([]string) string {
		return func(pos []string) string { return answer(card, pos, sep) }
	}
	tests := []struct {
		name string
		ans  func(pos []string) string
		want error
	}{
		{"space", right(" "), nil},
		{"none", right(""), nil},
		{"dash", right("-"), nil},
		{"spaces and tabs around", func(p []string) string { return " \t" + answer(card, p, "  ") + "\n" }, nil},
		{"dots", right("."), nil},
		{"slash", right(" / "), nil},
		{"reversed order", func(p []string) string {
			r := slices.Clone(p)
			slices.Reverse(r)
			if a := answer(card, r, ""); a != answer(card, p, "") {
				return a
			}
			return wrong(card, p) // both cells hold the same value: reversing changes nothing
		}, authn.ErrInvalidCredentials},
		{"one cell only", func(p []string) string { return card.Cells[p[0]] }, authn.ErrInvalidCredentials},
		{"one digit short", func(p []string) string { s := answer(card, p, ""); return s[:len(s)-1] }, authn.ErrInvalidCredentials},
		{"one digit more", func(p []string) string { return answer(card, p, "") + "0" }, authn.ErrInvalidCredentials},
		{"letter", func(p []string) string { return "x" + answer(card, p, "")[1:] }, authn.ErrInvalidCredentials},
		{"empty", func([]string) string { return "" }, authn.ErrInvalidCredentials},
		{"overlong", func(p []string) string { return answer(card, p, strings.Repeat(" ", 200)) }, authn.ErrInvalidCredentials},
		{"non-ASCII digits", func([]string) string { return "١٢٣٤٥٦" }, authn.ErrInvalidCredentials},
	}
	for _, tc := range tests {
		// Sequential: the cases share the account's sticky challenge.
		pos := e.begin(t, "f")
		if err := e.m.Verify(t.Context(), e.subj, "f", tc.ans(pos)); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify() = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestNoFactorAndExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, coordcard.Config{})
	ctx := t.Context()
	if _, err := e.m.Begin(ctx, e.subj, "f"); !errors.Is(err, authn.ErrNoFactor) {
		t.Errorf("Begin(no card) = %v, want ErrNoFactor", err)
	}
	if err := e.m.Verify(ctx, e.subj, "f", "123456"); !errors.Is(err, authn.ErrNoFactor) {
		t.Errorf("Verify(no card) = %v, want ErrNoFactor", err)
	}
	nobody := authn.Subject{UserID: "u-nobody"}
	if _, err := e.m.Begin(ctx, nobody, "f"); !errors.Is(err, authn.ErrNoFactor) {
		t.Errorf("Begin(unknown user) = %v, want ErrNoFactor", err)
	}
	if _, err := e.m.Issue(ctx, "u-nobody"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("Issue(unknown user) = %v, want directory.ErrNotFound", err)
	}
	e.issue(t)
	if err := e.m.Verify(ctx, e.subj, "f", "123456"); !errors.Is(err, authn.ErrExpired) {
		t.Errorf("Verify before Begin = %v, want ErrExpired", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.m.Begin(cancelled, e.subj, "f"); !errors.Is(err, context.Canceled) {
		t.Errorf("Begin(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  coordcard.Config
		ok   bool
	}{
		{"zero: defaults", coordcard.Config{}, true},
		{"all set", coordcard.Config{Digits: 6, Ask: 4, MaxFailures: 5, MaxRecentFailures: 20, RecentWindow: time.Hour, Level: authn.LevelHigh}, true},
		{"digits 1", coordcard.Config{Digits: 1}, false},
		{"digits 7", coordcard.Config{Digits: 7}, false},
		{"ask 5", coordcard.Config{Ask: 5}, false},
		{"ask negative", coordcard.Config{Ask: -1}, false},
		{"max failures 11", coordcard.Config{MaxFailures: 11}, false},
		{"recent below consecutive", coordcard.Config{MaxFailures: 5, MaxRecentFailures: 4}, false},
		{"negative window", coordcard.Config{RecentWindow: -time.Hour}, false},
		{"unknown level", coordcard.Config{Level: authn.Level(9)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, coordcard.ErrInvalidConfig)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			_, err = coordcard.New(tc.cfg, testKey(), &memStore{})
			if (err == nil) != tc.ok {
				t.Errorf("New() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, err := coordcard.New(coordcard.Config{}, make([]byte, 31), &memStore{}); !errors.Is(err, coordcard.ErrInvalidConfig) {
		t.Errorf("New(31-byte key) = %v, want ErrInvalidConfig", err)
	}
	if _, err := coordcard.New(coordcard.Config{}, testKey(), nil); !errors.Is(err, coordcard.ErrInvalidConfig) {
		t.Errorf("New(nil store) = %v, want ErrInvalidConfig", err)
	}
	if got := (coordcard.Config{}).EntropyBits(); got < 19.9 || got > 20 {
		t.Errorf("default EntropyBits() = %.2f, want 19.93", got)
	}
	m, _ := coordcard.New(coordcard.Config{Level: authn.LevelHigh}, testKey(), &memStore{})
	if m.Level() != authn.LevelHigh {
		t.Errorf("Level() = %v, want high (from config)", m.Level())
	}
}

func TestCardString(t *testing.T) {
	t.Parallel()
	c := coordcard.Card{Cells: map[string]string{}}
	for i, p := range c.Positions() {
		c.Cells[p] = fmt.Sprintf("%03d", i*7)
	}
	want := "" +
		"     1    2    3    4\n" +
		"A  000  007  014  021\n" +
		"B  028  035  042  049\n" +
		"C  056  063  070  077\n" +
		"D  084  091  098  105\n"
	if got := c.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

// memStore is an in-memory Store for tests that need many cards fast (no bbolt fsyncs). It
// keeps the directory's semantics that the method relies on.
type memStore struct {
	mu    sync.Mutex
	cards map[string]*memCard
}

type memCard struct {
	cells     map[string][]byte
	challenge []string
	failures  int
	locked    bool
}

func (s *memStore) IssueCard(_ context.Context, userID string, cells map[string][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cards == nil {
		s.cards = map[string]*memCard{}
	}
	s.cards[userID] = &memCard{cells: maps.Clone(cells)}
	return nil
}

func (s *memStore) CardChallenge(_ context.Context, userID string, pick func() []string) ([]string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cards[userID]
	switch {
	case c == nil:
		return nil, false, directory.ErrNoCard
	case c.locked:
		return nil, true, nil
	case c.challenge == nil:
		c.challenge = pick()
	}
	return slices.Clone(c.challenge), false, nil
}

func (s *memStore) VerifyCard(_ context.Context, userID string, check func([]string, map[string][]byte) bool, lim directory.CardLimits) (bool, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cards[userID]
	switch {
	case c == nil:
		return false, false, directory.ErrNoCard
	case c.locked:
		return false, true, nil
	case c.challenge == nil:
		return false, false, directory.ErrNoChallenge
	}
	c.failures++
	if check(c.challenge, c.cells) {
		c.failures, c.challenge = 0, nil
		return true, false, nil
	}
	c.locked = c.failures >= lim.MaxConsecutive
	return false, c.locked, nil
}
