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

	"github.com/ateaidp/atea/idp"
	"github.com/ateaidp/atea/idp/keys"
	"github.com/ateaidp/atea/idp/metrics"
	"github.com/ateaidp/atea/metadata"
)

// metricsHandler is the /metrics mux of `atea serve`: the Go and process collectors, the
// per-source SP metadata figures, read from sources at every scrape, the signatures made
// with their CPU time (sig) and the server's counters (stats); nil leaves either out.
func metricsHandler(sources metadata.StatusReporter, sig *keys.SignCPU, stats *idp.Stats) (http.Handler, error) {
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
	if stats != nil {
		if err := reg.Register(newStatsCollector(stats)); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	return mux, nil
}

// serveMetrics listens on addr (metrics.listen) and serves /metrics until ctx ends or stop is
// called; it returns the address it listens on. It is a listener of its own, never the public
// one: metrics name the federations and SPs Atea trusts and show when their metadata fails.
func serveMetrics(ctx context.Context, addr string, sources metadata.StatusReporter, sig *keys.SignCPU, stats *idp.Stats, log *slog.Logger) (bound string, stop func(), err error) {
	h, err := metricsHandler(sources, sig, stats)
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

// statsCollector exposes idp.Stats, read at every scrape.
type statsCollector struct {
	s                                       *idp.Stats
	assertions, errors, signInFailures, slo *prometheus.Desc
}

func newStatsCollector(s *idp.Stats) statsCollector {
	return statsCollector{
		s: s,
		assertions: prometheus.NewDesc("atea_assertions_issued_total",
			"Assertions issued, by the level of assurance stated.", []string{"level"}, nil),
		errors: prometheus.NewDesc("atea_saml_error_responses_total",
			"Signed SAML error Responses sent to SPs, by top-level status.", []string{"status"}, nil),
		signInFailures: prometheus.NewDesc("atea_signin_failures_total",
			"Failed sign-in attempts, by method (password, second_factor, certificate).", []string{"method"}, nil),
		slo: prometheus.NewDesc("atea_logout_participants_total",
			"Services of ended sessions, by what became of them (ok, failed, noanswer, frontonly, unsupported, skipped).", []string{"outcome"}, nil),
	}
}

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.assertions, c.errors, c.signInFailures, c.slo} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.s.Snapshot()
	for _, m := range []struct {
		d      *prometheus.Desc
		values map[string]int64
	}{{c.assertions, snap.Assertions}, {c.errors, snap.ErrorResponses}, {c.signInFailures, snap.SignInFailures}, {c.slo, snap.Logout}} {
		for label, v := range m.values {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(v), label)
		}
	}
}
