// Command atea-interop is Atea's interoperability suite (issue 8): it runs real service-provider
// software against a real `atea serve` and drives a real headless chromium through
// SP-initiated sign-in and logout.
//
//	go run ./cmd/atea-interop [--only shibboleth,pysaml2,...] [--atea-binary PATH]
//	                          [--support-dir .ci/interop] [--timeout 6m] [--keep]
//
// For each SP stack it configures the SP from Atea's metadata, registers the SP's metadata
// with Atea (a file in <data>/sp-metadata), opens the SP's protected page, signs in at Atea
// as the demo citizen (DNI/NIE + password, plus the SMS code for substantial) and checks that
// the SP's page shows the expected NameID, AuthnContextClassRef and attributes; then, where
// the SP supports it, SP-initiated logout, checking that both sessions are gone. It prints
// one `PASS name` or `FAIL name: reason` line per check and `N passed, N failed`, and exits 1
// when anything failed. Everything listens on 127.0.0.1; every process it starts is stopped
// when it ends. The SPs' support files are under .ci/interop; .ci/interop/run.sh installs
// the Debian and npm packages first.
//
// The suite checks Atea from the outside: it must go red against a broken Atea, so
// --atea-binary runs it against any build (see .ci/interop/README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	levelLow         = "http://eidas.europa.eu/LoA/low"
	levelSubstantial = "http://eidas.europa.eu/LoA/substantial"

	nameIDTransient  = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nameIDEmail      = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
)

// spStack is one SP: how to start it and what its page must show.
type spStack struct {
	name      string
	entityID  string
	settings  string // extra keys of its serviceProviders entry in Atea's config (YAML, 4-space indent)
	protected string // the SP's page that requires a sign-in
	logoutURL string // starts SP-initiated logout; "" when the SP is not checked for logout
	level     string // AuthnContextClassRef the page must show
	nameID    nameIDExpectation
	encrypted bool // the page must say "Assertion: encrypted" (SPs that can show it)
	// start configures and starts the SP from Atea's metadata and returns the SP's metadata.
	start func(ctx context.Context, e *env) ([]byte, error)
	// after is the stack whose sign-in this one's journey begins with, in the same browser
	// context ("" = a fresh browser): the step-up SP starts from a session at low.
	after string
}

// nameIDExpectation checks the NameID lines of an SP page.
type nameIDExpectation func(fields map[string]string) error

// expectValue wants exactly this NameID value.
func expectValue(v string) nameIDExpectation {
	return func(f map[string]string) error {
		if got := f["NameID"]; got != v {
			return fmt.Errorf("NameID = %q, want %q", got, v)
		}
		return nil
	}
}

// expectOpaque wants a non-empty NameID of the format that is not the DNI (transient and
// persistent NameIDs are opaque: SECURITY.md, persistent is pairwise and never the DNI).
func expectOpaque(format string) nameIDExpectation {
	return func(f map[string]string) error {
		got := f["NameID"]
		switch {
		case got == "":
			return errors.New("no NameID on the SP page")
		case strings.Contains(got, citizenDNI):
			return fmt.Errorf("NameID %q contains the DNI", got)
		}
		if ff, ok := f["NameID-Format"]; ok && ff != format {
			return fmt.Errorf("NameID format = %q, want %q", ff, format)
		}
		return nil
	}
}

// env is what an SP's start needs.
type env struct {
	dir     string // this SP's private directory
	support string // .ci/interop
	atea    *atea
	ps      *procs
	stops   *cleanups
}

// cleanups are the stops of what is not a process (in-process servers), shared by the SPs'
// start functions, which run in parallel.
type cleanups struct {
	mu sync.Mutex
	fs []func()
}

// onStop registers cleanup for something that is not a process.
func (e *env) onStop(f func()) {
	e.stops.mu.Lock()
	defer e.stops.mu.Unlock()
	e.stops.fs = append(e.stops.fs, f)
}

// run calls the cleanups, newest first.
func (c *cleanups) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.fs) - 1; i >= 0; i-- {
		c.fs[i]()
	}
	c.fs = nil
}

