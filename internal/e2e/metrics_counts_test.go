package e2e

import (
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeGauge reads sys/metrics?format=prometheus with Prometheus' own
// parser and returns the value of an unlabelled gauge, and whether it is
// there.
func scrapeGauge(t *testing.T, addr, token, name string) (float64, bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/sys/metrics?format=prometheus", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sys/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	f, ok := fams[name]
	if !ok || len(f.GetMetric()) != 1 {
		return 0, false
	}
	return f.GetMetric()[0].GetGauge().GetValue(), true
}

// TestMetricsTokenAndLeaseCounts: sys/metrics reports how many tokens and
// leases are stored, counted once after a restart and kept by logins and
// revocations from then on.
func TestMetricsTokenAndLeaseCounts(t *testing.T) {
	p, root, init, conf := boltServer(t)
	counts := func() (tokens, leases float64) {
		t.Helper()
		tok, ok1 := scrapeGauge(t, p.addr, init.RootToken, "arca_token_count")
		lea, ok2 := scrapeGauge(t, p.addr, init.RootToken, "arca_lease_count")
		if !ok1 || !ok2 {
			t.Fatal("arca_token_count or arca_lease_count missing from sys/metrics")
		}
		return tok, lea
	}
	if tok, lea := counts(); tok != 1 || lea != 0 {
		t.Fatalf("fresh server: %v tokens, %v leases; want 1 (root) and 0", tok, lea)
	}
	approleLogins(t, root, 40)
	if tok, lea := counts(); tok != 41 || lea != 40 {
		t.Fatalf("after 40 logins: %v tokens, %v leases; want 41 and 40", tok, lea)
	}
	p.kill()
	p = startArca(t, p.addr, "-config="+conf)
	unseal(t, root, init.Keys[0])
	if tok, lea := counts(); tok != 41 || lea != 40 {
		t.Fatalf("after a restart: %v tokens, %v leases; want 41 and 40", tok, lea)
	}
	if err := root.Sys().RevokePrefix("auth/approle/login"); err != nil {
		t.Fatal(err)
	}
	if tok, lea := counts(); tok != 1 || lea != 0 {
		t.Fatalf("after revoke-prefix: %v tokens, %v leases; want 1 and 0", tok, lea)
	}
}
