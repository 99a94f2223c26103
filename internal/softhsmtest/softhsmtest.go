// Package softhsmtest gives tests a real PKCS#11 token: a SoftHSM2 token
// initialised in a directory of the test's own, with a configuration
// file that SOFTHSM2_CONF points at, so no root and no system token
// directory are needed. scripts/test installs SoftHSM2 (Debian's
// softhsm2); a machine without it fails the test, naming the package.
package softhsmtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/arca-secrets/arca/internal/testenv"
)

// libPaths are where Debian and Ubuntu put the SoftHSM2 module.
var libPaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// confName is the configuration file New writes; a second New in the
// same test finds it in SOFTHSM2_CONF and adds its token beside the first.
const confName = "softhsmtest.conf"

// Token is an initialised SoftHSM2 token.
type Token struct {
	// Lib is the PKCS#11 module's path.
	Lib string
	// Conf is the SoftHSM2 configuration file; the process that uses the
	// token needs SOFTHSM2_CONF=Conf in its environment (New sets it in
	// the test's).
	Conf string
	// Label, PIN and SOPIN are the token's.
	Label, PIN, SOPIN string
}

// New initialises a token labelled label in a new directory and sets
// SOFTHSM2_CONF for the rest of the test (so the test cannot be
// parallel). Tokens made by one test share the directory.
func New(t testing.TB, label string) *Token {
	t.Helper()
	util := testenv.Program(t, "softhsm2-util", "softhsm2")
	lib := ""
	for _, p := range libPaths {
		if _, err := os.Stat(p); err == nil {
			lib = p
			break
		}
	}
	if lib == "" {
		t.Fatalf("the SoftHSM2 PKCS#11 module is not installed (looked in %s): run ./scripts/test, or apt-get install softhsm2", strings.Join(libPaths, ", "))
	}
	conf := os.Getenv("SOFTHSM2_CONF")
	if filepath.Base(conf) != confName {
		dir := t.TempDir()
		tokens := filepath.Join(dir, "tokens")
		if err := os.Mkdir(tokens, 0o700); err != nil {
			t.Fatal(err)
		}
		conf = filepath.Join(dir, confName)
		body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SOFTHSM2_CONF", conf)
	}
	tk := &Token{Lib: lib, Conf: conf, Label: label, PIN: randomDigits(t), SOPIN: randomDigits(t)}
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", tk.PIN, "--so-pin", tk.SOPIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return tk
}

func randomDigits(t testing.TB) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Delete removes the token and everything in it.
func (tk *Token) Delete(t testing.TB) {
	t.Helper()
	cmd := exec.Command(testenv.Program(t, "softhsm2-util", "softhsm2"), "--delete-token", "--token", tk.Label)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+tk.Conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --delete-token: %v\n%s", err, out)
	}
}

// Object is a key's attributes as the token reports them.
type Object struct {
	Class       uint
	Extractable bool
	Sensitive   bool
	// ValueReadable is whether CKA_VALUE could be read: never, for a
	// secret key the seal may use.
	ValueReadable bool
}

// Objects returns the attributes of every object labelled label, read
// through PKCS#11 in this process.
func (tk *Token) Objects(t testing.TB, label string) []Object {
	t.Helper()
	var out []Object
	tk.session(t, func(ctx *p11.Ctx, sh p11.SessionHandle) {
		for _, h := range find(t, ctx, sh, label) {
			attrs, err := ctx.GetAttributeValue(sh, h, []*p11.Attribute{
				p11.NewAttribute(p11.CKA_CLASS, nil),
				p11.NewAttribute(p11.CKA_EXTRACTABLE, nil),
				p11.NewAttribute(p11.CKA_SENSITIVE, nil),
			})
			var o Object
			if err != nil {
				// A public key has no CKA_SENSITIVE: read the class alone.
				attrs, err = ctx.GetAttributeValue(sh, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, nil)})
				if err != nil {
					t.Fatalf("reading attributes: %v", err)
				}
			}
			for _, a := range attrs {
				switch a.Type {
				case p11.CKA_CLASS:
					o.Class = uint(bytesToUint(a.Value))
				case p11.CKA_EXTRACTABLE:
					o.Extractable = len(a.Value) == 1 && a.Value[0] != 0
				case p11.CKA_SENSITIVE:
					o.Sensitive = len(a.Value) == 1 && a.Value[0] != 0
				}
			}
			_, err = ctx.GetAttributeValue(sh, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
			o.ValueReadable = err == nil
			out = append(out, o)
		}
	})
	return out
}

