package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const pkcs11Base = "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n"

func TestPKCS11Seal(t *testing.T) {
	slot := uint(3)
	tests := []struct {
		name string
		body string
		want PKCS11Seal
	}{
		{
			name: "token label, defaults",
			body: `lib = "/usr/lib/softhsm/libsofthsm2.so"
token_label = "arca"
pin = "1234"
key_label = "arca-root"`,
			want: PKCS11Seal{Lib: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "arca", PIN: "1234", KeyLabel: "arca-root", Mechanism: "CKM_AES_GCM", RSAOAEPHash: "sha256"},
		},
		{
			name: "slot as a string, hex mechanism, generate_key as a string",
			body: `lib = "/l.so"
slot = "3"
key_label = "k"
mechanism = "0x0009"
rsa_oaep_hash = "SHA1"
generate_key = "true"`,
			want: PKCS11Seal{Lib: "/l.so", Slot: &slot, KeyLabel: "k", Mechanism: "CKM_RSA_PKCS_OAEP", RSAOAEPHash: "sha1", GenerateKey: true},
		},
		{
			name: "slot as a number, decimal mechanism",
			body: "lib = \"/l.so\"\nslot = 3\nkey_label = \"k\"\nmechanism = 4231\ngenerate_key = true",
			want: PKCS11Seal{Lib: "/l.so", Slot: &slot, KeyLabel: "k", Mechanism: "CKM_AES_GCM", RSAOAEPHash: "sha256", GenerateKey: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := Parse("arca.hcl", []byte(pkcs11Base+"seal \"pkcs11\" {\n"+tc.body+"\n}\n"))
			if err != nil {
				t.Fatal(err)
			}
			if conf.Seal.Type != "pkcs11" {
				t.Fatalf("type: got %q, want pkcs11", conf.Seal.Type)
			}
			if diff := cmp.Diff(tc.want, conf.Seal.PKCS11); diff != "" {
				t.Fatalf("block (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPKCS11SealRefusals(t *testing.T) {
	const lib = "lib = \"/l.so\"\n"
	tests := []struct {
		name     string
		body     string
		wantLine int // of the error, counted from the seal line (1)
		wantKey  string
	}{
		{"unknown key", lib + "token_label = \"t\"\nkey_label = \"k\"\nhmac_key_label = \"h\"\n", 5, `seal "pkcs11"`},
		{"no lib", "token_label = \"t\"\nkey_label = \"k\"\n", 1, `seal "pkcs11"`},
		{"no token", lib + "key_label = \"k\"\n", 1, `seal "pkcs11"`},
		{"slot and token label", lib + "slot = 0\ntoken_label = \"t\"\nkey_label = \"k\"\n", 1, `seal "pkcs11"`},
		{"no key label", lib + "token_label = \"t\"\n", 1, `seal "pkcs11"`},
		{"bad slot", lib + "slot = \"first\"\nkey_label = \"k\"\n", 3, `seal "pkcs11": slot`},
		{"unsupported mechanism", lib + "token_label = \"t\"\nkey_label = \"k\"\nmechanism = \"0x1085\"\n", 5, `seal "pkcs11": mechanism`},
		{"bad oaep hash", lib + "token_label = \"t\"\nkey_label = \"k\"\nrsa_oaep_hash = \"md5\"\n", 5, `seal "pkcs11": rsa_oaep_hash`},
		{"pin not a string", lib + "token_label = \"t\"\nkey_label = \"k\"\npin = 1234\n", 5, `seal "pkcs11": pin`},
		{"bad generate_key", lib + "token_label = \"t\"\nkey_label = \"k\"\ngenerate_key = \"sometimes\"\n", 5, `seal "pkcs11": generate_key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("arca.hcl", []byte(pkcs11Base+"seal \"pkcs11\" {\n"+tc.body+"}\n"))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			if line := tc.wantLine + 2; ce.File != "arca.hcl" || ce.Line != line || ce.Key != tc.wantKey {
				t.Fatalf("got %q line %d key %q (%v), want arca.hcl line %d key %q", ce.File, ce.Line, ce.Key, err, line, tc.wantKey)
			}
		})
	}
}

func TestPKCS11SealPINIsNotPrinted(t *testing.T) {
	conf, err := Parse("arca.hcl", []byte(pkcs11Base+"seal \"pkcs11\" {\nlib = \"/l.so\"\ntoken_label = \"t\"\nkey_label = \"k\"\npin = \"s3cr3t-pin\"\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %s", conf.Seal, conf.Seal, conf.Seal.PKCS11, conf.Seal.PKCS11)
	if strings.Contains(out, "s3cr3t-pin") {
		t.Fatalf("the PIN is printed: %s", out)
	}
	// A bad value elsewhere in the block: the error names the key, not the PIN.
	_, err = Parse("arca.hcl", []byte(pkcs11Base+"seal \"pkcs11\" {\nlib = \"/l.so\"\ntoken_label = \"t\"\npin = \"s3cr3t-pin\"\n}\n"))
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pin") {
		t.Fatalf("got %v, want an error without the PIN", err)
	}
}
