package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/certtest"
)

// startInitializedTLS starts a server with a TLS listener, initialises and
// unseals it, mounts KV v2 at secret/, and returns it, a root client, and
// the server certificate that verifies it.
func startInitializedTLS(t *testing.T) (*proc, *api.Client, string) {
	t.Helper()
	p, certPath := startTLSServer(t)
	c := tlsClient(t, p.addr, certPath)
	initAndUnseal(t, c)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	return p, c, certPath
}

// issueFiles writes a client certificate from ca for cn, and its key,
// and returns their paths.
func issueFiles(t *testing.T, ca *certtest.CA, cn string) (certPath, keyPath string) {
	t.Helper()
	cert, key := ca.Client(t, cn, nil)
	return certtest.WriteFiles(t, t.TempDir(), cn, cert, key)
}

// certClient is an OpenBao client that presents a client certificate
// ("" for none).
func certClient(t *testing.T, addr, serverCA, certPath, keyPath string) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = "https://" + addr
	conf.MaxRetries = 0
	if err := conf.ConfigureTLS(&api.TLSConfig{CACert: serverCA, ClientCert: certPath, ClientKey: keyPath}); err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	return c
}

// The cert method, as a Vault client uses it: register a CA, log in with
// a certificate it issued, get exactly the entry's policies; another CA's
// certificate, or none, gets nothing.
func TestCertAuthLogin(t *testing.T) {
	p, root, serverCA := startInitializedTLS(t)
	ca, other := certtest.NewCA(t, "apps CA"), certtest.NewCA(t, "other CA")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(root.Sys().PutPolicy("app", `path "secret/data/app" { capabilities = ["read"] }`))
	must(root.Sys().EnableAuthWithOptions("cert", &api.EnableAuthOptions{Type: "cert"}))
	_, err := root.Logical().Write("auth/cert/certs/apps", map[string]any{"certificate": ca.PEM, "token_policies": "app", "token_ttl": "10m", "allowed_common_names": "web-*"})
	must(err)
	_, err = root.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"password": "from-cert-login"}})
	must(err)

	crt, key := issueFiles(t, ca, "web-1")
	c := certClient(t, p.addr, serverCA, crt, key)
	login, err := c.Logical().Write("auth/cert/login", nil)
	if err != nil {
		t.Fatalf("cert login: %v\n%s", err, p.output())
	}
	if !slices.Contains(login.Auth.Policies, "app") || login.Auth.Metadata["cert_name"] != "apps" || login.Auth.Metadata["common_name"] != "web-1" || login.Auth.LeaseDuration < 590 || login.Auth.LeaseDuration > 600 {
		t.Fatalf("login auth: %+v", login.Auth)
	}
	c.SetToken(login.Auth.ClientToken)
	got, err := c.Logical().Read("secret/data/app")
	if err != nil || got.Data["data"].(map[string]any)["password"] != "from-cert-login" {
		t.Fatalf("read with the cert token: %+v, %v", got, err)
	}
	if _, err := c.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"x": "y"}}); err == nil {
		t.Fatal("the cert token wrote outside its policy")
	}
	// The token renews while its entry stands.
	if _, err := c.Auth().Token().RenewSelf(0); err != nil {
		t.Fatalf("renew: %v", err)
	}

	refused := func(what string, c *api.Client, status int, msg string) {
		t.Helper()
		_, err := c.Logical().Write("auth/cert/login", nil)
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode != status || !strings.Contains(strings.Join(re.Errors, " "), msg) {
			t.Fatalf("%s: got %v, want %d with %q", what, err, status, msg)
		}
	}
	oc, ok := issueFiles(t, other, "web-1")
	refused("another CA", certClient(t, p.addr, serverCA, oc, ok), 403, `issuer "CN=other CA"`)
	wc, wk := issueFiles(t, ca, "db-1")
	refused("a name outside allowed_common_names", certClient(t, p.addr, serverCA, wc, wk), 403, "no certificate entry trusts")
	refused("no certificate", certClient(t, p.addr, serverCA, "", ""), 400, "no client certificate")

	// Deleting the entry stops renewal of the tokens it issued.
	_, err = root.Logical().Delete("auth/cert/certs/apps")
	must(err)
	if _, err := c.Auth().Token().RenewSelf(0); err == nil {
		t.Fatal("renewed after the entry was deleted")
	}
}

