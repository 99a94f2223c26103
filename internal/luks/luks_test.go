package luks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/arca-secrets/arca/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// recorder runs cryptsetup for real, except "open" without
// --test-passphrase (device-mapper is absent on the test machines): that
// one it records and answers as if it had mapped the volume.
type recorder struct {
	real ExecRunner
	mu   sync.Mutex
	runs []Cmd
}

func (r *recorder) Run(ctx context.Context, c Cmd) ([]byte, error) {
	r.mu.Lock()
	r.runs = append(r.runs, Cmd{Args: slices.Clone(c.Args), Key: bytes.Clone(c.Key), Key2: bytes.Clone(c.Key2)})
	r.mu.Unlock()
	if c.Args[0] == "open" && !slices.Contains(c.Args, "--test-passphrase") {
		return nil, nil
	}
	return r.real.Run(ctx, c)
}

// fakeSource stands for the server: it hands out random hex passphrases
// and unwraps the forms it made.
type fakeSource struct {
	mu    sync.Mutex
	n     int
	keys  map[string]string
	fails error
}

func (f *fakeSource) Passphrase(_ context.Context, volume string) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw := make([]byte, 64)
	_, _ = rand.Read(raw)
	f.n++
	wrapped := "arca:v1:" + volume + "-" + strings.Repeat("x", f.n)
	if f.keys == nil {
		f.keys = map[string]string{}
	}
	f.keys[wrapped] = hex.EncodeToString(raw)
	return []byte(hex.EncodeToString(raw)), wrapped, nil
}

func (f *fakeSource) Unwrap(_ context.Context, tok Token) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails != nil {
		return nil, f.fails
	}
	k, ok := f.keys[tok.Wrapped]
	if !ok {
		return nil, errors.New("does not open")
	}
	return []byte(k), nil
}

// newDevice returns a 32 MiB file to format, worked on through rec.
func newDevice(t *testing.T) (*Device, *recorder) {
	t.Helper()
	rec := &recorder{real: ExecRunner{Path: testenv.Program(t, "cryptsetup", "cryptsetup-bin")}}
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 32<<20); err != nil {
		t.Fatal(err)
	}
	return &Device{Run: rec, Path: path, KDF: KDF{PBKDF: "pbkdf2", Iterations: 1000}}, rec
}

var testToken = Token{Address: "http://127.0.0.1:8200", Mount: "volume", Volume: "web1"}

// TestUnlockOpenArguments covers the path that maps a volume, which cannot
// run here: the exact arguments cryptsetup gets, the key on its stdin and
// nowhere else, and that this key really opens the token's keyslot.
func TestUnlockOpenArguments(t *testing.T) {
	dev, rec := newDevice(t)
	src := &fakeSource{}
	ctx := context.Background()
	tok, err := FormatVolume(ctx, dev, src, testToken)
	if err != nil {
		t.Fatal(err)
	}
	rec.runs = nil
	ft, key, err := Unlock(ctx, dev, src, false, "data", false)
	if err != nil || key != nil || ft.Token.Wrapped != tok.Wrapped {
		t.Fatalf("unlock: %v, key returned %v", err, key != nil)
	}
	if len(rec.runs) != 2 {
		t.Fatalf("cryptsetup ran %d times, want 2 (luksDump, open): %v", len(rec.runs), rec.runs)
	}
	open := rec.runs[1]
	want := []string{"open", "--type", "luks2", "--key-file=-", "--key-slot", "0", dev.Path, "data"}
	if diff := cmp.Diff(want, open.Args); diff != "" {
		t.Fatalf("open arguments (-want +got):\n%s", diff)
	}
	pass := src.keys[tok.Wrapped]
	if string(open.Key) != pass || open.Key2 != nil {
		t.Fatal("open did not get the unwrapped passphrase on stdin alone")
	}
	for _, a := range open.Args {
		if strings.Contains(a, pass) {
			t.Fatal("the passphrase is in an argument")
		}
	}
	if err := dev.TestKey(ctx, 0, open.Key); err != nil {
		t.Fatalf("the key given to open does not open keyslot 0: %v", err)
	}
}

