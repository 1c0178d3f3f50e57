package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/keys"
)

// cmdBench dispatches `atea bench <what>`.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(stdout, "usage: atea bench sso [--clients 16] [--n 3000] [--profile both|response|assertion] [--key rsa2048|rsa3072|ecdsa-p256] [--rate SSO/s] [--cpuprofile FILE] [--keep]\n       atea bench metadata [--entities 50000] [--runs 3] [--dom] [--keep]")
		return nil
	}
	if len(args) > 0 && args[0] == "metadata" {
		return cmdBenchMetadata(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "sso" {
		return usageErrorf("usage: atea bench sso|metadata [flags]")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return cmdBenchSSO(ctx, exe, args[1:], stdout, stderr)
}

// cmdBenchSSO measures SP-initiated SSO with an existing session, over real HTTP on loopback,
// against a separate `atea serve` process whose CPU time it reads from /proc. In the same run
// it measures the CPU of one raw signature with the same key, and prints the ratio the
// performance target is stated in: server CPU per SSO ÷ (signatures per SSO × one signature).
// exe is the atea binary to run the server from.
func cmdBenchSSO(ctx context.Context, exe string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench sso", flag.ContinueOnError)
	fs.SetOutput(stderr)
	clients := fs.Int("clients", 16, "concurrent clients (each with its own SSO session)")
	n := fs.Int("n", 3000, "SSO round trips in the timed part")
	profile := fs.String("profile", "both", "what is signed: both | response | assertion")
	alg := fs.String("key", "rsa2048", "signing key: rsa2048 | rsa3072 | ecdsa-p256")
	keep := fs.Bool("keep", false, "keep the temporary data directory")
	cpuProfile := fs.String("cpuprofile", "", "have the server write a CPU profile to this file")
	rate := fs.Float64("rate", 0, "open loop: start SSOs at this many per second in all, on a fixed schedule, and time each from its scheduled start (0: closed loop, each client as fast as it can)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sigs := 2
	switch *profile {
	case "both":
	case "response", "assertion":
		sigs = 1
	default:
		return usageErrorf("--profile: want both, response or assertion")
	}
	if *clients < 1 || *n < *clients {
		return usageErrorf("--clients must be ≥ 1 and --n ≥ --clients")
	}
	if *rate < 0 {
		return usageErrorf("--rate must be ≥ 0")
	}
	dir, err := os.MkdirTemp("", "atea-bench-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	b := &bench{exe: exe, dir: dir, stdout: stdout, stderr: stderr, cpuProfile: *cpuProfile}
	if err := b.prepare(ctx, *alg, *profile); err != nil {
		return err
	}
	defer b.stop()

	// Sessions: every client signs in once, outside the timed part.
	cs := make([]*benchClient, *clients)
	for i := range cs {
		c, err := b.newClient(ctx)
		if err != nil {
			return fmt.Errorf("client %d sign-in: %w", i, err)
		}
		cs[i] = c
	}
	// Requests are prepared before the timed part: unique IDs (the replay cache refuses reuse).
	urls := make([]string, *n)
	for i := range urls {
		if urls[i], err = b.requestURL(); err != nil {
			return err
		}
	}
	// Warm up.
	for _, c := range cs {
		u, _ := b.requestURL()
		if _, err := c.sso(ctx, u); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}

	cpu0, err := procCPU(b.cmd.Process.Pid)
	if err != nil {
		return err
	}
	sigs0, sigCPU0, err := b.signatureCounts(ctx)
	if err != nil {
		return err
	}
	lat := make([]time.Duration, *n)
	bodies := make([][]byte, *n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, *clients)
	// A second reference, taken while the load runs: one signature every 20 ms on a locked
	// thread, timed by that thread's own CPU clock. On a small machine the server's
	// signatures share caches and cores with the clients, and this one does too.
	loadedSig := make(chan time.Duration, 1)
	stopSig := make(chan struct{})
	go func() { loadedSig <- signUnderLoad(b.key.Signer, stopSig) }()
	start := time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(urls) {
					return
				}
				t0 := time.Now()
				if *rate > 0 {
					// Request i is due at start + i/rate. Timing from when it was due, not
					// from when it was sent, counts the wait of a request that a slow
					// response held back (no coordinated omission).
					t0 = start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))
					time.Sleep(time.Until(t0))
				}
				body, err := c.sso(ctx, urls[i])
				lat[i] = time.Since(t0)
				if err != nil {
					errs <- err
					return
				}
				bodies[i] = body
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, err := procCPU(b.cmd.Process.Pid)
	sigs1, sigCPU1, serr := b.signatureCounts(ctx)
	err = errors.Join(err, serr)
	close(stopSig)
	underLoad := <-loadedSig
	if err != nil {
		return err
	}
	close(errs)
	if err := <-errs; err != nil {
		return err
	}

	// SP-side validation, outside the timed part: a sample goes through crewjam's SP.
	for i := 0; i < len(bodies); i += max(1, len(bodies)/20) {
		if err := b.validate(bodies[i]); err != nil {
			return fmt.Errorf("response %d failed SP validation: %w", i, err)
		}
	}

	raw, err := rawSignCPU(b.key.Signer, 200)
	if err != nil {
		return err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	perSSO := (cpu1 - cpu0) / time.Duration(*n)
	ratio := float64(perSSO) / (float64(sigs) * float64(raw))
	fmt.Fprintf(stdout, "atea bench sso: %d SSO, %d clients, profile %s (%d signature(s)), key %s\n", *n, *clients, *profile, sigs, *alg)
	if *rate > 0 {
		fmt.Fprintf(stdout, "open loop         %.0f SSO/s offered\n", *rate)
	}
	fmt.Fprintf(stdout, "throughput        %.0f SSO/s\n", float64(*n)/wall.Seconds())
	fmt.Fprintf(stdout, "latency           p50 %s  p99 %s  (p90 %s, p99.9 %s, max %s)\n", pct(lat, 50), pct(lat, 99), pct(lat, 90), pctm(lat, 999), lat[len(lat)-1].Round(10*time.Microsecond))
	fmt.Fprintf(stdout, "server CPU / SSO  %s\n", perSSO.Round(time.Microsecond))
	fmt.Fprintf(stdout, "raw signature     %s idle, %s under the load (same key, same run)\n", raw.Round(time.Microsecond), underLoad.Round(time.Microsecond))
	fmt.Fprintf(stdout, "ratio             %.2f × the raw signatures measured idle (target ≤ 1.18)\n", ratio)
	if underLoad > 0 {
		fmt.Fprintf(stdout, "ratio (loaded)    %.2f × the raw signatures measured under the same load\n", float64(perSSO)/(float64(sigs)*float64(underLoad)))
	}
	// The server's own count: the CPU its signing threads spent inside the signatures it made
	// during the timed part, against all the CPU it spent. Both are read in the same process
	// over the same interval, so neither other load nor the clock speed of the moment moves
	// the one without the other.
	if dn, dcpu := sigs1-sigs0, sigCPU1-sigCPU0; dn > 0 && dcpu > 0 {
		fmt.Fprintf(stdout, "in the server     %.2f signatures per SSO at %s each; the signatures are %.1f %% of its CPU\n",
			float64(dn)/float64(*n), (dcpu / time.Duration(dn)).Round(time.Microsecond), 100*float64(dcpu)/float64(cpu1-cpu0))
		fmt.Fprintf(stdout, "ratio (server)    %.2f × the signatures it made, timed where it made them (target ≤ 1.18)\n", float64(cpu1-cpu0)/float64(dcpu))
	}
	return nil
}

// pctm is the per-mille percentile.
func pctm(sorted []time.Duration, pm int) time.Duration {
	i := len(sorted) * pm / 1000
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i].Round(10 * time.Microsecond)
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := len(sorted) * p / 100
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i].Round(10 * time.Microsecond)
}

// rawSignCPU is the CPU time of one signature of a SHA-256 digest with the IdP's key, measured
// on one goroutine while nothing else runs in this process.
func rawSignCPU(k crypto.Signer, reps int) (time.Duration, error) {
	digest := sha256.Sum256([]byte("atea"))
	best := time.Duration(1 << 62)
	for round := 0; round < 3; round++ {
		t0 := time.Now()
		for i := 0; i < reps; i++ {
			if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				return 0, err
			}
		}
		best = min(best, time.Since(t0)/time.Duration(reps))
	}
	return best, nil
}

