package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"

	"github.com/arca-secrets/arca/internal/softhsmtest"
	"github.com/arca-secrets/arca/seal/pkcs11"
	"github.com/arca-secrets/arca/storage/bolt"
)

const pkcs11KeyLabel = "arca-root"

// pkcs11Server is a bolt-backed server whose seal is a SoftHSM2 token.
type pkcs11Server struct {
	t      *testing.T
	tk     *softhsmtest.Token
	addr   string
	dbPath string
	p      *proc
}

func newPKCS11Server(t *testing.T) *pkcs11Server {
	return &pkcs11Server{t: t, tk: softhsmtest.New(t, "arca-e2e"), addr: freeAddr(t), dbPath: filepath.Join(t.TempDir(), "arca.db")}
}

// start (re)starts the server with pin in its seal block ("" for none).
func (s *pkcs11Server) start(pin string) *api.Client {
	s.t.Helper()
	if s.p != nil {
		s.p.kill()
	}
	block := fmt.Sprintf("seal \"pkcs11\" {\n  lib = %q\n  token_label = %q\n  key_label = %q\n  generate_key = true\n", s.tk.Lib, s.tk.Label, pkcs11KeyLabel)
	if pin != "" {
		block += fmt.Sprintf("  pin = %q\n", pin)
	}
	conf := writeConfig(s.t, s.addr, `storage "bolt" { path = "`+s.dbPath+`" }`, "disable_mlock = true", block+"}")
	s.p = startArca(s.t, s.addr, "-config="+conf)
	return newClient(s.t, s.addr, "")
}

// stop ends the server, releasing the bolt file.
func (s *pkcs11Server) stop() {
	if s.p != nil {
		s.p.kill()
		s.p = nil
	}
}

// waitLog waits until the server's output contains want.
func (s *pkcs11Server) waitLog(want string) {
	s.t.Helper()
	if !eventually(30*time.Second, func() bool { return strings.Contains(s.p.output(), want) }) {
		s.t.Fatalf("the server never said %q:\n%s", want, s.p.output())
	}
}

func waitUnsealed(t *testing.T, c *api.Client) {
	t.Helper()
	var last *api.SealStatusResponse
	if !eventually(30*time.Second, func() bool {
		st, err := c.Sys().SealStatus()
		last = st
		return err == nil && !st.Sealed
	}) {
		t.Fatalf("the server did not unseal itself; last seal status %+v", last)
	}
}

// mustBeSealed checks seal-status answers sealed, and that the recovery
// shares cannot unseal.
func mustBeSealed(t *testing.T, c *api.Client, addr string, recovery []string) {
	t.Helper()
	st, err := c.Sys().SealStatus()
	if err != nil || !st.Sealed || !st.Initialized || st.Type != "pkcs11" {
		t.Fatalf("seal status: %+v, %v; want initialised, sealed, pkcs11", st, err)
	}
	for _, k := range recovery {
		code, body := rawRequest(t, addr, "", http.MethodPut, "/v1/sys/unseal", strings.NewReader(`{"key":"`+k+`"}`))
		if code != http.StatusBadRequest || !strings.Contains(body, "not supported by this seal") {
			t.Fatalf("unseal with a recovery share: got %d %s, want 400", code, body)
		}
	}
	if st, err := c.Sys().SealStatus(); err != nil || !st.Sealed {
		t.Fatalf("after recovery shares given to unseal: %+v, %v; want sealed", st, err)
	}
}