// The agent logs itself in with a client certificate (no secret ID file);
// the transport it forwards workloads' requests on carries no certificate,
// so a workload that calls the cert login through the agent gets nothing.
func TestAgentCertAutoAuth(t *testing.T) {
	requireRoot(t)
	p, root, serverCA := startInitializedTLS(t)
	ca := certtest.NewCA(t, "hosts CA")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f := prepareAgent(t, p, root)
	must(root.Sys().EnableAuthWithOptions("cert", &api.EnableAuthOptions{Type: "cert"}))
	_, err := root.Logical().Write("auth/cert/certs/hosts", map[string]any{"certificate": ca.PEM, "token_policies": "agent", "allowed_common_names": "host-*"})
	must(err)
	self, _ := os.Executable()
	_, err = root.Logical().Write("auth/workload/role/tests", map[string]any{"bound_uids": "0", "bound_exe_paths": self, "token_policies": "app"})
	must(err)
	crt, key := issueFiles(t, ca, "host-1")
	must(os.WriteFile(f.conf, []byte(fmt.Sprintf(`
arca { address = "%s"  ca_cert = "%s" }
auto_auth {
  method "cert" {
    config = { name = "hosts"  client_cert = "%s"  client_key = "%s" }
  }
}
listener "unix" { address = "%s" }
`, root.Address(), serverCA, crt, key, f.sock)), 0o600))
	f.start()

	if code, body := f.get("/v1/secret/data/app"); code != 200 || !strings.Contains(body, "s3cret-for-app") {
		t.Fatalf("workload read through a cert-authenticated agent: %d %s\n%s", code, body, f.output())
	}
	if !strings.Contains(f.output(), `method=cert`) {
		t.Fatalf("the agent does not say it logged in with cert:\n%s", f.output())
	}
	code, body := f.post("/v1/auth/cert/login", `{"name":"hosts"}`)
	if code == 200 || strings.Contains(body, "client_token") {
		t.Fatalf("a workload logged in with the agent's certificate: %d %s", code, body)
	}
	// The agent's allow-list refuses logins itself: the request never
	// reaches the server, so the certificate cannot ride on it.
	if code != 403 || !strings.Contains(body, "not served through the agent") {
		t.Fatalf("cert login through the agent: %d %s", code, body)
	}
}

// post sends a POST over the socket from this (the test) process.
func (f *agentFixture) post(path, body string) (int, string) {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", f.sock)
	}}}
	resp, err := c.Post("http://localhost"+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCLICertLogin: a host logs in with its TLS client certificate
// through the CLI (ARCA_CLIENT_CERT, ARCA_CLIENT_KEY) and keeps the token
// for later commands, as arca volume does at boot; another CA's
// certificate gets nothing stored.
func TestCLICertLogin(t *testing.T) {
	p, root, serverCA := startInitializedTLS(t)
	ca, other := certtest.NewCA(t, "hosts CA"), certtest.NewCA(t, "other CA")
	if err := root.Sys().EnableAuthWithOptions("cert", &api.EnableAuthOptions{Type: "cert"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("auth/cert/certs/hosts", map[string]any{"certificate": ca.PEM, "token_policies": "default"}); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := func(crt, key string) []string {
		return []string{"HOME=" + home, "ARCA_ADDR=https://" + p.addr, "ARCA_CACERT=" + serverCA, "ARCA_CLIENT_CERT=" + crt, "ARCA_CLIENT_KEY=" + key}
	}
	oc, ok := issueFiles(t, other, "host-9")
	arca(t, env(oc, ok), "", "login", "-method=cert").must(t, 1, "403")
	crt, key := issueFiles(t, ca, "host-1")
	arca(t, env(crt, key), "", "login", "-method=cert", "name=hosts").must(t, 0, "Success!")
	lookup := arca(t, env("", ""), "", "token", "lookup", "-format=json")
	lookup.must(t, 0, `"display_name": "cert-`)
}
