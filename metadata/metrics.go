package metadata

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StatusReporter is what the metrics collector reads at scrape time; Multi implements it.
type StatusReporter interface {
	Statuses() []MemberStatus
	Conflicts() []Conflict
}

var _ StatusReporter = (*Multi)(nil)

// Metric descriptions of NewCollector (issue 6: "metrics per source: last success, last
// failure, entity count, earliest validUntil").
var (
	descLastSuccess = prometheus.NewDesc("atea_metadata_source_last_success_timestamp_seconds",
		"Unix time of the source's last successful refresh (a 304 Not Modified counts; MDQ: the last answered query); 0 if never.",
		[]string{"source"}, nil)
	descLastFailure = prometheus.NewDesc("atea_metadata_source_last_failure_timestamp_seconds",
		"Unix time of the source's last failed refresh; 0 if never.", []string{"source"}, nil)
	descFailures = prometheus.NewDesc("atea_metadata_source_refresh_failures_total",
		"Failed refreshes (MDQ: failed queries) of the source since start.", []string{"source"}, nil)
	descExpired = prometheus.NewDesc("atea_metadata_source_document_expired",
		"1 while the source's last refresh failed because the document was past its validUntil.", []string{"source"}, nil)
	descEntities = prometheus.NewDesc("atea_metadata_source_entities",
		"SPs the source would serve now (MDQ: those cached).", []string{"source"}, nil)
	descValidUntil = prometheus.NewDesc("atea_metadata_source_valid_until_timestamp_seconds",
		"Unix time of the earliest validUntil among the source's SPs; absent when none has one.", []string{"source"}, nil)
	descPriority = prometheus.NewDesc("atea_metadata_source_priority",
		"Position of the source in the lookup order, 0 for the highest priority.", []string{"source"}, nil)
	descConflicts = prometheus.NewDesc("atea_metadata_conflicts",
		"EntityIDs held by more than one source at the last reconcile (the higher-priority copy is used).", nil, nil)
)

// collector is NewCollector's prometheus.Collector.
type collector struct{ r StatusReporter }

// NewCollector returns a prometheus.Collector that reads r's Statuses and Conflicts at every
// scrape, so the figures are never older than the scrape. Sources that do not report refreshes
// (the directory) export only their entity count, earliest validUntil and priority.
func NewCollector(r StatusReporter) prometheus.Collector { return collector{r: r} }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLastSuccess, descLastFailure, descFailures, descExpired,
		descEntities, descValidUntil, descPriority, descConflicts} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, ms := range c.r.Statuses() {
		st, name := ms.Status, ms.Status.Name
		if ms.Refreshes {
			ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, unixSeconds(st.LastSuccess), name)
			ch <- prometheus.MustNewConstMetric(descLastFailure, prometheus.GaugeValue, unixSeconds(st.LastFailure), name)
			ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(st.RefreshFailures), name)
			expired := 0.0
			if st.Expired {
				expired = 1
			}
			ch <- prometheus.MustNewConstMetric(descExpired, prometheus.GaugeValue, expired, name)
		}
		ch <- prometheus.MustNewConstMetric(descEntities, prometheus.GaugeValue, float64(st.Entities), name)
		if !st.EarliestValidUntil.IsZero() {
			ch <- prometheus.MustNewConstMetric(descValidUntil, prometheus.GaugeValue, unixSeconds(st.EarliestValidUntil), name)
		}
		ch <- prometheus.MustNewConstMetric(descPriority, prometheus.GaugeValue, float64(ms.Priority), name)
	}
	ch <- prometheus.MustNewConstMetric(descConflicts, prometheus.GaugeValue, float64(len(c.r.Conflicts())))
}

// unixSeconds is t as a Prometheus timestamp value; 0 for the zero time ("never").
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
