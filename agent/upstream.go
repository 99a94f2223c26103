package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/arca-secrets/arca/internal/quietconn"
	"github.com/arca-secrets/arca/internal/vaultindex"
	"github.com/arca-secrets/arca/internal/wipehttp"
)

// maxBody bounds request and response bodies the agent holds, as the
// server does.
const maxBody = 32 << 20

// upstream is the Arca server the agent forwards to.
type upstream struct {
	base   string
	client *http.Client
	// floor is the highest applied index a change event named (0: none).
	// Every read asks for at least that state (X-Vault-Index): once the
	// agent has heard of a change, whichever node of a cluster answers
	// (a standby that has not applied it yet waits, then forwards), what
	// it reads holds the change.
	floor atomic.Uint64
}

// sawIndex raises the floor to the index of an X-Vault-Index value.
func (u *upstream) sawIndex(v string) {
	i, ok := vaultindex.Parse([]string{v})
	for ok {
		cur := u.floor.Load()
		if i <= cur || u.floor.CompareAndSwap(cur, i) {
			return
		}
	}
}

func newUpstream(c *Config) (*upstream, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("reading ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_cert %s holds no PEM certificate", c.CACert)
		}
		tlsConf.RootCAs = pool
	}
	tr := &http.Transport{
		// Answers carry secrets and requests the agent's tokens: the
		// connections' buffers are cleared (wipehttp.Conn). Their reads
		// and writes do not wake the runtime's monitor (quietconn).
		DialContext:         wipehttp.Dial(quietconn.Dial((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)),
		TLSClientConfig:     tlsConf,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &upstream{base: strings.TrimRight(c.Address, "/"), client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}, nil
}

// withClientCert returns an upstream for logins that presents the client
// certificate in certFile and keyFile. Only the agent's own login uses it:
// the transport that forwards workloads' requests carries no certificate,
// so a workload cannot log in as the agent through it. The files are read
// at each handshake and connections are not kept, so a renewed
// certificate is used from the next login on.
func (u *upstream) withClientCert(certFile, keyFile string) (*upstream, error) {
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return nil, fmt.Errorf("auto_auth: loading the client certificate: %w", err)
	}
	tr := u.client.Transport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		return &c, nil
	}
	return &upstream{base: u.base, client: &http.Client{Transport: tr, Timeout: u.client.Timeout}}, nil
}

// reply is a server answer held in memory.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request to the server. path starts with /v1/.
func (u *upstream) do(ctx context.Context, method, path, rawQuery, token string, header http.Header, body []byte) (*reply, error) {
	url := u.base + path
	if rawQuery != "" {
		url += "?" + rawQuery
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if f := u.floor.Load(); f > 0 && (method == http.MethodGet || method == "LIST") {
		// Beside the caller's own, if any: the server takes the highest.
		req.Header.Add("X-Vault-Index", vaultindex.Encode(f))
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("the server's response is larger than %d bytes", maxBody)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// call sends a JSON request and decodes a JSON answer; a status other than
// 2xx is an error carrying the server's messages.
func (u *upstream) call(ctx context.Context, method, path, token string, in any, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	r, err := u.do(ctx, method, path, "", token, http.Header{"Content-Type": {"application/json"}}, body)
	if err != nil {
		return err
	}
	if r.status/100 != 2 {
		return &serverError{status: r.status, msgs: errorMessages(r.body)}
	}
	if out != nil && len(r.body) > 0 {
		return json.Unmarshal(r.body, out)
	}
	return nil
}

func errorMessages(body []byte) []string {
	var e struct {
		Errors []string `json:"errors"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Errors
}

// authReply is the auth block of a login or renewal.
type authReply struct {
	Auth *struct {
		ClientToken   string `json:"client_token"`
		Accessor      string `json:"accessor"`
		LeaseDuration int64  `json:"lease_duration"`
		Renewable     bool   `json:"renewable"`
	} `json:"auth"`
}
