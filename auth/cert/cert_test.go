package cert

import (
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/certtest"
	"github.com/arca-secrets/arca/internal/clocktest"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

// client issues a client certificate with a fixed subject key id (the
// login's metadata shows it); edit adjusts the template.
func client(t *testing.T, ca *certtest.CA, cn string, edit func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	c, _ := ca.Client(t, cn, func(tmpl *x509.Certificate) {
		tmpl.SubjectKeyId = []byte{1, 2, 0xab}
		if edit != nil {
			edit(tmpl)
		}
	})
	return c
}

type fixture struct {
	t  *testing.T
	e  *Engine
	st *inmem.Backend
	// clock is the mount's; it starts at the wall time certtest's
	// certificates are valid around, and moves only when told to.
	clock *clocktest.Clock
}

func newFixture(t *testing.T) *fixture {
	clock := clocktest.At(time.Now())
	e, _ := Factory(context.Background(), logical.MountConfig{Now: clock.Now})
	return &fixture{t: t, e: e.(*Engine), st: inmem.New(), clock: clock}
}

func (f *fixture) do(op logical.Operation, path string, data map[string]any, chain ...*x509.Certificate) (*logical.Response, error) {
	if data == nil {
		data = map[string]any{}
	}
	return f.e.HandleRequest(context.Background(), &logical.Request{Operation: op, Path: path, Data: data, Storage: f.st, ClientCertificates: chain, ClientAddr: "127.0.0.1"})
}

func (f *fixture) mustWrite(path string, data map[string]any) {
	f.t.Helper()
	if _, err := f.do(logical.UpdateOperation, path, data); err != nil {
		f.t.Fatalf("write %s: %v", path, err)
	}
}

func (f *fixture) login(data map[string]any, chain ...*x509.Certificate) (*logical.Auth, error) {
	resp, err := f.do(logical.UpdateOperation, "login", data, chain...)
	if err != nil {
		return nil, err
	}
	return resp.Auth, nil
}

func TestLoginTrustsOnlyItsCA(t *testing.T) {
	f := newFixture(t)
	ca, other := certtest.NewCA(t, "apps CA"), certtest.NewCA(t, "other CA")
	f.mustWrite("certs/apps", map[string]any{"certificate": ca.PEM, "token_policies": "app", "display_name": "apps"})

	leaf := client(t, ca, "web-1", nil)
	auth, err := f.login(nil, leaf)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(auth.Policies, ",") != "app" || auth.DisplayName != "apps" || auth.Metadata["cert_name"] != "apps" ||
		auth.Metadata["common_name"] != "web-1" || auth.Metadata["subject_key_id"] != "01:02:ab" {
		t.Fatalf("login auth: %+v", auth)
	}

	// A certificate from another CA, with the same name, is refused and
	// the refusal says which certificate was seen.
	_, err = f.login(nil, client(t, other, "web-1", nil))
	if !errors.Is(err, logical.ErrPermissionDenied) || !strings.Contains(err.Error(), `issuer "CN=other CA"`) {
		t.Fatalf("foreign CA: %v", err)
	}
	// No certificate at all.
	if _, err := f.login(nil); !errors.Is(err, logical.ErrInvalidRequest) || !strings.Contains(err.Error(), "no client certificate") {
		t.Fatalf("no certificate: %v", err)
	}
	// Expired, and a server-only certificate.
	expired := client(t, ca, "web-1", func(c *x509.Certificate) { c.NotAfter = f.clock.Now().Add(-time.Minute) })
	serverOnly := client(t, ca, "web-1", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
	for name, c := range map[string]*x509.Certificate{"expired": expired, "server-only": serverOnly} {
		if _, err := f.login(nil, c); !errors.Is(err, logical.ErrPermissionDenied) {
			t.Fatalf("%s certificate: %v", name, err)
		}
	}
	// The CA's own certificate (holding no client key usage) is no login.
	if _, err := f.login(nil, other.Cert); err == nil {
		t.Fatal("another CA's certificate logged in")
	}
}

func TestNameConstraints(t *testing.T) {
	f := newFixture(t)
	ca := certtest.NewCA(t, "CA")
	f.mustWrite("certs/web", map[string]any{
		"certificate": ca.PEM, "token_policies": "web",
		"allowed_common_names": "web-*", "allowed_dns_sans": []any{"*.web.internal"},
		"allowed_organizational_units": "platform", "allowed_uri_sans": "spiffe://corp/web/*",
	})
	good := func(c *x509.Certificate) {
		c.DNSNames = []string{"a.web.internal"}
		c.Subject.OrganizationalUnit = []string{"platform"}
		u, _ := url.Parse("spiffe://corp/web/a")
		c.URIs = []*url.URL{u}
	}
	if _, err := f.login(nil, client(t, ca, "web-1", good)); err != nil {
		t.Fatalf("matching certificate: %v", err)
	}
	for name, edit := range map[string]func(*x509.Certificate){
		"common name": func(c *x509.Certificate) { good(c); c.Subject.CommonName = "db-1" },
		"dns san":     func(c *x509.Certificate) { good(c); c.DNSNames = []string{"a.db.internal"} },
		"ou":          func(c *x509.Certificate) { good(c); c.Subject.OrganizationalUnit = []string{"data"} },
		"uri san":     func(c *x509.Certificate) { good(c); u, _ := url.Parse("spiffe://corp/db/a"); c.URIs = []*url.URL{u} },
	} {
		if _, err := f.login(nil, client(t, ca, "web-1", edit)); !errors.Is(err, logical.ErrPermissionDenied) {
			t.Errorf("%s outside the constraint: %v", name, err)
		}
	}
}

func TestAmbiguityAndName(t *testing.T) {
	f := newFixture(t)
	ca := certtest.NewCA(t, "CA")
	f.mustWrite("certs/a", map[string]any{"certificate": ca.PEM, "token_policies": "pa"})
	f.mustWrite("certs/b", map[string]any{"certificate": ca.PEM, "token_policies": "pb"})
	leaf := client(t, ca, "x", nil)
	if _, err := f.login(nil, leaf); !errors.Is(err, logical.ErrPermissionDenied) || !strings.Contains(err.Error(), "a, b") {
		t.Fatalf("two entries trust it, no name: %v", err)
	}
	auth, err := f.login(map[string]any{"name": "b"}, leaf)
	if err != nil || strings.Join(auth.Policies, ",") != "pb" {
		t.Fatalf("login with name b: %+v, %v", auth, err)
	}
	if _, err := f.login(map[string]any{"name": "missing"}, leaf); !errors.Is(err, logical.ErrPermissionDenied) {
		t.Fatalf("unknown name: %v", err)
	}
	if _, err := f.login(map[string]any{"name": "../a"}, leaf); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("bad name: %v", err)
	}
}

func TestBadEntries(t *testing.T) {
	f := newFixture(t)
	ca := certtest.NewCA(t, "CA")
	keyPEM := "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END EC PRIVATE KEY-----\n"
	for name, c := range map[string]struct {
		data map[string]any
		want string
	}{
		"no certificate":      {map[string]any{"token_policies": "x"}, "certificate is required"},
		"private key":         {map[string]any{"certificate": keyPEM}, `type "EC PRIVATE KEY"`},
		"not pem":             {map[string]any{"certificate": "hello"}, "at least one PEM"},
		"trailing junk":       {map[string]any{"certificate": ca.PEM + "junk"}, "trailing data"},
		"required extensions": {map[string]any{"certificate": ca.PEM, "required_extensions": "1.2.3:x"}, "required_extensions is not supported"},
		"bad list":            {map[string]any{"certificate": ca.PEM, "allowed_common_names": 7}, "allowed_common_names"},
	} {
		_, err := f.do(logical.UpdateOperation, "certs/e", c.data)
		if !errors.Is(err, logical.ErrInvalidRequest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an invalid-request error with %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("%s: the error echoes the key: %v", name, err)
		}
	}
	if resp, _ := f.do(logical.ReadOperation, "certs/e", nil); resp != nil {
		t.Fatal("a refused entry was stored")
	}
	// Defaults that clients send for those options are accepted.
	if _, err := f.do(logical.UpdateOperation, "certs/e", map[string]any{"certificate": ca.PEM, "required_extensions": []any{}, "ocsp_enabled": false}); err != nil {
		t.Fatalf("empty required_extensions and ocsp_enabled=false: %v", err)
	}
	resp, err := f.do(logical.UpdateOperation, "certs/e", map[string]any{"certificate": ca.PEM, "bogus": 1})
	if err != nil || resp == nil || !strings.Contains(strings.Join(resp.Warnings, " "), "bogus") {
		t.Fatalf("unknown parameter: want a warning, got %+v, %v", resp, err)
	}
}

func TestEntryReadListDelete(t *testing.T) {
	f := newFixture(t)
	ca := certtest.NewCA(t, "CA")
	f.mustWrite("certs/web", map[string]any{"certificate": ca.PEM, "token_policies": "web", "token_ttl": "30m", "allowed_common_names": "web-*"})
	// An update keeps what it does not name.
	f.mustWrite("certs/web", map[string]any{"display_name": "Web"})
	resp, err := f.do(logical.ReadOperation, "certs/web", nil)
	if err != nil || resp.Data["certificate"] != ca.PEM || resp.Data["display_name"] != "Web" ||
		strings.Join(resp.Data["allowed_common_names"].([]string), ",") != "web-*" || resp.Data["token_ttl"] != int64(1800) {
		t.Fatalf("read: %+v, %v", resp, err)
	}
	list, err := f.do(logical.ListOperation, "certs/", nil)
	if err != nil || strings.Join(list.Data["keys"].([]string), ",") != "web" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if _, err := f.do(logical.DeleteOperation, "certs/web", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(nil, client(t, ca, "web-1", nil)); !errors.Is(err, logical.ErrPermissionDenied) {
		t.Fatalf("login after delete: %v", err)
	}
}

func TestRenewal(t *testing.T) {
	f := newFixture(t)
	ca, other := certtest.NewCA(t, "CA"), certtest.NewCA(t, "CA 2")
	f.mustWrite("certs/web", map[string]any{"certificate": ca.PEM, "token_policies": "web", "token_ttl": "10m"})
	auth, err := f.login(nil, client(t, ca, "web-1", nil))
	if err != nil {
		t.Fatal(err)
	}
	renew := func() error {
		_, err := f.e.RenewAuth(context.Background(), &logical.Request{Storage: f.st}, auth)
		return err
	}
	f.mustWrite("certs/web", map[string]any{"token_ttl": "20m"})
	if got, err := f.e.RenewAuth(context.Background(), &logical.Request{Storage: f.st}, auth); err != nil || got.TTL != 20*time.Minute {
		t.Fatalf("renewal takes the entry's current TTL: %+v, %v", got, err)
	}
	f.mustWrite("certs/web", map[string]any{"certificate": other.PEM})
	if err := renew(); !errors.Is(err, logical.ErrPermissionDenied) || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("renewal after the CA was replaced: %v", err)
	}
	if _, err := f.do(logical.DeleteOperation, "certs/web", nil); err != nil {
		t.Fatal(err)
	}
	if err := renew(); !errors.Is(err, logical.ErrPermissionDenied) || !strings.Contains(err.Error(), "no longer exists") {
		t.Fatalf("renewal after delete: %v", err)
	}
}

// A certificate is verified at the mount's clock: the same certificate
// logs in while the clock is inside its validity and not once the clock
// has passed its end.
func TestLoginChecksValidityAtTheMountsClock(t *testing.T) {
	f := newFixture(t)
	ca := certtest.NewCA(t, "CA")
	f.mustWrite("certs/web", map[string]any{"certificate": ca.PEM})
	until := f.clock.Now().Add(10 * time.Minute).Truncate(time.Second)
	leaf := client(t, ca, "web-1", func(c *x509.Certificate) { c.NotAfter = until })
	f.clock.Set(until)
	if _, err := f.login(nil, leaf); err != nil {
		t.Fatalf("login at the certificate's last second: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.login(nil, leaf); !errors.Is(err, logical.ErrPermissionDenied) {
		t.Fatalf("login after the certificate expired: got %v, want permission denied", err)
	}
}

// A token from a certificate login renews while the certificate is
// valid and not after it has expired, by the mount's clock.
func TestRenewalRefusedOnceTheClientCertificateExpires(t *testing.T) {
	f := newFixture(t)
	ca := certtest.NewCA(t, "CA")
	f.mustWrite("certs/web", map[string]any{"certificate": ca.PEM, "token_ttl": "5m"})
	until := f.clock.Now().Add(10 * time.Minute).Truncate(time.Second)
	auth, err := f.login(nil, client(t, ca, "web-1", func(c *x509.Certificate) { c.NotAfter = until }))
	if err != nil {
		t.Fatal(err)
	}
	renew := func() error {
		_, err := f.e.RenewAuth(context.Background(), &logical.Request{Storage: f.st}, auth)
		return err
	}
	f.clock.Set(until.Add(-time.Second))
	if err := renew(); err != nil {
		t.Fatalf("renewal a second before the certificate expires: %v", err)
	}
	f.clock.Set(until)
	if err := renew(); !errors.Is(err, logical.ErrPermissionDenied) {
		t.Fatalf("renewal once the certificate has expired: got %v, want permission denied", err)
	}
}
