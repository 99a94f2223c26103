package agent

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/internal/vaultindex"
)

// The agent's HTTP client works through its quiet connections
// (quietconn), over TLS, connections kept alive.
func TestUpstreamOverQuietConnections(t *testing.T) {
	var mu sync.Mutex
	var remotes []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes = append(remotes, r.RemoteAddr)
		mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	up, err := newUpstream(&Config{Address: srv.URL, CACert: ca})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		body := bytes.Repeat([]byte{byte('a' + i)}, 100<<10)
		r, err := up.do(context.Background(), "POST", "/v1/echo", "", "", nil, body)
		if err != nil || !bytes.Equal(r.body, body) {
			t.Fatalf("round %d: %v, status %d, %d bytes back of %d", i, err, r.status, len(r.body), len(body))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 3 || remotes[0] != remotes[1] || remotes[1] != remotes[2] {
		t.Errorf("requests came from %v, want one kept-alive connection", remotes)
	}
}

// Once a change event named a state, every read asks for at least it
// (X-Vault-Index, the highest seen: an older one does not lower it),
// beside a workload's own; writes do not.
func TestUpstreamReadsAtLeastTheStateOfTheLastEvent(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Method] = r.Header.Values("X-Vault-Index")
		mu.Unlock()
	}))
	defer srv.Close()
	up, err := newUpstream(&Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	index := func(method string) uint64 {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		i, _ := vaultindex.Parse(got[method])
		return i
	}
	if _, err := up.do(context.Background(), "GET", "/v1/secret/data/app", "", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if index("GET") != 0 {
		t.Fatalf("before any event: a read asked for index %d", index("GET"))
	}
	up.sawIndex(vaultindex.Encode(40))
	up.sawIndex(vaultindex.Encode(12))
	up.sawIndex("not an index")
	own := http.Header{"X-Vault-Index": {vaultindex.Encode(7)}}
	for _, m := range []string{"GET", "LIST", "PUT"} {
		if _, err := up.do(context.Background(), m, "/v1/secret/data/app", "", "", own, nil); err != nil {
			t.Fatal(err)
		}
	}
	if index("GET") != 40 || index("LIST") != 40 {
		t.Errorf("reads asked for %d and %d, want 40", index("GET"), index("LIST"))
	}
	if index("PUT") != 7 {
		t.Errorf("a write asked for %d, want only the caller's 7", index("PUT"))
	}
}
