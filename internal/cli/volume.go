package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/arca-secrets/arca/internal/luks"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/openbao/openbao/api/v2"
)

func runVolume(e *env, args []string) int {
	return subcommands(e, "volume", args, map[string]func(*env, []string) int{
		"format":   runVolumeFormat,
		"bind":     runVolumeBind,
		"unlock":   runVolumeUnlock,
		"rotate":   runVolumeRotate,
		"status":   runVolumeStatus,
		"list":     runVolumeList,
		"recovery": runVolumeRecovery,
		"recover":  runVolumeRecover,
	})
}

// volumeFlags are the flags the volume commands share.
type volumeFlags struct {
	common     commonFlags
	mount      string // the volume engine's mount; default "volume"
	cryptsetup string // the cryptsetup program; default found in PATH, /usr/sbin, /sbin
	kdf        luks.KDF
}

// volumeCmd is a parsed volume command.
type volumeCmd struct {
	e   *env
	f   volumeFlags
	dev *luks.Device // nil for commands without a device
	// retry governs the unwrap requests (zero: one try).
	retry retrier
}

// parseVolume parses a volume command's flags; with device set, the one
// positional argument is the device.
func parseVolume(e *env, name string, args []string, device, newSlots bool, addFlags func(*flag.FlagSet)) (*volumeCmd, int) {
	v := &volumeCmd{e: e}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	v.f.common.register(fs)
	fs.StringVar(&v.f.mount, "mount", "volume", "where the volume secrets engine is mounted")
	if device {
		fs.StringVar(&v.f.cryptsetup, "cryptsetup", "", "the cryptsetup program (default: cryptsetup from PATH, /usr/sbin or /sbin)")
	}
	if newSlots {
		fs.StringVar(&v.f.kdf.PBKDF, "pbkdf", "", "PBKDF of the new keyslot: argon2id, argon2i or pbkdf2 (default: cryptsetup's)")
		fs.IntVar(&v.f.kdf.Iterations, "pbkdf-iterations", 0, "fixed PBKDF iterations for the new keyslot (default: benchmarked by cryptsetup)")
	}
	if addFlags != nil {
		addFlags(fs)
	}
	pos, ok := parseFlags(e, fs, args)
	if !ok {
		return nil, exitUsage
	}
	want := 0
	if device {
		want = 1
	}
	if len(pos) != want {
		return nil, usageError(e, "arca %s: wrong number of arguments (got %d); see arca %s -h", name, len(pos), name)
	}
	if err := v.f.common.validate(); err != nil {
		return nil, usageError(e, "%v", err)
	}
	v.f.mount = strings.Trim(v.f.mount, "/")
	if !luks.ValidMount(v.f.mount) {
		return nil, usageError(e, "-mount %q is not a mount path", v.f.mount)
	}
	if device {
		path, err := luks.FindCryptsetup(v.f.cryptsetup)
		if err != nil {
			return nil, apiError(e, "finding cryptsetup", err)
		}
		v.dev = &luks.Device{Run: luks.ExecRunner{Path: path}, Path: pos[0], KDF: v.f.kdf}
	}
	return v, -1
}

// configuredAddr is the server address the host is configured with (flag,
// then environment), or "".
func (v *volumeCmd) configuredAddr() string {
	if v.f.common.address != "" {
		return v.f.common.address
	}
	return v.e.firstEnv("ARCA_ADDR", "VAULT_ADDR")
}

// errOtherServer: a token names a server other than the configured one.
// The host's credentials are never sent to an address read from a disk.
var errOtherServer = errors.New("the arca token names another server than the one this host is configured for")

// apiSource is the luks.KeySource of the real server. The client's address is
// the configured one or, without one, the token's; a token naming another
// server than the configured one is refused.
type apiSource struct {
	v     *volumeCmd
	mount string
}

func (s apiSource) client(addr string) (*api.Client, error) {
	cf := s.v.f.common
	cf.address = addr
	return s.v.e.client(&cf)
}

func sameAddr(a, b string) bool { return strings.TrimRight(a, "/") == strings.TrimRight(b, "/") }

