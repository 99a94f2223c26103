package server_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/arca-secrets/arca/server"
)

// TestMetricsNeedATokenUnlessTheListenerSaysSo: sys/metrics answers a
// token allowed to read it, in Prometheus' text format that Prometheus'
// own parser reads; without a token only where the listener opens it.
func TestMetricsNeedATokenUnlessTheListenerSaysSo(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	ts.must(http.StatusOK, "GET", "auth/token/lookup-self", ts.root, nil)
	a := ts.do("GET", "sys/metrics?format=prometheus", ts.root, nil)
	if a.status != http.StatusOK {
		t.Fatalf("metrics with root: %d %s", a.status, a.raw)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(a.raw))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	for _, name := range []string{"arca_http_requests_total", "arca_http_request_duration_seconds", "arca_core_sealed", "arca_audit_failures_total", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("metric family %s missing", name)
		}
	}
	if v := fams["arca_core_active"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Fatalf("arca_core_active = %v on an unsealed single node, want 1", v)
	}
	if a := ts.do("GET", "sys/metrics", "", nil); a.status != http.StatusForbidden {
		t.Fatalf("metrics without a token: %d, want 403", a.status)
	}
	if a := ts.do("GET", "sys/metrics", ts.root, nil); a.status != http.StatusOK || a.body["Counters"] == nil {
		t.Fatalf("JSON metrics: %d %s", a.status, a.raw)
	}

	open := newTestServer(t, serverOptions{limits: server.Limits{UnauthenticatedMetrics: true}})
	if a := open.do("GET", "sys/metrics?format=prometheus", "", nil); a.status != http.StatusOK {
		t.Fatalf("metrics without a token where the listener allows it: %d %s", a.status, a.raw)
	}
}

// TestProfilesAreForRootOnly: sys/pprof answers root tokens only, even a
// token whose policy allows the path; the command line is never served.
func TestProfilesAreForRootOnly(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	ts.must(http.StatusNoContent, "PUT", "sys/policies/acl/prof", ts.root, map[string]any{"policy": `path "sys/pprof*" { capabilities = ["read", "sudo"] }`})
	tok := ts.must(http.StatusOK, "POST", "auth/token/create", ts.root, map[string]any{"policies": []string{"prof"}}).body["auth"].(map[string]any)["client_token"].(string)
	if a := ts.do("GET", "sys/pprof/heap", tok, nil); a.status != http.StatusForbidden {
		t.Fatalf("heap profile with a non-root token: %d, want 403", a.status)
	}
	if a := ts.do("GET", "sys/pprof/heap", ts.root, nil); a.status != http.StatusOK || len(a.raw) == 0 {
		t.Fatalf("heap profile with root: %d (%d bytes)", a.status, len(a.raw))
	}
	if a := ts.do("GET", "sys/pprof/cmdline", ts.root, nil); a.status != http.StatusNotFound {
		t.Fatalf("command line: %d, want 404 (it may hold a dev root token)", a.status)
	}
}
