package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
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
}

// buildSPSources builds the remote sources of cfg after dir. A remote source that cannot be
// built (bad anchors file) is a startup error; one that cannot be fetched at start keeps
// Atea running with the other sources and says so.
func buildSPSources(cfg *config.Config, dir *metadata.DirSource, log, audit *slog.Logger) (spSources, error) {
	if len(cfg.SPMetadata.Sources) == 0 {
		return spSources{lookup: dir, start: func(ctx context.Context) { go dir.Run(ctx) }}, nil
	}
	members := []metadata.MultiSource{{Name: "directory", Source: dir}}
	var runs []func(context.Context)
	var problems []error
	for i, s := range cfg.SPMetadata.Sources {
		anchors, err := loadCertificates(s.TrustAnchorsFile)
		if err != nil {
			problems = append(problems, fmt.Errorf("spMetadata.sources[%d].trustAnchorsFile: %w", i, err))
			continue
		}
		srcLog := log.With("metadata_source", s.Name)
		switch s.Type {
		case "mdq":
			m, err := metadata.NewMDQSource(metadata.MDQOptions{Name: s.Name, BaseURL: s.URL, TrustAnchors: anchors,
				MaxBytes: s.MaxBytes, Logger: srcLog, Audit: audit})
			if err != nil {
				problems = append(problems, fmt.Errorf("spMetadata.sources[%d]: %w", i, err))
				continue
			}
			members = append(members, metadata.MultiSource{Name: s.Name, Source: m})
		default:
			u, err := metadata.NewURLSource(metadata.URLOptions{Name: s.Name, URL: s.URL, TrustAnchors: anchors,
				MaxBytes: s.MaxBytes, Interval: s.Interval, RequireValidUntil: s.RequireValidUntil, Logger: srcLog, Audit: audit})
			if err != nil {
				problems = append(problems, fmt.Errorf("spMetadata.sources[%d]: %w", i, err))
				continue
			}
			members = append(members, metadata.MultiSource{Name: s.Name, Source: u})
			runs = append(runs, func(ctx context.Context) {
				fetchCtx, cancel := context.WithTimeout(ctx, time.Minute)
				if err := u.Refresh(fetchCtx); err != nil {
					srcLog.Warn("sp metadata source not loaded at start; retrying on schedule", "err", err)
				}
				cancel()
				u.Run(ctx)
			})
		}
	}
	if err := errors.Join(problems...); err != nil {
		return spSources{}, err
	}
	multi, err := metadata.NewMulti(members, log)
	if err != nil {
		return spSources{}, err
	}
	return spSources{lookup: multi, start: func(ctx context.Context) {
		go dir.Run(ctx)
		for _, run := range runs {
			go run(ctx)
		}
		go func() {
			// Conflicts between sources are reported as they appear.
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
