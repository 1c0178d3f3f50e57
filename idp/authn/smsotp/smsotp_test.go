package smsotp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/authn"
	"github.com/ateaidp/atea/idp/authn/smsotp"
	"github.com/ateaidp/atea/idp/authn/smsotp/smsotptest"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/memstore"
)

const phone = "+34600000707"

// clock is a settable clock shared by the method and the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	m   *smsotp.Method
	st  *memstore.Store
	rec *smsotptest.Recorder
	clk *clock
}

func newEnv(t *testing.T, cfg smsotp.Config) *env {
	t.Helper()
	clk := &clock{t: time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)}
	st := memstore.New(clk.Now)
	rec := &smsotptest.Recorder{}
	key := []byte(strings.Repeat("k", smsotp.MinKeyLen))
	m, err := smsotp.New(cfg, key, st, st, rec, clk.Now, nil)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return &env{m: m, st: st, rec: rec, clk: clk}
}

// flow creates a flow that outlives every clock advance in these tests.
func (e *env) flow(t *testing.T, id string) string {
	t.Helper()
	if err := e.st.CreateFlow(t.Context(), store.Flow{ID: id, ExpiresAt: e.clk.Now().Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatalf("CreateFlow(%q) error = %v", id, err)
	}
	return id
}

func subject() authn.Subject { return authn.Subject{UserID: "user-1", Phone: phone} }

// code is the code in the newest SMS.
func (e *env) code(t *testing.T) string {
	t.Helper()
	c, ok := e.rec.LastCode(phone)
	if !ok {
		t.Fatal("no code sent")
	}
	return c
}

// begin starts flow id and returns the challenge and the code sent.
func (e *env) begin(t *testing.T, id string) (authn.Challenge, string) {
	t.Helper()
	e.flow(t, id)
	ch, err := e.m.Begin(t.Context(), subject(), id)
	if err != nil {
		t.Fatalf("Begin() error = %v", err)
	}
	return ch, e.code(t)
}

// wrong returns typed digits that differ from code's typed part.
func wrong(code string, shown int) string {
	typed := code[shown:]
	n, _ := strconv.Atoi(typed)
	return fmt.Sprintf("%0*d", len(typed), (n+1)%pow10(len(typed)))
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

func TestVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// steps returns the answers to submit and the errors wanted, in order.
		steps func(e *env, code string) ([]string, []error)
		// before runs between Begin and the answers.
		before func(e *env)
	}{
		{"ok/typed", func(e *env, code string) ([]string, []error) {
			return []string{code[3:]}, []error{nil}
		}, nil},
		{"ok/whole-code-with-spaces", func(e *env, code string) ([]string, []error) {
			return []string{code[:3] + " " + code[3:]}, []error{nil}
		}, nil},
		{"ok/after-two-wrong", func(e *env, code string) ([]string, []error) {
			w := wrong(code, 3)
			return []string{w, w, code[3:]}, []error{authn.ErrInvalidCredentials, authn.ErrInvalidCredentials, nil}
		}, nil},
		{"fail/wrong", func(e *env, code string) ([]string, []error) {
			return []string{wrong(code, 3)}, []error{authn.ErrInvalidCredentials}
		}, nil},
		{"fail/three-wrong-kill-the-code", func(e *env, code string) ([]string, []error) {
			w := wrong(code, 3)
			return []string{w, w, w, code[3:]}, []error{authn.ErrInvalidCredentials, authn.ErrInvalidCredentials, authn.ErrTooManyAttempts, authn.ErrTooManyAttempts}
		}, nil},
		{"fail/malformed-costs-no-attempt", func(e *env, code string) ([]string, []error) {
			return []string{"", "12", "abcd", "12345", code[3:]}, []error{authn.ErrInvalidCredentials, authn.ErrInvalidCredentials, authn.ErrInvalidCredentials, authn.ErrInvalidCredentials, nil}
		}, nil},
		{"fail/prefix-of-another-code", func(e *env, code string) ([]string, []error) {
			// The whole code must carry the prefix shown: the typed part with another
			// prefix is wrong.
			other := fmt.Sprintf("%03d", (mustAtoi(code[:3])+1)%1000)
			return []string{other + code[3:]}, []error{authn.ErrInvalidCredentials}
		}, nil},
		{"fail/expired", func(e *env, code string) ([]string, []error) {
			return []string{code[3:]}, []error{authn.ErrExpired}
		}, func(e *env) { e.clk.Advance(smsotp.DefaultTTL) }},
		{"ok/just-before-expiry", func(e *env, code string) ([]string, []error) {
			return []string{code[3:]}, []error{nil}
		}, func(e *env) { e.clk.Advance(smsotp.DefaultTTL - time.Second) }},
		{"fail/used-once", func(e *env, code string) ([]string, []error) {
			return []string{code[3:], code[3:]}, []error{nil, authn.ErrExpired}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, smsotp.Config{})
			_, code := e.begin(t, "flow-1")
			if tt.before != nil {
				tt.before(e)
			}
			answers, wants := tt.steps(e, code)
			for i, a := range answers {
				err := e.m.Verify(t.Context(), subject(), "flow-1", a)
				if !errors.Is(err, wants[i]) || (wants[i] == nil) != (err == nil) {
					t.Fatalf("answer %d: Verify() = %v, want %v", i, err, wants[i])
				}
			}
		})
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestVerifyNoChallenge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	e.flow(t, "flow-1")
	if err := e.m.Verify(t.Context(), subject(), "flow-1", "1234"); !errors.Is(err, authn.ErrExpired) {
		t.Errorf("Verify() without Begin = %v, want %v", err, authn.ErrExpired)
	}
	if err := e.m.Verify(t.Context(), subject(), "no-such-flow", "1234"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Verify() on a missing flow = %v, want %v", err, store.ErrNotFound)
	}
}

