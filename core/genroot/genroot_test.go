package genroot

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/secmem"
)

// TestTrackerLifecycle: shares are counted once, finish sees exactly the
// shares given, its error resets the progress but not the generation, and
// success ends the generation with the token encoded under the OTP.
func TestTrackerLifecycle(t *testing.T) {
	tr := NewTracker(secmem.BestEffort)
	st, err := tr.Start("")
	if err != nil || !st.Started || !validOTP(st.OTP) {
		t.Fatalf("start: %+v, %v; want started with a valid OTP", st, err)
	}
	if _, err := tr.Start(""); !errors.Is(err, ErrInProgress) {
		t.Fatalf("second start: got %v, want ErrInProgress", err)
	}
	if _, err := tr.Add("other", []byte("a"), 2, nil); !errors.Is(err, ErrNonce) {
		t.Fatalf("wrong nonce: got %v, want ErrNonce", err)
	}
	var seen [][]byte
	refuse := errors.New("refused")
	finish := func(result error) func([][]byte) (string, error) {
		return func(shares [][]byte) (string, error) {
			seen = nil
			for _, s := range shares {
				seen = append(seen, slices.Clone(s))
			}
			return "s." + strings.Repeat("x", OTPLength-2), result
		}
	}
	for _, s := range []string{"a", "a"} {
		if got, err := tr.Add(st.Nonce, []byte(s), 2, finish(nil)); err != nil || got.Progress != 1 {
			t.Fatalf("add %q: %+v, %v; want progress 1", s, got, err)
		}
	}
	got, err := tr.Add(st.Nonce, []byte("b"), 2, finish(refuse))
	if !errors.Is(err, refuse) || got.Progress != 0 || !got.Started {
		t.Fatalf("refused quorum: %+v, %v; want progress 0, still started", got, err)
	}
	if len(seen) != 2 || string(seen[0]) != "a" || string(seen[1]) != "b" {
		t.Fatalf("finish saw %q, want [a b]", seen)
	}
	if _, err := tr.Add(st.Nonce, []byte("c"), 2, finish(nil)); err != nil {
		t.Fatal(err)
	}
	got, err = tr.Add(st.Nonce, []byte("d"), 2, finish(nil))
	if err != nil || !got.Complete {
		t.Fatalf("quorum: %+v, %v; want complete", got, err)
	}
	if id, err := Decode(got.EncodedToken, st.OTP); err != nil || id != "s."+strings.Repeat("x", OTPLength-2) {
		t.Fatalf("decoded %q, %v", id, err)
	}
	if tr.Status().Started || tr.Cancel() {
		t.Fatal("a generation remains after completion")
	}
	if _, err := tr.Add(st.Nonce, []byte("e"), 2, finish(nil)); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("after completion: got %v, want ErrNotStarted", err)
	}
}

func TestNewOTP(t *testing.T) {
	for range 100 {
		otp, err := NewOTP()
		if err != nil || !validOTP(otp) {
			t.Fatalf("NewOTP: %q, %v", otp, err)
		}
	}
	if _, err := NewTracker(secmem.BestEffort).Start("not base62 / and too long for an OTP"); !errors.Is(err, ErrInvalidOTP) {
		t.Fatalf("start with a bad OTP: got %v, want ErrInvalidOTP", err)
	}
}
