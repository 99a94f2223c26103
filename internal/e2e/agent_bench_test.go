package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// BenchmarkAgentOverhead measures what the agent adds to a request: the
// same token lookup-self (forwarded every time, never cached) sent
// straight to the server with a token, and through the agent's socket
// with none, where the connection is attested once (SO_PEERCRED, pidfd,
// /proc, the holder check), each request re-checked (attest.Conn), and
// forwarded with the workload's token. One client, keep-alive on both
// paths.
func BenchmarkAgentOverhead(b *testing.B) {
	requireRoot(b)
	addr := freeAddr(b)
	p := startArca(b, addr, "-dev", "-dev-root-token-id=root", "-dev-listen-address="+addr)
	root := newClient(b, addr, "root")
	f := newAgentFixture(b, p, root)
	self, _ := os.Executable()
	if _, err := root.Logical().Write("auth/workload/role/bench", map[string]any{"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app"}); err != nil {
		b.Fatal(err)
	}
	direct := &http.Client{Timeout: 10 * time.Second}
	viaAgent := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", f.sock)
	}}}
	get := func(b *testing.B, c *http.Client, url, token string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("X-Vault-Token", token)
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", url, resp.StatusCode)
		}
	}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			get(b, direct, "http://"+addr+"/v1/auth/token/lookup-self", "root")
		}
	})
	b.Run("agent", func(b *testing.B) {
		get(b, viaAgent, "http://localhost/v1/auth/token/lookup-self", "") // logs the workload in
		for b.Loop() {
			get(b, viaAgent, "http://localhost/v1/auth/token/lookup-self", "")
		}
	})
}
