package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/metrics"
	"github.com/ateaidp/atea/metadata"
)

// metricsHandler is the /metrics mux of `atea serve`: the Go and process collectors, the
// per-source SP metadata figures, read from sources at every scrape, and the signatures made
// with their CPU time (sig; nil leaves them out).
func metricsHandler(sources metadata.StatusReporter, sig *keys.SignCPU) (http.Handler, error) {
	reg := metrics.NewRegistry()
	if err := reg.Register(metadata.NewCollector(sources)); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if sig != nil {
		for _, c := range []prometheus.Collector{
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "atea_signatures_total",
				Help: "XML and query signatures made with the IdP's signing key."},
				func() float64 { n, _ := sig.Totals(); return float64(n) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "atea_signature_cpu_seconds_total",
				Help: "CPU time spent inside those signatures, on the signing threads' own clocks."},
				func() float64 { _, d := sig.Totals(); return d.Seconds() }),
		} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("metrics: %w", err)
			}
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	return mux, nil
}

// serveMetrics listens on addr (metrics.listen) and serves /metrics until ctx ends or stop is
// called; it returns the address it listens on. It is a listener of its own, never the public
// one: metrics name the federations and SPs Atea trusts and show when their metadata fails.
func serveMetrics(ctx context.Context, addr string, sources metadata.StatusReporter, sig *keys.SignCPU, log *slog.Logger) (bound string, stop func(), err error) {
	h, err := metricsHandler(sources, sig)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics.listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics listener stopped", "err", err)
		}
	}()
	stopCtx, cancel := context.WithCancel(ctx)
	go func() {
		<-stopCtx.Done()
		_ = srv.Close()
	}()
	log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return ln.Addr().String(), cancel, nil
}
