package core

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/storage/inmem"
)

func TestRecoveryShares(t *testing.T) {
	ctx := context.Background()
	s := newAutoSeal(t)
	st := inmem.New()
	c := newSealCore(s, st)

	for _, p := range []InitParams{
		{RecoveryShares: 5, RecoveryThreshold: 1},
		{RecoveryShares: 2, RecoveryThreshold: 3},
		{RecoveryShares: 0, RecoveryThreshold: 2},
		{RecoveryShares: 256, RecoveryThreshold: 3},
	} {
		if _, err := c.InitWith(ctx, p); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("init %+v: got %v, want ErrInvalidRequest", p, err)
		}
	}
	res, err := c.InitWith(ctx, InitParams{RecoveryShares: 5, RecoveryThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Shares) != 0 || len(res.RecoveryShares) != 5 {
		t.Fatalf("init: %d unseal shares and %d recovery shares, want 0 and 5", len(res.Shares), len(res.RecoveryShares))
	}
	status, err := c.SealStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !status.RecoverySeal || status.Shares != 5 || status.Threshold != 3 || !status.Sealed {
		t.Fatalf("seal status: %+v, want a sealed recovery seal with 3 of 5", status)
	}

	// Recovery shares never unseal, one by one or all together.
	for _, sh := range res.RecoveryShares {
		if _, err := c.Unseal(ctx, sh); !errors.Is(err, ErrSealUnsupported) {
			t.Fatalf("unseal with a recovery share: got %v, want ErrSealUnsupported", err)
		}
	}
	if !c.Sealed() {
		t.Fatal("recovery shares unsealed the server")
	}

	// Any quorum matches; fewer, wrong or foreign shares do not.
	for _, q := range [][]int{{0, 1, 2}, {4, 2, 0}, {0, 1, 2, 3, 4}} {
		var given [][]byte
		for _, i := range q {
			given = append(given, res.RecoveryShares[i])
		}
		if err := c.checkRecoveryShares(ctx, given); err != nil {
			t.Fatalf("shares %v: %v", q, err)
		}
	}
	other := newSealCore(newAutoSeal(t), inmem.New())
	otherRes, err := other.InitWith(ctx, InitParams{RecoveryShares: 5, RecoveryThreshold: 3})
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(res.RecoveryShares[2])
	flipped[3] ^= 1
	for name, given := range map[string][][]byte{
		"too few":   res.RecoveryShares[:2],
		"flipped":   {res.RecoveryShares[0], res.RecoveryShares[1], flipped},
		"mixed":     {res.RecoveryShares[0], res.RecoveryShares[1], otherRes.RecoveryShares[2]},
		"another's": otherRes.RecoveryShares[:3],
	} {
		err := c.checkRecoveryShares(ctx, given)
		if !errors.Is(err, ErrRecoveryKeyMismatch) || !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("%s: got %v, want ErrRecoveryKeyMismatch as an invalid request", name, err)
		}
	}
	if err := c.checkRecoveryShares(ctx, [][]byte{res.RecoveryShares[0][:10], res.RecoveryShares[1], res.RecoveryShares[2]}); !errors.Is(err, ErrInvalidUnsealKey) {
		t.Fatalf("short share: got %v, want ErrInvalidUnsealKey", err)
	}

	// The seal holds the recovery key: with another seal key, even the
	// right shares are not checked.
	key := s.key
	s.key = make([]byte, len(key))
	if err := c.checkRecoveryShares(ctx, res.RecoveryShares[:3]); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("another seal key: got %v, want ErrUnwrap", err)
	}
	s.key = key

	// Storage holds neither the recovery key nor a share in clear.
	e, err := st.Get(ctx, sealconf.Path)
	if err != nil {
		t.Fatal(err)
	}
	recoveryKey, err := combineKey(res.RecoveryShares[:3])
	if err != nil {
		t.Fatal(err)
	}
	raw := bytes.Clone(e.Value)
	var conf sealconf.Config
	if err := json.Unmarshal(e.Value, &conf); err != nil {
		t.Fatal(err)
	}
	raw = append(raw, conf.SealedRecoveryKey...)
	raw = append(raw, conf.SealedRootKey...)
	for _, secret := range append([][]byte{recoveryKey}, res.RecoveryShares...) {
		for _, form := range [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(base64.StdEncoding.EncodeToString(secret))} {
			if bytes.Contains(raw, form) {
				t.Fatal("the seal configuration holds the recovery key or a share in clear")
			}
		}
	}

	// The wrapped recovery key cannot stand in for the root key.
	conf.SealedRootKey = conf.SealedRecoveryKey
	b, _ := json.Marshal(conf)
	swapped := inmem.New()
	for _, k := range []string{barrier.KeyringPath} {
		ke, err := st.Get(ctx, k)
		if err != nil || ke == nil {
			t.Fatalf("reading %s: %v", k, err)
		}
		if err := swapped.Put(ctx, ke); err != nil {
			t.Fatal(err)
		}
	}
	e.Value = b
	if err := swapped.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := newSealCore(s, swapped).AutoUnseal(ctx); err == nil {
		t.Fatal("the wrapped recovery key unsealed as a root key")
	}

	// The server still unseals by itself, and then checks shares alike.
	if err := c.AutoUnseal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.checkRecoveryShares(ctx, res.RecoveryShares[1:4]); err != nil {
		t.Fatalf("unsealed: %v", err)
	}
}

