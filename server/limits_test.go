package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage/inmem"
)

func TestCheckJSONShape(t *testing.T) {
	lim := Limits{}.withDefaults().JSON
	lim.MaxDepth, lim.MaxStringLength, lim.MaxObjectEntries, lim.MaxArrayElements, lim.MaxElements = 3, 8, 3, 3, 10
	for _, tc := range []struct {
		name, body string
		wantErr    string // "" for accepted
	}{
		{"flat object", `{"a":1,"b":"x"}`, ""},
		{"nested to the limit", `{"a":{"b":[1]}}`, ""},
		{"one level too deep", `{"a":{"b":[[1]]}}`, "max_json_depth"},
		{"string at the limit", `{"a":"12345678"}`, ""},
		{"string too long", `{"a":"123456789"}`, "max_json_string_value_length"},
		{"escaped quote does not end a string", `{"a":"1234\"56789"}`, "max_json_string_value_length"},
		{"brackets in strings do not nest", `{"a":"[[[[[["}`, ""},
		{"array too long", `{"a":[1,2,3,4]}`, "max_json_array_element_count"},
		{"object too wide", `{"a":1,"b":2,"c":3,"d":4}`, "max_json_object_entry_count"},
		{"many small arrays", `{"a":[1,2],"b":[1,2],"c":[1,2]}`, ""},
		{"too many values in all", `{"a":[1,2,3],"b":[1,2,3],"c":[1,2,3]}`, "max_json_total_elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkJSONShape([]byte(tc.body), lim)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error naming %s", err, tc.wantErr)
			case err != nil && !errors.Is(err, errBadRequest):
				t.Fatalf("%v is not a bad request (400)", err)
			}
		})
	}
}

func FuzzCheckJSONShape(f *testing.F) {
	for _, seed := range []string{`{}`, `{"a":[1,{"b":"c"}]}`, `[[[[`, `"\"`, `{"a":"\\"}`} {
		f.Add([]byte(seed))
	}
	lim := Limits{}.withDefaults().JSON
	f.Fuzz(func(t *testing.T, raw []byte) {
		// It must never panic, and whatever it accepts stays within the
		// depth bound when valid JSON.
		_ = checkJSONShape(raw, lim)
	})
}

func TestConcurrencyLimit(t *testing.T) {
	c := core.New(core.Config{Storage: inmem.New(), StorageType: "inmem", Memory: secmem.BestEffort})
	s := New(Config{Core: c, Limits: Limits{MaxConcurrentRequests: 2}})
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/sys/seal-status", nil))
		return rec
	}
	// Two requests at work fill the listener.
	s.inFlight <- struct{}{}
	s.inFlight <- struct{}{}
	rec := get()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "concurrent") || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("at the limit: %d %s (Retry-After %q), want 503 naming the limit", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	<-s.inFlight
	if rec := get(); rec.Code != http.StatusOK {
		t.Fatalf("below the limit: %d %s, want 200", rec.Code, rec.Body)
	}
	if len(s.inFlight) != 1 {
		t.Fatalf("a served request left %d slots taken, want 1 (the test's own)", len(s.inFlight))
	}
}
