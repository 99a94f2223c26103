package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/certtest"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/transit"
)

// TestTransitSealOverTLS reaches a TLS unsealer: trusted through
// tls_ca_cert, refused without it or under another name, and accepted
// unverified only with tls_skip_verify.
func TestTransitSealOverTLS(t *testing.T) {
	ctx := context.Background()
	p, root, caPath := startInitializedTLS(t)
	tok := transitUnsealer(t, root)
	open := func(tc transit.TLSConfig) *transit.Seal {
		t.Helper()
		s, err := transit.New(t.Context(), transit.Config{Address: "https://" + p.addr, Token: transit.NewToken(tok), KeyName: sealKeyName, TLS: tc})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	rootKey := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name string
		tls  transit.TLSConfig
		says string // "" when it works
	}{
		{"trusted CA", transit.TLSConfig{CACert: caPath}, ""},
		{"trusted CA, the certificate's name", transit.TLSConfig{CACert: caPath, ServerName: "127.0.0.1"}, ""},
		{"no CA", transit.TLSConfig{}, "certificate"},
		{"another name", transit.TLSConfig{CACert: caPath, ServerName: "unsealer.example.com"}, "certificate"},
		{"skip verify", transit.TLSConfig{SkipVerify: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(tc.tls)
			w, _, err := s.Wrap(ctx, rootKey, seal.Split{})
			if tc.says != "" {
				checkSealErr(t, tc.name, err, seal.ErrUnavailable, tc.says, tok, rootKey)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.Unwrap(ctx, w, nil); err != nil || !bytes.Equal(got, rootKey) {
				t.Fatalf("Unwrap: got err %v, want the root key", err)
			}
		})
	}
}

// TestTransitSealPresentsItsClientCertificate checks tls_client_cert and
// tls_client_key against a TLS endpoint that requires a client
// certificate (Arca's listener asks for one but does not require it).
func TestTransitSealPresentsItsClientCertificate(t *testing.T) {
	ca := certtest.NewCA(t, "clients")
	cert, key := ca.Client(t, "arca-node", nil)
	certPath, keyPath := certtest.WriteFiles(t, t.TempDir(), "node", cert, key)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		http.Error(w, `{"errors":["sealed"]}`, http.StatusServiceUnavailable)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caPath := writePEM(t, srv.Certificate().Raw)

	for _, withCert := range []bool{false, true} {
		conf := transit.Config{Address: srv.URL, Token: transit.NewToken("t"), KeyName: "k", DisableRenewal: true, TLS: transit.TLSConfig{CACert: caPath}}
		if withCert {
			conf.TLS.ClientCert, conf.TLS.ClientKey = certPath, keyPath
		}
		s, err := transit.New(t.Context(), conf)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Health(t.Context())
		s.Close()
		var te *transit.Error
		if !errors.Is(err, seal.ErrUnavailable) || !errors.As(err, &te) {
			t.Fatalf("client certificate %v: got %v, want a *transit.Error matching ErrUnavailable", withCert, err)
		}
		if got, want := te.Status, map[bool]int{false: 0, true: http.StatusServiceUnavailable}[withCert]; got != want {
			t.Fatalf("client certificate %v: got status %d (%v), want %d", withCert, got, err, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, ",") != "arca-node" {
		t.Fatalf("the server saw client certificates %v, want arca-node once", seen)
	}
}

// writePEM writes a DER certificate as a PEM file and returns its path.
func writePEM(t *testing.T, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTransitAutoUnsealOverTLS is a node whose seal block reaches a TLS
// unsealer through tls_ca_cert and tls_server_name, token from
// VAULT_TOKEN: it unseals itself after init.
func TestTransitAutoUnsealOverTLS(t *testing.T) {
	p, root, caPath := startInitializedTLS(t)
	tok := transitUnsealer(t, root)
	nAddr := freeAddr(t)
	block := fmt.Sprintf("seal \"transit\" {\n  address = \"https://%s\"\n  key_name = %q\n  tls_ca_cert = %q\n  tls_server_name = \"127.0.0.1\"\n}\n", p.addr, sealKeyName, caPath)
	n := startWithEnv(t, nAddr, writeConfig(t, nAddr, `storage "inmem" {}`, "disable_mlock = true", block), "VAULT_TOKEN="+tok, "ARCA_TOKEN=")
	if _, err := newClient(t, nAddr, "").Sys().Init(&api.InitRequest{}); err != nil {
		t.Fatal(err)
	}
	waitSealState(t, n, false)
}