type result struct {
	name string
	err  error
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("atea-interop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", "", "comma-separated SP stacks to run (default: all): "+strings.Join(stackNames(), ","))
	binary := fs.String("atea-binary", "", "run this atea binary instead of building ./cmd/atea")
	support := fs.String("support-dir", ".ci/interop", "directory of the SPs' support files")
	chromium := fs.String("chromium", "", "chromium binary (default: chromium on PATH)")
	timeout := fs.Duration("timeout", 6*time.Minute, "give up after this long")
	keep := fs.Bool("keep", false, "keep the work directory (logs, configs) even when everything passed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()

	work, err := os.MkdirTemp("", "atea-interop-")
	if err != nil {
		fmt.Fprintln(stderr, "atea-interop:", err)
		return 1
	}
	supportDir, _ := filepath.Abs(*support)
	ps := &procs{logDir: work}
	stops := &cleanups{}
	results, fatal := suite(ctx, suiteArgs{work: work, support: supportDir, binary: *binary, chromium: *chromium, only: *only}, ps, stops)
	stops.run()
	ps.stopAll()

	passed, failed := 0, 0
	for _, r := range results {
		if r.err == nil {
			passed++
			fmt.Fprintf(stdout, "PASS %s\n", r.name)
		} else {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %s\n", r.name, oneLine(r.err.Error()))
		}
	}
	if fatal != nil {
		failed++
		fmt.Fprintf(stdout, "FAIL suite: %s\n", oneLine(fatal.Error()))
	}
	fmt.Fprintf(stdout, "%d passed, %d failed (%s)\n", passed, failed, time.Since(start).Round(100*time.Millisecond))
	if failed > 0 || *keep {
		fmt.Fprintf(stderr, "atea-interop: logs and configs in %s\n", work)
	} else {
		_ = os.RemoveAll(work)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func oneLine(s string) string { return clip(s, 600) }

type suiteArgs struct {
	work, support, binary, chromium, only string
}

// stacks are the SP stacks of the suite, on the given ports. To add an SP: write its
// constructor (see sp_node.go for an SP in another language) and list it here.
func stacks(ports map[string]int) []*spStack {
	return []*spStack{
		shibbolethSP("shibboleth", ports["shibboleth"], ports["shibd"]),
		pysaml2SP("pysaml2", ports["pysaml2"], "front"),
		pysaml2SP("pysaml2-soap", ports["pysaml2-soap"], "soap"),
		nodeSP("node-saml", ports["node-saml"]),
		crewjamSP("crewjam", ports["crewjam"], false),
		withAfter(crewjamSP("stepup", ports["stepup"], true), "crewjam"),
	}
}

func withAfter(s *spStack, after string) *spStack {
	s.after = after
	return s
}

func stackNames() []string {
	var out []string
	for _, s := range stacks(map[string]int{}) {
		out = append(out, s.name)
	}
	return out
}

// suite starts Atea, chromium and the SPs, runs the journeys and returns one result per
// check. fatal is an error that stopped the suite before any journey could run.
func suite(ctx context.Context, a suiteArgs, ps *procs, stops *cleanups) ([]result, error) {
	names := append(stackNames(), "atea", "shibd")
	free, err := freePorts(len(names))
	if err != nil {
		return nil, err
	}
	ports := map[string]int{}
	for i, n := range names {
		ports[n] = free[i]
	}
	all := stacks(ports)
	want := map[string]bool{}
	for _, n := range strings.Split(a.only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	byName := map[string]*spStack{}
	for _, s := range all {
		byName[s.name] = s
	}
	for n := range want {
		if byName[n] == nil {
			return nil, fmt.Errorf("--only: no stack %q (have %s)", n, strings.Join(stackNames(), ","))
		}
	}
	for _, s := range all {
		if want[s.name] && s.after != "" {
			want[s.after] = true // a journey's prerequisite joins the run
		}
	}
	var chosen []*spStack
	for _, s := range all {
		if len(want) == 0 || want[s.name] {
			chosen = append(chosen, s)
		}
	}

	// Chromium starts while Atea builds.
	type browserResult struct {
		ctx    context.Context
		cancel context.CancelFunc
		err    error
	}
	bch := make(chan browserResult, 1)
	go func() {
		c, cancel, err := startChromium(ctx, a.chromium, filepath.Join(a.work, "chromium"))
		bch <- browserResult{c, cancel, err}
	}()
	received := false
	defer func() {
		// Wait for chromium even on an early return, so that it is stopped.
		if !received {
			if br := <-bch; br.cancel != nil {
				br.cancel()
			}
		}
	}()

	bin, err := buildAtea(ctx, a.work, a.binary)
	if err != nil {
		return nil, err
	}
	var settings []string
	for _, s := range chosen {
		settings = append(settings, fmt.Sprintf("  - entityID: %s\n%s", s.entityID, s.settings))
	}
	at, err := startAtea(ctx, ps, bin, a.work, ports["atea"], settings)
	if err != nil {
		return nil, err
	}

	// The SPs start in parallel; one that fails to start fails its own checks only.
	startErr := make([]error, len(chosen))
	var wg sync.WaitGroup
	for i, s := range chosen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := filepath.Join(a.work, s.name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				startErr[i] = err
				return
			}
			sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			md, err := s.start(sctx, &env{dir: dir, support: a.support, atea: at, ps: ps, stops: stops})
			if err == nil {
				err = at.register(s.name, md)
			}
			startErr[i] = err
		}()
	}
	br := <-bch
	received = true
	browser := br.ctx
	if br.err != nil {
		wg.Wait()
		return nil, br.err
	}
	defer br.cancel()
	wg.Wait()
	// Atea polls its SP-metadata directory every 500 ms (the config above); three polls.
	// (Atea offers no way to ask whether an entity is loaded; an SP it does not know yet
	// would show as a FAIL naming Atea's "unknown SP" page, not as a hang.)
	select {
	case <-time.After(1500 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	c := citizen{id: citizenDNI, password: at.password, smsCode: at.smsCode}
	res := make([][]result, len(chosen))
	for i, s := range chosen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = journey(ctx, browser, s, byName[s.after], startErr, chosen, c)
		}()
	}
	wg.Wait()
	var out []result
	for _, r := range res {
		out = append(out, r...)
	}
	if err := at.proc.exited(); err != nil {
		out = append(out, result{"atea", err})
	}
	return out, nil
}

// journey runs one stack's checks: sign-in in a fresh browser context, then logout there.
// A stack with a prerequisite (after) first checks step-up in the prerequisite's session,
// then signs in afresh (password and second factor in one go) and logs out; the two SMS
// flows run one after the other, so the outbox has one code to match at a time.
func journey(ctx context.Context, browser context.Context, s, after *spStack, startErr []error, chosen []*spStack, c citizen) []result {
	var res []result
	for i, cs := range chosen {
		if (cs == s || cs == after) && startErr[i] != nil {
			err := fmt.Errorf("%s did not start: %w", cs.name, startErr[i])
			return notRun(s, after, err)
		}
	}
	if after != nil {
		res = append(res, result{s.name + " sign-in (step-up from " + after.name + ")", stepUp(ctx, browser, s, after, c)})
	}
	name := s.name + " sign-in"
	if after != nil {
		name = s.name + " sign-in (password + second factor)"
	}
	tab, cancel, err := newTab(browser, 90*time.Second)
	if err != nil {
		res = append(res, result{name, err})
		if s.logoutURL != "" {
			res = append(res, result{s.name + " logout", errors.New("not run")})
		}
		return res
	}
	defer cancel()
	txt, _, err := signIn(tab, s.protected, c)
	if err == nil {
		err = checkPage(txt, s)
	}
	res = append(res, result{name, err})
	if s.logoutURL == "" {
		return res
	}
	if err != nil {
		return append(res, result{s.name + " logout", errors.New("not run: sign-in failed")})
	}
	return append(res, result{s.name + " logout", logout(tab, s.logoutURL, s.protected)})
}

// notRun is the results of a journey whose SPs did not start: every check fails.
func notRun(s, after *spStack, err error) []result {
	var res []result
	if after != nil {
		res = append(res, result{s.name + " sign-in (step-up from " + after.name + ")", err})
		res = append(res, result{s.name + " sign-in (password + second factor)", err})
	} else {
		res = append(res, result{s.name + " sign-in", err})
	}
	if s.logoutURL != "" {
		res = append(res, result{s.name + " logout", errors.New("not run: the SP did not start")})
	}
	return res
}

// stepUp (BRIEF.md journey 4): a session at low at after's SP first, then s, which asks for
// substantial, must get only the second factor (no new password prompt) and the higher level.
func stepUp(ctx context.Context, browser context.Context, s, after *spStack, c citizen) error {
	tab, cancel, err := newTab(browser, 90*time.Second)
	if err != nil {
		return err
	}
	defer cancel()
	txt, _, err := signIn(tab, after.protected, c)
	if err == nil {
		err = checkPage(txt, after)
	}
	if err != nil {
		return fmt.Errorf("first sign-in at %s: %w", after.name, err)
	}
	txt, askedPassword, err := signIn(tab, s.protected, c)
	if err != nil {
		return err
	}
	if err := checkPage(txt, s); err != nil {
		return err
	}
	if askedPassword {
		return errors.New("step-up asked for the password again (a session at low existed)")
	}
	return nil
}

// checkPage checks the text of an SP's #sp-result: "Key: value" lines with NameID,
// NameID-Format (where the SP shows it), AuthnContextClassRef and attributes.
func checkPage(txt string, s *spStack) error {
	fields := map[string]string{}
	for _, l := range strings.Split(txt, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	var errs []error
	if err := s.nameID(fields); err != nil {
		errs = append(errs, err)
	}
	if got := fields["AuthnContextClassRef"]; got != s.level {
		errs = append(errs, fmt.Errorf("AuthnContextClassRef = %q, want %q", got, s.level))
	}
	if s.encrypted && fields["Assertion"] != "encrypted" {
		errs = append(errs, fmt.Errorf("assertion was %q, want encrypted", fields["Assertion"]))
	}
	for _, v := range citizenAttributes {
		if !strings.Contains(txt, v) {
			errs = append(errs, fmt.Errorf("attribute value %q missing", v))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w (SP page: %q)", errors.Join(errs...), clip(txt, 400))
	}
	return nil
}
