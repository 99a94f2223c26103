// Package luks binds LUKS2 volumes to Arca: it changes headers only
// through cryptsetup (Debian/Ubuntu: cryptsetup-bin), and keeps in a LUKS2
// token of type arca what a host needs to have Arca unwrap the volume's
// passphrase. The arca volume commands (internal/cli) are built on it.
//
// Every key reaches cryptsetup on a pipe: stdin ("--key-file=-") and, when
// a command needs two keys, a second pipe it reads as /dev/fd/3. No key is
// ever in an argument, in the environment or in a file. Runner is the one
// seam: tests wrap ExecRunner to record what cryptsetup is given, or to
// stand in for what cannot run on a machine without device-mapper.
package luks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Errors of the LUKS layer; callers match them with errors.Is.
var (
	// ErrNotLUKS2: the device has no LUKS2 header.
	ErrNotLUKS2 = errors.New("not a LUKS2 volume")
	// ErrNoArcaToken: the header has no token of type arca.
	ErrNoArcaToken = errors.New("the LUKS2 header holds no arca token: bind the volume first (arca volume bind)")
	// ErrWrongKey: cryptsetup refused the key (exit status 2).
	ErrWrongKey = errors.New("the key opens no keyslot")
	// ErrNoFreeSlot: all 32 LUKS2 keyslots are in use.
	ErrNoFreeSlot = errors.New("no free LUKS2 keyslot")
)

// Cmd is one run of cryptsetup.
type Cmd struct {
	Args []string
	// Key is written to the child's stdin (a pipe) when not nil.
	Key []byte
	// Key2 is written to a pipe the child has as fd 3 (/dev/fd/3) when
	// not nil.
	Key2 []byte
}

// Runner runs cryptsetup; tests wrap the real one to record what it
// is given, or to stand in for what cannot run here (mapping a device).
type Runner interface {
	Run(ctx context.Context, c Cmd) (stdout []byte, err error)
}

// ExecRunner runs the cryptsetup program at Path.
type ExecRunner struct{ Path string }

var _ Runner = ExecRunner{}

// FindCryptsetup returns path if set, else cryptsetup from PATH, /usr/sbin
// or /sbin (a user's PATH may lack the sbin directories).
func FindCryptsetup(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	if p, err := exec.LookPath("cryptsetup"); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, "cryptsetup")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("cryptsetup is not installed (Debian/Ubuntu: apt-get install cryptsetup-bin)")
}

// CryptError is cryptsetup's failure: its exit status and what it said.
type CryptError struct {
	Args   []string
	Status int
	Stderr string
}

func (e *CryptError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no message"
	}
	return fmt.Sprintf("cryptsetup %s: exit status %d: %s", e.Args[0], e.Status, msg)
}

// Unwrap makes exit status 2 (no key available with this passphrase)
// ErrWrongKey.
func (e *CryptError) Unwrap() error {
	if e.Status == 2 {
		return ErrWrongKey
	}
	return nil
}

func (r ExecRunner) Run(ctx context.Context, c Cmd) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.Path, c.Args...)
	// Only what cryptsetup needs: a locale for stable messages. Nothing of
	// ours, and never a key.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	if c.Key != nil {
		// A reader that is not an *os.File: exec gives the child a pipe.
		cmd.Stdin = bytes.NewReader(c.Key)
	}
	if c.Key2 != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		cmd.ExtraFiles = []*os.File{pr}
		written := make(chan struct{})
		go func() {
			defer close(written)
			_, _ = pw.Write(c.Key2)
			pw.Close()
		}()
		// When the child is gone, closing our read end ends a write it
		// never read (EPIPE), and the writer is done with Key2 before
		// Run returns and the caller wipes it.
		defer func() {
			pr.Close()
			<-written
		}()
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), &CryptError{Args: c.Args, Status: ee.ExitCode(), Stderr: errb.String()}
	}
	if err != nil {
		return nil, fmt.Errorf("running cryptsetup: %w", err)
	}
	return out.Bytes(), nil
}

// KDF are the PBKDF settings for new keyslots; zero: cryptsetup's
// defaults.
type KDF struct {
	PBKDF      string // argon2id, argon2i or pbkdf2
	Iterations int    // --pbkdf-force-iterations
}

