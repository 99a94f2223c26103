package genroot

import (
	"errors"
	"testing"
)

// TestRootTokenEncodingKnownAnswer pins the encoding to Vault's: token
// XOR OTP, unpadded standard base64.
func TestRootTokenEncodingKnownAnswer(t *testing.T) {
	const id = "s.0123456789abcdefghijklmn"
	const otp = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const want = "MmxzdXd1c31/fXN1LCwsNDQ0NDw8PDw0NDQ"
	if got := encode(id, []byte(otp)); got != want {
		t.Fatalf("encode: got %q, want %q", got, want)
	}
	for _, enc := range []string{want, want + "==", " " + want + "\n"} {
		if got, err := Decode(enc, otp); err != nil || got != id {
			t.Fatalf("decode %q: got %q, %v; want %q", enc, got, err, id)
		}
	}
	if _, err := Decode(want, otp[1:]); !errors.Is(err, ErrDecode) {
		t.Fatalf("decode with a short OTP: got %v, want ErrDecode", err)
	}
	if _, err := Decode("!!", otp); !errors.Is(err, ErrDecode) {
		t.Fatalf("decode of non-base64: got %v, want ErrDecode", err)
	}
}

func FuzzRootTokenEncoding(f *testing.F) {
	f.Add([]byte("s.0123456789abcdefghijklmn"), []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
	f.Fuzz(func(t *testing.T, id, otp []byte) {
		n := min(len(id), len(otp))
		id, otp = id[:n], otp[:n]
		got, err := Decode(encode(string(id), otp), string(otp))
		if err != nil || got != string(id) {
			t.Fatalf("round trip of %q under %q: got %q, %v", id, otp, got, err)
		}
	})
}
