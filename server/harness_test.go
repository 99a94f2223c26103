package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/auth/approle"
	"github.com/arca-secrets/arca/auth/userpass"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/events"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/metrics"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/secrets/kv"
	"github.com/arca-secrets/arca/server"
	"github.com/arca-secrets/arca/storage/inmem"
)

// testServer is a dev-like Arca in process: in-memory storage, a file
// audit device under t.TempDir(), the HTTP API on an httptest server.
type testServer struct {
	t         *testing.T
	core      *core.Core
	srv       *server.Server
	http      *httptest.Server
	unsealKey []byte
	root      string
	auditPath string
	logs      *logRecorder
	// covered are the sys routes checkAudited has seen audited.
	covered map[string]bool
}

type serverOptions struct {
	limits  server.Limits
	engines map[string]logical.Factory
	auths   map[string]logical.Factory
}

// newTestServer initialises and unseals a server with kv v2 at secret/.
func newTestServer(t *testing.T, opts serverOptions) *testServer {
	t.Helper()
	engines := map[string]logical.Factory{"kv": kv.Factory}
	for k, f := range opts.engines {
		engines[k] = f
	}
	auths := map[string]logical.Factory{"userpass": userpass.Factory, "approle": approle.Factory}
	for k, f := range opts.auths {
		auths[k] = f
	}
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.log")
	bus := events.New(events.Config{})
	t.Cleanup(bus.Close)
	c := core.New(core.Config{
		Storage: inmem.New(), StorageType: "inmem", Memory: secmem.BestEffort, Events: bus,
		Engines: engines, AuthMethods: auths,
		AuditDevices: []core.AuditDevice{{Name: "file", Type: "file", Options: map[string]string{"file_path": auditPath}}},
		AuditPolicy:  core.AuditPolicy{FileDirs: []string{dir}},
	})
	res, err := c.DevInit(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	logs := &logRecorder{}
	reg := metrics.New(metrics.Config{Sealed: c.Sealed, Active: c.Active, AuditFailures: c.AuditFailures})
	srv := server.New(server.Config{Core: c, Logger: slog.New(logs), Limits: opts.limits, Metrics: reg, Events: bus})
	hs := httptest.NewServer(srv)
	ts := &testServer{t: t, core: c, srv: srv, http: hs, unsealKey: res.Shares[0], root: res.RootToken, auditPath: auditPath, logs: logs, covered: map[string]bool{}}
	t.Cleanup(func() {
		hs.Close()
		_ = c.Seal(context.Background())
		ts.logs.checkNoPanic(t)
	})
	return ts
}

// answer is an HTTP answer: its status and its JSON body (nil if none).
type answer struct {
	status int
	body   map[string]any
	raw    []byte
}

// errors returns the body's "errors" joined.
func (a answer) errors() string {
	var out []string
	if errs, ok := a.body["errors"].([]any); ok {
		for _, e := range errs {
			s, _ := e.(string)
			out = append(out, s)
		}
	}
	return strings.Join(out, "; ")
}

// data is the body's "data" object.
func (a answer) data() map[string]any {
	d, _ := a.body["data"].(map[string]any)
	return d
}

// do sends method path (after /v1/) with tok and a JSON body.
func (ts *testServer) do(method, path, tok string, body any) answer {
	ts.t.Helper()
	return ts.doHeaders(method, path, tok, body, nil)
}

func (ts *testServer) doHeaders(method, path, tok string, body any, hdr map[string]string) answer {
	ts.t.Helper()
	a, err := ts.request(method, path, tok, body, hdr)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// request is do without failing the test, for use from goroutines.
func (ts *testServer) request(method, path, tok string, body any, hdr map[string]string) (answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, ts.http.URL+"/v1/"+path, rd)
	if err != nil {
		return answer{}, err
	}
	if tok != "" {
		req.Header.Set("X-Vault-Token", tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		_ = json.Unmarshal(raw, &a.body)
	}
	return a, nil
}

// must sends a request and fails the test unless it answers want.
func (ts *testServer) must(want int, method, path, tok string, body any) answer {
	ts.t.Helper()
	a := ts.do(method, path, tok, body)
	if a.status != want {
		ts.t.Fatalf("%s %s: status %d (%s), want %d", method, path, a.status, a.errors(), want)
	}
	return a
}

// token creates a token with policies (no default policy).
func (ts *testServer) token(policies ...string) string {
	ts.t.Helper()
	a := ts.must(http.StatusOK, "POST", "auth/token/create", ts.root, map[string]any{"policies": policies, "no_default_policy": true})
	auth, _ := a.body["auth"].(map[string]any)
	tok, _ := auth["client_token"].(string)
	if tok == "" {
		ts.t.Fatalf("token create answered no client_token: %s", a.raw)
	}
	return tok
}

// policy writes an ACL policy.
func (ts *testServer) policy(name, text string) {
	ts.t.Helper()
	ts.must(http.StatusNoContent, "PUT", "sys/policies/acl/"+name, ts.root, map[string]any{"policy": text})
}

// auditEntry is one line of the audit log, the fields the tests read.
type auditEntry struct {
	Type    string         `json:"type"`
	Error   string         `json:"error"`
	Auth    map[string]any `json:"auth"`
	Request struct {
		ID        string `json:"id"`
		Operation string `json:"operation"`
		Path      string `json:"path"`
	} `json:"request"`
	Response map[string]any `json:"response"`
}

// auditLog reads an audit file from where the last read stopped.
type auditLog struct {
	t      *testing.T
	path   string
	offset int64
}

func (ts *testServer) audit() *auditLog {
	l := &auditLog{t: ts.t, path: ts.auditPath}
	l.next() // start after what is there already
	return l
}

// next returns the entries written since the last call.
func (l *auditLog) next() []auditEntry {
	l.t.Helper()
	f, err := os.Open(l.path)
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		l.t.Fatal(err)
	}
	var out []auditEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		l.offset += int64(len(line)) + 1
		var e auditEntry
		if err := json.Unmarshal(line, &e); err != nil {
			l.t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		l.t.Fatal(err)
	}
	return out
}

// logRecorder is a slog handler that keeps the messages logged at error
// level, to find recovered panics.
type logRecorder struct {
	mu     sync.Mutex
	errors []string
}

func (r *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		msg += " " + a.Key + "=" + a.Value.String()
		return true
	})
	r.mu.Lock()
	r.errors = append(r.errors, msg)
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// checkNoPanic fails t if the server recovered a panic.
func (r *logRecorder) checkNoPanic(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.errors {
		if strings.Contains(m, "panic") {
			t.Errorf("the server recovered a panic: %s", m)
		}
	}
}
