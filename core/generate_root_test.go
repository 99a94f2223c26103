package core

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/arca-secrets/arca/core/genroot"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage/inmem"
)

// genRootCore returns an unsealed core with the Shamir seal split 3 of
// threshold 2, its shares and its root token.
func genRootCore(t *testing.T) (*Core, [][]byte, string) {
	t.Helper()
	ctx := context.Background()
	c := newSealCore(nil, inmem.New())
	res, err := c.Init(ctx, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Shares[:2] {
		if _, err := c.Unseal(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if c.Sealed() {
		t.Fatal("still sealed after two shares")
	}
	t.Cleanup(func() { _ = c.Seal(context.Background()) })
	return c, res.Shares, res.RootToken
}

func mustGenRootInit(t *testing.T, c *Core, otp string) genroot.Status {
	t.Helper()
	st, err := c.GenerateRootInit(context.Background(), otp)
	if err != nil {
		t.Fatalf("generate-root init: %v", err)
	}
	return st
}

// checkRootToken checks that id is a live root token that can do what
// needs sudo.
func checkRootToken(t *testing.T, c *Core, id string) {
	t.Helper()
	ctx := context.Background()
	e, err := c.CheckToken(ctx, id)
	if err != nil {
		t.Fatalf("the generated token: %v", err)
	}
	if !slices.Equal(e.Policies, []string{"root"}) || !e.ExpireTime.IsZero() {
		t.Fatalf("the generated token: policies %v, expiry %v; want [root], none", e.Policies, e.ExpireTime)
	}
	if _, err := c.HandleRequest(ctx, id, &logical.Request{Operation: logical.ListOperation, Path: "auth/token/accessors/"}); err != nil {
		t.Fatalf("listing accessors (sudo) with the generated token: %v", err)
	}
}

func TestGenerateRootAfterRevokingTheRootToken(t *testing.T) {
	ctx := context.Background()
	c, shares, root := genRootCore(t)
	if _, err := c.HandleRequest(ctx, root, &logical.Request{Operation: logical.UpdateOperation, Path: "auth/token/revoke-self"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckToken(ctx, root); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("the revoked root token: got %v, want ErrPermissionDenied", err)
	}

	st := mustGenRootInit(t, c, "")
	if !st.Started || st.Nonce == "" || st.Required != 2 || st.Progress != 0 || st.OTPLength != genroot.OTPLength || len(st.OTP) != genroot.OTPLength {
		t.Fatalf("init: %+v; want started, required 2, a generated OTP of %d characters", st, genroot.OTPLength)
	}
	otp := st.OTP
	if again, err := c.GenerateRootStatus(ctx); err != nil || again.OTP != "" || again.Nonce != st.Nonce || !again.Started {
		t.Fatalf("status: %+v, %v; want the attempt, without the OTP", again, err)
	}

	up, err := c.GenerateRootUpdate(ctx, shares[2], st.Nonce)
	if err != nil || up.Complete || up.Progress != 1 {
		t.Fatalf("first share: %+v, %v; want progress 1", up, err)
	}
	up, err = c.GenerateRootUpdate(ctx, shares[2], st.Nonce)
	if err != nil || up.Complete || up.Progress != 1 {
		t.Fatalf("the same share again: %+v, %v; want it ignored, progress 1", up, err)
	}
	up, err = c.GenerateRootUpdate(ctx, shares[0], st.Nonce)
	if err != nil || !up.Complete || up.EncodedToken == "" {
		t.Fatalf("second share: %+v, %v; want complete with an encoded token", up, err)
	}
	if strings.Contains(up.EncodedToken, "s.") {
		t.Fatalf("encoded token %q looks like a token in clear", up.EncodedToken)
	}
	tok, err := genroot.Decode(up.EncodedToken, otp)
	if err != nil {
		t.Fatal(err)
	}
	checkRootToken(t, c, tok)

	// The generation is over: another may start.
	if st, err := c.GenerateRootStatus(ctx); err != nil || st.Started {
		t.Fatalf("status after completion: %+v, %v; want not started", st, err)
	}
	if _, err := c.GenerateRootUpdate(ctx, shares[1], up.Nonce); !errors.Is(err, genroot.ErrNotStarted) {
		t.Fatalf("update after completion: got %v, want genroot.ErrNotStarted", err)
	}
}

func TestGenerateRootWithTheCallersOTP(t *testing.T) {
	ctx := context.Background()
	c, shares, _ := genRootCore(t)
	for _, bad := range []string{"short", strings.Repeat("A", genroot.OTPLength+1), strings.Repeat("+", genroot.OTPLength)} {
		if _, err := c.GenerateRootInit(ctx, bad); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("otp %q: got %v, want ErrInvalidRequest", bad, err)
		}
	}
	otp, err := genroot.NewOTP()
	if err != nil {
		t.Fatal(err)
	}
	st := mustGenRootInit(t, c, otp)
	if st.OTP != "" {
		t.Fatalf("init echoed the caller's OTP: %+v", st)
	}
	if _, err := c.GenerateRootUpdate(ctx, shares[1], st.Nonce); err != nil {
		t.Fatal(err)
	}
	up, err := c.GenerateRootUpdate(ctx, shares[2], st.Nonce)
	if err != nil || !up.Complete {
		t.Fatalf("update: %+v, %v", up, err)
	}
	tok, err := genroot.Decode(up.EncodedToken, otp)
	if err != nil {
		t.Fatal(err)
	}
	checkRootToken(t, c, tok)
}

func TestGenerateRootWrongSharesResetProgress(t *testing.T) {
	ctx := context.Background()
	c, shares, _ := genRootCore(t)
	// Shares of another server: well formed, but not this server's key.
	_, otherShares, _ := genRootCore(t)

	st := mustGenRootInit(t, c, "")
	if _, err := c.GenerateRootUpdate(ctx, shares[0], st.Nonce); err != nil {
		t.Fatal(err)
	}
	up, err := c.GenerateRootUpdate(ctx, otherShares[1], st.Nonce)
	if !errors.Is(err, ErrSharesRejected) {
		t.Fatalf("a wrong share at the threshold: got %+v, %v; want ErrSharesRejected", up, err)
	}
	if up.Progress != 0 || !up.Started || up.Nonce != st.Nonce || up.Complete {
		t.Fatalf("after wrong shares: %+v; want the same attempt with progress 0", up)
	}
	// A malformed share is refused and not counted.
	if _, err := c.GenerateRootUpdate(ctx, []byte("x"), st.Nonce); !errors.Is(err, ErrInvalidUnsealKey) {
		t.Fatalf("a malformed share: got %v, want ErrInvalidUnsealKey", err)
	}
	if _, err := c.GenerateRootUpdate(ctx, shares[0], "not-the-nonce"); !errors.Is(err, genroot.ErrNonce) {
		t.Fatalf("a wrong nonce: got %v, want genroot.ErrNonce", err)
	}
	// The right shares still complete the same attempt.
	if up, err = c.GenerateRootUpdate(ctx, shares[0], st.Nonce); err != nil || up.Progress != 1 {
		t.Fatalf("after the reset: %+v, %v; want progress 1", up, err)
	}
	if up, err = c.GenerateRootUpdate(ctx, shares[1], st.Nonce); err != nil || !up.Complete {
		t.Fatalf("after the reset: %+v, %v; want complete", up, err)
	}
	tok, err := genroot.Decode(up.EncodedToken, st.OTP)
	if err != nil {
		t.Fatal(err)
	}
	checkRootToken(t, c, tok)
}

func TestGenerateRootOneAttemptCancel(t *testing.T) {
	ctx := context.Background()
	c, shares, _ := genRootCore(t)
	st := mustGenRootInit(t, c, "")
	if _, err := c.GenerateRootInit(ctx, ""); !errors.Is(err, genroot.ErrInProgress) {
		t.Fatalf("a second attempt: got %v, want genroot.ErrInProgress", err)
	}
	if _, err := c.GenerateRootUpdate(ctx, shares[0], st.Nonce); err != nil {
		t.Fatal(err)
	}
	if err := c.GenerateRootCancel(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GenerateRootStatus(ctx); err != nil || got.Started || got.Progress != 0 || got.Nonce != "" {
		t.Fatalf("status after cancel: %+v, %v; want nothing started", got, err)
	}
	if _, err := c.GenerateRootUpdate(ctx, shares[1], st.Nonce); !errors.Is(err, genroot.ErrNotStarted) {
		t.Fatalf("update after cancel: got %v, want genroot.ErrNotStarted", err)
	}
	if err := c.GenerateRootCancel(); err != nil {
		t.Fatalf("cancel with nothing started: %v", err)
	}
	// A new attempt starts afresh: the canceled share does not count.
	next := mustGenRootInit(t, c, "")
	if next.Nonce == st.Nonce || next.Progress != 0 {
		t.Fatalf("the next attempt: %+v; want a new nonce and no progress", next)
	}
	up, err := c.GenerateRootUpdate(ctx, shares[1], next.Nonce)
	if err != nil || up.Complete || up.Progress != 1 {
		t.Fatalf("first share of the next attempt: %+v, %v; want progress 1", up, err)
	}
}

func TestGenerateRootSealWipesProgress(t *testing.T) {
	ctx := context.Background()
	c, shares, _ := genRootCore(t)
	st := mustGenRootInit(t, c, "")
	if _, err := c.GenerateRootUpdate(ctx, shares[0], st.Nonce); err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GenerateRootStatus(ctx); !errors.Is(err, ErrSealed) {
		t.Fatalf("status while sealed: got %v, want ErrSealed", err)
	}
	if _, err := c.GenerateRootInit(ctx, ""); !errors.Is(err, ErrSealed) {
		t.Fatalf("init while sealed: got %v, want ErrSealed", err)
	}
	if _, err := c.GenerateRootUpdate(ctx, shares[1], st.Nonce); !errors.Is(err, ErrSealed) {
		t.Fatalf("update while sealed: got %v, want ErrSealed", err)
	}
	if err := c.GenerateRootCancel(); !errors.Is(err, ErrSealed) {
		t.Fatalf("cancel while sealed: got %v, want ErrSealed", err)
	}
	for _, s := range shares[1:] {
		if _, err := c.Unseal(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.GenerateRootStatus(ctx)
	if err != nil || got.Started || got.Progress != 0 {
		t.Fatalf("status after seal and unseal: %+v, %v; want nothing started", got, err)
	}
	if _, err := c.GenerateRootUpdate(ctx, shares[1], st.Nonce); !errors.Is(err, genroot.ErrNotStarted) {
		t.Fatalf("update of the wiped attempt: got %v, want genroot.ErrNotStarted", err)
	}
}

// TestGenerateRootGoesThroughTheSeal: the shares are checked by the
// configured seal (the xor test seal combines them its own way), and a
// seal that unseals by itself has no quorum until recovery keys exist.
func TestGenerateRootGoesThroughTheSeal(t *testing.T) {
	ctx := context.Background()
	xs := &xorSeal{}
	c := newSealCore(xs, inmem.New())
	res, err := c.Init(ctx, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Shares {
		if _, err := c.Unseal(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = c.Seal(context.Background()) })
	started := mustGenRootInit(t, c, "")
	st := started
	xs.mu.Lock()
	before := len(xs.unwraps)
	xs.mu.Unlock()
	for _, s := range res.Shares {
		if st, err = c.GenerateRootUpdate(ctx, s, st.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	xs.mu.Lock()
	unwraps := len(xs.unwraps) - before
	xs.mu.Unlock()
	if !st.Complete || unwraps != 1 {
		t.Fatalf("generate-root with the xor seal: %+v after %d unwraps; want complete after one", st, unwraps)
	}
	tok, err := genroot.Decode(st.EncodedToken, started.OTP)
	if err != nil {
		t.Fatal(err)
	}
	checkRootToken(t, c, tok)

	auto := newSealCore(newAutoSeal(t), inmem.New())
	if _, err := auto.InitWith(ctx, InitParams{}); err != nil {
		t.Fatal(err)
	}
	if err := auto.AutoUnseal(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auto.Seal(context.Background()) })
	if _, err := auto.GenerateRootInit(ctx, ""); !errors.Is(err, ErrSealUnsupported) || !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("generate-root with a seal that unseals by itself and no recovery shares: got %v, want ErrSealUnsupported as an invalid request", err)
	}
}

// TestGenerateRootWithRecoveryShares: with a seal that unseals by itself,
// a quorum of recovery shares makes a root token; wrong recovery shares
// reset the progress; the unseal-share path is not open to them.
func TestGenerateRootWithRecoveryShares(t *testing.T) {
	ctx := context.Background()
	c := newSealCore(newAutoSeal(t), inmem.New())
	res, err := c.InitWith(ctx, InitParams{RecoveryShares: 3, RecoveryThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AutoUnseal(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Seal(context.Background()) })
	started := mustGenRootInit(t, c, "")
	// A share of the right length but the wrong value: the quorum fails
	// and progress resets.
	wrong := bytes.Clone(res.RecoveryShares[0])
	wrong[len(wrong)-1] ^= 1
	st, err := c.GenerateRootUpdate(ctx, wrong, started.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GenerateRootUpdate(ctx, res.RecoveryShares[1], st.Nonce); !errors.Is(err, ErrSharesRejected) {
		t.Fatalf("a quorum with a wrong recovery share: %v, want ErrSharesRejected", err)
	}
	for _, sh := range res.RecoveryShares[1:] {
		if st, err = c.GenerateRootUpdate(ctx, sh, started.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if !st.Complete {
		t.Fatalf("after a quorum of recovery shares: %+v, want complete", st)
	}
	tok, err := genroot.Decode(st.EncodedToken, started.OTP)
	if err != nil {
		t.Fatal(err)
	}
	checkRootToken(t, c, tok)
}

// TestGenerateRootConcurrentStarts: of many starts at once, exactly one
// wins; shares sent at once by many holders complete it exactly once.
func TestGenerateRootConcurrentStarts(t *testing.T) {
	ctx := context.Background()
	c, shares, _ := genRootCore(t)
	const n = 16
	errs := make(chan error, n)
	nonces := make(chan string, n)
	for range n {
		go func() {
			st, err := c.GenerateRootInit(ctx, "")
			if err == nil {
				nonces <- st.Nonce
			}
			errs <- err
		}()
	}
	won := 0
	for range n {
		if err := <-errs; err == nil {
			won++
		} else if !errors.Is(err, genroot.ErrInProgress) {
			t.Fatalf("a concurrent start: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent starts succeeded, want 1", won)
	}
	nonce := <-nonces
	done := make(chan genroot.Status, len(shares))
	for _, s := range shares {
		go func() {
			st, err := c.GenerateRootUpdate(ctx, s, nonce)
			if err != nil && !errors.Is(err, genroot.ErrNotStarted) {
				t.Errorf("a concurrent share: %v", err)
			}
			done <- st
		}()
	}
	complete := 0
	for range shares {
		if st := <-done; st.Complete {
			complete++
		}
	}
	if complete != 1 {
		t.Fatalf("%d shares completed the generation, want 1", complete)
	}
}

// TestGenerateRootAfterRekey: shares a rekey retired no longer count, and
// the new ones do.
func TestGenerateRootAfterRekey(t *testing.T) {
	ctx := context.Background()
	c, old, _ := genRootCore(t)
	rk, err := c.RekeyInit(ctx, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	var fresh [][]byte
	for _, s := range old[:2] {
		st, err := c.RekeyUpdate(ctx, s, rk.Nonce)
		if err != nil {
			t.Fatal(err)
		}
		fresh = st.Keys
	}
	if len(fresh) != 2 {
		t.Fatalf("rekey gave %d shares, want 2", len(fresh))
	}
	st := mustGenRootInit(t, c, "")
	if _, err := c.GenerateRootUpdate(ctx, old[0], st.Nonce); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GenerateRootUpdate(ctx, old[2], st.Nonce); !errors.Is(err, ErrSharesRejected) {
		t.Fatalf("retired shares: got %v, want ErrSharesRejected", err)
	}
	for _, s := range fresh {
		if st, err = c.GenerateRootUpdate(ctx, s, st.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if !st.Complete {
		t.Fatalf("new shares: %+v, want complete", st)
	}
}

// TestGenerateRootRacingSeal: workers start generations and give shares
// while another goroutine seals and unseals. Nothing deadlocks or
// panics, every refusal is one the race explains (sealed, or another
// worker's generation), and afterwards a generation completes.
func TestGenerateRootRacingSeal(t *testing.T) {
	ctx := context.Background()
	c, shares, _ := genRootCore(t)
	explained := func(err error) bool {
		return err == nil || errors.Is(err, ErrSealed) || errors.Is(err, genroot.ErrInProgress) ||
			errors.Is(err, genroot.ErrNotStarted) || errors.Is(err, genroot.ErrNonce)
	}
	const workers, rounds, cycles = 4, 40, 20
	stop := make(chan struct{})
	sealerDone := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				sealerDone <- nil
				return
			default:
			}
			if err := c.Seal(ctx); err != nil {
				sealerDone <- err
				return
			}
			for _, s := range shares[:2] {
				if _, err := c.Unseal(ctx, s); err != nil {
					sealerDone <- err
					return
				}
			}
			if i == cycles {
				<-stop
				sealerDone <- nil
				return
			}
		}
	}()
	errs := make(chan error, workers*rounds*3)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				st, err := c.GenerateRootInit(ctx, "")
				if errors.Is(err, genroot.ErrInProgress) {
					st, err = c.GenerateRootStatus(ctx)
				}
				errs <- err
				if err != nil {
					continue
				}
				_, err = c.GenerateRootUpdate(ctx, shares[(w+i)%len(shares)], st.Nonce)
				errs <- err
				if i%5 == 0 {
					errs <- c.GenerateRootCancel()
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-sealerDone; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		if !explained(err) {
			t.Errorf("during the race: %v", err)
		}
	}
	if c.Sealed() {
		t.Fatal("the sealer left the core sealed")
	}
	if err := c.GenerateRootCancel(); err != nil {
		t.Fatal(err)
	}
	st := mustGenRootInit(t, c, "")
	for _, s := range shares[1:] {
		var err error
		if st, err = c.GenerateRootUpdate(ctx, s, st.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if !st.Complete {
		t.Fatalf("after the race: %+v, want complete", st)
	}
}
