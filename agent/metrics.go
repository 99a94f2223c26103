package agent

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/arca-secrets/arca/agent/attest"
)

// metricsPath is where the agent serves its own metrics on its socket,
// Vault Agent's path for them.
const metricsPath = "/agent/v1/metrics"

// agentMetrics are the agent's own metrics, in its own registry: reads
// answered from its cache or not, and the time to attest a caller. Labels
// never name a caller or a path.
type agentMetrics struct {
	reg    *prometheus.Registry
	cache  *prometheus.CounterVec
	attest prometheus.Histogram
	// hits and misses are cache's, looked up once: every read counts one.
	hits, misses prometheus.Counter
}

func newAgentMetrics() *agentMetrics {
	m := &agentMetrics{
		reg: prometheus.NewRegistry(),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "arca_agent", Name: "cache_reads_total",
			Help: "Cacheable reads, by result: hit (from the cache), miss (asked of the server), stale (from the cache while the server was unreachable).",
		}, []string{"result"}),
		attest: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "arca_agent", Name: "attestation_duration_seconds",
			Help:    "Time to attest a request's caller: in full on a connection's first request or after a change, a re-check otherwise.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}),
	}
	for _, r := range []string{"hit", "miss", "stale"} {
		m.cache.WithLabelValues(r) // present from the start, at zero
	}
	m.hits, m.misses = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	m.reg.MustRegister(m.cache, m.attest)
	for _, r := range attest.Reasons() {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "arca_agent", Name: "full_attestations_total",
			Help:        "Requests whose caller was attested in full (the holder scan included), by reason: first (a connection's first request), exited, pid_epoch (the pids handed out since the holder scan are not known for sure), new_process (processes were created on the host since the holder scan and could not each be looked at), new_holder (one of them holds the connection), holder_changed, traced, cgroup.",
			ConstLabels: prometheus.Labels{"reason": r.String()},
		}, func() float64 { return float64(attest.FullAttestations(r)) }))
	}
	return m
}

// identity attests the connection's caller and times it.
func (m *agentMetrics) identity(c *attest.Conn) (*attest.Identity, error) {
	start := time.Now()
	id, err := c.Identity()
	m.attest.Observe(time.Since(start).Seconds())
	return id, err
}

// serve answers metricsPath in Prometheus' text format, to root callers
// only (the agent runs as root; other local users see only their own
// answers).
func (m *agentMetrics) serve(w http.ResponseWriter, r *http.Request, id *attest.Identity) {
	if r.Method != http.MethodGet {
		writeErr(w, http.StatusMethodNotAllowed, "arca agent: metrics are read with GET")
		return
	}
	if id.UID != 0 {
		writeErr(w, http.StatusForbidden, "arca agent: the agent's metrics are for root")
		return
	}
	families, err := m.reg.Gather()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "arca agent: gathering metrics failed")
		return
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return
		}
	}
}

// serveStale is serveStale, counted.
func (a *Agent) serveStale(w http.ResponseWriter, key, uri string) bool {
	if !serveStale(w, a.kv, key, uri) {
		return false
	}
	a.metrics.cache.WithLabelValues("stale").Inc()
	return true
}
