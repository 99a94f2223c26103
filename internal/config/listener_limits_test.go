package config

import (
	"strings"
	"testing"
	"time"
)

func TestListenerLimits(t *testing.T) {
	src := `
storage "inmem" {}
listener "tcp" {
  tls_disable                      = true
  max_request_size                 = 1024
  max_request_duration             = "5s"
  max_concurrent_requests          = "8"
  max_json_depth                   = 10
  max_json_string_value_length     = 100
  max_json_object_entry_count      = 20
  max_json_array_element_count     = 30
  max_json_total_elements          = 40
  disable_unauthed_rekey_endpoints = false
  telemetry {
    unauthenticated_metrics_access = true
  }
}
`
	c, err := Parse("arca.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Listeners[0].Limits
	want := ListenerLimits{
		MaxRequestSize: 1024, MaxRequestDuration: 5 * time.Second, MaxConcurrentRequests: 8,
		MaxJSONDepth: 10, MaxJSONStringLength: 100, MaxJSONObjectEntries: 20, MaxJSONArrayElements: 30, MaxJSONElements: 40,
		AllowUnauthedRekey: true, UnauthenticatedMetrics: true,
	}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// The defaults are the safe ones.
	c, err = Parse("arca.hcl", []byte("storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Listeners[0].Limits; l.AllowUnauthedRekey || l.AllowUnauthedGenerateRoot || l.UnauthenticatedMetrics {
		t.Fatalf("defaults %+v: unauthenticated rekey, generate-root or metrics are on", l)
	}
}

func TestListenerLimitErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`max_request_size = -1`, "whole number above zero"},
		{`max_request_duration = "soon"`, "duration"},
		{`max_json_depth = "deep"`, "whole number above zero"},
		{`telemetry { prometheus = true }`, `unknown key "prometheus"`},
		{`telemetry = true`, "must be a block"},
	} {
		src := "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = true\n  " + tc.line + "\n}\n"
		_, err := Parse("arca.hcl", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "arca.hcl:4") {
			t.Errorf("%s: %v, want an error at arca.hcl:4 naming %q", tc.line, err, tc.want)
		}
	}
}
