package pkcs11_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/arca-secrets/arca/internal/softhsmtest"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/pkcs11"
	"github.com/arca-secrets/arca/seal/sealtest"
)

func open(t *testing.T, conf pkcs11.Config) *pkcs11.Seal {
	t.Helper()
	s, err := pkcs11.New(conf)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func config(tk *softhsmtest.Token, key string, mech pkcs11.Mechanism) pkcs11.Config {
	return pkcs11.Config{Lib: tk.Lib, TokenLabel: tk.Label, PIN: tk.PIN, KeyLabel: key, Mechanism: mech, GenerateKey: true}
}

func rootKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// noPIN fails when err's message carries the PIN.
func noPIN(t *testing.T, err error, pin string) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), pin) {
		t.Fatalf("the error carries the PIN: %v", err)
	}
}

func TestConformsAESGCM(t *testing.T) {
	tk := softhsmtest.New(t, "arca-aes")
	s := open(t, config(tk, "root-key", pkcs11.AESGCM))
	sealtest.Run(t, s)
	checkKeyStaysInside(t, tk, "root-key", p11.CKO_SECRET_KEY)
}

func TestConformsRSAOAEP(t *testing.T) {
	tk := softhsmtest.New(t, "arca-rsa")
	// SoftHSM2 2.6 does OAEP with SHA-1 only.
	conf := config(tk, "root-key", pkcs11.RSAOAEP)
	conf.OAEPHash = pkcs11.SHA1
	s := open(t, conf)
	sealtest.Run(t, s)
	checkKeyStaysInside(t, tk, "root-key", p11.CKO_PRIVATE_KEY)
}

// checkKeyStaysInside reads, through PKCS#11, the attributes of the key
// the seal generated: it cannot leave the token.
func checkKeyStaysInside(t *testing.T, tk *softhsmtest.Token, label string, class uint) {
	t.Helper()
	found := false
	for _, o := range tk.Objects(t, label) {
		if o.Class != class {
			continue
		}
		found = true
		if o.Extractable || !o.Sensitive || o.ValueReadable {
			t.Fatalf("key %q: extractable=%v sensitive=%v value readable=%v; want false, true, false", label, o.Extractable, o.Sensitive, o.ValueReadable)
		}
	}
	if !found {
		t.Fatalf("no key of class %d labelled %q in the token", class, label)
	}
}

func TestSlotOrLabel(t *testing.T) {
	tk := softhsmtest.New(t, "arca-slot")
	s := open(t, config(tk, "k", pkcs11.AESGCM))
	root := rootKey(t)
	w, _, err := s.Wrap(context.Background(), root, seal.Split{})
	if err != nil {
		t.Fatal(err)
	}
	slot := slotOf(t, tk)
	conf := config(tk, "k", pkcs11.AESGCM)
	conf.TokenLabel, conf.Slot = "", &slot
	got, err := open(t, conf).Unwrap(context.Background(), w, nil)
	if err != nil || !bytes.Equal(got, root) {
		t.Fatalf("unwrap through the slot number: %v", err)
	}
}

func slotOf(t *testing.T, tk *softhsmtest.Token) uint {
	ctx := p11.New(tk.Lib)
	defer ctx.Destroy()
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range slots {
		if info, err := ctx.GetTokenInfo(id); err == nil && strings.TrimRight(info.Label, " ") == tk.Label {
			return id
		}
	}
	t.Fatalf("no slot holds %q", tk.Label)
	return 0
}

