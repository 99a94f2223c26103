package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// arcaBin is the arca binary built once for the whole package.
var arcaBin string

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		// This binary was started as a helper process by a test.
		os.Exit(runHelper(mode))
	}
	dir, err := os.MkdirTemp("", "arca-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	arcaBin = filepath.Join(dir, "arca")
	build := exec.Command("go", "build", "-o", arcaBin, "github.com/arca-secrets/arca/cmd/arca")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building arca:", err)
		os.Exit(1)
	}
	// The build directory must be reachable by an unprivileged user for the
	// lock-limit tests.
	_ = os.Chmod(dir, 0o755)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// proc is a running arca server.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// output returns what the process has printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String() + p.stderr.String()
}

// startArca starts "arca server args..." and waits until addr answers
// sys/health (any status). It is killed at the end of the test.
func startArca(t testing.TB, addr string, args ...string) *proc {
	t.Helper()
	return startArcaBin(t, arcaBin, addr, args...)
}

// startArcaBin is startArca with another build of arca.
func startArcaBin(t testing.TB, bin, addr string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, addr: addr, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"server"}, args...)...)
	p.cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	p.waitHealthy()
	return p
}

func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitHealthy polls sys/health until it answers, the process exits, or 30s
// pass.
func (p *proc) waitHealthy() {
	p.t.Helper()
	client := &http.Client{Timeout: time.Second}
	if !eventually(30*time.Second, func() bool { return p.answers(client, "http") }) {
		p.t.Fatalf("arca server did not answer on %s:\n%s", p.addr, p.output())
	}
}

// answers reports whether the server answers sys/health (any status)
// over scheme ("http" or "https"); it fails the test if the process has
// exited.
func (p *proc) answers(client *http.Client, scheme string) bool {
	p.t.Helper()
	select {
	case <-p.done:
		p.t.Fatalf("arca server exited early:\n%s", p.output())
	default:
	}
	resp, err := client.Get(scheme + "://" + p.addr + "/v1/sys/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// startDev starts a dev server with the given root token.
func startDev(t *testing.T, rootToken string) (*proc, *api.Client) {
	t.Helper()
	addr := freeAddr(t)
	p := startArca(t, addr, "-dev", "-dev-root-token-id="+rootToken, "-dev-listen-address="+addr)
	return p, newClient(t, addr, rootToken)
}

// newClient returns an OpenBao API client for http://addr.
func newClient(t testing.TB, addr, token string) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = "http://" + addr
	conf.MaxRetries = 0
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// writeConfig writes an HCL config for a plain-HTTP listener on addr and
// the given storage block, and returns its path.
func writeConfig(t *testing.T, addr, storageBlock string, extra ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "arca.hcl")
	body := fmt.Sprintf("%s\nlistener \"tcp\" {\n  address = %q\n  tls_disable = true\n}\n%s\n", storageBlock, addr, strings.Join(extra, "\n"))
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// statusOf returns the HTTP status of an api error, or 0.
func statusOf(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// rawRequest sends a request with the token and returns status and body.
func rawRequest(t *testing.T, addr, token, method, path string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// firstLine returns the first line of s that contains substr.
func firstLine(s, substr string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			return sc.Text()
		}
	}
	return ""
}

// startTLS starts a server with config conf whose listener serves TLS with
// the certificate at caPath, and waits for it.
func startTLS(t *testing.T, p *proc, conf, caPath string) {
	t.Helper()
	p.cmd = exec.Command(arcaBin, "server", "-config="+conf)
	p.cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if !eventually(30*time.Second, func() bool { return p.answers(client, "https") }) {
		t.Fatalf("arca server did not answer TLS on %s:\n%s", p.addr, p.output())
	}
}

// plainGet sends a plain-HTTP GET for sys/health and returns the status.
func plainGet(addr string) (int, error) {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/v1/sys/health")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// fmtAny renders v for a containment check in a test.
func fmtAny(v any) string { return fmt.Sprintf("%v", v) }
