package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/store"
	"github.com/ateaidp/atea/idp/store/memstore"
	"github.com/ateaidp/atea/idp/store/redisstore"
)

// storeFactory opens one kind of session store; the returned func runs in the background
// until ctx ends (nil when the backend needs none).
type storeFactory func(ctx context.Context, cfg *config.Config, s *keys.Secrets, log *slog.Logger) (store.Store, func(context.Context), error)

// storeBackends is the type → factory registry of session stores, kept in the wiring layer
// so package store imports no backend (STYLE.md §B7). config.Validate refuses other types.
func storeBackends() map[string]storeFactory {
	return map[string]storeFactory{"memory": openMemory, "redis": openRedis}
}

func openStore(ctx context.Context, cfg *config.Config, s *keys.Secrets, log *slog.Logger) (store.Store, func(context.Context), error) {
	f, ok := storeBackends()[cfg.Store.Type]
	if !ok {
		return nil, nil, fmt.Errorf("store.type: unknown store type %q", cfg.Store.Type)
	}
	return f(ctx, cfg, s, log)
}

func openMemory(_ context.Context, _ *config.Config, _ *keys.Secrets, _ *slog.Logger) (store.Store, func(context.Context), error) {
	st := memstore.New(time.Now)
	gc := func(ctx context.Context) {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				st.GC(now)
			}
		}
	}
	return st, gc, nil
}

// openRedis connects to Redis as configured. An unreachable Redis is not a start-up error:
// Atea starts, /readyz reports not ready and sign-ins get the "temporarily unavailable" page
// until Redis answers; go-redis reconnects by itself.
func openRedis(ctx context.Context, cfg *config.Config, s *keys.Secrets, log *slog.Logger) (store.Store, func(context.Context), error) {
	r := cfg.Store.Redis
	cc := redisstore.ClientConfig{
		Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster, Username: r.Username, DB: r.DB,
		DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout, WriteTimeout: r.WriteTimeout, PoolSize: r.PoolSize,
	}
	var err error
	if cc.Password, err = readSecretFile("store.redis.passwordFile", r.PasswordFile); err != nil {
		return nil, nil, err
	}
	if cc.SentinelPassword, err = readSecretFile("store.redis.sentinelPasswordFile", r.SentinelPasswordFile); err != nil {
		return nil, nil, err
	}
	if r.TLS.Enabled {
		if cc.TLS, err = redisTLS(r.TLS); err != nil {
			return nil, nil, err
		}
	}
	client, err := redisstore.NewClient(cc)
	if err != nil {
		return nil, nil, fmt.Errorf("store.redis: %w", err)
	}
	st, err := redisstore.New(redisstore.Options{
		Client: client, OwnClient: true, Prefix: r.KeyPrefix,
		KeySecret: s.RedisKeys, RecordKey: s.RedisRecords, OpTimeout: r.OpTimeout,
	})
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("store.redis: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, r.DialTimeout+r.OpTimeout)
	defer cancel()
	if err := st.Ping(pctx); err != nil {
		log.Warn("redis not reachable at start-up; serving 503 until it is", "addrs", strings.Join(r.Addrs, ","), "err", err)
	}
	return st, nil, nil
}

// readSecretFile returns the first line of path ("" when path is ""), naming the key on error.
func readSecretFile(key, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s: %s is empty", key, path)
	}
	return line, nil
}

func redisTLS(t config.RedisTLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store.redis.tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("store.redis.tls.caFile: no PEM certificate in it")
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		c, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("store.redis.tls.certFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}
