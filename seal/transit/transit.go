// Package transit is a seal that protects the root key with a key of
// another server's transit secrets engine: another Arca, or Vault or
// OpenBao, over the transit HTTP API their own transit seals use. Wrap
// sends the root key to {mount}/encrypt/{key} and keeps the ciphertext it
// gets back (vault:vN:...); Unwrap sends that ciphertext to
// {mount}/decrypt/{key}. The root key never leaves this process in any
// other form, and the transit key never leaves the other server.
//
// A server with this seal unseals by itself whenever the transit server
// answers. The seal's token is renewed in the background while it is
// renewable.
package transit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/arca-secrets/arca/seal"
)

// healthPlaintext is what Health encrypts: a fixed value, so that the
// check costs one small call and carries nothing secret.
var healthPlaintext = []byte("arca transit seal health check")

// Config is what the transit seal needs. Address, Token and KeyName are
// required.
type Config struct {
	// Address is the transit server's URL, such as https://unsealer:8200.
	Address string
	// Token authenticates to the transit server. It needs update on
	// MountPath/encrypt/KeyName and MountPath/decrypt/KeyName.
	Token Token
	// MountPath is where the transit engine is mounted; default "transit".
	MountPath string
	// KeyName is the transit key that wraps the root key.
	KeyName string
	// TLS configures https connections to the transit server.
	TLS TLSConfig
	// DisableRenewal stops the seal from renewing its token. By default a
	// renewable token is renewed at about two thirds of its TTL.
	DisableRenewal bool
	// Timeout bounds each call to the transit server; default 30s.
	Timeout time.Duration
	// Logger receives renewal failures; default: discarded.
	Logger *slog.Logger
}

// TLSConfig is how the seal checks the transit server and proves itself.
// Files are PEM; all are read once, by New.
type TLSConfig struct {
	// CACert is the CA that signed the server's certificate; default:
	// the system's roots.
	CACert string
	// ClientCert and ClientKey are a client certificate, both or neither.
	ClientCert, ClientKey string
	// ServerName is the name expected in the server's certificate;
	// default: the host of Address.
	ServerName string
	// SkipVerify accepts any server certificate. Never in production.
	SkipVerify bool
}

// Seal is the transit seal. Close stops its token renewal.
type Seal struct {
	client *client
	key    string

	stop     context.CancelFunc
	renewing sync.WaitGroup
}

var (
	_ seal.Seal = (*Seal)(nil)
	_ io.Closer = (*Seal)(nil)
)

// New checks conf, reads its TLS files and, unless DisableRenewal, starts
// renewing the token in the background until ctx ends or Close is called.
// It does not call the transit server itself: a server must be able to
// start, sealed, while the transit server is down.
func New(ctx context.Context, conf Config) (*Seal, error) {
	if conf.KeyName == "" {
		return nil, errors.New("key_name is required")
	}
	if conf.Token.IsZero() {
		return nil, errors.New("no token: set token in the seal block, or ARCA_TOKEN or VAULT_TOKEN in the server's environment")
	}
	if conf.MountPath == "" {
		conf.MountPath = "transit"
	}
	if conf.Timeout <= 0 {
		conf.Timeout = 30 * time.Second
	}
	log := conf.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := newClient(conf)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	s := &Seal{client: c, key: conf.KeyName, stop: stop}
	if !conf.DisableRenewal {
		r := &renewer{lookup: c.lookupSelf, renew: c.renewSelf, log: log.With("seal", "transit")}
		s.renewing.Go(func() { r.run(ctx) })
	}
	return s, nil
}

// Close stops the token renewal and waits for it to end. It does not
// revoke the token: the next start needs it.
func (s *Seal) Close() error {
	s.stop()
	s.renewing.Wait()
	return nil
}

// Type is "transit".
func (*Seal) Type() string { return "transit" }

// AutoUnseal is true: the transit server holds the key.
func (*Seal) AutoUnseal() bool { return true }

// Health encrypts a fixed value with the key. A transit server that does
// not answer, is sealed or refuses the token gives ErrUnavailable.
func (s *Seal) Health(ctx context.Context) error {
	_, err := s.encrypt(ctx, healthPlaintext)
	return err
}

// Wrap has the transit server encrypt rootKey. It ignores split: this
// seal makes no shares.
func (s *Seal) Wrap(ctx context.Context, rootKey []byte, _ seal.Split) ([]byte, [][]byte, error) {
	ct, err := s.encrypt(ctx, rootKey)
	if err != nil {
		return nil, nil, err
	}
	return encodeBlob(ct), nil, nil
}

// Unwrap has the transit server decrypt wrapped. A blob this seal did not
// make, or one the key does not open (tampered, another key, the key
// deleted), gives ErrUnwrap; a server out of reach gives ErrUnavailable.
// shares must be empty.
func (s *Seal) Unwrap(ctx context.Context, wrapped []byte, shares [][]byte) ([]byte, error) {
	if len(shares) != 0 {
		return nil, fmt.Errorf("%w: the transit seal takes no key shares", seal.ErrUnwrap)
	}
	ct, err := decodeBlob(wrapped)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]string{"ciphertext": ct})
	if err != nil {
		return nil, err
	}
	resp, err := s.client.call(ctx, opDecrypt, s.key, body)
	if err != nil {
		return nil, err
	}
	defer clear(resp)
	var out struct {
		Data struct {
			Plaintext json.RawMessage `json:"plaintext"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, s.client.malformed(opDecrypt, s.key, "not JSON")
	}
	raw := out.Data.Plaintext
	defer clear(raw)
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, s.client.malformed(opDecrypt, s.key, "no plaintext")
	}
	b64 := raw[1 : len(raw)-1]
	root := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Decode(root, b64)
	if err != nil {
		clear(root)
		return nil, s.client.malformed(opDecrypt, s.key, "the plaintext is not base64")
	}
	return root[:n], nil
}

// encrypt returns the transit ciphertext of plaintext. The request body
// holding the plaintext is wiped once sent.
func (s *Seal) encrypt(ctx context.Context, plaintext []byte) (string, error) {
	const pre, post = `{"plaintext":"`, `"}`
	body := make([]byte, len(pre)+base64.StdEncoding.EncodedLen(len(plaintext))+len(post))
	defer clear(body)
	copy(body, pre)
	base64.StdEncoding.Encode(body[len(pre):], plaintext)
	copy(body[len(body)-len(post):], post)
	resp, err := s.client.call(ctx, opEncrypt, s.key, body)
	if err != nil {
		return "", err
	}
	var out struct {
		Data struct {
			Ciphertext string `json:"ciphertext"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return "", s.client.malformed(opEncrypt, s.key, "not JSON")
	}
	if err := checkCiphertext(out.Data.Ciphertext); err != nil {
		return "", s.client.malformed(opEncrypt, s.key, "no ciphertext of the form vault:vN:...")
	}
	return out.Data.Ciphertext, nil
}
