package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExampleFile(t *testing.T) {
	got, err := ParseFile(filepath.Join("testdata", "example.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Storage:   Storage{Type: "bolt", Path: "/var/lib/arca/arca.db"},
		Seal:      Seal{Type: "shamir"},
		Listeners: []Listener{{Type: "tcp", Address: "0.0.0.0:8200", TLSCertFile: "/etc/arca/tls.crt", TLSKeyFile: "/etc/arca/tls.key"}},
		APIAddr:   "https://arca.example.com:8200",
		LogLevel:  "warn",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("config mismatch (-want +got):\n%s", diff)
	}
}

func TestValidForms(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want *Config
	}{
		{
			name: "inmem with defaults",
			src:  "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n",
			want: &Config{Storage: Storage{Type: "inmem"}, Seal: Seal{Type: "shamir"}, Listeners: []Listener{{Type: "tcp", Address: "127.0.0.1:8200", TLSDisable: true}}, LogLevel: "info"},
		},
		{
			name: "shamir seal written out",
			src:  "storage \"inmem\" {}\nseal \"shamir\" {\n}\nlistener \"tcp\" { tls_disable = true }\n",
			want: &Config{Storage: Storage{Type: "inmem"}, Seal: Seal{Type: "shamir"}, Listeners: []Listener{{Type: "tcp", Address: "127.0.0.1:8200", TLSDisable: true}}, LogLevel: "info"},
		},
		{
			name: "booleans as strings and numbers",
			src:  "storage \"inmem\" {}\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = \"true\"\n}\nlistener \"tcp\" {\n address = \"127.0.0.1:2\"\n tls_disable = 1\n}\ndisable_mlock = \"true\"\n",
			want: &Config{Storage: Storage{Type: "inmem"}, Seal: Seal{Type: "shamir"}, Listeners: []Listener{{Type: "tcp", Address: "127.0.0.1:1", TLSDisable: true}, {Type: "tcp", Address: "127.0.0.1:2", TLSDisable: true}}, DisableMlock: true, LogLevel: "info"},
		},
		{
			name: "raft cluster node",
			src: "storage \"raft\" {\n path = \"/d\"\n node_id = \"n2\"\n performance_multiplier = 3\n" +
				" retry_join {\n  leader_api_addr = \"https://n1:8200\"\n  leader_ca_cert_file = \"/ca.pem\"\n }\n" +
				" retry_join {\n  leader_api_addr = \"http://n3:8200\"\n  leader_client_cert_file = \"/c.pem\"\n  leader_client_key_file = \"/k.pem\"\n }\n}\n" +
				"listener \"tcp\" {\n tls_disable = true\n cluster_address = \"0.0.0.0:8201\"\n}\ncluster_addr = \"https://n2:8201\"\n",
			want: &Config{
				Storage: Storage{Type: "raft", Path: "/d", NodeID: "n2", PerformanceMultiplier: 3, RetryJoin: []RetryJoin{
					{LeaderAPIAddr: "https://n1:8200", LeaderCACertFile: "/ca.pem"},
					{LeaderAPIAddr: "http://n3:8200", LeaderClientCertFile: "/c.pem", LeaderClientKeyFile: "/k.pem"},
				}},
				Seal: Seal{Type: "shamir"}, Listeners: []Listener{{Type: "tcp", Address: "127.0.0.1:8200", TLSDisable: true, ClusterAddress: "0.0.0.0:8201"}},
				ClusterAddr: "https://n2:8201", LogLevel: "info",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("arca.hcl", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadForms(t *testing.T) {
	const ok = "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n"
	tests := []struct {
		name     string
		src      string
		wantLine int
		wantKey  string
	}{
		{"unknown top-level key", ok + "ui = true\n", 3, "ui"},
		{"unknown listener key", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = true\n  tls_cert = \"x\"\n}\n", 4, "listener \"tcp\""},
		{"unknown storage key", "storage \"bolt\" {\n path = \"/x\"\n size = 3\n}\nlistener \"tcp\" { tls_disable = true }\n", 3, "storage \"bolt\""},
		{"unknown storage type", "storage \"etcd\" {}\nlistener \"tcp\" { tls_disable = true }\n", 1, "storage"},
		{"two storage blocks", ok + "storage \"inmem\" {}\n", 3, "storage"},
		{"bolt without path", "storage \"bolt\" {}\nlistener \"tcp\" { tls_disable = true }\n", 1, "storage \"bolt\""},
		{"tls without files", "storage \"inmem\" {}\nlistener \"tcp\" {}\n", 2, "listener \"tcp\""},
		{"bad address", "storage \"inmem\" {}\nlistener \"tcp\" {\n tls_disable = true\n address = \"nope\"\n}\n", 4, "listener \"tcp\": address"},
		{"unknown listener type", "storage \"inmem\" {}\nlistener \"udp\" {}\n", 2, "listener"},
		{"bad log level", ok + "log_level = \"loud\"\n", 3, "log_level"},
		{"log level not a string", ok + "log_level = 3\n", 3, "log_level"},
		{"bad bool", ok + "disable_mlock = \"maybe\"\n", 3, "disable_mlock"},
		{"api_addr not a url", ok + "api_addr = \"arca:8200\"\n", 3, "api_addr"},
		{"syntax error", ok + "log_level = \"info\" }\n", 3, ""},
		{"no storage", "listener \"tcp\" { tls_disable = true }\n", 0, "storage"},
		{"unknown seal type", ok + "seal \"awskms\" {\n region = \"x\"\n}\n", 3, "seal"},
		{"pkcs11 seal without settings", ok + "\nseal \"pkcs11\" {}\n", 4, "seal \"pkcs11\""},
		{"key in the shamir seal", ok + "seal \"shamir\" {\n secret_shares = 5\n}\n", 4, "seal \"shamir\""},
		{"two seal blocks", ok + "seal \"shamir\" {}\nseal \"shamir\" {}\n", 4, "seal"},
		{"two enabled seals", ok + "seal \"shamir\" {}\nseal \"transit\" {\n address = \"https://x:8200\"\n token = \"t\"\n key_name = \"k\"\n}\n", 4, "seal"},
		{"two disabled seals", ok + "seal \"shamir\" {\n disabled = \"true\"\n}\nseal \"shamir\" {}\nseal \"transit\" {\n disabled = true\n address = \"https://x:8200\"\n token = \"t\"\n key_name = \"k\"\n}\n", 7, "seal"},
		{"only a disabled seal", ok + "seal \"shamir\" {\n disabled = \"true\"\n}\n", 3, "seal"},
		{"disabled and enabled of one type", ok + "seal \"shamir\" {}\nseal \"shamir\" {\n disabled = \"true\"\n}\n", 4, "seal"},
		{"disabled not a bool", ok + "seal \"shamir\" {}\nseal \"pkcs11\" {\n disabled = \"maybe\"\n}\n", 5, "seal \"pkcs11\": disabled"},
		{"seal without a type", ok + "seal {}\n", 3, "seal"},
		{"seal as a value", ok + "seal = \"shamir\"\n", 3, "seal"},
		{"retry_join without a leader", raftWith(" retry_join {\n  leader_ca_cert_file = \"/x\"\n }\n"), 4, "storage \"raft\": retry_join"},
		{"retry_join leader not a url", raftWith(" retry_join {\n  leader_api_addr = \"n1:8200\"\n }\n"), 4, "storage \"raft\": retry_join"},
		{"retry_join unknown key", raftWith(" retry_join {\n  leader_api_addr = \"http://n1:8200\"\n  auto_join = \"x\"\n }\n"), 6, "storage \"raft\": retry_join"},
		{"retry_join half a client cert", raftWith(" retry_join {\n  leader_api_addr = \"http://n1:8200\"\n  leader_client_cert_file = \"/c\"\n }\n"), 4, "storage \"raft\": retry_join"},
		{"retry_join as a value", raftWith(" retry_join = \"http://n1:8200\"\n"), 4, "storage \"raft\": retry_join"},
		{"performance_multiplier zero", raftWith(" performance_multiplier = 0\n"), 4, "storage \"raft\": performance_multiplier"},
		{"bad cluster_address", "storage \"inmem\" {}\nlistener \"tcp\" {\n tls_disable = true\n cluster_address = \"nope\"\n}\n", 4, "listener \"tcp\": cluster_address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("arca.hcl", []byte(tc.src))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			if ce.File != "arca.hcl" || ce.Line != tc.wantLine || ce.Key != tc.wantKey {
				t.Fatalf("got file %q line %d key %q (%v), want arca.hcl line %d key %q", ce.File, ce.Line, ce.Key, err, tc.wantLine, tc.wantKey)
			}
			if !strings.Contains(err.Error(), "arca.hcl") {
				t.Fatalf("message %q does not name the file", err)
			}
		})
	}
}

// raftWith is a raft storage block with extra lines (from line 4), a
// listener and a cluster_addr.
func raftWith(extra string) string {
	return "storage \"raft\" {\n path = \"/d\"\n node_id = \"n\"\n" + extra + "}\nlistener \"tcp\" { tls_disable = true }\ncluster_addr = \"https://127.0.0.1:8201\"\n"
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := Parse("arca.hcl", []byte("storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\nfoo = 1\nbar = 2\n"))
	for _, want := range []string{"arca.hcl:3: foo", "arca.hcl:4: bar"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	}
}

func TestUnknownSealMessage(t *testing.T) {
	_, err := Parse("arca.hcl", []byte("storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\nseal \"hsm\" {}\n"))
	const want = `arca.hcl:3: seal: unknown seal type "hsm" (supported: shamir, pkcs11, transit)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "none.hcl"))
	if err == nil || !strings.Contains(err.Error(), "none.hcl") {
		t.Fatalf("got %v, want an error naming the file", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n"))
	f.Add([]byte("storage \"bolt\" { path = \"/x\" }\nlistener \"tcp\" { address = \"1.2.3.4:1\" tls_cert_file = \"a\" tls_key_file = \"b\" }\napi_addr = \"https://x\"\n"))
	f.Add([]byte("a = [1, {b = 2}]\nstorage { }\n"))
	f.Add([]byte("storage \"inmem\" {}\nseal \"shamir\" {}\nlistener \"tcp\" { tls_disable = true }\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		conf, err := Parse("fuzz.hcl", src)
		if err == nil && (conf.Storage.Type == "" || len(conf.Listeners) == 0) {
			t.Fatalf("accepted a config without storage or listener: %+v", conf)
		}
		if err == nil && conf.Seal.Type != "shamir" && conf.Seal.Type != "pkcs11" && (conf.Seal.Type != "transit" || conf.Seal.Transit == nil || conf.Seal.Transit.KeyName == "") {
			t.Fatalf("accepted seal type %q", conf.Seal.Type)
		}
	})
}
