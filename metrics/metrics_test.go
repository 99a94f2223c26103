package metrics

import (
	"bytes"
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
	"github.com/arca-secrets/arca/storage/storagetest"
)

// parse reads text with Prometheus' own parser.
func parse(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, text)
	}
	return families
}

func TestExpositionParsesAndCounts(t *testing.T) {
	sealed := true
	var failures uint64 = 3
	r := New(Config{Sealed: func() bool { return sealed }, Active: func() bool { return !sealed }, AuditFailures: func() uint64 { return failures }})
	r.ObserveRequest("secret", 200, 3*time.Millisecond)
	r.ObserveRequest("secret", 200, 5*time.Millisecond)
	r.ObserveRequest("sys", 403, time.Millisecond)
	text, err := r.PrometheusText()
	if err != nil {
		t.Fatal(err)
	}
	fams := parse(t, text)
	counts := map[string]float64{}
	for _, m := range fams["arca_http_requests_total"].GetMetric() {
		key := ""
		for _, l := range m.GetLabel() {
			key += l.GetName() + "=" + l.GetValue() + ","
		}
		counts[key] = m.GetCounter().GetValue()
	}
	if counts["class=secret,status=200,"] != 2 || counts["class=sys,status=403,"] != 1 {
		t.Fatalf("request counts %v, want 2 secret/200 and 1 sys/403", counts)
	}
	if h := fams["arca_http_request_duration_seconds"].GetMetric(); len(h) != 2 {
		t.Fatalf("latency histograms for %d classes, want 2", len(h))
	}
	if v := fams["arca_core_sealed"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Fatalf("arca_core_sealed = %v while sealed, want 1", v)
	}
	sealed = false
	text, _ = r.PrometheusText()
	if v := parse(t, text)["arca_core_sealed"].GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Fatalf("arca_core_sealed = %v once unsealed, want 0", v)
	}
	if v := parse(t, text)["arca_audit_failures_total"].GetMetric()[0].GetCounter().GetValue(); v != 3 {
		t.Fatalf("arca_audit_failures_total = %v, want 3", v)
	}
	js, err := r.JSON()
	if err != nil || len(js["Counters"].([]any)) == 0 || len(js["Gauges"].([]any)) == 0 {
		t.Fatalf("JSON metrics: %v, %v", js, err)
	}
}

func TestInstrumentedStorageConforms(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return New(Config{}).Instrument(inmem.New()) })
}

func TestInstrumentedStorageIsTimed(t *testing.T) {
	r := New(Config{})
	st := r.Instrument(inmem.New())
	ctx := context.Background()
	if err := st.Put(ctx, &storage.Entry{Key: "a", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteAll(ctx, st, []*storage.Entry{{Key: "b", Value: []byte("2")}, {Key: "c", Value: []byte("3")}}, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	text, _ := r.PrometheusText()
	fams := parse(t, text)
	ops := map[string]uint64{}
	for _, m := range fams["arca_storage_operation_duration_seconds"].GetMetric() {
		ops[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
	}
	if ops["put"] != 1 || ops["write_all"] != 1 || ops["get"] != 1 {
		t.Fatalf("timed operations %v, want one put, one write_all, one get", ops)
	}
	if got := fams["arca_storage_batch_entries"].GetMetric()[0].GetHistogram().GetSampleSum(); got != 4 {
		t.Fatalf("batched entries summed to %v, want 4 (1 put, then 2 puts and 1 delete)", got)
	}
}
