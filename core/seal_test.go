package core

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/seal/sealtest"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

const testSealBinding = "test-seal"

// xorSeal is a seal that needs people but is not Shamir: its key is the
// xor of all its shares, so the threshold is always the number of shares.
// A core that combined shares with Shamir itself could not unseal with it.
// It records what core asked of it.
type xorSeal struct {
	mu      sync.Mutex
	wraps   int
	unwraps [][][]byte // the shares of each Unwrap
}

var (
	_ seal.Seal         = (*xorSeal)(nil)
	_ seal.ShareChecker = (*xorSeal)(nil)
)

func (*xorSeal) Type() string                 { return "xor-test" }
func (*xorSeal) AutoUnseal() bool             { return false }
func (*xorSeal) Health(context.Context) error { return nil }

func (s *xorSeal) Wrap(_ context.Context, rootKey []byte, split seal.Split) ([]byte, [][]byte, error) {
	if split.Shares < 1 || split.Threshold != split.Shares {
		return nil, nil, seal.ErrInvalidSplit
	}
	s.mu.Lock()
	s.wraps++
	s.mu.Unlock()
	key := make([]byte, barrier.KeySize)
	shares := make([][]byte, split.Shares)
	for i := range shares {
		shares[i] = make([]byte, barrier.KeySize)
		if _, err := rand.Read(shares[i]); err != nil {
			return nil, nil, err
		}
		for j := range key {
			key[j] ^= shares[i][j]
		}
	}
	wrapped, err := barrier.SealWithKey(key, testSealBinding, rootKey)
	return wrapped, shares, err
}

func (s *xorSeal) Unwrap(_ context.Context, wrapped []byte, shares [][]byte) ([]byte, error) {
	s.mu.Lock()
	var copied [][]byte
	for _, sh := range shares {
		copied = append(copied, bytes.Clone(sh))
	}
	s.unwraps = append(s.unwraps, copied)
	s.mu.Unlock()
	key := make([]byte, barrier.KeySize)
	for _, sh := range shares {
		for j := range key {
			key[j] ^= sh[j]
		}
	}
	root, err := barrier.OpenWithKey(key, testSealBinding, wrapped)
	if err != nil {
		return nil, seal.ErrUnwrap
	}
	return root, nil
}

func (*xorSeal) CheckShare(share []byte, _ seal.Split) error {
	if len(share) != barrier.KeySize {
		return seal.ErrInvalidShare
	}
	return nil
}

// autoSeal unseals by itself with a key it holds, like an HSM would.
type autoSeal struct {
	key       []byte
	unhealthy error
}

var _ seal.Seal = (*autoSeal)(nil)

