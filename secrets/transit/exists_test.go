package transit

import (
	"context"
	"testing"

	"github.com/arca-secrets/arca/logical"
)

func TestEncryptToAMissingKeyIsACreate(t *testing.T) {
	h := newHarness(t)
	h.write("keys/present", nil)
	ec := h.e.(logical.ExistenceChecker)
	tests := []struct {
		name string
		path string
		want bool
	}{
		{"encrypt to a key that exists", "encrypt/present", true},
		{"encrypt to a missing key creates it", "encrypt/missing", false},
		{"decrypt works on what is there", "decrypt/missing", true},
		{"an invalid name is left to the handler", "encrypt/a b", true},
		{"key configuration", "keys/missing/config", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ec.Exists(context.Background(), &logical.Request{Operation: logical.UpdateOperation, Path: tc.path, Storage: h.st})
			if err != nil || got != tc.want {
				t.Fatalf("Exists(%s): got %v, %v; want %v", tc.path, got, err, tc.want)
			}
		})
	}
}
