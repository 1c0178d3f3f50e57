package directory_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ateaidp/atea/idp/directory"
	"github.com/ateaidp/atea/idp/dni"
)

// crashEnv names the directory file the child process of TestKill9DuringEnrolment works on.
const crashEnv = "ATEA_CRASH_DIRECTORY"

// dniFor returns a valid DNI for the i-th citizen of the crash test.
func dniFor(i int) string {
	n := 20000000 + i
	return fmt.Sprintf("%08d%c", n, "TRWAGMYFPDXBNJZSQVHLCKE"[n%23])
}

// TestMain lets the test binary double as the enrolling process that the crash test kills.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		os.Exit(enrolForever(path))
	}
	os.Exit(m.Run())
}

// enrolForever runs the enrolment journeys' directory steps in a loop — a pending citizen,
// an activation code, a password change, the atomic Enrol (code + password + terms +
// activation) — printing each completed citizen number, until it is killed.
func enrolForever(path string) int {
	ctx := context.Background()
	d, err := directory.Open(path, directory.Options{Params: directory.Params{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	start, _ := strconv.Atoi(os.Getenv(crashEnv + "_START"))
	for i := start; ; i++ {
		id := dniFor(i)
		if _, err := d.Add(ctx, directory.User{DNI: id, GivenName: "Miren", FamilyName: "Crash", BirthDate: "1990-01-01",
			DocumentExpiry: "2030-01-01", Phone: "+34600000001", Credential: directory.CredentialBak, Status: directory.StatusPending}, ""); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		code, _, err := d.IssueCode(ctx, directory.PurposeActivation, id, time.Hour)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := d.CheckCode(ctx, directory.CodeCheck{Purpose: directory.PurposeActivation, Code: code, DNI: id, DocumentExpiry: "01/01/2030"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := d.Enrol(ctx, directory.Enrolment{DNI: id, Purpose: directory.PurposeActivation, Code: code,
			Password: "crash test password", TermsVersion: "t1", Activate: true, Reason: "activation"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if err := d.SetPassword(ctx, id, "another good password", false, "change"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println(i)
	}
}

// TestKill9DuringEnrolment really kills (SIGKILL) a process in the middle of enrolments,
// several times at different moments, and checks after each kill that the directory opens,
// passes Check, and holds every citizen either wholly pending (no password, a live code) or
// wholly active (password, terms, code consumed): never half an activation.
func TestKill9DuringEnrolment(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "directory.db")
	next := 0
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path, crashEnv+"_START="+strconv.Itoa(next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it complete a few citizens, then kill it at a moment that varies by round:
		// mostly inside one of the transactions of the next citizen.
		lines := bufio.NewScanner(out)
		for range 3 + round {
			if !lines.Scan() {
				_ = cmd.Wait()
				t.Fatalf("round %d: the enrolling process stopped: %s", round, stderr.String())
			}
		}
		time.Sleep(time.Duration(round*700) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: process was not killed by SIGKILL: %v (%s)", round, cmd.ProcessState, stderr.String())
		}

		d, err := directory.Open(path, directory.Options{Params: directory.Params{MemoryKiB: 64, Time: 1, Threads: 1}})
		if err != nil {
			t.Fatalf("round %d: open after kill -9: %v", round, err)
		}
		if err := d.Check(t.Context()); err != nil {
			t.Errorf("round %d: Check after kill -9: %v", round, err)
		}
		users, err := d.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			switch u.Status {
			case directory.StatusActive:
				if u.TermsVersion != "t1" {
					t.Errorf("round %d: %s active without the terms: half an activation", round, dni.Mask(u.DNI))
				}
				if _, err := d.Authenticate(t.Context(), u.DNI, "crash test password"); err != nil {
					if _, err2 := d.Authenticate(t.Context(), u.DNI, "another good password"); err2 != nil {
						t.Errorf("round %d: %s active but neither password works: %v / %v", round, dni.Mask(u.DNI), err, err2)
					}
				}
			case directory.StatusPending:
				if u.TermsVersion != "" {
					t.Errorf("round %d: %s pending with terms accepted", round, dni.Mask(u.DNI))
				}
			default:
				t.Errorf("round %d: %s in status %s", round, dni.Mask(u.DNI), u.Status)
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		next += 100 // the next process starts on fresh numbers
		t.Logf("round %d: %d citizens, consistent", round, len(users))
	}
}
