package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/keys"
)

// keySetter is what the watcher needs of the IdP: *idp.Server.
type keySetter interface {
	SetKeys(idp.KeySet) error
}

// keyWatcher keeps a running `atea serve` in step with the key ring on disk, so neither
// `atea keys generate` (publish the next key) nor `atea keys rollover` (sign with it) needs a
// restart. It checks the ring's state file every interval and on SIGHUP; when the file
// changed it reads the ring and hands the new key set to the server. The `atea keys` commands
// replace the state file atomically after writing the key files it names, so a read sees an
// old or a new ring, never half of one. Instances sharing the data directory each poll the
// same file and converge within one interval. A ring that cannot be read or a key set the
// server refuses is logged at ERROR and the keys in use stay.
type keyWatcher struct {
	dir      string
	interval time.Duration
	build    func(*keys.Ring) (idp.KeySet, error)
	target   keySetter
	log      *slog.Logger

	// stamp is the state file the keys in use were read from; loaded summarises those keys.
	stamp  ringStamp
	loaded []keySummary
	// failed is the state file of the last failed reload, logged once: a broken ring is
	// retried every interval without an ERROR line each time.
	failed    ringStamp
	hasFailed bool
}

// ringStamp identifies one version of the ring's state file. The content hash decides: two
// writes within the file system's timestamp granularity can leave the same mtime and size.
type ringStamp struct {
	modTime int64 // UnixNano
	size    int64
	sum     [sha256.Size]byte
}

// stampRing reads the state file in dir. It is a few hundred bytes: hashing it every poll
// costs nothing.
func stampRing(dir string) (ringStamp, error) {
	p := filepath.Join(dir, keys.StateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return ringStamp{}, fmt.Errorf("key ring: %w", err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return ringStamp{}, fmt.Errorf("key ring: %w", err)
	}
	return ringStamp{modTime: fi.ModTime().UnixNano(), size: int64(len(b)), sum: sha256.Sum256(b)}, nil
}

// keySummary is what the watcher compares and logs of one key: never key material.
type keySummary struct {
	role        keys.Role
	sha256      string
	retireAfter int64 // UnixNano, previous key only
}

func summarize(r *keys.Ring) []keySummary {
	var out []keySummary
	for _, k := range r.Keys() {
		s := keySummary{role: k.Role, sha256: k.Fingerprint()}
		if k.Role == keys.RolePrevious {
			s.retireAfter = k.RetireAfter.UnixNano()
		}
		out = append(out, s)
	}
	return out
}

// newKeyWatcher watches the ring of cfg for srv, which serves ring, read from the state
// file stamp (taken before the ring was opened, so a change in between is picked up).
func newKeyWatcher(cfg *config.Config, srv keySetter, ring *keys.Ring, stamp ringStamp, acct *keys.SignCPU, log *slog.Logger) *keyWatcher {
	interval := cfg.SPMetadata.PollInterval
	if interval <= 0 {
		interval = config.Default().SPMetadata.PollInterval
	}
	return &keyWatcher{
		dir: cfg.KeyRingDir(), interval: interval, target: srv, log: log.With("component", "keyring"),
		build: func(r *keys.Ring) (idp.KeySet, error) { return ringKeySet(cfg, r, acct) },
		stamp: stamp, loaded: summarize(ring),
	}
}

// ringKeySet is the ring's key set, signed with its current key as configured (and counted
// by acct when not nil).
func ringKeySet(cfg *config.Config, r *keys.Ring, acct *keys.SignCPU) (idp.KeySet, error) {
	signer, err := ringSigner(cfg, r.Current, acct)
	if err != nil {
		return idp.KeySet{}, err
	}
	return idp.RingKeySet(r, signer), nil
}

// start registers for SIGHUP and checks the ring until ctx ends. The registration happens
// before start returns, so a SIGHUP sent afterwards never takes the default action (exit).
func (w *keyWatcher) start(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		w.run(ctx, hup)
	}()
}

func (w *keyWatcher) run(ctx context.Context, hup <-chan os.Signal) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.check(ctx, false)
		case <-hup:
			w.log.InfoContext(ctx, "SIGHUP: checking the key ring")
			w.check(ctx, true)
		}
	}
}

// check reloads the ring when its state file changed, or always when force (SIGHUP). It
// reports whether the server got a new key set.
func (w *keyWatcher) check(ctx context.Context, force bool) bool {
	st, err := stampRing(w.dir)
	if err != nil {
		w.fail(ctx, st, force, err)
		return false
	}
	if st == w.stamp && !force {
		if w.hasFailed {
			// The file came back as it was (e.g. restored from a backup): the keys in use
			// are the ring's again.
			w.hasFailed = false
			w.log.InfoContext(ctx, "key ring readable again, unchanged")
		}
		return false
	}
	ring, err := keys.ReadRing(w.dir)
	if err != nil {
		w.fail(ctx, st, force, err)
		return false
	}
	sum := summarize(ring)
	if slices.Equal(sum, w.loaded) {
		w.stamp, w.hasFailed = st, false
		w.log.DebugContext(ctx, "key ring state rewritten, keys unchanged")
		return false
	}
	ks, err := w.build(ring)
	if err == nil {
		err = w.target.SetKeys(ks)
	}
	if err != nil {
		w.fail(ctx, st, force, err)
		return false
	}
	for _, k := range sum {
		args := []any{"role", k.role, "sha256", k.sha256, "changed", !slices.Contains(w.loaded, k)}
		if k.role == keys.RolePrevious {
			args = append(args, "retire_after", time.Unix(0, k.retireAfter).UTC().Format(time.RFC3339))
		}
		w.log.InfoContext(ctx, "key", args...)
	}
	for _, old := range w.loaded {
		if !slices.ContainsFunc(sum, func(k keySummary) bool { return k.role == old.role }) {
			w.log.InfoContext(ctx, "key withdrawn", "role", old.role, "sha256", old.sha256)
		}
	}
	w.log.InfoContext(ctx, "key ring reloaded without a restart", "signing_sha256", ring.Current.Fingerprint())
	w.stamp, w.loaded, w.hasFailed = st, sum, false
	return true
}

// fail logs a failed reload once per state file (and on every SIGHUP); the server keeps the
// keys it has.
func (w *keyWatcher) fail(ctx context.Context, st ringStamp, force bool, err error) {
	if w.hasFailed && st == w.failed && !force {
		return
	}
	w.failed, w.hasFailed = st, true
	w.log.ErrorContext(ctx, "key ring reload failed; still serving with the keys loaded before", "err", err,
		"signing_sha256", w.current())
}

// current is the fingerprint of the signing key in use.
func (w *keyWatcher) current() string {
	for _, k := range w.loaded {
		if k.role == keys.RoleCurrent {
			return k.sha256
		}
	}
	return ""
}