// signatureCounts reads atea_signatures_total and atea_signature_cpu_seconds_total from the
// server's /metrics.
func (b *bench) signatureCounts(ctx context.Context) (int64, time.Duration, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.metricsURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("server metrics: %w", err)
	}
	defer resp.Body.Close()
	var n int64
	var cpu time.Duration
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch name {
		case "atea_signatures_total":
			n, found = int64(v), found+1
		case "atea_signature_cpu_seconds_total":
			cpu, found = time.Duration(v*float64(time.Second)), found+1
		}
	}
	if found != 2 {
		return 0, 0, errors.New("server metrics: no signature counters")
	}
	return n, cpu, sc.Err()
}

// procCPU reads user+system CPU time of a process from /proc/<pid>/stat (fields 14, 15).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("server CPU: cannot parse /proc stat")
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

type bench struct {
	exe            string
	dir            string
	stdout, stderr io.Writer
	cmd            *exec.Cmd
	base           string
	key            *keys.SigningKey
	sp             *saml.ServiceProvider
	mu             sync.Mutex
	cpuProfile     string
	metricsURL     string // the server's /metrics, for the signatures it counts
}

const benchDNI, benchPassword = "12345678Z", "bench password 1"

func (b *bench) prepare(ctx context.Context, alg, profile string) error {
	k, _, err := keys.LoadOrCreate(filepath.Join(b.dir, "keys", "signing.key"), filepath.Join(b.dir, "keys", "signing.crt"), alg, "atea-bench", time.Now())
	if err != nil {
		return err
	}
	b.key = k
	d, err := directory.Open(filepath.Join(b.dir, "directory.db"), directory.Options{Params: directory.DefaultParams(), MaxFailures: 5})
	if err != nil {
		return err
	}
	_, err = d.Add(ctx, directory.User{DNI: benchDNI, GivenName: "Bench", FamilyName: "Mark", BirthDate: "1980-01-01", Email: "bench@example.test"}, benchPassword)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	b.base = "http://127.0.0.1:" + strconv.Itoa(port)
	sign := map[string]string{"both": "both", "response": "response", "assertion": "assertion"}[profile]
	mport, err := freePort()
	if err != nil {
		return err
	}
	b.metricsURL = "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics"
	cfg := fmt.Sprintf("saml:\n  sign: %s\nlog:\n  level: error\ndemo:\n  enabled: false\nkeys:\n  algorithm: %s\nmetrics:\n  listen: 127.0.0.1:%d\n", sign, alg, mport)
	cfgPath := filepath.Join(b.dir, "atea.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	// The SP: crewjam's, registered by metadata file.
	spKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	spCert, err := selfSignedCert(spKey, "bench-sp")
	if err != nil {
		return err
	}
	md, _ := url.Parse("https://bench-sp.test/saml/metadata")
	acs, _ := url.Parse("https://bench-sp.test/saml/acs")
	b.sp = &saml.ServiceProvider{EntityID: md.String(), Key: spKey, Certificate: spCert, MetadataURL: *md, AcsURL: *acs}
	mdDir := filepath.Join(b.dir, "sp-metadata")
	if err := os.MkdirAll(mdDir, 0o755); err != nil {
		return err
	}
	spMD, err := xml.Marshal(b.sp.Metadata())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(mdDir, "bench-sp.xml"), spMD, 0o644); err != nil {
		return err
	}
	args := []string{"serve", "--config", cfgPath, "--data", b.dir, "--listen", "127.0.0.1:" + strconv.Itoa(port), "--base-url", b.base}
	if b.cpuProfile != "" {
		args = append(args, "--cpuprofile", b.cpuProfile)
	}
	b.cmd = exec.CommandContext(ctx, b.exe, args...)
	b.cmd.Stdout, b.cmd.Stderr = io.Discard, b.stderr
	if err := b.cmd.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(b.base + "/saml/metadata") //nolint:noctx // loopback readiness poll
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ed, err := samlParseMetadata(body)
				if err != nil {
					return err
				}
				b.sp.IDPMetadata = ed
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("server did not come up within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bench) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = b.cmd.Process.Kill()
		}
	}
}