func (s apiSource) Passphrase(ctx context.Context, volume string) ([]byte, string, error) {
	c, err := s.client(s.v.configuredAddr())
	if err != nil {
		return nil, "", err
	}
	// The volume may have been created by an administrator who grants
	// this host only its passphrase: a refused create is not an error.
	if _, err := c.Logical().WriteWithContext(ctx, s.mount+"/volumes/"+volume, nil); err != nil && statusCode(err) != http.StatusForbidden {
		return nil, "", fmt.Errorf("creating volume %s: %w", volume, err)
	}
	sec, err := c.Logical().WriteWithContext(ctx, s.mount+"/volumes/"+volume+"/passphrase", nil)
	if err != nil {
		return nil, "", fmt.Errorf("asking for a passphrase of volume %s: %w", volume, err)
	}
	pass, _ := secretField(sec, "passphrase")
	wrapped, _ := secretField(sec, "wrapped")
	if pass == "" || wrapped == "" {
		return nil, "", fmt.Errorf("the server's answer for volume %s lacks the passphrase or its wrapped form", volume)
	}
	return []byte(pass), wrapped, nil
}

func (s apiSource) Unwrap(ctx context.Context, tok luks.Token) ([]byte, error) {
	addr := s.v.configuredAddr()
	if addr != "" && !sameAddr(addr, tok.Address) {
		return nil, fmt.Errorf("%w (token: %s, configured: %s)", errOtherServer, tok.Address, addr)
	}
	c, err := s.client(tok.Address)
	if err != nil {
		return nil, err
	}
	var sec *api.Secret
	err = s.v.retry.do(ctx, func() error {
		var err error
		sec, err = c.Logical().WriteWithContext(ctx, tok.APIPath("unwrap"), map[string]any{"wrapped": tok.Wrapped})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("unwrapping at %s: %w", tok.Address, err)
	}
	pass, _ := secretField(sec, "passphrase")
	if pass == "" {
		return nil, errors.New("the server's answer lacks the passphrase")
	}
	return []byte(pass), nil
}

func secretField(s *api.Secret, key string) (string, bool) {
	if s == nil {
		return "", false
	}
	v, ok := s.Data[key].(string)
	return v, ok
}

func statusCode(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// newToken is the token format and bind start from: this host's server and
// mount, and the volume's name.
func (v *volumeCmd) newToken(volume string) (luks.Token, error) {
	c, err := v.e.client(&v.f.common)
	if err != nil {
		return luks.Token{}, err
	}
	return luks.Token{Address: strings.TrimRight(c.Address(), "/"), Mount: v.f.mount, Volume: volume}, nil
}

func runVolumeFormat(e *env, args []string) int {
	var name string
	var force bool
	v, code := parseVolume(e, "volume format", args, true, true, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the volume's name in Arca (required)")
		fs.BoolVar(&force, "force", false, "format even over an existing LUKS header (its data is lost)")
	})
	if code >= 0 {
		return code
	}
	if !luks.ValidName(name) {
		return usageError(e, "-name must be a volume name: letters, digits, '-', '_' and '.'")
	}
	ctx := context.Background()
	if luks, err := v.dev.IsLUKS(ctx); err != nil {
		return apiError(e, "checking "+v.dev.Path, err)
	} else if luks && !force {
		fmt.Fprintf(e.stderr, "Error: %s holds a LUKS header already; bind it instead (arca volume bind), or format it with -force, which destroys its data\n", v.dev.Path)
		return exitError
	}
	tok, err := v.newToken(name)
	if err != nil {
		return apiError(e, "creating client", err)
	}
	tok, err = luks.FormatVolume(ctx, v.dev, apiSource{v, v.f.mount}, tok)
	if err != nil {
		return apiError(e, "formatting "+v.dev.Path, err)
	}
	fmt.Fprintf(e.stdout, "Success! Formatted %s as LUKS2; keyslot %s opens with a passphrase of Arca volume %s\n", v.dev.Path, tok.Keyslots[0], name)
	return exitOK
}

func runVolumeBind(e *env, args []string) int {
	var name, keyFile string
	v, code := parseVolume(e, "volume bind", args, true, true, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "the volume's name in Arca (required)")
		fs.StringVar(&keyFile, "key-file", "", "a key file that opens the volume now (default: read an existing passphrase, one line, from stdin)")
	})
	if code >= 0 {
		return code
	}
	if !luks.ValidName(name) {
		return usageError(e, "-name must be a volume name: letters, digits, '-', '_' and '.'")
	}
	var existing []byte
	if keyFile == "" {
		var err error
		if existing, err = readPassphraseLine(e.stdin); err != nil {
			return usageError(e, "arca volume bind: %v", err)
		}
		defer luks.Wipe(existing)
	}
	tok, err := v.newToken(name)
	if err != nil {
		return apiError(e, "creating client", err)
	}
	ctx := context.Background()
	tok, err = luks.Bind(ctx, v.dev, apiSource{v, v.f.mount}, tok, existing, keyFile)
	if err != nil {
		return apiError(e, "binding "+v.dev.Path, err)
	}
	fmt.Fprintf(e.stdout, "Success! Keyslot %s of %s opens with a passphrase of Arca volume %s\n", tok.Keyslots[0], v.dev.Path, name)
	return exitOK
}

