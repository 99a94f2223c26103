package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The arca volume commands change LUKS headers only through cryptsetup.
// Every key reaches cryptsetup on a pipe: stdin ("--key-file=-") and, when
// a command needs two keys, a second pipe it reads as /dev/fd/3. No key is
// ever in an argument, in the environment or in a file.

// Errors of the LUKS layer; callers match them with errors.Is.
var (
	// errNotLUKS2: the device has no LUKS2 header.
	errNotLUKS2 = errors.New("not a LUKS2 volume")
	// errNoArcaToken: the header has no token of type arca.
	errNoArcaToken = errors.New("the LUKS2 header holds no arca token: bind the volume first (arca volume bind)")
	// errWrongKey: cryptsetup refused the key (exit status 2).
	errWrongKey = errors.New("the key opens no keyslot")
	// errNoFreeSlot: all 32 LUKS2 keyslots are in use.
	errNoFreeSlot = errors.New("no free LUKS2 keyslot")
)

// cryptCmd is one run of cryptsetup.
type cryptCmd struct {
	Args []string
	// Key is written to the child's stdin (a pipe) when not nil.
	Key []byte
	// Key2 is written to a pipe the child has as fd 3 (/dev/fd/3) when
	// not nil.
	Key2 []byte
}

// cryptRunner runs cryptsetup; tests wrap the real one to record what it
// is given, or to stand in for what cannot run here (mapping a device).
type cryptRunner interface {
	Run(ctx context.Context, c cryptCmd) (stdout []byte, err error)
}

// execRunner runs the cryptsetup program at Path.
type execRunner struct{ Path string }

var _ cryptRunner = execRunner{}

// findCryptsetup returns path if set, else cryptsetup from PATH, /usr/sbin
// or /sbin (a user's PATH may lack the sbin directories).
func findCryptsetup(path string) (string, error) {
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

// cryptError is cryptsetup's failure: its exit status and what it said.
type cryptError struct {
	Args   []string
	Status int
	Stderr string
}

func (e *cryptError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no message"
	}
	return fmt.Sprintf("cryptsetup %s: exit status %d: %s", e.Args[0], e.Status, msg)
}

// Unwrap makes exit status 2 (no key available with this passphrase)
// errWrongKey.
func (e *cryptError) Unwrap() error {
	if e.Status == 2 {
		return errWrongKey
	}
	return nil
}

func (r execRunner) Run(ctx context.Context, c cryptCmd) ([]byte, error) {
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
		defer pr.Close()
		cmd.ExtraFiles = []*os.File{pr}
		go func() {
			_, _ = pw.Write(c.Key2)
			pw.Close()
		}()
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.Bytes(), &cryptError{Args: c.Args, Status: ee.ExitCode(), Stderr: errb.String()}
	}
	if err != nil {
		return nil, fmt.Errorf("running cryptsetup: %w", err)
	}
	return out.Bytes(), nil
}

// kdfOptions are the PBKDF settings for new keyslots; zero: cryptsetup's
// defaults.
type kdfOptions struct {
	PBKDF      string // argon2id, argon2i or pbkdf2
	Iterations int    // --pbkdf-force-iterations
}

func (o kdfOptions) args() []string {
	var a []string
	if o.PBKDF != "" {
		a = append(a, "--pbkdf", o.PBKDF)
	}
	if o.Iterations > 0 {
		a = append(a, "--pbkdf-force-iterations", strconv.Itoa(o.Iterations))
	}
	return a
}

// luksDevice is one LUKS2 device (or file) worked on through cryptsetup.
type luksDevice struct {
	run  cryptRunner
	path string
	kdf  kdfOptions
}

func (d *luksDevice) do(ctx context.Context, c cryptCmd) ([]byte, error) {
	return d.run.Run(ctx, c)
}

// format makes a new LUKS2 volume whose only key is key, in keyslot 0.
func (d *luksDevice) format(ctx context.Context, key []byte) error {
	args := append([]string{"luksFormat", "--type", "luks2", "--batch-mode", "--key-file=-", "--key-slot", "0"}, d.kdf.args()...)
	_, err := d.do(ctx, cryptCmd{Args: append(args, d.path), Key: key})
	return err
}

// isLUKS reports whether the device has a LUKS header.
func (d *luksDevice) isLUKS(ctx context.Context) (bool, error) {
	_, err := d.do(ctx, cryptCmd{Args: []string{"isLuks", d.path}})
	var ce *cryptError
	if errors.As(err, &ce) && ce.Status == 1 {
		return false, nil
	}
	return err == nil, err
}

