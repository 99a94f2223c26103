package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/openbao/openbao/api/v2"
)

// dumpRounds is how many fresh servers each dump test drives: what lingers
// in a heap depends on the garbage collector's timing, so one clean dump
// proves little. ARCA_DUMP_ROUNDS raises it for a longer run.
func dumpRounds(t *testing.T) int {
	return envCount(t, "ARCA_DUMP_ROUNDS", 3)
}

// dumpServer is a production-mode server (in-memory storage, keys in
// locked pages) initialised with one key share, so the share is the key.
type dumpServer struct {
	p       *proc
	root    *api.Client
	init    *api.InitResponse
	unseal  []byte
	t1, t2  string
	t1c     *api.Client
	addr    string
	churnTo string
}

func startDumpServer(t *testing.T) *dumpServer {
	t.Helper()
	addr := freeAddr(t)
	conf := writeConfig(t, addr, `storage "inmem" {}`)
	p := startArca(t, addr, "-config="+conf)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(p.output())
		}
	})
	c := newClient(t, addr, "")
	init := initAndUnseal(t, c)
	key, err := base64.StdEncoding.DecodeString(init.KeysB64[0])
	if err != nil {
		t.Fatal(err)
	}
	s := &dumpServer{p: p, root: c, init: init, unseal: key, addr: addr}
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().PutPolicy("rw", `path "*" { capabilities = ["create", "read", "update", "delete", "list"] }`); err != nil {
		t.Fatal(err)
	}
	s.t1 = s.token(t)
	s.t2 = s.token(t)
	s.t1c = newClient(t, addr, s.t1)
	if _, err := c.Logical().Write("secret/data/other", map[string]any{"data": map[string]any{"v": randomText("other-")}}); err != nil {
		t.Fatal(err)
	}
	s.churnTo = "secret/data/other"
	return s
}

func (s *dumpServer) token(t *testing.T) string {
	t.Helper()
	tok, err := s.root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"rw"}, NoDefaultPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Auth.ClientToken
}

// churn is 1,000 requests with T2 to another path.
func (s *dumpServer) churn(t *testing.T) {
	t.Helper()
	churn(t, s.addr, s.t2, s.churnTo, 1000)
}

// TestCoreDumpKV: a KV value written and read with T1, then 1,000 reads of
// another path with T2: neither the value nor T1 is in a dump.
func TestCoreDumpKV(t *testing.T) {
	for round := range dumpRounds(t) {
		s := startDumpServer(t)
		value := randomText("kv-value-")
		if _, err := s.t1c.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"password": value}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.t1c.Logical().Read("secret/data/app")
		if err != nil || got == nil {
			t.Fatalf("read: %v", err)
		}
		if got.Data["data"].(map[string]any)["password"] != value {
			t.Fatalf("read back %v", got.Data)
		}
		s.churn(t)
		failOnHits(t, fmt.Sprintf("round %d", round), dumpHits(t, s.p.cmd.Process.Pid, rawSecret("KV value", value), rawSecret("T1", s.t1)))
		s.p.kill()
	}
}

// TestCoreDumpTransit: a plaintext encrypted and a ciphertext decrypted,
// then 1,000 other requests: neither plaintext is in a dump.
func TestCoreDumpTransit(t *testing.T) {
	for round := range dumpRounds(t) {
		s := startDumpServer(t)
		if err := s.root.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.root.Logical().Write("transit/keys/app", nil); err != nil {
			t.Fatal(err)
		}
		encrypted := randomBytes(t, 48)
		if _, err := s.t1c.Logical().Write("transit/encrypt/app", map[string]any{"plaintext": base64.StdEncoding.EncodeToString(encrypted)}); err != nil {
			t.Fatal(err)
		}
		decrypted := randomBytes(t, 48)
		ct, err := s.root.Logical().Write("transit/encrypt/app", map[string]any{"plaintext": base64.StdEncoding.EncodeToString(decrypted)})
		if err != nil {
			t.Fatal(err)
		}
		pt, err := s.t1c.Logical().Write("transit/decrypt/app", map[string]any{"ciphertext": ct.Data["ciphertext"]})
		if err != nil {
			t.Fatal(err)
		}
		if pt.Data["plaintext"] != base64.StdEncoding.EncodeToString(decrypted) {
			t.Fatal("decrypt returned another plaintext")
		}
		s.churn(t)
		failOnHits(t, fmt.Sprintf("round %d", round), dumpHits(t, s.p.cmd.Process.Pid,
			binarySecret("encrypted plaintext", encrypted), binarySecret("decrypted plaintext", decrypted), rawSecret("T1", s.t1)))
		s.p.kill()
	}
}

// TestCoreDumpSealed: after a seal, no unseal key (the single share is the
// key), no root token, no value read before the seal is in a dump.
func TestCoreDumpSealed(t *testing.T) {
	for round := range dumpRounds(t) {
		s := startDumpServer(t)
		value := randomText("kv-value-")
		if _, err := s.t1c.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"password": value}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.t1c.Logical().Read("secret/data/app"); err != nil {
			t.Fatal(err)
		}
		if err := s.root.Sys().Seal(); err != nil {
			t.Fatal(err)
		}
		failOnHits(t, fmt.Sprintf("round %d", round), dumpHits(t, s.p.cmd.Process.Pid,
			binarySecret("unseal key", s.unseal), rawSecret("root token", s.init.RootToken),
			rawSecret("KV value", value), rawSecret("T1", s.t1)))
		s.p.kill()
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCoreDumpDatabase: a PostgreSQL password issued, then 1,000 other
// requests: the password is not in a dump.
func TestCoreDumpDatabase(t *testing.T) {
	for round := range dumpRounds(t) {
		f := newDBFixture(t)
		if _, err := f.root.Logical().Write("secret/data/other", map[string]any{"data": map[string]any{"v": randomText("other-")}}); err != nil {
			t.Fatal(err)
		}
		user, password, _ := f.creds(t, "readonly")
		conn, err := f.login(user, password)
		if err != nil {
			t.Fatalf("the issued credentials do not log in: %v", err)
		}
		conn.Close(context.Background())
		churn(t, f.proc.addr, "root", "secret/data/other", 1000)
		failOnHits(t, fmt.Sprintf("round %d", round), dumpHits(t, f.proc.cmd.Process.Pid, rawSecret("database password", password)))
		f.proc.kill()
	}
}
