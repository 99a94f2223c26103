package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key, and returns their paths.
func writeSelfSigned(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "arca test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// TestTLSListener starts a server with TLS (the default outside dev mode)
// and talks to it with the OpenBao client trusting the certificate.
func TestTLSListener(t *testing.T) {
	p, certPath := startTLSServer(t)
	addr := p.addr
	c := tlsClient(t, addr, certPath)
	st, err := c.Sys().SealStatus()
	if err != nil || st.Initialized {
		t.Fatalf("seal status over TLS: %+v, %v", st, err)
	}
	// Plain HTTP to a TLS listener is refused.
	if code, _ := plainGet(addr); code == 200 {
		t.Fatal("plain HTTP to the TLS listener answered 200")
	}
}

// startTLSServer starts an uninitialised in-memory server with a TLS
// listener (a fresh self-signed certificate) and returns it and the
// certificate that verifies it.
func startTLSServer(t *testing.T) (*proc, string) {
	t.Helper()
	certPath, keyPath := writeSelfSigned(t)
	addr := freeAddr(t)
	conf := filepath.Join(t.TempDir(), "arca.hcl")
	body := fmt.Sprintf("storage \"inmem\" {}\nlistener \"tcp\" {\n  address = %q\n  tls_cert_file = %q\n  tls_key_file = %q\n}\ndisable_mlock = true\n", addr, certPath, keyPath)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, addr: addr, done: make(chan struct{})}
	startTLS(t, p, conf, certPath)
	return p, certPath
}

func tlsClient(t *testing.T, addr, caPath string) *api.Client {
	t.Helper()
	conf := api.DefaultConfig()
	conf.Address = "https://" + addr
	conf.MaxRetries = 0
	if err := conf.ConfigureTLS(&api.TLSConfig{CACert: caPath}); err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
