package redistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoRedis reports that the redis-server binary is not on PATH.
var ErrNoRedis = errors.New("redistest: redis-server not found on PATH")

const (
	// readyTimeout bounds the wait for a new server to answer PING.
	readyTimeout = 10 * time.Second
	// stopTimeout is how long a server gets to exit on SIGTERM before it is killed.
	stopTimeout = 5 * time.Second
	// maxSocketPath keeps the socket path within sun_path (104 bytes on the BSDs, 108 on
	// Linux).
	maxSocketPath = 100
)

// Server is a private redis-server listening only on a unix socket in its own temporary
// directory (no TCP port), with persistence off. Its methods are safe for concurrent use.
type Server struct {
	bin    string
	dir    string
	socket string

	mu   sync.Mutex
	proc *proc // nil while stopped
}

// Start starts a private redis-server for t and stops it, removing its directory, when t
// ends. If redis-server is missing it skips t, or fails it when CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binary(t)
	s, err := newServer(bin)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.shutdown)
	return s
}

// StartMain starts a server shared by a whole test binary, for use from TestMain, which calls
// stop after m.Run. When redis-server is missing it returns a nil *Server and a nil error,
// so that the tests can skip through [Require]; under CI=true it returns an error wrapping
// [ErrNoRedis] instead, and TestMain must fail.
func StartMain() (s *Server, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if inCI() {
			return nil, func() {}, fmt.Errorf("%w (CI=true: Redis tests must run)", ErrNoRedis)
		}
		return nil, func() {}, nil
	}
	s, err = newServer(bin)
	if err != nil {
		return nil, func() {}, fmt.Errorf("redistest: %w", err)
	}
	return s, s.shutdown, nil
}

// Require returns s, a server from [StartMain]. If s is nil (redis-server was missing) it
// skips t, or fails it when CI=true.
func Require(t testing.TB, s *Server) *Server {
	t.Helper()
	if s == nil {
		missing(t)
	}
	return s
}

// Socket returns the path of the server's unix socket, which is also its address for
// go-redis (an address starting with "/" is a unix socket).
func (s *Server) Socket() string { return s.socket }

// Client returns a client for the server, closed when t ends. ContextTimeoutEnabled is set,
// so a context deadline bounds every call, as redisstore requires.
func (s *Server) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Network:               "unix",
		Addr:                  s.socket,
		ContextTimeoutEnabled: true,
		DialTimeout:           2 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop stops the server now, for outage tests. Clients then fail to connect until
// [Server.Restart].
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		t.Fatal("redistest: Stop of a server that is not running")
	}
	s.proc.stop()
	s.proc = nil
}

// Restart starts the server again on the same socket, empty (nothing was persisted), for
// recovery tests. A running server is stopped first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
	if err := s.launch(); err != nil {
		t.Fatalf("redistest: restart: %v", err)
	}
}

// newServer makes the directory and starts the server in it.
func newServer(bin string) (*Server, error) {
	dir, err := tempDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, socket: filepath.Join(dir, "redis.sock")}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.launch(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// launch starts redis-server and waits until it answers PING. s.mu is held.
func (s *Server) launch() error {
	p, err := startProc(s.bin, s.dir, "redis.log",
		"--port", "0",
		"--unixsocket", s.socket,
		"--unixsocketperm", "700",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
	)
	if err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.socket, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer c.Close()
	if err := p.waitReady(c); err != nil {
		p.stop()
		return err
	}
	s.proc = p
	return nil
}

// shutdown stops the server if it runs and removes its directory: the cleanup of Start and
// the stop of StartMain.
func (s *Server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
	_ = os.RemoveAll(s.dir)
}

// proc is one running redis-server.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited
}

// startProc starts bin with args, its output going to logName in dir.
func startProc(bin, dir, logName string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, logName)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls PING through c until the server answers, it exits, or readyTimeout passes.
func (p *proc) waitReady(c *redis.Client) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		// Probe with a bare dial first: go-redis logs every failed dial, and a starting
		// server refuses connections for a few milliseconds.
		opt := c.Options()
		conn, err := net.DialTimeout(opt.Network, opt.Addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err = c.Ping(ctx).Err()
			cancel()
			if err == nil {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("redis-server exited at start: %s", p.logTail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server not answering PING after %v: %w; log: %s", readyTimeout, err, p.logTail())
		}
		time.Sleep(5 * time.Millisecond) // poll interval, bounded by the deadline above
	}
}

// stop ends the process: SIGTERM (without persistence, shutdown is immediate), then SIGKILL
// if it lingers. It returns once the process has exited.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logTail returns the end of the server's log, for failure messages.
func (p *proc) logTail() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	const tail = 2048
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		_, _ = f.Seek(-tail, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// tempDir makes a private directory short enough for a unix socket path inside it.
func tempDir() (string, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return "", err
	}
	if len(dir)+len("/redis.sock") <= maxSocketPath {
		return dir, nil
	}
	_ = os.RemoveAll(dir)
	return os.MkdirTemp("/tmp", "redistest-")
}

// binary returns the path of redis-server, or skips t (fails it under CI=true).
func binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t)
	}
	return bin
}

// missing skips t because redis-server is missing, or fails it under CI=true.
func missing(t testing.TB) {
	t.Helper()
	if inCI() {
		t.Fatalf("%v; CI=true, so the Redis tests must run (install Debian's redis-server)", ErrNoRedis)
	}
	t.Skipf("%v; skipping (set CI=true to make this a failure)", ErrNoRedis)
}

// inCI reports whether the tests run in CI, where a missing redis-server is a failure.
func inCI() bool { return os.Getenv("CI") == "true" }
