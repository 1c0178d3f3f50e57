package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs owns every process the suite starts. Each runs in its own process group so that
// stopping it also stops what it forked (Apache's children, npm's node), and stopAll runs on
// every exit path: the issue asks that nothing outlives the suite, also on failure.
type procs struct {
	logDir string

	mu   sync.Mutex
	list []*proc
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // valid after done is closed
}

// start runs cmd with its output in <logDir>/<name>.log.
func (p *procs) start(name string, cmd *exec.Cmd) (*proc, error) {
	logPath := filepath.Join(p.logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pr := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		pr.err = cmd.Wait()
		f.Close()
		close(pr.done)
	}()
	p.mu.Lock()
	p.list = append(p.list, pr)
	p.mu.Unlock()
	return pr, nil
}

// exited reports whether the process has ended, with its log's tail when it has.
func (pr *proc) exited() error {
	select {
	case <-pr.done:
		return fmt.Errorf("%s exited (%v): %s", pr.name, pr.err, tail(pr.log, 600))
	default:
		return nil
	}
}

// stopAll sends SIGTERM to every process group, waits a little, then SIGKILLs what is left.
func (p *procs) stopAll() {
	p.mu.Lock()
	list := append([]*proc(nil), p.list...)
	p.mu.Unlock()
	for _, pr := range list {
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.After(5 * time.Second)
	for _, pr := range list {
		select {
		case <-pr.done:
		case <-deadline:
		}
	}
	for _, pr := range list {
		select {
		case <-pr.done:
		default:
			_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
			<-pr.done
		}
		// A group leader that exited may leave children behind (Apache -X does not, npm
		// might): a last SIGKILL to the group is harmless when it is empty.
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// tail is the last n bytes of a log file, for failure reasons.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. The listeners stay open until
// all n are chosen: a port closed at once may be handed out again by the next bind to port 0,
// and two servers of the suite would then race for it (it happened: Apache answered on
// pysaml2's port). Another process could still take one before its server binds it; on a CI
// machine that is unlikely enough.
func freePorts(n int) ([]int, error) {
	out := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// waitHTTP polls url until it answers with a status below 500, the process exits, or ctx
// ends.
func waitHTTP(ctx context.Context, url string, pr *proc) error {
	client := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		if pr != nil {
			if err := pr.exited(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", url, errors.Join(ctx.Err(), err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
