package redistest

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
)

// baseArgs are the flags every server started here gets: no persistence, and its files in
// dir, so that nothing outside the test's directory is written.
func baseArgs(dir string) []string {
	return []string{"--save", "", "--appendonly", "no", "--dir", dir}
}

// startOnPort starts bin in dir on a free loopback port, with the flags args(port) returns,
// (or their error) and waits until it answers PING through the options opts(addr) gives. A free port can be
// taken between the probe and redis-server's bind, so it tries a second port once.
func startOnPort(bin, dir, logName string, args func(port string) ([]string, error), opts func(addr string) *redis.Options) (string, *proc, error) {
	var lastErr error
	for range 2 {
		port, err := freePort()
		if err != nil {
			return "", nil, err
		}
		ps := strconv.Itoa(port)
		a, err := args(ps)
		if err != nil {
			return "", nil, err
		}
		p, err := startProc(bin, dir, logName, a...)
		if err != nil {
			return "", nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", ps)
		o := opts(addr)
		o.MaxRetries, o.DialerRetries = -1, 1
		c := redis.NewClient(o)
		err = p.waitReady(c)
		_ = c.Close()
		if err == nil {
			return addr, p, nil
		}
		p.stop()
		lastErr = fmt.Errorf("on %s: %w", addr, err)
	}
	return "", nil, lastErr
}

// newDir makes a private, short-named directory for one server and removes it when t ends
// (after the servers in it are stopped: cleanups run last-registered first).
func newDir(t testing.TB) string {
	t.Helper()
	dir, err := tempDir()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
