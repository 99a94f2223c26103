// Package metrics is Arca's telemetry: request counts and latencies by
// route class and status, seal and HA state, audit failures, and storage
// operation latency, kept in a Prometheus registry and exposed by
// sys/metrics as Prometheus text or JSON. It holds no secret: labels are
// route classes, statuses and operation names, never paths or tokens.
package metrics

import (
	"bytes"
	"io"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Config says where the state gauges read from; a nil func leaves its
// metric out.
type Config struct {
	// Sealed reports whether the server is sealed.
	Sealed func() bool
	// Active reports whether the server is the active node.
	Active func() bool
	// AuditFailures counts requests refused because no audit device
	// could record them.
	AuditFailures func() uint64
	// Counts reports how many service tokens and leases are stored; ok
	// false (sealed, not the active node) leaves both gauges out.
	Counts func() (tokens, leases int64, ok bool)
}

// Registry holds Arca's metrics.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	storage  *prometheus.HistogramVec
	batch    prometheus.Histogram
}

// New returns a registry with the process and Go runtime collectors and
// Arca's own metrics.
func New(cfg Config) *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arca", Name: "http_requests_total",
			Help: "Requests answered, by route class (sys, auth, secret, other) and HTTP status.",
		}, []string{"class", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "arca", Name: "http_request_duration_seconds",
			Help:    "Time to answer a request, by route class.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"class"}),
		storage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "arca", Name: "storage_operation_duration_seconds",
			Help:    "Time of a storage backend operation (below the barrier), by operation.",
			Buckets: prometheus.ExponentialBuckets(0.00002, 4, 10),
		}, []string{"op"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "arca", Name: "storage_batch_entries",
			Help:    "Entries written or deleted in one storage step.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
	}
	r.reg.MustRegister(r.requests, r.latency, r.storage, r.batch,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() bool) {
		if f == nil {
			return
		}
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "arca", Name: name, Help: help}, func() float64 {
			if f() {
				return 1
			}
			return 0
		}))
	}
	gauge("core_sealed", "1 while the server is sealed.", cfg.Sealed)
	gauge("core_active", "1 while the server is the active node.", cfg.Active)
	if cfg.AuditFailures != nil {
		r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "arca", Name: "audit_failures_total",
			Help: "Requests refused because no audit device could record them.",
		}, func() float64 { return float64(cfg.AuditFailures()) }))
	}
	if cfg.Counts != nil {
		r.reg.MustRegister(&countsCollector{counts: cfg.Counts,
			tokens: prometheus.NewDesc("arca_token_count", "Service tokens stored (on the active node).", nil, nil),
			leases: prometheus.NewDesc("arca_lease_count", "Leases stored (on the active node).", nil, nil),
		})
	}
	return r
}

// countsCollector reports the token and lease counts, or nothing when
// they are not known here.
type countsCollector struct {
	counts         func() (int64, int64, bool)
	tokens, leases *prometheus.Desc
}

func (c *countsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.tokens; ch <- c.leases }

func (c *countsCollector) Collect(ch chan<- prometheus.Metric) {
	tokens, leases, ok := c.counts()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.tokens, prometheus.GaugeValue, float64(tokens))
	ch <- prometheus.MustNewConstMetric(c.leases, prometheus.GaugeValue, float64(leases))
}

// ObserveRequest records one answered request.
func (r *Registry) ObserveRequest(class string, status int, d time.Duration) {
	r.requests.WithLabelValues(class, strconv.Itoa(status)).Inc()
	r.latency.WithLabelValues(class).Observe(d.Seconds())
}

// WritePrometheus writes every metric in Prometheus' text format.
func (r *Registry) WritePrometheus(w io.Writer) error {
	families, err := r.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// PrometheusText is WritePrometheus into memory.
func (r *Registry) PrometheusText() ([]byte, error) {
	var b bytes.Buffer
	err := r.WritePrometheus(&b)
	return b.Bytes(), err
}

// JSON returns the metrics in the shape of Vault's JSON metrics: gauges,
// counters and samples (histograms as count and sum), each with its name
// and labels.
func (r *Registry) JSON() (map[string]any, error) {
	families, err := r.reg.Gather()
	if err != nil {
		return nil, err
	}
	gauges, counters, samples := []any{}, []any{}, []any{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetType() {
			case dto.MetricType_GAUGE:
				gauges = append(gauges, map[string]any{"Name": mf.GetName(), "Value": m.GetGauge().GetValue(), "Labels": labels})
			case dto.MetricType_COUNTER:
				counters = append(counters, map[string]any{"Name": mf.GetName(), "Count": m.GetCounter().GetValue(), "Labels": labels})
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				samples = append(samples, map[string]any{"Name": mf.GetName(), "Count": h.GetSampleCount(), "Sum": h.GetSampleSum(), "Labels": labels})
			}
		}
	}
	return map[string]any{
		"Timestamp": time.Now().UTC().Format(time.RFC3339),
		"Gauges":    gauges, "Counters": counters, "Samples": samples,
	}, nil
}