// TestExecRunnerPipes: the keys reach the child on a pipe as stdin and fd
// 3, and its environment is ours only for PATH and the locale.
func TestExecRunnerPipes(t *testing.T) {
	r := ExecRunner{Path: "/bin/sh"}
	script := `cat; echo; cat <&3; echo; readlink /proc/self/fd/0; readlink /proc/self/fd/3; env | sort`
	out, err := r.Run(context.Background(), Cmd{Args: []string{"-c", script}, Key: []byte("key-one"), Key2: []byte("key-two")})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 4 || lines[0] != "key-one" || lines[1] != "key-two" || !strings.HasPrefix(lines[2], "pipe:") || !strings.HasPrefix(lines[3], "pipe:") {
		t.Fatalf("child saw:\n%s", out)
	}
	for _, l := range lines[4:] {
		if k, _, _ := strings.Cut(l, "="); k != "PATH" && k != "LC_ALL" && k != "PWD" && k != "SHLVL" && k != "_" {
			t.Errorf("child environment has %s", l)
		}
	}
}

// TestBindRotateUnlock: bind with an existing passphrase, then rotate: one
// arca token, one Arca keyslot (not the old one), and the first
// passphrase still opens its own slot.
func TestBindRotateUnlock(t *testing.T) {
	dev, rec := newDevice(t)
	ctx := context.Background()
	if _, err := dev.do(ctx, Cmd{Args: []string{"luksFormat", "--type", "luks2", "--batch-mode", "--key-file=-", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", dev.Path}, Key: []byte("first")}); err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{}
	if _, err := Bind(ctx, dev, src, testToken, []byte("wrong"), ""); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("bind with a wrong existing passphrase: got %v, want ErrWrongKey", err)
	}
	tok, err := Bind(ctx, dev, src, testToken, []byte("first"), "")
	if err != nil || tok.Slot() != 1 {
		t.Fatalf("bind: slot %v, %v", tok.Keyslots, err)
	}
	if _, err := Bind(ctx, dev, src, testToken, []byte("first"), ""); !errors.Is(err, ErrBound) {
		t.Fatalf("second bind: got %v, want ErrBound", err)
	}
	rec.runs = nil
	old, next, err := Rotate(ctx, dev, src)
	if err != nil || old.Token.Slot() != 1 || next.Slot() != 2 {
		t.Fatalf("rotate: %v -> %v, %v", old.Token.Keyslots, next.Keyslots, err)
	}
	for _, run := range rec.runs {
		for _, a := range run.Args {
			for _, k := range src.keys {
				if strings.Contains(a, k) {
					t.Fatalf("a passphrase is in the arguments of cryptsetup %s", run.Args[0])
				}
			}
		}
	}
	meta, err := dev.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := meta.Slots(); !slices.Equal(got, []int{0, 2}) {
		t.Fatalf("keyslots after rotate: %v, want [0 2]", got)
	}
	if ts := meta.ArcaTokens(); len(ts) != 1 || ts[0].Token.Slot() != 2 {
		t.Fatalf("arca tokens after rotate: %+v", ts)
	}
	if _, _, err := Unlock(ctx, dev, src, true, "", false); err != nil {
		t.Fatalf("unlock -test after rotate: %v", err)
	}
	if err := dev.TestKey(ctx, 0, []byte("first")); err != nil {
		t.Fatalf("the first passphrase no longer opens slot 0: %v", err)
	}
	// The server failing is an unlock that fails and says why.
	src.fails = errors.New("volume web1 was revoked")
	if _, _, err := Unlock(ctx, dev, src, true, "", false); err == nil || !strings.Contains(err.Error(), "was revoked") {
		t.Fatalf("unlock with a refusing server: %v", err)
	}
}

func TestUnlockWithoutToken(t *testing.T) {
	dev, _ := newDevice(t)
	ctx := context.Background()
	if _, _, err := Unlock(ctx, dev, &fakeSource{}, true, "", false); !errors.Is(err, ErrNotLUKS2) {
		t.Fatalf("unlock of a file of zeros: got %v, want ErrNotLUKS2", err)
	}
	if _, err := dev.do(ctx, Cmd{Args: []string{"luksFormat", "--type", "luks2", "--batch-mode", "--key-file=-", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", dev.Path}, Key: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Unlock(ctx, dev, &fakeSource{}, true, "", false); !errors.Is(err, ErrNoArcaToken) {
		t.Fatalf("unlock without an arca token: got %v, want ErrNoArcaToken", err)
	}
}

func TestParseToken(t *testing.T) {
	good := map[string]any{"type": "arca", "keyslots": []string{"1"}, "arca_address": "https://arca.example:8200", "arca_mount": "volume", "arca_volume": "web1", "arca_wrapped": "arca:v1:AAAA"}
	tests := []struct {
		name  string
		key   string
		value any
		ok    bool
	}{
		{"good", "", nil, true},
		{"nested mount", "arca_mount", "disks/eu", true},
		{"other type", "type", "luks2-other", false},
		{"two keyslots", "keyslots", []string{"1", "2"}, false},
		{"keyslot out of range", "keyslots", []string{"32"}, false},
		{"keyslot spelled oddly", "keyslots", []string{"01"}, false},
		{"volume with a slash", "arca_volume", "web1/../x", false},
		{"volume dot-dot", "arca_volume", "..", false},
		{"mount dot-dot", "arca_mount", "volume/..", false},
		{"mount empty segment", "arca_mount", "a//b", false},
		{"address not http", "arca_address", "file:///etc/passwd", false},
		{"address without host", "arca_address", "http://", false},
		{"not wrapped", "arca_wrapped", "plaintext", false},
		{"keyslots not strings", "keyslots", []int{1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]any{}
			for k, v := range good {
				m[k] = v
			}
			if tc.key != "" {
				m[tc.key] = tc.value
			}
			raw, _ := json.Marshal(m)
			var tok Token
			err := ParseToken(raw, &tok)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadToken)) {
				t.Fatalf("ParseToken: got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestRecoveryShares: recovery adds a keyslot that any threshold of the
// shares opens once decrypted by their holders; fewer shares, or shares
// of another volume, do not.
func TestRecoveryShares(t *testing.T) {
	dev, rec := newDevice(t)
	ctx := context.Background()
	src := &fakeSource{}
	if _, err := FormatVolume(ctx, dev, src, testToken); err != nil {
		t.Fatal(err)
	}
	var ids []*age.X25519Identity
	var recipients []age.Recipient
	for range 3 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		recipients = append(recipients, id.Recipient())
	}
	out := t.TempDir()
	rec.runs = nil
	slot, files, err := AddRecovery(ctx, dev, src, RecoveryPlan{Shares: 3, Threshold: 2, Recipients: recipients, OutDir: out})
	if err != nil || slot != 1 || len(files) != 3 {
		t.Fatalf("AddRecovery: slot %d, %d files, %v", slot, len(files), err)
	}
	if _, _, err := AddRecovery(ctx, dev, src, RecoveryPlan{Shares: 3, Threshold: 2, Recipients: recipients, OutDir: t.TempDir()}); !errors.Is(err, ErrRecoveryExists) {
		t.Fatalf("second recovery: got %v, want ErrRecoveryExists", err)
	}
	var lines []string
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), SharePrefix) {
			t.Fatalf("share file %s holds the share in plaintext", f)
		}
		r, err := age.Decrypt(armor.NewReader(bytes.NewReader(raw)), ids[i])
		if err != nil {
			t.Fatalf("holder %d cannot decrypt %s: %v", i+1, f, err)
		}
		b, _ := io.ReadAll(r)
		lines = append(lines, string(b))
	}
	uuid, err := dev.UUID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]int{{0, 1}, {1, 2}, {0, 2}} {
		key, err := CombineShares(strings.NewReader(lines[pair[0]]+lines[pair[1]]), uuid)
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.TestKey(ctx, slot, key); err != nil {
			t.Fatalf("shares %v do not open the recovery slot: %v", pair, err)
		}
		for _, run := range rec.runs {
			for _, a := range run.Args {
				if strings.Contains(a, string(key)) {
					t.Fatalf("the recovery passphrase is in the arguments of cryptsetup %s", run.Args[0])
				}
			}
		}
	}
	if _, err := CombineShares(strings.NewReader(lines[0]), uuid); !errors.Is(err, ErrFewShares) {
		t.Fatalf("one share: got %v, want ErrFewShares", err)
	}
	if _, err := CombineShares(strings.NewReader(lines[0]+lines[1]), "other-uuid"); !errors.Is(err, ErrBadShare) {
		t.Fatalf("shares of another volume: got %v, want ErrBadShare", err)
	}
	bad := strings.Replace(lines[1], ":2:", ":3:", 1)
	if _, err := CombineShares(strings.NewReader(lines[0]+bad), uuid); !errors.Is(err, ErrBadShare) {
		t.Fatalf("mixed thresholds: got %v, want ErrBadShare", err)
	}
	// An altered share (one hex digit of its value) combines into a key
	// that opens nothing.
	i := len(lines[1]) - 20
	digit := "0"
	if lines[1][i] == '0' {
		digit = "1"
	}
	altered := lines[1][:i] + digit + lines[1][i+1:]
	key, err := CombineShares(strings.NewReader(lines[0]+altered), uuid)
	if err != nil {
		t.Fatalf("an altered share: %v", err)
	}
	if err := dev.TestKey(ctx, -1, key); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("an altered share: got %v, want ErrWrongKey", err)
	}
	meta, _ := dev.Metadata(ctx)
	if got := RecoverySlot(meta); got != slot {
		t.Fatalf("RecoverySlot: %d, want %d", got, slot)
	}
}
