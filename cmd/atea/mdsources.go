package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/ateaidp/atea/config"
	"github.com/ateaidp/atea/metadata"
)

// spSources is the SP metadata the IdP consults: the directory alone, or the directory then
// the configured remote sources by priority (spMetadata.sources, issue 6), behind one Lookup.
type spSources struct {
	lookup metadata.EntitySource
	// start refreshes every source once and then keeps refreshing them until ctx ends.
	start func(ctx context.Context)
	// multi reports every source's state and the conflicts (for /metrics and the tools): the
	// same Multi as lookup when there are remote sources, else one over the directory alone.
	multi *metadata.Multi
}

// remoteSource is one built entry of spMetadata.sources.
type remoteSource struct {
	cfg config.MetadataSource
	// priority is the source's position in the Multi: the directory is 0.
	priority int
	src      metadata.EntitySource
	url      *metadata.URLSource // set for type url
	mdq      *metadata.MDQSource // set for type mdq
	log      *slog.Logger
}

// openRemoteSource builds spMetadata.sources[i] as serve uses it. client nil means each
// source's default client. cacheFile is where a url source saves its last good document; ""
// for the tools, which must not write what a running serve reads.
func openRemoteSource(i int, s config.MetadataSource, client *http.Client, cacheFile string, log, audit *slog.Logger) (remoteSource, error) {
	anchors, err := loadCertificates(s.TrustAnchorsFile)
	if err != nil {
		return remoteSource{}, fmt.Errorf("spMetadata.sources[%d].trustAnchorsFile: %w", i, err)
	}
	rs := remoteSource{cfg: s, priority: i + 1, log: log.With("metadata_source", s.Name)}
	switch s.Type {
	case "mdq":
		m, err := metadata.NewMDQSource(metadata.MDQOptions{Name: s.Name, BaseURL: s.URL, TrustAnchors: anchors,
			HTTPClient: client, MaxBytes: s.MaxBytes, Logger: rs.log, Audit: audit})
		if err != nil {
			return remoteSource{}, fmt.Errorf("spMetadata.sources[%d]: %w", i, err)
		}
		rs.src, rs.mdq = m, m
	default:
		u, err := metadata.NewURLSource(metadata.URLOptions{Name: s.Name, URL: s.URL, TrustAnchors: anchors,
			HTTPClient: client, MaxBytes: s.MaxBytes, Interval: s.Interval, RequireValidUntil: s.RequireValidUntil,
			Logger: rs.log, Audit: audit, CacheFile: cacheFile})
		if err != nil {
			return remoteSource{}, fmt.Errorf("spMetadata.sources[%d]: %w", i, err)
		}
		rs.src, rs.url = u, u
	}
	return rs, nil
}

// openRemoteSources builds every spMetadata.sources entry; problems are reported together.
// With withCache, url sources save their last good document to their cache file (serve).
func openRemoteSources(cfg *config.Config, client *http.Client, withCache bool, log, audit *slog.Logger) ([]remoteSource, error) {
	var out []remoteSource
	var problems []error
	for i, s := range cfg.SPMetadata.Sources {
		cache := ""
		if withCache && s.Type == "url" {
			cache = cfg.MetadataCacheFile(i)
		}
		rs, err := openRemoteSource(i, s, client, cache, log, audit)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		out = append(out, rs)
	}
	return out, errors.Join(problems...)
}

// directorySourceName names the SP-metadata directory among the sources (logs, metrics, tools).
const directorySourceName = "directory"

// buildSPSources builds the remote sources of cfg after dir. A remote source that cannot be
// built (bad anchors file) is a startup error; one that cannot be fetched at start keeps
// Atea running with the other sources and says so.
func buildSPSources(cfg *config.Config, dir *metadata.DirSource, log, audit *slog.Logger) (spSources, error) {
	dirOnly := []metadata.MultiSource{{Name: directorySourceName, Source: dir}}
	if len(cfg.SPMetadata.Sources) == 0 {
		multi, err := metadata.NewMulti(dirOnly, log)
		if err != nil {
			return spSources{}, err
		}
		return spSources{lookup: dir, multi: multi, start: func(ctx context.Context) { go dir.Run(ctx) }}, nil
	}
	remotes, err := openRemoteSources(cfg, nil, true, log, audit)
	if err != nil {
		return spSources{}, err
	}
	members := dirOnly
	var runs []func(context.Context)
	for _, rs := range remotes {
		members = append(members, metadata.MultiSource{Name: rs.cfg.Name, Source: rs.src})
		if u, srcLog, cache := rs.url, rs.log, cfg.MetadataCacheFile(rs.priority-1); u != nil {
			runs = append(runs, func(ctx context.Context) {
				// The last good copy first: a restart while the publisher is down keeps its SPs.
				if err := u.LoadFile(ctx, cache); err != nil && !errors.Is(err, fs.ErrNotExist) {
					srcLog.Warn("sp metadata source: saved copy not used", "err", err)
				}
				fetchCtx, cancel := context.WithTimeout(ctx, time.Minute)
				if err := u.Refresh(fetchCtx); err != nil {
					srcLog.Warn("sp metadata source not loaded at start; retrying on schedule", "err", err)
				}
				cancel()
				u.Run(ctx)
			})
		}
	}
	multi, err := metadata.NewMulti(members, log)
	if err != nil {
		return spSources{}, err
	}
	return spSources{lookup: multi, multi: multi, start: func(ctx context.Context) {
		go dir.Run(ctx)
		for _, run := range runs {
			go run(ctx)
		}
		go func() {
			// Conflicts between sources are found as they appear; Reconcile warns about each
			// once per refresh of a source holding it, not every minute.
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			for {
				multi.Reconcile(ctx)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}}, nil
}

// loadCertificates reads every CERTIFICATE block of a PEM file.
func loadCertificates(path string) ([]*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate in the file")
	}
	return out, nil
}
