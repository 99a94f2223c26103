package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/sealtest"
	"github.com/arca-secrets/arca/seal/transit"
)

// sealKeyName is the unsealer's transit key in these tests.
const sealKeyName = "arca-unseal"

// devRoot is the unsealer's root token in these tests: distinctive, so
// that a check for it in an error message cannot match ordinary words.
const devRoot = "dev-root-4c1b7e"

// sealPolicy is the least a transit seal's token needs: with update only,
// an encrypt cannot create a missing key.
const sealPolicy = `
path "transit/encrypt/arca-unseal" { capabilities = ["update"] }
path "transit/decrypt/arca-unseal" { capabilities = ["update"] }
`

// transitUnsealer mounts transit on the server behind root, creates the
// seal's key and policy, and returns a token holding only that policy.
func transitUnsealer(t *testing.T, root *api.Client) string {
	t.Helper()
	if err := root.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("transit/keys/"+sealKeyName, nil); err != nil {
		t.Fatal(err)
	}
	putPolicy(t, root, "arca-seal", sealPolicy)
	return childToken(t, root, "arca-seal")
}

func newTransitSeal(t *testing.T, addr, tok, key string) *transit.Seal {
	t.Helper()
	s, err := transit.New(t.Context(), transit.Config{Address: "http://" + addr, Token: transit.NewToken(tok), KeyName: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTransitSealConformance(t *testing.T) {
	p, root := startDev(t, devRoot)
	s := newTransitSeal(t, p.addr, transitUnsealer(t, root), sealKeyName)
	sealtest.Run(t, s)
	if s.Type() != "transit" || !s.AutoUnseal() {
		t.Fatalf("got type %q, auto-unseal %v; want transit, true", s.Type(), s.AutoUnseal())
	}
}

// checkSealErr checks that err matches want, says what it should, and
// carries neither the token nor the root key.
func checkSealErr(t *testing.T, what string, err, want error, says, tok string, root []byte) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got %v, want an error matching %v", what, err, want)
	}
	msg := err.Error()
	if !strings.Contains(msg, says) {
		t.Fatalf("%s: got %q, want it to say %q", what, msg, says)
	}
	for _, leak := range []string{tok, hex.EncodeToString(root), base64.StdEncoding.EncodeToString(root), string(root)} {
		if strings.Contains(msg, leak) {
			t.Fatalf("%s: the error %q carries the token or the root key", what, msg)
		}
	}
}

// TestTransitSealErrors drives a real unsealer into each failure the seal
// tells apart: sealed, token revoked, another key, key deleted, down.
func TestTransitSealErrors(t *testing.T) {
	ctx := context.Background()
	p, root := startDev(t, devRoot)
	tok := transitUnsealer(t, root)
	s := newTransitSeal(t, p.addr, tok, sealKeyName)
	rootKey := bytes.Repeat([]byte{0x5a}, 32)
	wrapped, _, err := s.Wrap(ctx, rootKey, seal.Split{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(wrapped, []byte("vault:v1:")) {
		t.Fatalf("the wrapped root key %q does not keep the transit ciphertext", wrapped)
	}

	// A sealed unsealer answers 503: unavailable, and back once unsealed.
	unsealKey := strings.TrimSpace(strings.TrimPrefix(firstLine(p.output(), "Unseal Key:"), "Unseal Key:"))
	if err := root.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Unwrap(ctx, wrapped, nil)
	checkSealErr(t, "unsealer sealed", err, seal.ErrUnavailable, "(503)", tok, rootKey)
	checkSealErr(t, "health, unsealer sealed", s.Health(ctx), seal.ErrUnavailable, "(503)", tok, rootKey)
	unseal(t, root, unsealKey)
	if got, err := s.Unwrap(ctx, wrapped, nil); err != nil || !bytes.Equal(got, rootKey) {
		t.Fatalf("after the unsealer is unsealed: got err %v, want the root key", err)
	}

	// A revoked token is refused: unavailable, and the message says why.
	revoked := childToken(t, root, "arca-seal")
	if err := root.Auth().Token().RevokeOrphan(revoked); err != nil {
		t.Fatal(err)
	}
	rs := newTransitSeal(t, p.addr, revoked, sealKeyName)
	_, err = rs.Unwrap(ctx, wrapped, nil)
	checkSealErr(t, "revoked token", err, seal.ErrUnavailable, "permission denied (403)", revoked, rootKey)
	checkSealErr(t, "health, revoked token", rs.Health(ctx), seal.ErrUnavailable, "permission denied (403)", revoked, rootKey)

	// Another key does not open it.
	if _, err := root.Logical().Write("transit/keys/other", nil); err != nil {
		t.Fatal(err)
	}
	_, err = newTransitSeal(t, p.addr, devRoot, "other").Unwrap(ctx, wrapped, nil)
	checkSealErr(t, "another key", err, seal.ErrUnwrap, "refused (400)", devRoot, rootKey)

	// The key deleted: it cannot open anything again, and the message
	// names the missing key.
	if _, err := root.Logical().Write("transit/keys/"+sealKeyName+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Delete("transit/keys/" + sealKeyName); err != nil {
		t.Fatal(err)
	}
	_, err = s.Unwrap(ctx, wrapped, nil)
	checkSealErr(t, "key deleted", err, seal.ErrUnwrap, "encryption key not found", tok, rootKey)
	// With update only, the health check cannot create the key afresh.
	checkSealErr(t, "health, key deleted", s.Health(ctx), seal.ErrUnavailable, "permission denied (403)", tok, rootKey)

	// The unsealer down.
	p.kill()
	_, err = s.Unwrap(ctx, wrapped, nil)
	checkSealErr(t, "unsealer down", err, seal.ErrUnavailable, "cannot be reached", tok, rootKey)
	checkSealErr(t, "unsealer down", err, seal.ErrUnavailable, p.addr, tok, rootKey)
	checkSealErr(t, "health, unsealer down", s.Health(ctx), seal.ErrUnavailable, "cannot be reached", tok, rootKey)
}

// TestTransitSealRenewsItsToken gives the seal a token of a 3s TTL and
// waits for the unsealer to see its expiry move twice.
func TestTransitSealRenewsItsToken(t *testing.T) {
	p, root := startDev(t, devRoot)
	transitUnsealer(t, root)
	renewable := true
	sec, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"arca-seal"}, TTL: "3s", ExplicitMaxTTL: "1h", Renewable: &renewable})
	if err != nil {
		t.Fatal(err)
	}
	tok := sec.Auth.ClientToken
	expiry := func() string {
		s, err := root.Auth().Token().Lookup(tok)
		if err != nil {
			t.Fatalf("the seal's token is gone: %v", err)
		}
		return fmtAny(s.Data["expire_time"])
	}
	first := expiry()
	newTransitSeal(t, p.addr, tok, sealKeyName)
	last := first
	for i := range 2 {
		prev := last
		if !eventually(30*time.Second, func() bool { last = expiry(); return last != prev }) {
			t.Fatalf("renewal %d: the token's expiry stayed %s", i+1, prev)
		}
	}
}

// transitBlock is a seal "transit" block for the unsealer at addr; tok
// empty leaves the token to the environment.
func transitBlock(addr, tok string) string {
	b := fmt.Sprintf("seal \"transit\" {\n  address = \"http://%s\"\n  key_name = %q\n", addr, sealKeyName)
	if tok != "" {
		b += fmt.Sprintf("  token = %q\n", tok)
	}
	return b + "}\n"
}

// startWithEnv starts "arca server -config=conf" with env added to the
// test's environment and waits until it answers.
func startWithEnv(t *testing.T, addr, conf string, env ...string) *proc {
	t.Helper()
	p := spawn(t, addr, conf, env...)
	p.waitHealthy()
	return p
}

// spawn starts "arca server -config=conf" with env added, and does not
// wait for it.
func spawn(t *testing.T, addr, conf string, env ...string) *proc {
	t.Helper()
	p := &proc{t: t, addr: addr, done: make(chan struct{})}
	p.cmd = exec.Command(arcaBin, "server", "-config="+conf)
	p.cmd.Env = append(p.cmd.Environ(), env...)
	p.cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// waitSealState waits until the server behind p reports sealed as want.
func waitSealState(t *testing.T, p *proc, want bool) {
	t.Helper()
	c := newClient(t, p.addr, "")
	var last string
	ok := eventually(60*time.Second, func() bool {
		st, err := c.Sys().SealStatus()
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("sealed=%v", st.Sealed)
		return st.Sealed == want
	})
	if !ok {
		t.Fatalf("waiting for sealed=%v: last saw %s; server output:\n%s", want, last, p.output())
	}
}

// waitLog waits until p has logged a line holding every one of wants.
func waitLog(t *testing.T, p *proc, wants ...string) {
	t.Helper()
	has := func() bool {
		for _, line := range strings.Split(p.output(), "\n") {
			all := true
			for _, w := range wants {
				all = all && strings.Contains(line, w)
			}
			if all {
				return true
			}
		}
		return false
	}
	if !eventually(60*time.Second, has) {
		t.Fatalf("the server logged no line with all of %q:\n%s", wants, p.output())
	}
}

// TestTransitAutoUnseal runs a node whose seal is another server's
// transit key: it unseals itself after init and after every restart,
// waits sealed while the unsealer is down and unseals when it returns,
// and stays sealed, saying why, with a revoked token or a deleted key.
func TestTransitAutoUnseal(t *testing.T) {
	ctx := context.Background()
	// The unsealer keeps its key in bolt, so it can be stopped and started.
	uAddr := freeAddr(t)
	uConf := writeConfig(t, uAddr, `storage "bolt" { path = "`+filepath.Join(t.TempDir(), "unsealer.db")+`" }`, "disable_mlock = true")
	u := startArca(t, uAddr, "-config="+uConf)
	uc := newClient(t, uAddr, "")
	uInit := initAndUnseal(t, uc)
	tok := transitUnsealer(t, uc)

	// The node takes its token from ARCA_TOKEN.
	nAddr := freeAddr(t)
	nDB := filepath.Join(t.TempDir(), "node.db")
	nConf := writeConfig(t, nAddr, `storage "bolt" { path = "`+nDB+`" }`, "disable_mlock = true", transitBlock(uAddr, ""))
	n := startWithEnv(t, nAddr, nConf, "ARCA_TOKEN="+tok)
	nodes := []*proc{n}
	nc := newClient(t, nAddr, "")
	st, err := nc.Sys().SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.Initialized || !st.Sealed || st.Type != "transit" || !st.RecoverySeal {
		t.Fatalf("new node: initialized=%v sealed=%v type=%q recovery_seal=%v; want false, true, transit, true", st.Initialized, st.Sealed, st.Type, st.RecoverySeal)
	}
	init, err := nc.Sys().Init(&api.InitRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(init.Keys) != 0 || init.RootToken == "" {
		t.Fatalf("init: got %d unseal keys and root token %q; want none and a token", len(init.Keys), init.RootToken)
	}
	waitSealState(t, n, false)
	nc.SetToken(init.RootToken)
	if err := nc.Sys().Mount("secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.KVv2("secret").Put(ctx, "app", map[string]any{"password": "hunter2"}); err != nil {
		t.Fatal(err)
	}
	dataIntact := func(when string) {
		t.Helper()
		s, err := nc.KVv2("secret").Get(ctx, "app")
		if err != nil || s.Data["password"] != "hunter2" {
			t.Fatalf("%s: got %v, %v; want the secret written before", when, s, err)
		}
	}

	// Restarted: unsealed with no one's help.
	n.kill()
	n = startWithEnv(t, nAddr, nConf, "ARCA_TOKEN="+tok)
	nodes = append(nodes, n)
	waitSealState(t, n, false)
	dataIntact("after a restart")

	// The unsealer down at start: sealed, saying why, until it returns.
	u.kill()
	n.kill()
	n = startWithEnv(t, nAddr, nConf, "ARCA_TOKEN="+tok)
	nodes = append(nodes, n)
	waitLog(t, n, "auto-unseal", "the transit server cannot be reached", uAddr)
	waitSealState(t, n, true)
	u = startArca(t, uAddr, "-config="+uConf)
	unseal(t, newClient(t, uAddr, ""), uInit.Keys[0])
	waitSealState(t, n, false)
	dataIntact("after the unsealer returned")

	// A revoked token: sealed, saying why.
	if err := uc.Auth().Token().RevokeOrphan(tok); err != nil {
		t.Fatal(err)
	}
	n.kill()
	n = startWithEnv(t, nAddr, nConf, "ARCA_TOKEN="+tok)
	nodes = append(nodes, n)
	waitLog(t, n, "auto-unseal", "permission denied (403)")
	waitSealState(t, n, true)

	// A new token, in the config file this time: nothing was lost.
	tok2 := childToken(t, uc, "arca-seal")
	nConf2 := writeConfig(t, nAddr, `storage "bolt" { path = "`+nDB+`" }`, "disable_mlock = true", transitBlock(uAddr, tok2))
	n.kill()
	n = startArca(t, nAddr, "-config="+nConf2)
	nodes = append(nodes, n)
	waitSealState(t, n, false)
	dataIntact("with a new token")

	// The unsealer's key deleted: sealed, saying why.
	if _, err := uc.Logical().Write("transit/keys/"+sealKeyName+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := uc.Logical().Delete("transit/keys/" + sealKeyName); err != nil {
		t.Fatal(err)
	}
	n.kill()
	n = startArca(t, nAddr, "-config="+nConf2)
	nodes = append(nodes, n)
	waitLog(t, n, "auto-unseal", "encryption key not found")
	waitSealState(t, n, true)

	// No log line ever carried a token.
	for i, p := range nodes {
		for _, s := range []string{tok, tok2} {
			if strings.Contains(p.output(), s) {
				t.Fatalf("start %d of the node logged its seal token", i+1)
			}
		}
	}
}

// TestTransitAutoUnsealAnswersWhileTheUnsealerHangs points an initialised
// node at an unsealer that accepts connections and never answers: while
// the node waits on it, seal-status and health must still answer, sealed.
func TestTransitAutoUnsealAnswersWhileTheUnsealerHangs(t *testing.T) {
	u, root := startDev(t, devRoot)
	tok := transitUnsealer(t, root)
	nAddr := freeAddr(t)
	nDB := filepath.Join(t.TempDir(), "node.db")
	n := startArca(t, nAddr, "-config="+writeConfig(t, nAddr, `storage "bolt" { path = "`+nDB+`" }`, "disable_mlock = true", transitBlock(u.addr, tok)))
	if _, err := newClient(t, nAddr, "").Sys().Init(&api.InitRequest{}); err != nil {
		t.Fatal(err)
	}
	waitSealState(t, n, false)
	n.kill()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	// Each connection is held open, never answered; decrypts are told
	// apart by their request line (the token renewal calls too).
	decrypts := make(chan net.Conn, 16)
	var held []net.Conn
	var heldMu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			held = append(held, c)
			heldMu.Unlock()
			go func() {
				line, _ := bufio.NewReader(c).ReadString('\n')
				if strings.Contains(line, "/transit/decrypt/") {
					decrypts <- c
				}
			}()
		}
	}()
	t.Cleanup(func() {
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	// Not startArca: its wait for health would be the very thing tested.
	n = spawn(t, nAddr, writeConfig(t, nAddr, `storage "bolt" { path = "`+nDB+`" }`, "disable_mlock = true", transitBlock(silent.Addr().String(), tok)))
	select {
	case <-decrypts: // the start-up decrypt waits on the silent unsealer now
	case <-n.done:
		t.Fatalf("the node exited:\n%s", n.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("the node never asked the unsealer to decrypt:\n%s", n.output())
	}
	client := &http.Client{Timeout: 3 * time.Second}
	for _, path := range []string{"/v1/sys/seal-status", "/v1/sys/health"} {
		resp, err := client.Get("http://" + nAddr + path)
		if err != nil {
			t.Fatalf("%s while the unsealer hangs: %v", path, err)
		}
		resp.Body.Close()
		if path == "/v1/sys/health" && resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("health while the unsealer hangs: got %d, want 503 (sealed)", resp.StatusCode)
		}
	}
	if st, err := newClient(t, nAddr, "").Sys().SealStatus(); err != nil || !st.Sealed {
		t.Fatalf("seal-status while the unsealer hangs: got %+v, %v; want sealed", st, err)
	}
}

// TestTransitInitWhileTheUnsealerIsDown: init needs the unsealer; without
// it the answer is a 503 that says why, and the node stays uninitialised.
func TestTransitInitWhileTheUnsealerIsDown(t *testing.T) {
	down := freeAddr(t)
	nAddr := freeAddr(t)
	startArca(t, nAddr, "-config="+writeConfig(t, nAddr, `storage "inmem" {}`, "disable_mlock = true", transitBlock(down, "a-seal-token-7d2e")))
	code, body := rawRequest(t, nAddr, "", http.MethodPut, "/v1/sys/init", strings.NewReader(`{}`))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the transit server cannot be reached") || !strings.Contains(body, down) {
		t.Fatalf("init with the unsealer down: got %d %s, want 503 saying the transit server at %s cannot be reached", code, body, down)
	}
	if strings.Contains(body, "a-seal-token-7d2e") {
		t.Fatalf("the answer carries the seal's token: %s", body)
	}
	if st, err := newClient(t, nAddr, "").Sys().SealStatus(); err != nil || st.Initialized {
		t.Fatalf("after a failed init: got %+v, %v; want uninitialised", st, err)
	}
}

// TestTransitSealAfterKeyRotation: a root key wrapped before the
// unsealer's key was rotated still unwraps; a new wrap uses the new
// version.
func TestTransitSealAfterKeyRotation(t *testing.T) {
	ctx := context.Background()
	p, root := startDev(t, devRoot)
	s := newTransitSeal(t, p.addr, transitUnsealer(t, root), sealKeyName)
	rootKey := bytes.Repeat([]byte{3}, 32)
	old, _, err := s.Wrap(ctx, rootKey, seal.Split{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().Write("transit/keys/"+sealKeyName+"/rotate", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Unwrap(ctx, old, nil); err != nil || !bytes.Equal(got, rootKey) {
		t.Fatalf("unwrapping a blob of version 1 after rotation: got err %v, want the root key", err)
	}
	fresh, _, err := s.Wrap(ctx, rootKey, seal.Split{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(old, []byte("vault:v1:")) || !bytes.Contains(fresh, []byte("vault:v2:")) {
		t.Fatalf("got blobs %q and %q, want versions 1 and 2", old, fresh)
	}
}

// TestTransitSealConfigRefusedAtStart: a seal block the server cannot use
// stops it at once, saying what to fix.
func TestTransitSealConfigRefusedAtStart(t *testing.T) {
	tests := []struct {
		name, block string
		want        []string
	}{
		{"no token anywhere", transitBlock("127.0.0.1:8300", ""), []string{`opening seal: seal "transit": no token`, "ARCA_TOKEN or VAULT_TOKEN"}},
		{"unknown key", "seal \"transit\" {\n  address = \"http://127.0.0.1:8300\"\n  key_name = \"k\"\n  region = \"eu\"\n}\n", []string{`arca.hcl:10: seal "transit": unknown key "region"`}},
		{"tls over http", "seal \"transit\" {\n  address = \"http://127.0.0.1:8300\"\n  key_name = \"k\"\n  token = \"t\"\n  tls_skip_verify = true\n}\n", []string{"plain http: the token would cross the network in clear"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeConfig(t, freeAddr(t), `storage "inmem" {}`, "disable_mlock = true", tc.block)
			cmd := exec.Command(arcaBin, "server", "-config="+conf)
			cmd.Env = append(cmd.Environ(), "ARCA_TOKEN=", "VAULT_TOKEN=")
			code, out := runArca(t, cmd)
			if code == 0 {
				t.Fatalf("arca started:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
