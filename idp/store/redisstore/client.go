package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Default network timeouts of [NewClient].
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
)

// ClientConfig describes how to reach Redis: a single server, Sentinel (MasterName set) or
// Cluster (Cluster true). It holds secrets (Password, SentinelPassword); never log it.
type ClientConfig struct {
	// Addrs are host:port addresses, or one unix socket path starting with "/": the
	// server, the sentinels, or some of the cluster's nodes.
	Addrs []string
	// MasterName selects Sentinel: the name of the master the sentinels in Addrs monitor.
	MasterName string
	// Cluster selects a Cluster client.
	Cluster bool
	// Username is the Redis 6 ACL user; empty means the default user.
	Username string
	// Password is Username's password.
	Password string
	// SentinelPassword is the sentinels' own password (Sentinel only).
	SentinelPassword string
	// DB is the database number (single server and Sentinel; Cluster has only 0).
	DB int
	// TLS enables TLS with this configuration; nil means plain TCP.
	TLS *tls.Config
	// DialTimeout, ReadTimeout and WriteTimeout bound each network step; 0 means 2s, 1s
	// and 1s. Store operations are also bounded as a whole by Options.OpTimeout.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// PoolSize is the connection pool size (per node on Cluster); 0 means go-redis's
	// default of 10 per CPU.
	PoolSize int
}

// NewClient builds the client c describes: redis.NewFailoverClient for Sentinel,
// redis.NewClusterClient for Cluster, redis.NewClient for a single server. It checks c
// first and names every problem at once; it does not connect. ContextTimeoutEnabled is
// always set, so that context deadlines bound socket I/O, as [New] requires.
func NewClient(c ClientConfig) (redis.UniversalClient, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	dial, read, write := orDefault(c.DialTimeout, DefaultDialTimeout),
		orDefault(c.ReadTimeout, DefaultReadTimeout), orDefault(c.WriteTimeout, DefaultWriteTimeout)
	var tc *tls.Config
	if c.TLS != nil {
		tc = c.TLS.Clone() // later changes by the caller do not reach live connections
	}
	switch {
	case c.MasterName != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            c.MasterName,
			SentinelAddrs:         c.Addrs,
			SentinelPassword:      c.SentinelPassword,
			Username:              c.Username,
			Password:              c.Password,
			DB:                    c.DB,
			TLSConfig:             tc,
			DialTimeout:           dial,
			ReadTimeout:           read,
			WriteTimeout:          write,
			ContextTimeoutEnabled: true,
			PoolSize:              c.PoolSize,
		}), nil
	case c.Cluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 c.Addrs,
			Username:              c.Username,
			Password:              c.Password,
			TLSConfig:             tc,
			DialTimeout:           dial,
			ReadTimeout:           read,
			WriteTimeout:          write,
			ContextTimeoutEnabled: true,
			PoolSize:              c.PoolSize,
		}), nil
	default:
		network := "tcp"
		if isSocket(c.Addrs[0]) {
			network = "unix"
		}
		return redis.NewClient(&redis.Options{
			Network:               network,
			Addr:                  c.Addrs[0],
			Username:              c.Username,
			Password:              c.Password,
			DB:                    c.DB,
			TLSConfig:             tc,
			DialTimeout:           dial,
			ReadTimeout:           read,
			WriteTimeout:          write,
			ContextTimeoutEnabled: true,
			PoolSize:              c.PoolSize,
		}), nil
	}
}

// validate reports every problem with c together.
func (c *ClientConfig) validate() error {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	if len(c.Addrs) == 0 {
		bad("Addrs is empty")
	}
	for i, a := range c.Addrs {
		if strings.TrimSpace(a) == "" {
			bad("Addrs[%d] is empty", i)
		}
		if isSocket(a) && (c.Cluster || c.MasterName != "") {
			bad("Addrs[%d] is a unix socket, which only a single server can use", i)
		}
	}
	if c.Cluster && c.MasterName != "" {
		bad("Cluster and MasterName (Sentinel) exclude each other")
	}
	if !c.Cluster && c.MasterName == "" && len(c.Addrs) > 1 {
		bad("%d Addrs for a single server; set Cluster or MasterName for several", len(c.Addrs))
	}
	if c.Cluster && c.DB != 0 {
		bad("DB is %d, but Cluster has only database 0", c.DB)
	}
	if c.DB < 0 {
		bad("DB is negative")
	}
	if c.SentinelPassword != "" && c.MasterName == "" {
		bad("SentinelPassword is set without MasterName")
	}
	if c.DialTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 {
		bad("a timeout is negative")
	}
	if c.PoolSize < 0 {
		bad("PoolSize is negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("redisstore: invalid client config: %w", errors.Join(problems...))
	}
	return nil
}

// isSocket reports whether addr is a unix socket path.
func isSocket(addr string) bool { return strings.HasPrefix(addr, "/") }

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
