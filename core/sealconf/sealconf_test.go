package sealconf

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/storage/inmem"
)

func TestReadWrite(t *testing.T) {
	ctx := context.Background()
	st := inmem.New()
	if conf, err := Read(ctx, st); conf != nil || err != nil {
		t.Fatalf("before init: %v, %v; want nil, nil", conf, err)
	}
	want := &Config{Type: "pkcs11", RecoveryShares: 3, RecoveryThreshold: 2, SealedRecoveryKey: []byte{1, 2}, Nonce: "n", SealedRootKey: []byte{3}}
	if err := Write(ctx, st, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestRecoveryKeyTag(t *testing.T) {
	key := bytes.Repeat([]byte{9}, barrier.KeySize)
	got, err := UntagRecoveryKey(TagRecoveryKey(key))
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("round trip: %x, %v", got, err)
	}
	for _, bad := range [][]byte{key, TagRecoveryKey(key[:16]), append(TagRecoveryKey(key), 0)} {
		if _, err := UntagRecoveryKey(bad); !errors.Is(err, ErrNotRecoveryKey) {
			t.Errorf("UntagRecoveryKey(%d bytes): got %v, want ErrNotRecoveryKey", len(bad), err)
		}
	}
}
