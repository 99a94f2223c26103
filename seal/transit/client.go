package transit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/arca-secrets/arca/seal"
)

// The calls the seal makes.
const (
	opEncrypt    = "encrypt"
	opDecrypt    = "decrypt"
	opLookupSelf = "lookup-self"
	opRenewSelf  = "renew-self"
)

// maxResponse bounds what the seal reads of an answer.
const maxResponse = 1 << 20

// client speaks the transit and token HTTP API of Vault, OpenBao and Arca.
type client struct {
	base    string // the address, without a trailing slash
	mount   string // the mount path, escaped, without slashes around it
	token   Token
	http    *http.Client
	timeout time.Duration
}

func newClient(conf Config) (*client, error) {
	u, err := url.Parse(conf.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("address must be an http:// or https:// URL, got %q", conf.Address)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		tc, err := tlsConfig(conf.TLS)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	} else if conf.TLS != (TLSConfig{}) {
		return nil, fmt.Errorf("tls_* settings are given but address %q is plain http: the token would cross the network in clear", conf.Address)
	}
	var mount []string
	for _, seg := range strings.Split(strings.Trim(conf.MountPath, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return nil, fmt.Errorf("mount_path %q is not a mount path", conf.MountPath)
		}
		mount = append(mount, url.PathEscape(seg))
	}
	return &client{
		base:  strings.TrimRight(u.String(), "/"),
		mount: strings.Join(mount, "/"),
		token: conf.Token,
		http: &http.Client{
			Transport: tr,
			// The token header would follow a redirect to any host.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout: conf.Timeout,
	}, nil
}

func tlsConfig(conf TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: conf.ServerName, InsecureSkipVerify: conf.SkipVerify}
	if conf.CACert != "" {
		pem, err := os.ReadFile(conf.CACert)
		if err != nil {
			return nil, fmt.Errorf("tls_ca_cert: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca_cert: %s holds no PEM certificate", conf.CACert)
		}
	}
	if (conf.ClientCert == "") != (conf.ClientKey == "") {
		return nil, errors.New("tls_client_cert and tls_client_key go together: set both or neither")
	}
	if conf.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(conf.ClientCert, conf.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("tls_client_cert, tls_client_key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// url is where op goes: the transit engine for encrypt and decrypt with
// key, the token auth method otherwise.
func (c *client) url(op, key string) string {
	if op == opEncrypt || op == opDecrypt {
		return c.base + "/v1/" + c.mount + "/" + op + "/" + url.PathEscape(key)
	}
	return c.base + "/v1/auth/token/" + op
}

// call sends body (none: a GET) to op's URL and returns the answer of a
// 2xx status, or an *Error. The caller may wipe body once call returns.
func (c *client) call(ctx context.Context, op, key string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.url(op, key)
	method, rd := http.MethodGet, io.Reader(nil)
	if body != nil {
		method, rd = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, &Error{Op: op, URL: u, Err: err, kind: seal.ErrUnavailable}
	}
	req.Header.Set("X-Vault-Token", c.token.reveal())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Op: op, URL: u, Err: transportCause(err), kind: seal.ErrUnavailable}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	switch {
	case err != nil:
		return nil, &Error{Op: op, URL: u, Err: transportCause(err), kind: seal.ErrUnavailable}
	case len(b) > maxResponse:
		clear(b)
		return nil, c.malformed(op, key, "larger than 1 MiB")
	case resp.StatusCode/100 == 2:
		return b, nil
	}
	e := &Error{Op: op, URL: u, Status: resp.StatusCode, kind: seal.ErrUnavailable}
	var errs struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(b, &errs) == nil {
		e.Messages = cleanMessages(errs.Errors)
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		e.Messages = cleanMessages([]string{"redirected to " + loc + ": set address to the server that answers"})
	}
	if op == opDecrypt && resp.StatusCode == http.StatusBadRequest {
		// The server read the request and will not decrypt it: the
		// ciphertext is not one of its key's, or the key is gone.
		e.kind = seal.ErrUnwrap
	}
	return nil, e
}

// malformed is the error for a 2xx answer that is not what op returns.
func (c *client) malformed(op, key, what string) error {
	return &Error{Op: op, URL: c.url(op, key), Status: http.StatusOK, Messages: []string{what}, kind: seal.ErrUnavailable}
}

// transportCause drops the *url.Error around a transport error: Error
// names the URL itself.
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// tokenInfo is what the token endpoints say of the token's lifetime.
type tokenInfo struct {
	ttl       time.Duration
	renewable bool
}

// lookupSelf reads the token's remaining TTL.
func (c *client) lookupSelf(ctx context.Context) (tokenInfo, error) {
	b, err := c.call(ctx, opLookupSelf, "", nil)
	if err != nil {
		return tokenInfo{}, err
	}
	var out struct {
		Data *struct {
			TTL       int64 `json:"ttl"`
			Renewable bool  `json:"renewable"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &out) != nil || out.Data == nil {
		return tokenInfo{}, c.malformed(opLookupSelf, "", "no token data")
	}
	return tokenInfo{ttl: time.Duration(out.Data.TTL) * time.Second, renewable: out.Data.Renewable}, nil
}

// renewSelf renews the token for its default increment.
func (c *client) renewSelf(ctx context.Context) (tokenInfo, error) {
	b, err := c.call(ctx, opRenewSelf, "", []byte("{}"))
	if err != nil {
		return tokenInfo{}, err
	}
	var out struct {
		Auth *struct {
			LeaseDuration int64 `json:"lease_duration"`
			Renewable     bool  `json:"renewable"`
		} `json:"auth"`
	}
	if json.Unmarshal(b, &out) != nil || out.Auth == nil {
		return tokenInfo{}, c.malformed(opRenewSelf, "", "no auth data")
	}
	return tokenInfo{ttl: time.Duration(out.Auth.LeaseDuration) * time.Second, renewable: out.Auth.Renewable}, nil
}