// DestroyObjects deletes every object labelled label, as an operator
// deleting the seal's key would.
func (tk *Token) DestroyObjects(t testing.TB, label string) {
	t.Helper()
	tk.session(t, func(ctx *p11.Ctx, sh p11.SessionHandle) {
		for _, h := range find(t, ctx, sh, label) {
			if err := ctx.DestroyObject(sh, h); err != nil {
				t.Fatalf("destroying an object: %v", err)
			}
		}
	})
}

// CreateExtractableKey makes an AES key labelled label that may leave the
// token: one the seal must refuse.
func (tk *Token) CreateExtractableKey(t testing.TB, label string) {
	t.Helper()
	tk.session(t, func(ctx *p11.Ctx, sh p11.SessionHandle) {
		_, err := ctx.GenerateKey(sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, false),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, true),
			p11.NewAttribute(p11.CKA_ENCRYPT, true),
			p11.NewAttribute(p11.CKA_DECRYPT, true),
			p11.NewAttribute(p11.CKA_LABEL, label),
		})
		if err != nil {
			t.Fatalf("generating an extractable key: %v", err)
		}
	})
}

// session runs f in a logged-in session on the token. It shares the
// module with a seal open in this process, and finalises it only when it
// initialised it.
func (tk *Token) session(t testing.TB, f func(*p11.Ctx, p11.SessionHandle)) {
	t.Helper()
	ctx := p11.New(tk.Lib)
	if ctx == nil {
		t.Fatalf("loading %s failed", tk.Lib)
	}
	defer ctx.Destroy()
	err := ctx.Initialize()
	switch {
	case err == nil:
		defer func() { _ = ctx.Finalize() }()
	case !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
		t.Fatalf("initialising %s: %v", tk.Lib, err)
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range slots {
		info, err := ctx.GetTokenInfo(id)
		if err != nil || strings.TrimRight(info.Label, " \x00") != tk.Label {
			continue
		}
		sh, err := ctx.OpenSession(id, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ctx.CloseSession(sh) }()
		if err := ctx.Login(sh, p11.CKU_USER, tk.PIN); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
			t.Fatalf("logging in: %v", err)
		}
		f(ctx, sh)
		return
	}
	t.Fatalf("token %q not found", tk.Label)
}

func find(t testing.TB, ctx *p11.Ctx, sh p11.SessionHandle, label string) []p11.ObjectHandle {
	t.Helper()
	if err := ctx.FindObjectsInit(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ctx.FindObjectsFinal(sh) }()
	hs, _, err := ctx.FindObjects(sh, 100)
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func bytesToUint(b []byte) uint64 {
	var n uint64
	for i := len(b) - 1; i >= 0; i-- { // little-endian CK_ULONG on the hosts we test
		n = n<<8 | uint64(b[i])
	}
	return n
}

// ImportAESKey puts the AES key value in the token under label, sensitive
// and not extractable, as an HSM operator importing a known key would:
// tests use it for known-answer vectors.
func (tk *Token) ImportAESKey(t testing.TB, label string, value []byte) {
	t.Helper()
	tk.session(t, func(ctx *p11.Ctx, sh p11.SessionHandle) {
		_, err := ctx.CreateObject(sh, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_VALUE, value),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_ENCRYPT, true),
			p11.NewAttribute(p11.CKA_DECRYPT, true),
			p11.NewAttribute(p11.CKA_LABEL, label),
		})
		if err != nil {
			t.Fatalf("importing an AES key: %v", err)
		}
	})
}