// readPassphraseLine reads one passphrase line from r, without its line
// ending, as cryptsetup reads a typed passphrase.
func readPassphraseLine(r io.Reader) ([]byte, error) {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return nil, errors.New("give an existing passphrase on stdin (a pipe) or -key-file; it is not read from a terminal")
		}
	}
	line, err := bufio.NewReader(r).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	line = []byte(strings.TrimRight(string(line), "\r\n"))
	if len(line) == 0 {
		return nil, errors.New("no existing passphrase on stdin (or give -key-file)")
	}
	return line, nil
}

func runVolumeUnlock(e *env, args []string) int {
	var mapper string
	var test bool
	var retryFor time.Duration
	v, code := parseVolume(e, "volume unlock", args, true, false, func(fs *flag.FlagSet) {
		fs.StringVar(&mapper, "name", "", "the device-mapper name: the volume appears as /dev/mapper/NAME")
		fs.BoolVar(&test, "test", false, "only check that Arca's passphrase opens the keyslot (cryptsetup open --test-passphrase)")
		fs.DurationVar(&retryFor, "retry-for", 0, "keep trying this long while the server does not answer or answers 5xx (at boot: the network coming up, a sealed server); a refusal is never retried")
	})
	if code >= 0 {
		return code
	}
	if retryFor > 0 {
		v.retry = retrier{until: time.Now().Add(retryFor), now: time.Now, sleep: sleepCtx, report: func(err error, pause time.Duration) {
			fmt.Fprintf(e.stderr, "arca volume unlock: %v; retrying in %s\n", err, pause)
		}}
	}
	if !test && !luks.ValidName(mapper) {
		return usageError(e, "arca volume unlock: -name (the /dev/mapper name) is required without -test")
	}
	ft, _, err := luks.Unlock(context.Background(), v.dev, apiSource{v, v.f.mount}, test, mapper, false)
	if err != nil {
		return apiError(e, "unlocking "+v.dev.Path, err)
	}
	if test {
		fmt.Fprintf(e.stdout, "Success! Arca volume %s's passphrase opens keyslot %d of %s (test only: nothing mapped)\n", ft.Token.Volume, ft.Token.Slot(), v.dev.Path)
	} else {
		fmt.Fprintf(e.stdout, "Success! Opened %s as /dev/mapper/%s\n", v.dev.Path, mapper)
	}
	return exitOK
}

func runVolumeRotate(e *env, args []string) int {
	v, code := parseVolume(e, "volume rotate", args, true, true, nil)
	if code >= 0 {
		return code
	}
	old, next, err := luks.Rotate(context.Background(), v.dev, apiSource{v, v.f.mount})
	if err != nil {
		return apiError(e, "rotating "+v.dev.Path, err)
	}
	fmt.Fprintf(e.stdout, "Success! A new passphrase of Arca volume %s opens keyslot %s of %s; keyslot %d is wiped\n", next.Volume, next.Keyslots[0], v.dev.Path, old.Token.Slot())
	return exitOK
}

func runVolumeList(e *env, args []string) int {
	v, code := parseVolume(e, "volume list", args, false, false, nil)
	if code >= 0 {
		return code
	}
	c, err := e.client(&v.f.common)
	if err != nil {
		return apiError(e, "creating client", err)
	}
	s, err := c.Logical().List(v.f.mount + "/volumes/")
	if err != nil {
		return apiError(e, "listing volumes", err)
	}
	if s == nil {
		s = &api.Secret{Data: map[string]any{}}
	}
	return printKeys(e, v.f.common.format, s)
}