// addKey adds newKey in keyslot slot, authorised by an existing key given
// either as bytes (on a pipe) or as the path of a key file the user has.
func (d *luksDevice) addKey(ctx context.Context, slot int, existing []byte, existingFile string, newKey []byte) error {
	args := []string{"luksAddKey", "--batch-mode", "--key-slot", strconv.Itoa(slot), "--new-keyfile=-"}
	c := cryptCmd{Key: newKey}
	if existingFile != "" {
		args = append(args, "--key-file", existingFile)
	} else {
		args = append(args, "--key-file=/dev/fd/3")
		c.Key2 = existing
	}
	c.Args = append(append(args, d.kdf.args()...), d.path)
	return wrapKeyErr(d.do(ctx, c))
}

func wrapKeyErr(_ []byte, err error) error {
	if errors.Is(err, errWrongKey) {
		return fmt.Errorf("%w: %w", errWrongKey, err)
	}
	return err
}

// testKey checks that key opens keyslot slot (any slot when slot < 0)
// without mapping anything.
func (d *luksDevice) testKey(ctx context.Context, slot int, key []byte) error {
	args := []string{"open", "--test-passphrase", "--type", "luks2", "--key-file=-"}
	if slot >= 0 {
		args = append(args, "--key-slot", strconv.Itoa(slot))
	}
	return wrapKeyErr(d.do(ctx, cryptCmd{Args: append(args, d.path), Key: key}))
}

// open maps the volume at /dev/mapper/name with key from keyslot slot.
func (d *luksDevice) open(ctx context.Context, slot int, key []byte, name string) error {
	args := []string{"open", "--type", "luks2", "--key-file=-"}
	if slot >= 0 {
		args = append(args, "--key-slot", strconv.Itoa(slot))
	}
	return wrapKeyErr(d.do(ctx, cryptCmd{Args: append(args, d.path, name), Key: key}))
}

// killSlot wipes keyslot slot, authorised by key (which must open another
// slot: cryptsetup checks it).
func (d *luksDevice) killSlot(ctx context.Context, slot int, key []byte) error {
	return wrapKeyErr(d.do(ctx, cryptCmd{Args: []string{"luksKillSlot", "--key-file=-", d.path, strconv.Itoa(slot)}, Key: key}))
}

// importToken stores tok in the header's token area; the JSON goes on
// stdin.
func (d *luksDevice) importToken(ctx context.Context, tok arcaToken) error {
	raw, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	_, err = d.do(ctx, cryptCmd{Args: []string{"token", "import", "--json-file", "-", d.path}, Key: raw})
	return err
}

func (d *luksDevice) removeToken(ctx context.Context, id int) error {
	_, err := d.do(ctx, cryptCmd{Args: []string{"token", "remove", "--token-id", strconv.Itoa(id), d.path}})
	return err
}

// luksMeta is the part of a LUKS2 header's JSON metadata the commands read.
type luksMeta struct {
	Keyslots map[string]json.RawMessage `json:"keyslots"`
	Tokens   map[string]json.RawMessage `json:"tokens"`
}

// metadata reads the header's JSON metadata.
func (d *luksDevice) metadata(ctx context.Context) (*luksMeta, error) {
	out, err := d.do(ctx, cryptCmd{Args: []string{"luksDump", "--dump-json-metadata", d.path}})
	var ce *cryptError
	if errors.As(err, &ce) && (ce.Status == 1 || ce.Status == 4) {
		return nil, fmt.Errorf("%s: %w (%v)", d.path, errNotLUKS2, err)
	}
	if err != nil {
		return nil, err
	}
	var m luksMeta
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("%s: reading the LUKS2 metadata: %w", d.path, err)
	}
	return &m, nil
}

// freeSlot returns the lowest keyslot number not in use (LUKS2 has 32).
func (m *luksMeta) freeSlot() (int, error) {
	for i := 0; i < 32; i++ {
		if _, used := m.Keyslots[strconv.Itoa(i)]; !used {
			return i, nil
		}
	}
	return 0, errNoFreeSlot
}

// slots returns the keyslot numbers in use, in order.
func (m *luksMeta) slots() []int {
	var out []int
	for k := range m.Keyslots {
		if n, err := strconv.Atoi(k); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// arcaTokens returns the header's tokens of type arca by token id, in
// order of id. A token of type arca that does not parse is returned with
// its error, so that a caller can say which one is broken.
func (m *luksMeta) arcaTokens() []foundToken {
	var out []foundToken
	for k, raw := range m.Tokens {
		id, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		var probe struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &probe) != nil || probe.Type != arcaTokenType {
			continue
		}
		ft := foundToken{ID: id}
		ft.Err = parseToken(raw, &ft.Token)
		out = append(out, ft)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// foundToken is an arca token read from a header.
type foundToken struct {
	ID    int
	Token arcaToken
	Err   error
}
