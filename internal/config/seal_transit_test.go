package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const transitOK = "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n"

func TestSealTransit(t *testing.T) {
	src := transitOK + `seal "transit" {
  address         = "https://unsealer.example.com:8200"
  token           = "s.seal-token"
  mount_path      = "transit/"
  key_name        = "arca-unseal"
  tls_ca_cert     = "/etc/arca/unsealer-ca.pem"
  tls_client_cert = "/etc/arca/client.pem"
  tls_client_key  = "/etc/arca/client.key"
  tls_server_name = "unsealer"
  tls_skip_verify = "false"
  disable_renewal = true
}
`
	got, err := Parse("arca.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Seal{Type: "transit", Transit: &SealTransit{
		Address: "https://unsealer.example.com:8200", Token: "s.seal-token", MountPath: "transit/", KeyName: "arca-unseal",
		TLSCACert: "/etc/arca/unsealer-ca.pem", TLSClientCert: "/etc/arca/client.pem", TLSClientKey: "/etc/arca/client.key",
		TLSServerName: "unsealer", DisableRenewal: true,
	}}
	if diff := cmp.Diff(want, got.Seal); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestSealTransitBadForms(t *testing.T) {
	const label = `seal "transit"`
	tests := []struct {
		name     string
		body     string
		wantLine int
		wantKey  string
		wantMsg  string
	}{
		{"unknown key", "address = \"http://u:8200\"\nkey_name = \"k\"\nregion = \"x\"\n", 6, label, `unknown key "region"`},
		{"no address", "key_name = \"k\"\n", 3, label + ": address", "is required"},
		{"address not a URL", "key_name = \"k\"\naddress = \"u:8200\"\n", 5, label + ": address", `got "u:8200"`},
		{"no key name", "address = \"http://u:8200\"\n", 3, label + ": key_name", "is required"},
		{"token not a string", "address = \"http://u:8200\"\nkey_name = \"k\"\ntoken = 3\n", 6, label + ": token", "must be a string"},
		{"bad bool", "address = \"http://u:8200\"\nkey_name = \"k\"\ntls_skip_verify = \"maybe\"\n", 6, label + ": tls_skip_verify", "must be true or false"},
		{"client cert alone", "address = \"https://u:8200\"\nkey_name = \"k\"\ntls_client_cert = \"/c.pem\"\n", 3, label, "set both or neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("arca.hcl", []byte(transitOK+"seal \"transit\" {\n"+tc.body+"}\n"))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			if ce.Line != tc.wantLine || ce.Key != tc.wantKey || !strings.Contains(ce.Msg, tc.wantMsg) {
				t.Fatalf("got line %d key %q msg %q, want line %d key %q msg containing %q", ce.Line, ce.Key, ce.Msg, tc.wantLine, tc.wantKey, tc.wantMsg)
			}
		})
	}
}