func TestBegin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	ch, code := e.begin(t, "flow-1")
	if len(code) != smsotp.DefaultDigits {
		t.Fatalf("code length = %d, want %d", len(code), smsotp.DefaultDigits)
	}
	now := e.clk.Now()
	want := authn.Challenge{
		Method: "smsotp", MaskedPhone: "***707", Prefix: code[:3], Typed: 4,
		ExpiresAt: now.Add(smsotp.DefaultTTL), ResendAt: now.Add(smsotp.DefaultCooldown),
	}
	if fmt.Sprint(ch) != fmt.Sprint(want) {
		t.Errorf("Begin() = %+v, want %+v", ch, want)
	}
	// A reload, even after the code died or expired, shows the same challenge and sends
	// nothing.
	w := wrong(code, 3)
	for range 3 {
		_ = e.m.Verify(t.Context(), subject(), "flow-1", w)
	}
	e.clk.Advance(smsotp.DefaultTTL)
	again, err := e.m.Begin(t.Context(), subject(), "flow-1")
	if err != nil {
		t.Fatalf("second Begin() error = %v", err)
	}
	if fmt.Sprint(again) != fmt.Sprint(want) {
		t.Errorf("second Begin() = %+v, want %+v", again, want)
	}
	if got := e.rec.Count(phone); got != 1 {
		t.Errorf("SMS sent = %d, want 1", got)
	}
	if msgs := e.rec.Messages(); msgs[0].Kind != smsotp.KindSMS || msgs[0].Body != smsotp.Text("es", code) {
		t.Errorf("message = %+v, want an sms with %q", msgs[0], smsotp.Text("es", code))
	}
}

func TestBeginConcurrentSendsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	e.flow(t, "flow-1")
	var wg sync.WaitGroup
	prefixes := make([]string, 8)
	for i := range prefixes {
		wg.Go(func() {
			ch, err := e.m.Begin(t.Context(), subject(), "flow-1")
			if err != nil {
				t.Errorf("Begin() error = %v", err)
			}
			prefixes[i] = ch.Prefix
		})
	}
	wg.Wait()
	if got := e.rec.Count(phone); got != 1 {
		t.Fatalf("SMS sent = %d, want 1", got)
	}
	code := e.code(t)
	for i, p := range prefixes {
		if p != code[:3] {
			t.Errorf("Begin #%d prefix = %q, want %q", i, p, code[:3])
		}
	}
}

func TestBeginErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	e.flow(t, "flow-1")
	noPhone := authn.Subject{UserID: "user-1"}
	if _, err := e.m.Begin(t.Context(), noPhone, "flow-1"); !errors.Is(err, authn.ErrNoFactor) {
		t.Errorf("Begin() without phone = %v, want %v", err, authn.ErrNoFactor)
	}
	if _, err := e.m.Resend(t.Context(), noPhone, "flow-1"); !errors.Is(err, authn.ErrNoFactor) {
		t.Errorf("Resend() without phone = %v, want %v", err, authn.ErrNoFactor)
	}
	if _, err := e.m.Begin(t.Context(), subject(), "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Begin() on a missing flow = %v, want %v", err, store.ErrNotFound)
	}
	if got := e.rec.Count(phone); got != 0 {
		t.Errorf("SMS sent = %d, want 0", got)
	}
}

func TestSendFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	e.flow(t, "flow-1")
	boom := errors.New("gateway down")
	e.rec.Fail(boom)
	if _, err := e.m.Begin(t.Context(), subject(), "flow-1"); !errors.Is(err, boom) {
		t.Fatalf("Begin() with a failing sender = %v, want %v", err, boom)
	}
	e.rec.Fail(nil)
	// The cooldown of an undelivered code is lifted: the citizen can ask again at once.
	ch, err := e.m.Resend(t.Context(), subject(), "flow-1")
	if err != nil {
		t.Fatalf("Resend() after a failed send = %v, want nil", err)
	}
	if code := e.code(t); ch.Prefix != code[:3] {
		t.Errorf("prefix = %q, want %q", ch.Prefix, code[:3])
	}
	if err := e.m.Verify(t.Context(), subject(), "flow-1", e.code(t)[3:]); err != nil {
		t.Errorf("Verify() = %v, want nil", err)
	}
}

func TestResend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	_, old := e.begin(t, "flow-1")
	e.clk.Advance(smsotp.DefaultCooldown - time.Second)
	if _, err := e.m.Resend(t.Context(), subject(), "flow-1"); !errors.Is(err, authn.ErrCooldown) {
		t.Fatalf("Resend() before cooldown = %v, want %v", err, authn.ErrCooldown)
	}
	if got := e.rec.Count(phone); got != 1 {
		t.Fatalf("SMS sent = %d, want 1", got)
	}
	e.clk.Advance(time.Second)
	ch, err := e.m.Resend(t.Context(), subject(), "flow-1")
	if err != nil {
		t.Fatalf("Resend() after cooldown = %v", err)
	}
	code := e.code(t)
	if got := e.rec.Count(phone); got != 2 {
		t.Fatalf("SMS sent = %d, want 2", got)
	}
	if ch.Prefix != code[:3] {
		t.Errorf("prefix = %q, want %q", ch.Prefix, code[:3])
	}
	if want := e.clk.Now().Add(smsotp.DefaultTTL); !ch.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", ch.ExpiresAt, want)
	}
	if old != code {
		if err := e.m.Verify(t.Context(), subject(), "flow-1", old); !errors.Is(err, authn.ErrInvalidCredentials) {
			t.Errorf("Verify(old code) = %v, want %v", err, authn.ErrInvalidCredentials)
		}
	}
	if err := e.m.Verify(t.Context(), subject(), "flow-1", code[3:]); err != nil {
		t.Errorf("Verify(new code) = %v, want nil", err)
	}
}

func TestResendRevivesDeadCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	_, code := e.begin(t, "flow-1")
	w := wrong(code, 3)
	for range 3 {
		_ = e.m.Verify(t.Context(), subject(), "flow-1", w)
	}
	e.clk.Advance(smsotp.DefaultCooldown)
	if _, err := e.m.Resend(t.Context(), subject(), "flow-1"); err != nil {
		t.Fatalf("Resend() = %v", err)
	}
	if err := e.m.Verify(t.Context(), subject(), "flow-1", e.code(t)[3:]); err != nil {
		t.Errorf("Verify(new code) = %v, want nil: a new code has fresh attempts", err)
	}
}

func TestMaxSends(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	e.begin(t, "flow-1")
	for i := 2; i <= smsotp.DefaultMaxSends; i++ {
		e.clk.Advance(smsotp.DefaultCooldown)
		if _, err := e.m.Resend(t.Context(), subject(), "flow-1"); err != nil {
			t.Fatalf("Resend() #%d = %v", i, err)
		}
	}
	e.clk.Advance(smsotp.DefaultCooldown)
	_, err := e.m.Resend(t.Context(), subject(), "flow-1")
	if !errors.Is(err, smsotp.ErrSendLimit) || !errors.Is(err, authn.ErrTooManyAttempts) {
		t.Fatalf("Resend() past the limit = %v, want %v", err, smsotp.ErrSendLimit)
	}
	if got := e.rec.Count(phone); got != smsotp.DefaultMaxSends {
		t.Errorf("SMS sent = %d, want %d", got, smsotp.DefaultMaxSends)
	}
	// The last code still works.
	if err := e.m.Verify(t.Context(), subject(), "flow-1", e.code(t)[3:]); err != nil {
		t.Errorf("Verify(last code) = %v, want nil", err)
	}
}

func TestLockAcrossFlows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	failures := 0
	var last error
	for f := 0; failures < smsotp.DefaultLockAfter; f++ {
		_, code := e.begin(t, fmt.Sprintf("flow-%d", f))
		w := wrong(code, 3)
		for range smsotp.DefaultMaxAttempts {
			if failures == smsotp.DefaultLockAfter {
				break
			}
			last = e.m.Verify(t.Context(), subject(), fmt.Sprintf("flow-%d", f), w)
			failures++
			if failures < smsotp.DefaultLockAfter && errors.Is(last, authn.ErrLocked) {
				t.Fatalf("locked after %d failures, want %d", failures, smsotp.DefaultLockAfter)
			}
		}
	}
	if !errors.Is(last, authn.ErrLocked) {
		t.Fatalf("failure #%d: Verify() = %v, want %v", failures, last, authn.ErrLocked)
	}
	sent := e.rec.Count(phone)
	e.flow(t, "flow-new")
	if _, err := e.m.Begin(t.Context(), subject(), "flow-new"); !errors.Is(err, authn.ErrLocked) {
		t.Errorf("Begin() when locked = %v, want %v", err, authn.ErrLocked)
	}
	if got := e.rec.Count(phone); got != sent {
		t.Errorf("SMS sent when locked: %d, want %d", got, sent)
	}
	if locked, err := e.m.Locked(t.Context(), "user-1"); err != nil || !locked {
		t.Errorf("Locked() = %v, %v, want true", locked, err)
	}
	// Other users are not affected.
	other := authn.Subject{UserID: "user-2", Phone: "+34600000808"}
	if _, err := e.m.Begin(t.Context(), other, "flow-new"); err != nil {
		t.Errorf("Begin(other user) = %v, want nil", err)
	}
	// The window passes: unlocked.
	e.clk.Advance(smsotp.DefaultLockWindow)
	if _, code := e.begin(t, "flow-later"); e.m.Verify(t.Context(), subject(), "flow-later", code[3:]) != nil {
		t.Error("Verify() after the lock window: not nil")
	}
}

func TestLockCorrectCodeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{LockAfter: 2})
	_, code := e.begin(t, "flow-1")
	w := wrong(code, 3)
	_ = e.m.Verify(t.Context(), subject(), "flow-1", w)
	if err := e.m.Verify(t.Context(), subject(), "flow-1", w); !errors.Is(err, authn.ErrLocked) {
		t.Fatalf("second failure = %v, want %v", err, authn.ErrLocked)
	}
	if err := e.m.Verify(t.Context(), subject(), "flow-1", code[3:]); !errors.Is(err, authn.ErrLocked) {
		t.Errorf("Verify(right code) when locked = %v, want %v", err, authn.ErrLocked)
	}
	if err := e.m.Unlock(t.Context(), "user-1"); err != nil {
		t.Fatalf("Unlock() = %v", err)
	}
	if err := e.m.Verify(t.Context(), subject(), "flow-1", code[3:]); err != nil {
		t.Errorf("Verify(right code) after Unlock = %v, want nil", err)
	}
}

func TestSuccessDoesNotResetFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{LockAfter: 3})
	_, code := e.begin(t, "flow-1")
	w := wrong(code, 3)
	for range 2 {
		_ = e.m.Verify(t.Context(), subject(), "flow-1", w)
	}
	if err := e.m.Verify(t.Context(), subject(), "flow-1", code[3:]); err != nil {
		t.Fatalf("Verify(right) = %v", err)
	}
	_, code = e.begin(t, "flow-2")
	if err := e.m.Verify(t.Context(), subject(), "flow-2", wrong(code, 3)); !errors.Is(err, authn.ErrLocked) {
		t.Errorf("third failure after a success = %v, want %v", err, authn.ErrLocked)
	}
}

func TestLockHoldsUnderConcurrentGuesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	const flows = 12
	codes := make([]string, flows)
	for i := range flows {
		_, codes[i] = e.begin(t, fmt.Sprintf("flow-%d", i))
	}
	var wg sync.WaitGroup
	for i := range flows {
		for range smsotp.DefaultMaxAttempts {
			wg.Go(func() {
				_ = e.m.Verify(t.Context(), subject(), fmt.Sprintf("flow-%d", i), wrong(codes[i], 3))
			})
		}
	}
	wg.Wait()
	compared := 0
	for i := range flows {
		f, err := e.st.GetFlow(t.Context(), fmt.Sprintf("flow-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		compared += f.Factor.Attempts
	}
	if compared != smsotp.DefaultLockAfter {
		t.Errorf("answers compared = %d, want exactly %d", compared, smsotp.DefaultLockAfter)
	}
}

func TestConcurrentCorrectVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	for round := range 100 {
		id := fmt.Sprintf("flow-%d", round)
		_, code := e.begin(t, id)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = e.m.Verify(t.Context(), subject(), id, code[3:]) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, authn.ErrExpired):
				t.Fatalf("round %d: loser got %v, want %v", round, err, authn.ErrExpired)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d submissions won, want exactly 1", round, wins)
		}
		// The losers count as failures (conservative); clear them so 100 rounds fit.
		if err := e.m.Unlock(t.Context(), "user-1"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStoredStateHasNoCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	for i := range 20 {
		id := fmt.Sprintf("flow-%d", i)
		_, code := e.begin(t, id)
		f, err := e.st.GetFlow(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), code) {
			t.Fatalf("stored flow %s contains the code", raw)
		}
		if f.Factor.Method != "smsotp" || len(f.Factor.CodeMAC) != 32 || f.Factor.Prefix != code[:3] {
			t.Errorf("Factor = %+v, want method smsotp, a 32-byte MAC and prefix %q", f.Factor, code[:3])
		}
		if !strings.Contains(string(raw), `"factor":{"method":"smsotp"`) {
			t.Errorf("flow JSON %s has no factor object", raw)
		}
	}
}

func TestCodeBoundToFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, smsotp.Config{})
	_, code1 := e.begin(t, "flow-1")
	e.begin(t, "flow-2")
	code2 := e.code(t)
	if code1 == code2 {
		t.Skip("the two random codes are equal")
	}
	// Flow 2 has its own code: flow 1's code, even with flow 2's prefix, does not pass there.
	if err := e.m.Verify(t.Context(), subject(), "flow-2", code1); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Errorf("Verify(flow 1's code in flow 2) = %v, want %v", err, authn.ErrInvalidCredentials)
	}
}

func TestConfigShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		cfg           smsotp.Config
		digits, typed int
	}{
		{"default", smsotp.Config{}, 7, 4},
		{"nine-three", smsotp.Config{Digits: 9}, 9, 6},
		{"no-prefix", smsotp.Config{Digits: 6, Shown: smsotp.ShowNone}, 6, 6},
		{"ten-six", smsotp.Config{Digits: 10, Shown: 6}, 10, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.cfg)
			ch, code := e.begin(t, "flow-1")
			if len(code) != tt.digits || ch.Typed != tt.typed || ch.Prefix != code[:tt.digits-tt.typed] {
				t.Fatalf("code %d digits, challenge %+v; want %d digits, %d typed, prefix of the code", len(code), ch, tt.digits, tt.typed)
			}
			if err := e.m.Verify(t.Context(), subject(), "flow-1", code[len(ch.Prefix):]); err != nil {
				t.Errorf("Verify() = %v, want nil", err)
			}
		})
	}
}

func TestDigitsAreUniform(t *testing.T) {
	t.Parallel()
	// Not a statistics test: it catches a constant or a biased range (e.g. only 0–5, as
	// byte%10 over a truncated range would show), with generous bounds.
	e := newEnv(t, smsotp.Config{Digits: 10, MaxSends: 1})
	var counts [10]int
	for i := range 100 {
		e.begin(t, fmt.Sprintf("flow-%d", i))
		for _, c := range e.code(t) {
			counts[c-'0']++
		}
	}
	for d, n := range counts {
		if n < 50 || n > 160 {
			t.Errorf("digit %d appeared %d times in 1000, want about 100", d, n)
		}
	}
}

