package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// client is a minimal Vault API client: one pooled transport, bodies
// marshalled once per request, responses decoded only when needed.
type client struct {
	addr  string
	token string
	hc    *http.Client
}

func newClient(addr, token, caCert string, conns int) (*client, error) {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
	}
	if caCert != "" {
		pem, err := os.ReadFile(caCert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bench: no certificate in %s", caCert)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &client{addr: strings.TrimSuffix(addr, "/"), token: token, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// clients are the client the operations use and the one that sets up
// and cleans up: the same server, or an agent's socket (with no token)
// and the server behind it.
func clients(cfg Config) (op, admin *client, err error) {
	sock, ok := strings.CutPrefix(cfg.Addr, "unix://")
	if !ok {
		c, err := newClient(cfg.Addr, cfg.Token, cfg.CACert, cfg.Concurrency)
		if err != nil || cfg.Server == "" || cfg.Server == cfg.Addr {
			return c, c, err
		}
		// Another node of the cluster sets up: a standby of a server
		// whose standbys answer for mounts they have not heard of yet
		// (OpenBao's, with 404) is measured on reads only.
		admin, err = newClient(cfg.Server, cfg.Token, cfg.CACert, cfg.Concurrency)
		return c, admin, err
	}
	if cfg.Server == "" {
		return nil, nil, fmt.Errorf("bench: with a socket address, the server (set-up and clean-up) is needed too")
	}
	admin, err = newClient(cfg.Server, cfg.Token, cfg.CACert, cfg.Concurrency)
	if err != nil {
		return nil, nil, err
	}
	tr := &http.Transport{
		MaxIdleConns: cfg.Concurrency * 2, MaxIdleConnsPerHost: cfg.Concurrency * 2, IdleConnTimeout: 90 * time.Second,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}
	// No token: the agent attests this process and adds its role's.
	op = &client{addr: "http://localhost", hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	return op, admin, nil
}

// statusError is an HTTP error answer.
type statusError struct {
	code int
	// says is the start of the answer's body: why a set-up step failed.
	says string
}

func (e *statusError) Error() string {
	if e.says == "" {
		return fmt.Sprintf("http %d", e.code)
	}
	return fmt.Sprintf("http %d: %s", e.code, e.says)
}

func errorKind(err error) string {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("http %d", se.code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "network"
}

// do sends a request with token tok ("" for the client's, "-" for none)
// and decodes a
// JSON answer into out when out is not nil.
func (c *client) do(ctx context.Context, method, path, tok string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.addr+"/v1/"+path, rd)
	if err != nil {
		return err
	}
	switch tok {
	case "":
		if c.token != "" {
			req.Header.Set("X-Vault-Token", c.token)
		}
	case "-": // a login: no token at all
	default:
		req.Header.Set("X-Vault-Token", tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		says, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		_, _ = io.Copy(io.Discard, resp.Body)
		return &statusError{code: resp.StatusCode, says: string(bytes.TrimSpace(says))}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