// TestPKCS11SealAutoUnseal runs a server sealed by a SoftHSM2 token
// through init, restarts, a wrong PIN, the token gone and back, and the
// key deleted.
func TestPKCS11SealAutoUnseal(t *testing.T) {
	s := newPKCS11Server(t)
	c := s.start(s.tk.PIN)
	st, err := c.Sys().SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if st.Initialized || !st.Sealed || !st.RecoverySeal || st.Type != "pkcs11" {
		t.Fatalf("new server: %+v; want uninitialised, sealed, a recovery seal of type pkcs11", st)
	}

	// Init through the CLI: recovery shares, no unseal shares.
	r := arca(t, []string{"ARCA_ADDR=http://" + s.addr}, "", "operator", "init", "-recovery-shares=3", "-recovery-threshold=2", "-format=json")
	r.must(t, 0)
	var init struct {
		UnsealKeys   []string `json:"unseal_keys_b64"`
		RecoveryKeys []string `json:"recovery_keys_b64"`
		RecoveryN    int      `json:"recovery_keys_shares"`
		RecoveryT    int      `json:"recovery_keys_threshold"`
		RootToken    string   `json:"root_token"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &init); err != nil {
		t.Fatalf("init output: %v\n%s", err, r.stdout)
	}
	if len(init.UnsealKeys) != 0 || len(init.RecoveryKeys) != 3 || init.RecoveryN != 3 || init.RecoveryT != 2 || init.RootToken == "" {
		t.Fatalf("init: %+v; want no unseal keys, 3 recovery keys (2 needed) and a root token", init)
	}
	checkKeyInside(t, s.tk)

	// The server unseals itself once initialised.
	waitUnsealed(t, c)
	c.SetToken(init.RootToken)
	if err := c.Sys().Mount("secret", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("secret/app", map[string]any{"password": "hunter2"}); err != nil {
		t.Fatal(err)
	}

	// Sealed by an operator, it takes no recovery share as an unseal key.
	if err := c.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	mustBeSealed(t, c, s.addr, init.RecoveryKeys)

	t.Run("restart unseals with no human", func(t *testing.T) {
		c := s.start(s.tk.PIN)
		waitUnsealed(t, c)
		readSecret(t, c, init.RootToken)
	})

	t.Run("wrong PIN stays sealed and says why", func(t *testing.T) {
		wrong := "9" + s.tk.PIN
		c := s.start(wrong)
		s.waitLog("refused the PIN")
		s.waitLog("not retrying")
		mustBeSealed(t, c, s.addr, init.RecoveryKeys)
		if out := s.p.output(); strings.Contains(out, wrong) || strings.Contains(out, s.tk.PIN) {
			t.Fatalf("the server printed a PIN:\n%s", out)
		}
		// The environment's PIN wins over the file's.
		t.Setenv("ARCA_HSM_PIN", s.tk.PIN)
		c = s.start(wrong)
		waitUnsealed(t, c)
		readSecret(t, c, init.RootToken)
	})

	t.Run("root key never in storage in clear", func(t *testing.T) {
		s.stop()
		checkRootKeyNotInClear(t, s)
	})

	t.Run("token away at start, back later", func(t *testing.T) {
		tokens := filepath.Join(filepath.Dir(s.tk.Conf), "tokens")
		away := filepath.Join(t.TempDir(), "away")
		if err := os.Rename(tokens, away); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(tokens, 0o700); err != nil {
			t.Fatal(err)
		}
		c := s.start(s.tk.PIN)
		s.waitLog("the seal is unavailable")
		if st, err := c.Sys().SealStatus(); err != nil || !st.Sealed {
			t.Fatalf("with the token away: %+v, %v; want sealed", st, err)
		}
		if err := os.Remove(tokens); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(away, tokens); err != nil {
			t.Fatal(err)
		}
		waitUnsealed(t, c)
		readSecret(t, c, init.RootToken)
	})

	t.Run("key deleted stays sealed, loses nothing", func(t *testing.T) {
		s.stop()
		before := sealConfig(t, s.dbPath)
		s.tk.DestroyObjects(t, pkcs11KeyLabel)
		c := s.start(s.tk.PIN)
		s.waitLog("no secret key labelled")
		s.waitLog("not retrying")
		mustBeSealed(t, c, s.addr, init.RecoveryKeys)
		if n := len(s.tk.Objects(t, pkcs11KeyLabel)); n != 0 {
			t.Fatalf("the server made %d objects in place of the deleted key, want none", n)
		}
		s.stop()
		if after := sealConfig(t, s.dbPath); !bytes.Equal(before, after) {
			t.Fatal("the seal configuration changed while the key was missing")
		}
	})
}

func readSecret(t *testing.T, c *api.Client, token string) {
	t.Helper()
	c.SetToken(token)
	sec, err := c.Logical().Read("secret/app")
	if err != nil || sec == nil || sec.Data["password"] != "hunter2" {
		t.Fatalf("reading secret/app after the restart: %v, %v; want hunter2", sec, err)
	}
}

// checkKeyInside reads the seal key's attributes through PKCS#11.
func checkKeyInside(t *testing.T, tk *softhsmtest.Token) {
	t.Helper()
	objs := tk.Objects(t, pkcs11KeyLabel)
	if len(objs) != 1 {
		t.Fatalf("the token holds %d objects labelled %q, want the one key", len(objs), pkcs11KeyLabel)
	}
	if o := objs[0]; o.Extractable || !o.Sensitive || o.ValueReadable {
		t.Fatalf("seal key: extractable=%v sensitive=%v value readable=%v; want false, true, false", o.Extractable, o.Sensitive, o.ValueReadable)
	}
}

// sealConfig returns the stored seal configuration's bytes.
func sealConfig(t *testing.T, dbPath string) []byte {
	t.Helper()
	b, err := bolt.Open(dbPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e, err := b.Get(context.Background(), "core/seal-config")
	if err != nil || e == nil {
		t.Fatalf("reading the seal configuration: %v", err)
	}
	return e.Value
}

// checkRootKeyNotInClear unwraps the stored root key through the token,
// as the server does, and looks for it in the storage file.
func checkRootKeyNotInClear(t *testing.T, s *pkcs11Server) {
	t.Helper()
	var conf struct {
		SealedRootKey []byte `json:"sealed_root_key"`
	}
	if err := json.Unmarshal(sealConfig(t, s.dbPath), &conf); err != nil {
		t.Fatal(err)
	}
	sl, err := pkcs11.New(pkcs11.Config{Lib: s.tk.Lib, TokenLabel: s.tk.Label, PIN: s.tk.PIN, KeyLabel: pkcs11KeyLabel})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	root, err := sl.Unwrap(context.Background(), conf.SealedRootKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(root) != 32 {
		t.Fatalf("unwrapped %d bytes, want a 32-byte root key", len(root))
	}
	raw, err := os.ReadFile(s.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range [][]byte{root, []byte(hex.EncodeToString(root)), []byte(base64.StdEncoding.EncodeToString(root))} {
		if bytes.Contains(raw, form) {
			t.Fatal("the storage file holds the root key in clear")
		}
	}
}

func TestPKCS11SealBlockRefusedAtStart(t *testing.T) {
	conf := writeConfig(t, freeAddr(t), `storage "inmem" {}`, "seal \"pkcs11\" {\n  lib = \"/x.so\"\n  token_label = \"t\"\n  key_label = \"k\"\n  pin = \"s3cret\"\n  hmac_key_label = \"h\"\n}")
	code, out := runArca(t, exec.Command(arcaBin, "server", "-config="+conf))
	if code == 0 {
		t.Fatalf("arca started with an unknown key in the pkcs11 seal block:\n%s", out)
	}
	for _, want := range []string{"arca.hcl:11:", `seal "pkcs11": unknown key "hmac_key_label"`} {
		if !strings.Contains(out, want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Fatalf("the error output carries the PIN:\n%s", out)
	}
}