func TestLang(t *testing.T) {
	t.Parallel()
	tests := []struct{ ctxLang, cfgLang, want string }{
		{"", "", "Atea: su código es "},
		{"eu", "", "Atea: zure kodea "},
		{"en", "es", "Atea: your code is "},
		{"xx", "en", "Atea: your code is "},
	}
	for _, tt := range tests {
		t.Run(tt.ctxLang+"/"+tt.cfgLang, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, smsotp.Config{Lang: tt.cfgLang})
			e.flow(t, "flow-1")
			ctx := t.Context()
			if tt.ctxLang != "" {
				ctx = smsotp.WithLang(ctx, tt.ctxLang)
			}
			if _, err := e.m.Begin(ctx, subject(), "flow-1"); err != nil {
				t.Fatal(err)
			}
			body := e.rec.Messages()[0].Body
			if !strings.HasPrefix(body, tt.want) || !strings.Contains(body, e.code(t)) {
				t.Errorf("body = %q, want it to start with %q and hold the code", body, tt.want)
			}
			if n := len([]rune(body)); n > 70 {
				t.Errorf("body has %d characters, want ≤ 70 (one UCS-2 SMS)", n)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  smsotp.Config
		ok   bool
	}{
		{"zero-is-defaults", smsotp.Config{}, true},
		{"digits-low", smsotp.Config{Digits: 5}, false},
		{"digits-high", smsotp.Config{Digits: 11}, false},
		{"shown-too-many", smsotp.Config{Digits: 7, Shown: 4}, false},
		{"shown-max", smsotp.Config{Digits: 8, Shown: 4}, true},
		{"shown-none", smsotp.Config{Shown: smsotp.ShowNone}, true},
		{"shown-negative", smsotp.Config{Shown: -2}, false},
		{"ttl-too-long", smsotp.Config{TTL: 11 * time.Minute}, false},
		{"ttl-negative", smsotp.Config{TTL: -time.Second}, false},
		{"attempts-negative", smsotp.Config{MaxAttempts: -1}, false},
		{"sends-negative", smsotp.Config{MaxSends: -1}, false},
		{"lock-negative", smsotp.Config{LockAfter: -1}, false},
		{"cooldown-negative", smsotp.Config{Cooldown: -1}, false},
		{"window-negative", smsotp.Config{LockWindow: -1}, false},
		{"level-bad", smsotp.Config{Level: 9}, false},
		{"lang-bad", smsotp.Config{Lang: "fr"}, false},
		{"lang-eu", smsotp.Config{Lang: "eu"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, smsotp.ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want it to wrap %v", err, smsotp.ErrInvalidConfig)
			}
		})
	}
	// All problems at once.
	err := smsotp.Config{Digits: 5, Lang: "fr"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "digits") || !strings.Contains(err.Error(), "lang") {
		t.Errorf("Validate() = %v, want both problems", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	st := memstore.New(nil)
	rec := &smsotptest.Recorder{}
	if _, err := smsotp.New(smsotp.Config{}, make([]byte, 16), st, st, rec, nil, nil); !errors.Is(err, smsotp.ErrInvalidConfig) {
		t.Errorf("New(short key) = %v, want %v", err, smsotp.ErrInvalidConfig)
	}
	if _, err := smsotp.New(smsotp.Config{}, make([]byte, 32), st, st, nil, nil, nil); !errors.Is(err, smsotp.ErrInvalidConfig) {
		t.Errorf("New(nil sender) = %v, want %v", err, smsotp.ErrInvalidConfig)
	}
	m, err := smsotp.New(smsotp.Config{}, make([]byte, 32), st, st, rec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID() != "smsotp" || m.Level() != authn.LevelSubstantial {
		t.Errorf("ID(), Level() = %q, %v; want smsotp, substantial", m.ID(), m.Level())
	}
	if m2, _ := smsotp.New(smsotp.Config{Level: authn.LevelLow}, make([]byte, 32), st, st, rec, nil, nil); m2.Level() != authn.LevelLow {
		t.Errorf("Level() = %v, want low", m2.Level())
	}
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"+34600000707", "***707"},
		{"600 000 707", "***707"},
		{"+44 7700 900123", "***123"},
		{"12345", "***"},
		{"", "***"},
	}
	for _, tt := range tests {
		if got := smsotp.MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskTo(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"+34600000707", "***707"},
		{"jon@example.org", "j***@example.org"},
		{"@example.org", "***@example.org"},
	}
	for _, tt := range tests {
		if got := smsotp.MaskTo(tt.in); got != tt.want {
			t.Errorf("MaskTo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzMaskPhone(f *testing.F) {
	for _, s := range []string{"+34600000707", "", "12", "٣٤٥٦٧٨٩", "+1 (555) 010-9999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := smsotp.MaskPhone(s)
		if !strings.HasPrefix(got, "***") || len(got) > 6 {
			t.Fatalf("MaskPhone(%q) = %q, want *** and at most 3 digits", s, got)
		}
	})
}

// FuzzVerify: any answer is refused or accepted without panicking, and only the code sent
// is accepted.
func FuzzVerify(f *testing.F) {
	for _, s := range []string{"", "0000", "1234567", " 12 34 ", "abcd", "１２３４", "99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		e := newEnv(t, smsotp.Config{})
		_, code := e.begin(t, "flow-1")
		err := e.m.Verify(t.Context(), subject(), "flow-1", answer)
		clean := strings.Join(strings.Fields(answer), "")
		right := clean == code || clean == code[3:]
		if (err == nil) != right {
			t.Fatalf("Verify(%q) = %v with code %s", answer, err, code)
		}
	})
}
