package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// clusterNodes is the size of the test cluster: three masters, no replicas, the smallest
	// cluster Redis accepts as a real one and enough for keys to land on different nodes.
	clusterNodes = 3
	// clusterSlots is the number of hash slots of a Redis Cluster.
	clusterSlots = 16384
	// busOffset is the distance from a node's port to its cluster bus port.
	busOffset = 10000
	// clusterTimeout bounds the wait for the cluster to report cluster_state:ok.
	clusterTimeout = 20 * time.Second
)

// Cluster is a private three-node Redis Cluster on free loopback ports, each node with its
// own directory and cluster-config-file in a temporary directory, persistence off.
type Cluster struct {
	// Addrs are the nodes' host:port addresses.
	Addrs []string

	dir   string
	procs []*proc
}

// StartCluster starts a three-master Redis Cluster for t, assigns all slots, waits until
// every node reports cluster_state:ok, and stops the nodes (removing their directory) when t
// ends. If redis-server is missing it skips t, or fails it when CI=true.
//
// Slots are assigned with CLUSTER ADDSLOTS and the nodes joined with CLUSTER MEET directly,
// which needs neither redis-cli nor its one-second polling.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := binary(t)
	dir, err := os.MkdirTemp("", "redistest-cluster-")
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	c := &Cluster{dir: dir}
	t.Cleanup(c.shutdown)
	for i := range clusterNodes {
		// A free port can be taken between the probe and redis-server's bind; try once more.
		var addr string
		var p *proc
		for attempt := 0; ; attempt++ {
			addr, p, err = c.startNode(bin, i)
			if err == nil || attempt == 1 {
				break
			}
		}
		if err != nil {
			t.Fatalf("redistest: cluster node %d: %v", i, err)
		}
		c.Addrs = append(c.Addrs, addr)
		c.procs = append(c.procs, p)
	}
	if err := c.form(); err != nil {
		t.Fatalf("redistest: form cluster: %v", err)
	}
	return c
}

// Client returns a Cluster client for the nodes, closed when t ends. ContextTimeoutEnabled
// is set, so a context deadline bounds every call.
func (c *Cluster) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	cl := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 c.Addrs,
		ContextTimeoutEnabled: true,
		DialTimeout:           2 * time.Second,
	})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// startNode starts node i on a free port in its own directory and waits for PING.
func (c *Cluster) startNode(bin string, i int) (string, *proc, error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	ps := strconv.Itoa(port)
	dir := filepath.Join(c.dir, ps)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, err
	}
	p, err := startProc(bin, dir, "redis.log",
		"--port", ps,
		"--bind", "127.0.0.1",
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--cluster-node-timeout", "5000",
		"--cluster-announce-ip", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
	)
	if err != nil {
		return "", nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", ps)
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer cl.Close()
	if err := p.waitReady(cl); err != nil {
		p.stop()
		return "", nil, fmt.Errorf("node %d on %s: %w", i, addr, err)
	}
	return addr, p, nil
}

// form gives each node an equal share of the slots, introduces the nodes to each other and
// waits until all of them agree the cluster is ok.
func (c *Cluster) form() error {
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	nodes := make([]*redis.Client, len(c.Addrs))
	for i, addr := range c.Addrs {
		nodes[i] = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer nodes[i].Close()
	}
	per := clusterSlots / len(nodes)
	for i, n := range nodes {
		lo, hi := i*per, (i+1)*per-1
		if i == len(nodes)-1 {
			hi = clusterSlots - 1
		}
		if err := n.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			return fmt.Errorf("add slots %d-%d to %s: %w", lo, hi, c.Addrs[i], err)
		}
	}
	for _, addr := range c.Addrs[1:] {
		host, port, _ := net.SplitHostPort(addr)
		if err := nodes[0].ClusterMeet(ctx, host, port).Err(); err != nil {
			return fmt.Errorf("meet %s: %w", addr, err)
		}
	}
	for {
		ok := true
		var last string
		for i, n := range nodes {
			info, err := n.ClusterInfo(ctx).Result()
			if err != nil {
				return fmt.Errorf("cluster info of %s: %w", c.Addrs[i], err)
			}
			if !clusterOK(info, len(nodes)) {
				ok, last = false, c.Addrs[i]+": "+info
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ok after %v; last CLUSTER INFO of %s", clusterTimeout, last)
		case <-time.After(20 * time.Millisecond): // poll interval, bounded by ctx
		}
	}
}

// clusterOK reports whether a CLUSTER INFO reply says the cluster is up with every slot
// served and all n nodes known.
func clusterOK(info string, n int) bool {
	fields := map[string]string{}
	for line := range strings.Lines(info) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields["cluster_state"] == "ok" &&
		fields["cluster_slots_ok"] == strconv.Itoa(clusterSlots) &&
		fields["cluster_known_nodes"] == strconv.Itoa(n)
}

// shutdown stops every node and removes the cluster's directory.
func (c *Cluster) shutdown() {
	for _, p := range c.procs {
		p.stop()
	}
	_ = os.RemoveAll(c.dir)
}

// freePort returns a loopback port that is free, and whose cluster bus port (port+10000) is
// free too, at the time of the call.
func freePort() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok || addr.Port+busOffset > 65535 {
			_ = l.Close()
			continue
		}
		port := addr.Port
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+busOffset)))
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}
