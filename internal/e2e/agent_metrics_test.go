package e2e

import (
	"fmt"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestAgentMetrics: the agent serves its own metrics at
// /agent/v1/metrics on its socket, to root only, in Prometheus' text
// format (read here with Prometheus' own parser): one read from the
// server and one from its cache are one miss and one hit, and every
// request's attestation is timed.
func TestAgentMetrics(t *testing.T) {
	requireRoot(t)
	srv, root := startDev(t, "root")
	f := prepareAgent(t, srv, root)
	f.cache = `cache { kv_ttl = "1h" }`
	f.writeAppRoleConfig("")
	f.start()
	uid, gid := testUser(t, "arca-wl-a")
	if _, err := root.Logical().Write("auth/workload/role/app", map[string]any{
		"bound_uids": []string{fmt.Sprint(uid)}, "bound_exe_paths": []string{"/usr/bin/curl"},
		"token_policies": "app", "token_ttl": "10m",
	}); err != nil {
		t.Fatal(err)
	}
	before := agentCacheReads(t, f)
	for range 2 {
		if code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", "/v1/secret/data/app"); code != 200 {
			t.Fatalf("read through the agent: %d %s\nagent:\n%s", code, body, f.output())
		}
	}
	if code, body := f.curlAs(t, uid, gid, "/usr/bin/curl", "/agent/v1/metrics"); code != 403 || strings.Contains(body, "arca_agent") {
		t.Fatalf("metrics for a user who is not root: %d %s", code, body)
	}
	after := agentCacheReads(t, f)
	for result, want := range map[string]float64{"hit": 1, "miss": 1, "stale": 0} {
		if got := after[result] - before[result]; got != want {
			t.Fatalf("cache reads %s: %v more, want %v (before %v, after %v)", result, got, want, before, after)
		}
	}
	h := agentMetrics(t, f)["arca_agent_attestation_duration_seconds"].GetMetric()
	if len(h) != 1 || h[0].GetHistogram().GetSampleCount() < 4 || h[0].GetHistogram().GetSampleSum() <= 0 {
		t.Fatalf("attestation times: %v, want at least 4 requests timed", h)
	}
}

// agentMetrics reads the agent's metrics as root with Prometheus' parser.
func agentMetrics(t *testing.T, f *agentFixture) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := f.get("/agent/v1/metrics")
	if code != 200 {
		t.Fatalf("metrics for root: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the agent's metrics do not parse: %v\n%s", err, body)
	}
	return fams
}

// agentCacheReads is arca_agent_cache_reads_total by result.
func agentCacheReads(t *testing.T, f *agentFixture) map[string]float64 {
	t.Helper()
	reads := map[string]float64{}
	for _, m := range agentMetrics(t, f)["arca_agent_cache_reads_total"].GetMetric() {
		reads[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	return reads
}
