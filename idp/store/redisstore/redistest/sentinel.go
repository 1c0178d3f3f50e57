package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// MasterName is the name under which a [Sentinel]'s sentinel monitors its master.
	MasterName = "atea-master"
	// sentinelTimeout bounds the wait for the sentinel to report the master as reachable.
	sentinelTimeout = 10 * time.Second
)

// Sentinel is a private master on a loopback port plus one sentinel monitoring it with a
// quorum of 1, each in its own directory, persistence off.
type Sentinel struct {
	// Addr is the sentinel's 127.0.0.1:port address.
	Addr string
	// MasterName is the monitored master's name, [MasterName].
	MasterName string
	// MasterAddr is the master's 127.0.0.1:port address.
	MasterAddr string
}

// StartSentinel starts a master and a sentinel monitoring it for t, waits until the
// sentinel has reached the master and reports it up, and stops both (removing their
// directories) when t ends. If redis-server is missing it skips t, or fails it when
// CI=true.
//
// The sentinel is redis-server in sentinel mode (--sentinel) with a config file it may
// rewrite, as Sentinel requires, in its own directory.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	bin := binary(t)
	mdir, sdir := newDir(t), newDir(t)
	maddr, mp, err := startOnPort(bin, mdir, "redis.log",
		func(port string) ([]string, error) {
			return append([]string{"--port", port, "--bind", "127.0.0.1"}, baseArgs(mdir)...), nil
		},
		func(addr string) *redis.Options { return &redis.Options{Addr: addr, DialTimeout: time.Second} })
	if err != nil {
		t.Fatalf("redistest: sentinel master: %v", err)
	}
	t.Cleanup(mp.stop)
	_, mport, _ := net.SplitHostPort(maddr)
	conf := filepath.Join(sdir, "sentinel.conf")
	saddr, sp, err := startOnPort(bin, sdir, "sentinel.log",
		func(port string) ([]string, error) {
			// Rewritten before each attempt: the config names the port. A short down-after
			// keeps a dead master from going unnoticed for the default 30s.
			c := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\n"+
				"sentinel monitor %s 127.0.0.1 %s 1\n"+
				"sentinel down-after-milliseconds %[3]s 1000\n"+
				"sentinel failover-timeout %[3]s 5000\n",
				port, sdir, MasterName, mport)
			return []string{conf, "--sentinel"}, os.WriteFile(conf, []byte(c), 0o600)
		},
		func(addr string) *redis.Options { return &redis.Options{Addr: addr, DialTimeout: time.Second} })
	if err != nil {
		t.Fatalf("redistest: sentinel: %v", err)
	}
	t.Cleanup(sp.stop)
	s := &Sentinel{Addr: saddr, MasterName: MasterName, MasterAddr: maddr}
	if err := s.waitMaster(); err != nil {
		t.Fatalf("redistest: sentinel: %v; log: %s", err, sp.logTail())
	}
	return s
}

// waitMaster polls SENTINEL MASTER until the sentinel has had a PING reply from the master
// and flags it as a plain, up master: until then a client asking the sentinel could be
// sent nowhere.
func (s *Sentinel) waitMaster() error {
	ctx, cancel := context.WithTimeout(context.Background(), sentinelTimeout)
	defer cancel()
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	var last map[string]string
	for {
		m, err := c.Master(ctx, s.MasterName).Result()
		if err == nil {
			last = m
			if masterUp(m, s.MasterAddr) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("master %s not reported up after %v (last error %v, SENTINEL MASTER %v)",
				s.MasterName, sentinelTimeout, err, last)
		case <-time.After(20 * time.Millisecond): // poll interval, bounded by ctx
		}
	}
}

// masterUp reports whether a SENTINEL MASTER reply describes addr as an up master that has
// answered the sentinel's INFO (runid is empty until then) and recent PINGs.
func masterUp(m map[string]string, addr string) bool {
	ms, err := strconv.Atoi(m["last-ok-ping-reply"])
	return err == nil && ms < 1000 && m["flags"] == "master" &&
		net.JoinHostPort(m["ip"], m["port"]) == addr && m["role-reported"] == "master" && m["runid"] != ""
}
