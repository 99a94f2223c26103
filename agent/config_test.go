package agent

import (
	"strings"
	"testing"
)

const listenerLine = `listener "unix" { address = "/run/arca/agent.sock" }`

func TestAutoAuthMethods(t *testing.T) {
	c, err := ParseConfig(`arca { address = "https://arca:8200"  client_cert = "/etc/h.pem"  client_key = "/etc/h.key" }
auto_auth { method "cert" { config = { name = "hosts" } } }
` + listenerLine)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.AutoAuth; a.Method != "cert" || a.Mount != "auth/cert" || a.CertName != "hosts" || a.ClientCert != "/etc/h.pem" || a.ClientKey != "/etc/h.key" {
		t.Fatalf("cert with the arca block's certificate: %+v", a)
	}
	c, err = ParseConfig(`vault { address = "https://arca:8200" }
auto_auth { method "cert" {
  mount_path = "auth/hosts-cert"
  config = { client_cert = "/a.pem"  client_key = "/a.key" }
} }
` + listenerLine)
	if err != nil || c.AutoAuth.Mount != "auth/hosts-cert" || c.AutoAuth.ClientCert != "/a.pem" {
		t.Fatalf("cert with its own certificate and mount: %+v, %v", c, err)
	}
	c, err = ParseConfig(`arca { address = "http://127.0.0.1:8200" }
auto_auth { method "approle" { config = { role_id_file_path = "/r" } } }
` + listenerLine)
	if err != nil || c.AutoAuth.Method != "approle" || c.AutoAuth.Mount != "auth/approle" || !c.AutoAuth.RemoveSecretFile {
		t.Fatalf("approle defaults: %+v, %v", c, err)
	}
}

func TestAutoAuthErrors(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"cert over http": {`arca { address = "http://arca:8200" }
auto_auth { method "cert" { config = { client_cert = "/a"  client_key = "/b" } } }`, "needs an https://"},
		"cert without a certificate": {`arca { address = "https://arca:8200" }
auto_auth { method "cert" {} }`, "needs config.client_cert and config.client_key"},
		"unknown method": {`arca { address = "https://arca:8200" }
auto_auth { method "kubernetes" {} }`, `"approle" and "cert" are supported`},
		"two methods": {`arca { address = "https://arca:8200" }
auto_auth {
  method "approle" { config = { role_id_file_path = "/r" } }
  method "cert" { config = { client_cert = "/a"  client_key = "/b" } }
}`, "only one method"},
		"no method":        {`arca { address = "https://arca:8200" }`, "a method is required"},
		"approle, no file": {`arca { address = "https://arca:8200" }` + "\n" + `auto_auth { method "approle" {} }`, "needs config.role_id_file_path"},
		"cert, bad key": {`arca { address = "https://arca:8200" }
auto_auth { method "cert" { config = { client_cert = "/a"  client_key = "/b"  role_id_file_path = "/r" } } }`, `unknown key "role_id_file_path"`},
	} {
		_, err := ParseConfig(c.text + "\n" + listenerLine)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}

// A TCP listener never lends the agent's token: asking it to is an error
// at load, and one on a non-loopback address is refused.
func TestTCPListenerConfig(t *testing.T) {
	const head = `arca { address = "http://127.0.0.1:8200" }
auto_auth { method "approle" { config = { role_id_file_path = "/r" } } }
`
	c, err := ParseConfig(head + `listener "tcp" { address = "127.0.0.1:8100" }`)
	if err != nil || len(c.Listeners) != 1 || c.Listeners[0].Type != "tcp" {
		t.Fatalf("a loopback TCP listener: %+v, %v", c, err)
	}
	for name, tc := range map[string]struct{ text, want string }{
		"lending the agent's token": {`listener "tcp" {
  address = "127.0.0.1:8100"
  use_auto_auth_token = true
}`, "use_auto_auth_token is not supported: the agent lends its own token to no caller"},
		"not loopback": {`listener "tcp" { address = "0.0.0.0:8100" }`, "must be a loopback host:port"},
	} {
		if _, err := ParseConfig(head + tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, tc.want)
		}
	}
}