func (o KDF) args() []string {
	var a []string
	if o.PBKDF != "" {
		a = append(a, "--pbkdf", o.PBKDF)
	}
	if o.Iterations > 0 {
		a = append(a, "--pbkdf-force-iterations", strconv.Itoa(o.Iterations))
	}
	return a
}

// Device is one LUKS2 device (or file) worked on through cryptsetup.
type Device struct {
	Run  Runner
	Path string // the block device, or a file holding a LUKS2 volume
	KDF  KDF    // for new keyslots
}

func (d *Device) do(ctx context.Context, c Cmd) ([]byte, error) {
	return d.Run.Run(ctx, c)
}

// Format makes a new LUKS2 volume whose only key is key, in keyslot 0.
func (d *Device) Format(ctx context.Context, key []byte) error {
	args := append([]string{"luksFormat", "--type", "luks2", "--batch-mode", "--key-file=-", "--key-slot", "0"}, d.KDF.args()...)
	_, err := d.do(ctx, Cmd{Args: append(args, d.Path), Key: key})
	return err
}

// IsLUKS reports whether the device has a LUKS header.
func (d *Device) IsLUKS(ctx context.Context) (bool, error) {
	_, err := d.do(ctx, Cmd{Args: []string{"isLuks", d.Path}})
	var ce *CryptError
	if errors.As(err, &ce) && ce.Status == 1 {
		return false, nil
	}
	return err == nil, err
}

// AddKey adds newKey in keyslot slot, authorised by an existing key given
// either as bytes (on a pipe) or as the path of a key file the user has.
func (d *Device) AddKey(ctx context.Context, slot int, existing []byte, existingFile string, newKey []byte) error {
	args := []string{"luksAddKey", "--batch-mode", "--key-slot", strconv.Itoa(slot), "--new-keyfile=-"}
	c := Cmd{Key: newKey}
	if existingFile != "" {
		args = append(args, "--key-file", existingFile)
	} else {
		args = append(args, "--key-file=/dev/fd/3")
		c.Key2 = existing
	}
	c.Args = append(append(args, d.KDF.args()...), d.Path)
	return wrapKeyErr(d.do(ctx, c))
}

func wrapKeyErr(_ []byte, err error) error {
	if errors.Is(err, ErrWrongKey) {
		return fmt.Errorf("%w: %w", ErrWrongKey, err)
	}
	return err
}

// TestKey checks that key opens keyslot slot (any slot when slot < 0)
// without mapping anything.
func (d *Device) TestKey(ctx context.Context, slot int, key []byte) error {
	args := []string{"open", "--test-passphrase", "--type", "luks2", "--key-file=-"}
	if slot >= 0 {
		args = append(args, "--key-slot", strconv.Itoa(slot))
	}
	return wrapKeyErr(d.do(ctx, Cmd{Args: append(args, d.Path), Key: key}))
}

// Open maps the volume at /dev/mapper/name with key from keyslot slot.
func (d *Device) Open(ctx context.Context, slot int, key []byte, name string) error {
	args := []string{"open", "--type", "luks2", "--key-file=-"}
	if slot >= 0 {
		args = append(args, "--key-slot", strconv.Itoa(slot))
	}
	return wrapKeyErr(d.do(ctx, Cmd{Args: append(args, d.Path, name), Key: key}))
}

// KillSlot wipes keyslot slot, authorised by key (which must open another
// slot: cryptsetup checks it).
func (d *Device) KillSlot(ctx context.Context, slot int, key []byte) error {
	return wrapKeyErr(d.do(ctx, Cmd{Args: []string{"luksKillSlot", "--key-file=-", d.Path, strconv.Itoa(slot)}, Key: key}))
}

// ImportToken stores tok in the header's token area; the JSON goes on
// stdin.
func (d *Device) ImportToken(ctx context.Context, tok Token) error {
	raw, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	_, err = d.do(ctx, Cmd{Args: []string{"token", "import", "--json-file", "-", d.Path}, Key: raw})
	return err
}

func (d *Device) RemoveToken(ctx context.Context, id int) error {
	_, err := d.do(ctx, Cmd{Args: []string{"token", "remove", "--token-id", strconv.Itoa(id), d.Path}})
	return err
}
