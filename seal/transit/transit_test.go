package transit

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTokenIsRedacted(t *testing.T) {
	const secret = "hvs.do-not-print-me"
	tok := NewToken(secret)
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "token", tok)
	j, err := json.Marshal(struct{ T Token }{tok})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q", tok, tok, tok, tok, tok), logged.String(), string(j), fmt.Sprintf("%+v", Config{Token: tok})} {
		if strings.Contains(s, secret) {
			t.Fatalf("the token shows in %q", s)
		}
	}
	if tok.reveal() != secret || tok.IsZero() || !NewToken("").IsZero() {
		t.Fatal("the token does not keep its value")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{Address: "https://127.0.0.1:8200", Token: NewToken("t"), KeyName: "k"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no key name", func(c *Config) { c.KeyName = "" }, "key_name is required"},
		{"no token", func(c *Config) { c.Token = Token{} }, "no token"},
		{"no address", func(c *Config) { c.Address = "" }, "address must be an http:// or https:// URL"},
		{"not a URL", func(c *Config) { c.Address = "127.0.0.1:8200" }, "address must be an http:// or https:// URL"},
		{"tls over http", func(c *Config) { c.Address = "http://127.0.0.1:8200"; c.TLS.SkipVerify = true }, "plain http"},
		{"missing CA file", func(c *Config) { c.TLS.CACert = "/nonexistent/ca.pem" }, "tls_ca_cert"},
		{"client cert without key", func(c *Config) { c.TLS.ClientCert = "/x.pem" }, "set both or neither"},
		{"dot mount", func(c *Config) { c.MountPath = "a/../b" }, "not a mount path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := good
			tc.edit(&conf)
			s, err := New(t.Context(), conf)
			if err == nil {
				s.Close()
				t.Fatalf("New accepted %s", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want it to say %q", err, tc.want)
			}
		})
	}
	s, err := New(t.Context(), Config{Address: "http://127.0.0.1:1/", Token: NewToken("t"), KeyName: "k/x", MountPath: "/my transit/", DisableRenewal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.client.url(opDecrypt, s.key), "http://127.0.0.1:1/v1/my%20transit/decrypt/k%2Fx"; got != want {
		t.Fatalf("decrypt URL: got %s, want %s", got, want)
	}
}

// TestCloseStopsTheRenewal starts a seal whose renewer looks its token up
// and then waits 40 minutes to renew: Close must end that wait and
// return only once the renewer has stopped.
func TestCloseStopsTheRenewal(t *testing.T) {
	looked := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/auth/token/lookup-self" {
			http.Error(w, `{"errors":["unexpected"]}`, http.StatusNotFound)
			return
		}
		looked <- r.Header.Get("X-Vault-Token")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":{"ttl":3600,"renewable":true}}`)
	}))
	t.Cleanup(srv.Close)
	s, err := New(t.Context(), Config{Address: srv.URL, Token: NewToken("seal-token"), KeyName: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-looked; got != "seal-token" {
		t.Fatalf("lookup-self sent token %q, want the seal's", got)
	}
	s.Close() // hangs, and the test times out, if the renewer does not stop
}
