package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestBenchSSO runs a small `atea bench sso` against a real `atea serve` built from this
// tree, closed and open loop. The command fails when a sampled Response does not pass
// crewjam's SP validation, so a broken SSO path fails here; the printed figures must be
// there and plausible (a ratio below one signature's cost would mean the CPU reading is off).
func TestBenchSSO(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts atea serve")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "atea")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ateaidp/atea/cmd/atea").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cases := []struct {
		name string
		args []string
		sigs int
	}{
		{"closed-both", []string{"--n", "200", "--clients", "4"}, 2},
		{"open-response", []string{"--n", "100", "--clients", "4", "--profile", "response", "--rate", "200"}, 1},
	}
	num := `([0-9.]+)`
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := cmdBenchSSO(ctx, bin, c.args, &out, &errOut); err != nil {
				t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
			}
			s := out.String()
			if !regexp.MustCompile(`\(` + strconv.Itoa(c.sigs) + ` signature\(s\)\)`).MatchString(s) {
				t.Errorf("want %d signature(s) in:\n%s", c.sigs, s)
			}
			m := regexp.MustCompile(`throughput\s+` + num + ` SSO/s`).FindStringSubmatch(s)
			if m == nil {
				t.Fatalf("no throughput line:\n%s", s)
			}
			if v, _ := strconv.ParseFloat(m[1], 64); v <= 0 {
				t.Errorf("throughput %s", m[1])
			}
			if !regexp.MustCompile(`latency\s+p50 \S+\s+p99 \S+`).MatchString(s) {
				t.Errorf("no latency line:\n%s", s)
			}
			m = regexp.MustCompile(`ratio\s+` + num + ` ×`).FindStringSubmatch(s)
			if m == nil {
				t.Fatalf("no ratio line:\n%s", s)
			}
			// Only the absurd is refused: the references are measured in this (maybe
			// race-instrumented, so slower) test binary, and short runs on a shared machine
			// are noisy. A zero or a huge ratio means the CPU reading is broken.
			if v, _ := strconv.ParseFloat(m[1], 64); v < 0.2 || v > 10 {
				t.Errorf("ratio %v is not plausible:\n%s", v, s)
			}
			if c.args[len(c.args)-2] == "--rate" && !regexp.MustCompile(`open loop\s+200 SSO/s offered`).MatchString(s) {
				t.Errorf("open loop not reported:\n%s", s)
			}
		})
	}
	var out, errOut bytes.Buffer
	if err := cmdBenchSSO(ctx, bin, []string{"--rate", "-1"}, &out, &errOut); err == nil {
		t.Error("--rate -1 accepted")
	}
}