func (b *bench) requestURL() (string, error) {
	b.mu.Lock()
	req, err := b.sp.MakeAuthenticationRequest(b.base+"/saml/sso", saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	b.mu.Unlock()
	if err != nil {
		return "", err
	}
	doc := req.Element()
	var xb bytes.Buffer
	if err := xmlWrite(&xb, doc); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	_, _ = fw.Write(xb.Bytes())
	_ = fw.Close()
	return b.base + "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) + "&RelayState=bench", nil
}

var reSAMLResponse = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)

func (b *bench) validate(page []byte) error {
	m := reSAMLResponse.FindSubmatch(page)
	if m == nil {
		return errors.New("no SAMLResponse on the page")
	}
	x, err := base64.StdEncoding.DecodeString(htmlUnescape(string(m[1])))
	if err != nil {
		return err
	}
	var resp struct {
		InResponseTo string `xml:",attr"`
	}
	if err := xml.Unmarshal(x, &resp); err != nil {
		return err
	}
	// The response was for a request whose ID we did not keep; crewjam checks it against
	// the list we pass, so pass the one it names (the timed part made the request).
	_, err = b.sp.ParseXMLResponse(x, []string{resp.InResponseTo}, b.sp.AcsURL)
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) {
		return ire.PrivateErr
	}
	return err
}

