package serve

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the service's Prometheus series, on its own registry.
type metrics struct {
	reg      *prometheus.Registry
	checks   *prometheus.CounterVec
	latency  prometheus.Histogram
	requests *prometheus.CounterVec
	updates  *prometheus.CounterVec
	// commitSeconds and commitChecks describe the group commits: how long
	// each round of fsyncs took and how many checks it made durable.
	commitSeconds prometheus.Histogram
	commitChecks  prometheus.Histogram
	// rounds, roundNanos and roundChecks sum the same for the load test.
	rounds, roundNanos, roundChecks atomic.Int64
}

// observeCommit records one group commit round.
func (m *metrics) observeCommit(took time.Duration, checks int64) {
	m.commitSeconds.Observe(took.Seconds())
	m.commitChecks.Observe(float64(checks))
	m.rounds.Add(1)
	m.roundNanos.Add(int64(took))
	m.roundChecks.Add(checks)
}

func newMetrics(srv *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.checks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hedui_checks_total",
		Help: "Checks answered, by verdict (eligible, ineligible, review)."}, []string{"verdict"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hedui_check_duration_seconds",
		Help:    "Time to answer POST /api/v1/checks (validation, index lookup, rules, storing, audit).",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5}})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hedui_http_requests_total",
		Help: "HTTP requests by route pattern and status code."}, []string{"route", "code"})
	m.updates = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hedui_index_updates_total",
		Help: "Index updates applied inside the service, by result."}, []string{"result"})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hedui_commit_duration_seconds",
		Help:    "Time of one group commit: the fsyncs that make the checks and audit entries written meanwhile durable.",
		Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .5}})
	m.commitChecks = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hedui_commit_checks",
		Help:    "Checks made durable by one group commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}})
	m.reg.MustRegister(m.checks, m.latency, m.requests, m.updates, m.commitSeconds, m.commitChecks, indexAge{srv},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, v := range []string{"eligible", "ineligible", "review"} {
		m.checks.WithLabelValues(v)
	}
	return m
}

// indexAge reports, at each scrape, how old each source's snapshot is and
// when the views checks read were opened.
type indexAge struct{ srv *Server }

var (
	snapshotAgeDesc = prometheus.NewDesc("hedui_index_snapshot_age_seconds",
		"Age of the snapshot each source kind of the index holds (oldest source of the kind).", []string{"kind"}, nil)
	viewsAgeDesc = prometheus.NewDesc("hedui_index_views_age_seconds",
		"Seconds since the index views checks read were opened (the last update applied, or the start).", nil, nil)
)

func (a indexAge) Describe(ch chan<- *prometheus.Desc) {
	ch <- snapshotAgeDesc
	ch <- viewsAgeDesc
}

func (a indexAge) Collect(ch chan<- prometheus.Metric) {
	s := a.srv.snap.Load()
	if s == nil {
		return
	}
	now := a.srv.cfg.Now()
	for k, t := range s.snapshots {
		ch <- prometheus.MustNewConstMetric(snapshotAgeDesc, prometheus.GaugeValue, now.Sub(t).Seconds(), string(k))
	}
	ch <- prometheus.MustNewConstMetric(viewsAgeDesc, prometheus.GaugeValue, time.Since(s.opened).Seconds())
}
