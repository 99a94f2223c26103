// Package shamir is the seal whose key is held by people: Seal wraps the
// root key with a fresh unseal key and hands that key out split into n
// shares, any k of which recover it (Shamir's secret sharing over GF(2^8),
// byte by byte: Split and Combine).
//
// Why our own: the Go module proxy here refuses the small standalone Shamir
// modules, and hashicorp/vault/shamir would pull the whole BUSL-licensed
// vault module into the build. The scheme is small enough to write and test
// exhaustively: the field has 256 elements.
//
// Share format: len(secret)+1 bytes; the first len(secret) bytes are the
// polynomials' values, the last byte is the x coordinate (1..255).
//
// Field arithmetic uses the AES polynomial x^8+x^4+x^3+x+1 and is constant
// time: multiplication is a bit-serial loop with masks, the inverse is
// a^254. Combine cannot tell wrong or too few shares by itself: it then
// returns a different value, and the caller must verify it (core opens an
// authenticated ciphertext with it).
package shamir

import (
	"crypto/rand"
	"errors"
	"fmt"
)

var (
	// ErrInvalidThreshold: k or n out of range (2 <= k <= n <= 255).
	ErrInvalidThreshold = errors.New("shamir: need 2 <= threshold <= shares <= 255")
	// ErrEmptySecret: nothing to split.
	ErrEmptySecret = errors.New("shamir: secret is empty")
	// ErrTooFewShares: fewer than two shares to combine.
	ErrTooFewShares = errors.New("shamir: at least two shares are needed")
	// ErrShareLength: shares of different or too short lengths.
	ErrShareLength = errors.New("shamir: shares must have the same length of at least 2 bytes")
	// ErrDuplicateShare: two shares with the same x coordinate.
	ErrDuplicateShare = errors.New("shamir: duplicate share")
	// ErrInvalidShare: a share with x coordinate 0.
	ErrInvalidShare = errors.New("shamir: invalid share")
)

// mul multiplies in GF(2^8) without branches on its inputs.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= a & -(b & 1)
		hi := -(a >> 7)
		a = a<<1 ^ 0x1b&hi
		b >>= 1
	}
	return p
}

// inv returns a^-1 (a^254); inv(0) is 0.
func inv(a byte) byte {
	b := mul(a, a)   // a^2
	c := mul(a, b)   // a^3
	b = mul(c, c)    // a^6
	b = mul(b, b)    // a^12
	c = mul(b, c)    // a^15
	b = mul(b, b)    // a^24
	b = mul(b, b)    // a^48
	b = mul(b, c)    // a^63
	b = mul(b, b)    // a^126
	b = mul(a, b)    // a^127
	return mul(b, b) // a^254
}

// Split divides secret into n shares, any k of which recover it.
func Split(secret []byte, n, k int) ([][]byte, error) {
	if k < 2 || k > n || n > 255 {
		return nil, ErrInvalidThreshold
	}
	if len(secret) == 0 {
		return nil, ErrEmptySecret
	}
	xs, err := distinctXs(n)
	if err != nil {
		return nil, err
	}
	shares := make([][]byte, n)
	for i := range shares {
		shares[i] = make([]byte, len(secret)+1)
		shares[i][len(secret)] = xs[i]
	}
	coeffs := make([]byte, k)
	defer clear(coeffs)
	for j, s := range secret {
		coeffs[0] = s
		if _, err := rand.Read(coeffs[1:]); err != nil {
			return nil, fmt.Errorf("shamir: reading randomness: %w", err)
		}
		for i, x := range xs {
			shares[i][j] = evaluate(coeffs, x)
		}
	}
	return shares, nil
}

// evaluate computes the polynomial at x with Horner's rule.
func evaluate(coeffs []byte, x byte) byte {
	var y byte
	for i := len(coeffs) - 1; i >= 0; i-- {
		y = mul(y, x) ^ coeffs[i]
	}
	return y
}

// distinctXs returns n distinct random nonzero bytes (a shuffle of 1..255).
func distinctXs(n int) ([]byte, error) {
	all := make([]byte, 255)
	for i := range all {
		all[i] = byte(i + 1)
	}
	var r [2]byte
	for i := len(all) - 1; i > 0; i-- {
		// Rejection sampling for an unbiased index in [0, i].
		for {
			if _, err := rand.Read(r[:]); err != nil {
				return nil, fmt.Errorf("shamir: reading randomness: %w", err)
			}
			v := int(r[0])<<8 | int(r[1])
			limit := 65536 - 65536%(i+1)
			if v < limit {
				j := v % (i + 1)
				all[i], all[j] = all[j], all[i]
				break
			}
		}
	}
	return all[:n], nil
}

// Combine recovers the secret from two or more distinct shares of one Split
// by Lagrange interpolation at x = 0.
func Combine(shares [][]byte) ([]byte, error) {
	if len(shares) < 2 {
		return nil, ErrTooFewShares
	}
	l := len(shares[0])
	if l < 2 {
		return nil, ErrShareLength
	}
	xs := make([]byte, len(shares))
	for i, s := range shares {
		if len(s) != l {
			return nil, ErrShareLength
		}
		xs[i] = s[l-1]
		if xs[i] == 0 {
			return nil, ErrInvalidShare
		}
		for j := range i {
			if xs[j] == xs[i] {
				return nil, ErrDuplicateShare
			}
		}
	}
	// Lagrange basis at 0: prod_{m!=i} x_m / (x_m - x_i); minus is xor.
	basis := make([]byte, len(shares))
	for i := range shares {
		num, den := byte(1), byte(1)
		for m := range shares {
			if m == i {
				continue
			}
			num = mul(num, xs[m])
			den = mul(den, xs[m]^xs[i])
		}
		basis[i] = mul(num, inv(den))
	}
	secret := make([]byte, l-1)
	for j := range secret {
		var v byte
		for i, s := range shares {
			v ^= mul(s[j], basis[i])
		}
		secret[j] = v
	}
	return secret, nil
}