func TestRecoveryOneShare(t *testing.T) {
	ctx := context.Background()
	c := newSealCore(newAutoSeal(t), inmem.New())
	res, err := c.InitWith(ctx, InitParams{RecoveryShares: 1, RecoveryThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RecoveryShares) != 1 {
		t.Fatalf("got %d recovery shares, want 1", len(res.RecoveryShares))
	}
	if err := c.checkRecoveryShares(ctx, res.RecoveryShares); err != nil {
		t.Fatal(err)
	}
}

func TestNoRecoveryKeyWithoutRecoveryShares(t *testing.T) {
	ctx := context.Background()
	c := newSealCore(newAutoSeal(t), inmem.New())
	if _, err := c.InitWith(ctx, InitParams{}); err != nil {
		t.Fatal(err)
	}
	if err := c.checkRecoveryShares(ctx, [][]byte{make([]byte, 33)}); !errors.Is(err, ErrSealUnsupported) {
		t.Fatalf("got %v, want ErrSealUnsupported", err)
	}
}

// TestRekeyRecoveryKey: with a seal that unseals by itself, rekey
// replaces the recovery key: a quorum of the current recovery shares
// gives new ones, wrong shares reset the progress, the old shares stop
// authorising and the new ones do, and the server still unseals by
// itself (the root key is untouched).
func TestRekeyRecoveryKey(t *testing.T) {
	ctx := context.Background()
	s := newAutoSeal(t)
	st := inmem.New()
	c := newSealCore(s, st)
	res, err := c.InitWith(ctx, InitParams{RecoveryShares: 3, RecoveryThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AutoUnseal(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Seal(context.Background()) })
	if _, err := c.RekeyInit(ctx, 5, 3); err != nil {
		t.Fatal(err)
	}
	status, err := c.RekeyStatus(ctx)
	if err != nil || status.Required != 2 {
		t.Fatalf("rekey status: %+v, %v; want 2 recovery shares required", status, err)
	}
	wrong := bytes.Clone(res.RecoveryShares[0])
	wrong[len(wrong)-1] ^= 1
	if _, err := c.RekeyUpdate(ctx, wrong, status.Nonce); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RekeyUpdate(ctx, res.RecoveryShares[1], status.Nonce); !errors.Is(err, ErrSharesRejected) {
		t.Fatalf("a quorum with a wrong recovery share: %v, want ErrSharesRejected", err)
	}
	// The attempt goes on, its progress reset.
	if status, err = c.RekeyStatus(ctx); err != nil || !status.Started || status.Progress != 0 {
		t.Fatalf("after wrong shares: %+v, %v; want the attempt going on with no progress", status, err)
	}
	var done RekeyStatus
	for _, sh := range res.RecoveryShares[:2] {
		if done, err = c.RekeyUpdate(ctx, sh, status.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if !done.Complete || len(done.Keys) != 5 {
		t.Fatalf("rekey: %+v, want complete with 5 new recovery shares", done)
	}
	if err := c.checkRecoveryShares(ctx, res.RecoveryShares[:2]); !errors.Is(err, ErrRecoveryKeyMismatch) {
		t.Fatalf("the old recovery shares after the rekey: %v, want a mismatch", err)
	}
	if err := c.checkRecoveryShares(ctx, [][]byte{done.Keys[4], done.Keys[0], done.Keys[2]}); err != nil {
		t.Fatalf("the new recovery shares: %v", err)
	}
	if err := c.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.AutoUnseal(ctx); err != nil || c.Sealed() {
		t.Fatalf("auto-unseal after a recovery rekey: %v", err)
	}
}
