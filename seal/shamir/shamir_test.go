package shamir

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// slowMul is a reference multiplication by repeated doubling with
// branches, independent of mul's masking.
func slowMul(a, b byte) byte {
	var p byte
	for b > 0 {
		if b&1 == 1 {
			p ^= a
		}
		carry := a&0x80 != 0
		a <<= 1
		if carry {
			a ^= 0x1b
		}
		b >>= 1
	}
	return p
}

func TestFieldExhaustive(t *testing.T) {
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			if got, want := mul(byte(a), byte(b)), slowMul(byte(a), byte(b)); got != want {
				t.Fatalf("mul(%d,%d) = %d, want %d", a, b, got, want)
			}
		}
		if a != 0 {
			if got := mul(byte(a), inv(byte(a))); got != 1 {
				t.Fatalf("a*inv(a) for a=%d: got %d, want 1", a, got)
			}
		}
	}
	// A published value: in the AES field, 0x53 * 0xCA = 0x01 (FIPS-197 §4.2).
	if mul(0x53, 0xca) != 1 || inv(0x53) != 0xca {
		t.Fatal("0x53 and 0xca are not inverses")
	}
	// FIPS-197 §4.2: {57} * {83} = {c1}.
	if got := mul(0x57, 0x83); got != 0xc1 {
		t.Fatalf("mul(0x57,0x83) = %#x, want 0xc1", got)
	}
}

func TestSplitCombineEverySubset(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	shares, err := Split(secret, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	for mask := 0; mask < 1<<5; mask++ {
		var subset [][]byte
		for i := range 5 {
			if mask&(1<<i) != 0 {
				subset = append(subset, shares[i])
			}
		}
		if len(subset) < 2 {
			continue
		}
		got, err := Combine(subset)
		if err != nil {
			t.Fatal(err)
		}
		if len(subset) >= 3 && !bytes.Equal(got, secret) {
			t.Fatalf("subset %05b: did not recover the secret", mask)
		}
		if len(subset) < 3 && bytes.Equal(got, secret) {
			t.Fatalf("subset %05b of %d shares recovered the secret", mask, len(subset))
		}
	}
}

func TestSplitRanges(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{2, 2}, {3, 2}, {10, 7}, {255, 255}, {255, 2}} {
		secret := make([]byte, 33)
		rand.Read(secret)
		shares, err := Split(secret, tc.n, tc.k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Combine(shares[len(shares)-tc.k:])
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("n=%d k=%d: got %x, %v", tc.n, tc.k, got, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		err  error
		run  func() error
	}{
		{"k too small", ErrInvalidThreshold, func() error { _, err := Split([]byte("x"), 3, 1); return err }},
		{"k above n", ErrInvalidThreshold, func() error { _, err := Split([]byte("x"), 3, 4); return err }},
		{"n above 255", ErrInvalidThreshold, func() error { _, err := Split([]byte("x"), 256, 2); return err }},
		{"empty secret", ErrEmptySecret, func() error { _, err := Split(nil, 3, 2); return err }},
		{"one share", ErrTooFewShares, func() error { _, err := Combine([][]byte{{1, 2}}); return err }},
		{"length mismatch", ErrShareLength, func() error { _, err := Combine([][]byte{{1, 2}, {1, 2, 3}}); return err }},
		{"duplicate x", ErrDuplicateShare, func() error { _, err := Combine([][]byte{{1, 2}, {3, 2}}); return err }},
		{"zero x", ErrInvalidShare, func() error { _, err := Combine([][]byte{{1, 0}, {3, 2}}); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
}

func FuzzSplitCombine(f *testing.F) {
	f.Add([]byte("secret"), uint8(5), uint8(3))
	f.Add([]byte{0}, uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, secret []byte, n, k uint8) {
		shares, err := Split(secret, int(n), int(k))
		if err != nil {
			return
		}
		got, err := Combine(shares[:k])
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func FuzzCombine(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4}, 2)
	f.Fuzz(func(t *testing.T, raw []byte, width int) {
		if width < 1 || width > 64 {
			return
		}
		var shares [][]byte
		for len(raw) >= width {
			shares = append(shares, raw[:width])
			raw = raw[width:]
		}
		_, _ = Combine(shares)
	})
}

func BenchmarkSplitCombine(b *testing.B) {
	secret := make([]byte, 32)
	for b.Loop() {
		shares, _ := Split(secret, 5, 3)
		_, _ = Combine(shares[:3])
	}
}