type benchClient struct{ c *http.Client }

var reHidden = regexp.MustCompile(`name="(flow|csrf)" value="([^"]*)"`)

func (b *bench) newClient(ctx context.Context) (*benchClient, error) {
	jar, _ := cookiejar.New(nil)
	c := &benchClient{c: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
	u, err := b.requestURL()
	if err != nil {
		return nil, err
	}
	page, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	v := url.Values{"username": {benchDNI}, "password": {benchPassword}}
	for _, m := range reHidden.FindAllSubmatch(page, -1) {
		v.Set(string(m[1]), htmlUnescape(string(m[2])))
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/login", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.c.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("SAMLResponse")) {
		return nil, fmt.Errorf("sign-in did not yield a response (HTTP %d)", resp.StatusCode)
	}
	return c, nil
}

func (c *benchClient) get(ctx context.Context, u string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(bufio.NewReader(resp.Body))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return body, err
}

func (c *benchClient) sso(ctx context.Context, u string) ([]byte, error) {
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(body, []byte(`name="SAMLResponse"`)) {
		return nil, errors.New("SSO did not yield a response")
	}
	return body, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func selfSignedCert(k *rsa.PrivateKey, cn string) (*x509.Certificate, error) {
	return keys.SelfSigned(k, cn, time.Now())
}

// samlParseMetadata reads Atea's IdP metadata as crewjam's SP does.
func samlParseMetadata(b []byte) (*saml.EntityDescriptor, error) {
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal(b, &ed); err != nil {
		return nil, fmt.Errorf("IdP metadata: %w", err)
	}
	return &ed, nil
}

// xmlWrite serialises an element as the SP would send it.
func xmlWrite(w io.Writer, el *etree.Element) error {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	_, err := doc.WriteTo(w)
	return err
}

// htmlUnescape undoes the attribute escaping of html/template for the hidden form fields.
func htmlUnescape(s string) string { return html.UnescapeString(s) }

// signUnderLoad signs a digest every 20 ms until stop closes and returns the median thread
// CPU time of one signature (0 if it could not measure).
func signUnderLoad(k crypto.Signer, stop <-chan struct{}) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	digest := sha256.Sum256([]byte("atea"))
	var samples []time.Duration
	for {
		select {
		case <-stop:
			if len(samples) == 0 {
				return 0
			}
			sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
			return samples[len(samples)/2]
		case <-time.After(20 * time.Millisecond):
		}
		t0, err := keys.ThreadCPU()
		if err != nil {
			return 0
		}
		if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			return 0
		}
		t1, err := keys.ThreadCPU()
		if err != nil {
			return 0
		}
		samples = append(samples, t1-t0)
	}
}