// TestFailuresLoseNothing: a wrong PIN, a missing token and a deleted key
// each give a clear error that carries no PIN, and the wrapped root key
// still opens once the cause is gone (or, for the deleted key, never
// opens with a key made in its place).
func TestFailuresLoseNothing(t *testing.T) {
	ctx := context.Background()
	tk := softhsmtest.New(t, "arca-fail")
	good := open(t, config(tk, "k", pkcs11.AESGCM))
	root := rootKey(t)
	w, _, err := good.Wrap(ctx, root, seal.Split{})
	if err != nil {
		t.Fatal(err)
	}

	wrong := config(tk, "k", pkcs11.AESGCM)
	wrong.PIN = "0000" + tk.PIN
	bad := open(t, wrong)
	for name, err := range map[string]error{
		"health": bad.Health(ctx),
		"unwrap": func() error { _, err := bad.Unwrap(ctx, w, nil); return err }(),
		"wrap":   func() error { _, _, err := bad.Wrap(ctx, root, seal.Split{}); return err }(),
	} {
		if !errors.Is(err, pkcs11.ErrPIN) || errors.Is(err, seal.ErrUnavailable) || errors.Is(err, seal.ErrUnwrap) {
			t.Fatalf("%s with a wrong PIN: got %v, want ErrPIN only", name, err)
		}
		noPIN(t, err, wrong.PIN)
		noPIN(t, err, tk.PIN)
	}
	if out := fmt.Sprintf("%v %+v %#v %s %v", wrong, wrong, wrong, bad, bad); strings.Contains(out, wrong.PIN) {
		t.Fatalf("formatting the configuration or the seal prints the PIN: %s", out)
	}

	absent := config(tk, "k", pkcs11.AESGCM)
	absent.TokenLabel = "no-such-token"
	if err := open(t, absent).Health(ctx); !errors.Is(err, seal.ErrUnavailable) {
		t.Fatalf("absent token: got %v, want ErrUnavailable", err)
	}

	otherMech := config(tk, "k", pkcs11.RSAOAEP)
	if _, err := open(t, otherMech).Unwrap(ctx, w, nil); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("another mechanism: got %v, want ErrUnwrap", err)
	}

	if got, err := good.Unwrap(ctx, w, nil); err != nil || !bytes.Equal(got, root) {
		t.Fatalf("after the failures: %v", err)
	}

	// The key is deleted: unwrapping says so and makes no key, even with
	// generate_key set; a key made later under the label cannot open it.
	tk.DestroyObjects(t, "k")
	if _, err := good.Unwrap(ctx, w, nil); !errors.Is(err, pkcs11.ErrKeyNotFound) || !strings.Contains(err.Error(), `"k"`) {
		t.Fatalf("deleted key: got %v, want ErrKeyNotFound naming the key", err)
	}
	if n := len(tk.Objects(t, "k")); n != 0 {
		t.Fatalf("unwrap made %d objects, want none", n)
	}
	noGen := config(tk, "k", pkcs11.AESGCM)
	noGen.GenerateKey = false
	if err := open(t, noGen).Health(ctx); !errors.Is(err, pkcs11.ErrKeyNotFound) {
		t.Fatalf("health without the key: got %v, want ErrKeyNotFound", err)
	}
	if _, _, err := good.Wrap(ctx, root, seal.Split{}); err != nil {
		t.Fatal(err)
	}
	if _, err := good.Unwrap(ctx, w, nil); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("a new key under the old label: got %v, want ErrUnwrap", err)
	}
}

func TestRefusesAKeyThatCanLeave(t *testing.T) {
	tk := softhsmtest.New(t, "arca-unsafe")
	tk.CreateExtractableKey(t, "weak")
	s := open(t, config(tk, "weak", pkcs11.AESGCM))
	if _, _, err := s.Wrap(context.Background(), rootKey(t), seal.Split{}); !errors.Is(err, pkcs11.ErrKeyUnsafe) {
		t.Fatalf("extractable key: got %v, want ErrKeyUnsafe", err)
	}
}

func TestConfigChecks(t *testing.T) {
	tk := softhsmtest.New(t, "arca-conf")
	slot := uint(0)
	for _, tc := range []struct {
		name string
		conf pkcs11.Config
	}{
		{"no lib", pkcs11.Config{TokenLabel: "t", PIN: "1", KeyLabel: "k"}},
		{"no token", pkcs11.Config{Lib: tk.Lib, PIN: "1", KeyLabel: "k"}},
		{"slot and label", pkcs11.Config{Lib: tk.Lib, Slot: &slot, TokenLabel: "t", PIN: "1", KeyLabel: "k"}},
		{"no key label", pkcs11.Config{Lib: tk.Lib, TokenLabel: "t", PIN: "1"}},
		{"no pin", pkcs11.Config{Lib: tk.Lib, TokenLabel: "t", KeyLabel: "k"}},
		{"not a module", pkcs11.Config{Lib: "/etc/hostname", TokenLabel: "t", PIN: "1", KeyLabel: "k"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pkcs11.New(tc.conf); !errors.Is(err, pkcs11.ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}

func TestParseMechanism(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want pkcs11.Mechanism
		ok   bool
	}{
		{"", pkcs11.AESGCM, true},
		{"CKM_AES_GCM", pkcs11.AESGCM, true},
		{"0x1087", pkcs11.AESGCM, true},
		{"4231", pkcs11.AESGCM, true},
		{"CKM_RSA_PKCS_OAEP", pkcs11.RSAOAEP, true},
		{"0x0009", pkcs11.RSAOAEP, true},
		{"CKM_AES_CBC_PAD", 0, false},
		{"0x1085", 0, false},
	} {
		got, err := pkcs11.ParseMechanism(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseMechanism(%q): got %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestTokenComesBack: a token that goes away makes the seal unavailable,
// and is found again when it comes back, without a new seal.
func TestTokenComesBack(t *testing.T) {
	ctx := context.Background()
	tk := softhsmtest.New(t, "arca-back")
	s := open(t, config(tk, "k", pkcs11.AESGCM))
	w, _, err := s.Wrap(ctx, rootKey(t), seal.Split{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(filepath.Dir(tk.Conf), "tokens")
	away := filepath.Join(t.TempDir(), "away")
	if err := os.Rename(tokens, away); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unwrap(ctx, w, nil); !errors.Is(err, seal.ErrUnavailable) {
		t.Fatalf("token away: got %v, want ErrUnavailable", err)
	}
	if err := os.Remove(tokens); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(away, tokens); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unwrap(ctx, w, nil); err != nil {
		t.Fatalf("token back: %v", err)
	}
}
