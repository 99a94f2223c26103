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