func newAutoSeal(t *testing.T) *autoSeal {
	key := make([]byte, barrier.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return &autoSeal{key: key}
}

func (*autoSeal) Type() string                   { return "auto-test" }
func (*autoSeal) AutoUnseal() bool               { return true }
func (s *autoSeal) Health(context.Context) error { return s.unhealthy }

func (s *autoSeal) Wrap(_ context.Context, rootKey []byte, _ seal.Split) ([]byte, [][]byte, error) {
	w, err := barrier.SealWithKey(s.key, testSealBinding, rootKey)
	return w, nil, err
}

func (s *autoSeal) Unwrap(_ context.Context, wrapped []byte, _ [][]byte) ([]byte, error) {
	root, err := barrier.OpenWithKey(s.key, testSealBinding, wrapped)
	if err != nil {
		return nil, seal.ErrUnwrap
	}
	return root, nil
}

func TestTestSealsConform(t *testing.T) {
	sealtest.Run(t, newAutoSeal(t))
}

func newSealCore(s seal.Seal, st storage.Backend) *Core {
	return New(Config{Storage: st, StorageType: "inmem", Memory: secmem.BestEffort, Seal: s})
}

func TestInitUnsealRekeyGoThroughTheSeal(t *testing.T) {
	ctx := context.Background()
	s := &xorSeal{}
	c := newSealCore(s, inmem.New())

	res, err := c.Init(ctx, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.wraps != 1 || len(res.Shares) != 3 {
		t.Fatalf("init: %d wraps, %d shares; want 1 wrap and the seal's 3 shares", s.wraps, len(res.Shares))
	}
	st, err := c.SealStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := SealStatus{Type: "xor-test", Initialized: true, Sealed: true, Threshold: 3, Shares: 3, StorageType: "inmem"}
	if st != want {
		t.Fatalf("seal status: got %+v, want %+v", st, want)
	}

	// The seal's share check refuses a malformed share without counting it.
	if _, err := c.Unseal(ctx, res.Shares[0]); err != nil {
		t.Fatal(err)
	}
	st, err = c.Unseal(ctx, res.Shares[1][:5])
	if !errors.Is(err, ErrInvalidUnsealKey) || st.Progress != 1 {
		t.Fatalf("malformed share: got progress %d, %v; want 1, ErrInvalidUnsealKey", st.Progress, err)
	}
	if _, err := c.Unseal(ctx, res.Shares[1]); err != nil {
		t.Fatal(err)
	}
	if st, err = c.Unseal(ctx, res.Shares[2]); err != nil || st.Sealed {
		t.Fatalf("after 3 shares: sealed=%v, %v", st.Sealed, err)
	}
	if len(s.unwraps) != 1 || len(s.unwraps[0]) != 3 {
		t.Fatalf("unseal: the seal unwrapped %d times, want once with the 3 shares", len(s.unwraps))
	}
	for i, sh := range s.unwraps[0] {
		if !bytes.Equal(sh, res.Shares[i]) {
			t.Fatalf("unwrap share %d is not the share given", i)
		}
	}

	// Rekey: the seal unwraps with the current shares and wraps anew.
	rk, err := c.RekeyInit(ctx, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range res.Shares {
		if rk, err = c.RekeyUpdate(ctx, sh, rk.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if !rk.Complete || len(rk.Keys) != 2 || s.wraps != 2 || len(s.unwraps) != 2 {
		t.Fatalf("rekey: complete=%v keys=%d wraps=%d unwraps=%d; want true, 2, 2, 2", rk.Complete, len(rk.Keys), s.wraps, len(s.unwraps))
	}

	// The old shares no longer unseal; the new ones do.
	if err := c.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unseal(ctx, res.Shares[0]); err != nil {
		t.Fatal(err)
	}
	if st, err = c.Unseal(ctx, res.Shares[1]); !errors.Is(err, ErrUnsealFailed) || st.Progress != 0 {
		t.Fatalf("old shares after rekey: got progress %d, %v; want 0, ErrUnsealFailed", st.Progress, err)
	}
	for _, sh := range rk.Keys {
		st, err = c.Unseal(ctx, sh)
	}
	if err != nil || st.Sealed {
		t.Fatalf("new shares: sealed=%v, %v", st.Sealed, err)
	}
}

func TestSealThatUnsealsByItself(t *testing.T) {
	ctx := context.Background()
	s := newAutoSeal(t)
	c := newSealCore(s, inmem.New())

	for _, p := range []InitParams{
		{SecretShares: 5, SecretThreshold: 3},
		{SecretShares: 5, SecretThreshold: 3, RecoveryShares: 5, RecoveryThreshold: 3},
	} {
		_, err := c.InitWith(ctx, p)
		if !errors.Is(err, ErrSealUnsupported) || !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("init %+v: got %v, want ErrSealUnsupported as an invalid request", p, err)
		}
	}
	s.unhealthy = seal.ErrUnavailable
	if _, err := c.InitWith(ctx, InitParams{}); !errors.Is(err, seal.ErrUnavailable) {
		t.Fatalf("init with the seal unavailable: got %v, want ErrUnavailable", err)
	}
	s.unhealthy = nil
	if ok, _ := c.Initialized(ctx); ok {
		t.Fatal("initialised by a refused init")
	}

	res, err := c.InitWith(ctx, InitParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Shares) != 0 || res.RootToken == "" {
		t.Fatalf("init: %d shares, root token %q; want no shares and a token", len(res.Shares), res.RootToken)
	}
	st, err := c.SealStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.RecoverySeal || st.Type != "auto-test" || !st.Sealed || !st.Initialized {
		t.Fatalf("seal status: %+v", st)
	}
	if _, err := c.Unseal(ctx, make([]byte, 32)); !errors.Is(err, ErrSealUnsupported) {
		t.Fatalf("unseal with a share: got %v, want ErrSealUnsupported", err)
	}
	for range 2 {
		if err := c.AutoUnseal(ctx); err != nil {
			t.Fatal(err)
		}
		if c.Sealed() {
			t.Fatal("sealed after AutoUnseal")
		}
		if _, err := c.RekeyInit(ctx, 3, 2); !errors.Is(err, ErrSealUnsupported) {
			t.Fatalf("rekey: got %v, want ErrSealUnsupported", err)
		}
		if err := c.Seal(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// A different key (another HSM) cannot unwrap, and says so.
	other := newSealCore(newAutoSeal(t), c.physical)
	if err := other.AutoUnseal(ctx); !errors.Is(err, seal.ErrUnwrap) || !other.Sealed() {
		t.Fatalf("another seal key: got %v, want ErrUnwrap and still sealed", err)
	}
}

func TestShamirSealRefusesWhatItDoesNotDo(t *testing.T) {
	ctx := context.Background()
	c := newSealCore(nil, inmem.New())
	_, err := c.InitWith(ctx, InitParams{SecretShares: 3, SecretThreshold: 2, RecoveryShares: 3, RecoveryThreshold: 2})
	if !errors.Is(err, ErrSealUnsupported) || !strings.Contains(err.Error(), "recovery keys") {
		t.Fatalf("recovery keys with shamir: got %v, want ErrSealUnsupported naming recovery keys", err)
	}
	if _, err := c.Init(ctx, 3, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.AutoUnseal(ctx); !errors.Is(err, ErrSealUnsupported) {
		t.Fatalf("auto-unseal with shamir: got %v, want ErrSealUnsupported", err)
	}
	if st, _ := c.SealStatus(ctx); st.Type != "shamir" || st.RecoverySeal {
		t.Fatalf("seal status: %+v", st)
	}
}

func TestSealMismatchIsRefused(t *testing.T) {
	ctx := context.Background()
	st := inmem.New()
	xc := newSealCore(&xorSeal{}, st)
	if err := xc.CheckSeal(ctx); err != nil {
		t.Fatalf("check before init: %v", err)
	}
	res, err := xc.Init(ctx, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := xc.CheckSeal(ctx); err != nil {
		t.Fatalf("check with the seal that wrapped: %v", err)
	}
	c := newSealCore(nil, st)
	var me *SealMismatchError
	if err := c.CheckSeal(ctx); !errors.As(err, &me) || me.Stored != "xor-test" || me.Configured != "shamir" {
		t.Fatalf("check with another seal configured: got %v, want a SealMismatchError", err)
	}
	status, err := c.Unseal(ctx, res.Shares[0])
	if !errors.As(err, &me) || status.Progress != 0 {
		t.Fatalf("unseal with another seal configured: got progress %d, %v; want 0 and a SealMismatchError", status.Progress, err)
	}
}

// TestPreInterfaceStorageUnseals opens storage that core wrote before the
// seal interface (testdata/pre-interface-storage.json, made at commit
// fffa6d7): servers initialised then still unseal with their shares.
func TestPreInterfaceStorageUnseals(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("testdata", "pre-interface-storage.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Shares  []string `json:"shares"`
		Entries []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	st := inmem.New()
	for _, e := range fx.Entries {
		v, err := hex.DecodeString(e.Value)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, &storage.Entry{Key: e.Key, Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	c := newSealCore(nil, st)
	if err := c.CheckSeal(ctx); err != nil {
		t.Fatal(err)
	}
	var status SealStatus
	for _, i := range []int{2, 0} {
		share, err := hex.DecodeString(fx.Shares[i])
		if err != nil {
			t.Fatal(err)
		}
		if status, err = c.Unseal(ctx, share); err != nil {
			t.Fatal(err)
		}
	}
	if status.Sealed || status.Type != "shamir" || status.Shares != 3 || status.Threshold != 2 {
		t.Fatalf("after 2 of 3 shares: %+v", status)
	}
}

// TestCoreNamesNoSealButTheDefault keeps core speaking to seal.Seal: only
// seal_default.go may import an implementation.
func TestCoreNamesNoSealButTheDefault(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/arca-secrets/arca/seal/") && name != "seal_default.go" {
				t.Errorf("%s imports %s; core speaks to seal.Seal only", name, path)
			}
		}
	}
}
