package barrier

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestKeyringEncodeIsJSON: the keyring's hand-made encoding is what
// json.Marshal writes, and reads back to the same keyring, so keyrings
// written before it still open and new ones open anywhere.
func TestKeyringEncodeIsJSON(t *testing.T) {
	for _, kr := range []*storedKeyring{
		{},
		{Terms: []storedTerm{{Term: 1, Key: bytes.Repeat([]byte{0xfe}, KeySize), Installed: time.Date(2026, 11, 30, 13, 0, 0, 123456789, time.UTC)}}},
		{Terms: []storedTerm{
			{Term: 1, Key: bytes.Repeat([]byte{1}, KeySize), Installed: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
			{Term: 4294967295, Key: bytes.Repeat([]byte{2}, KeySize), Installed: time.Date(2026, 6, 1, 0, 0, 0, 1, time.FixedZone("x", 3600))},
		}},
	} {
		want, err := json.Marshal(kr)
		if err != nil {
			t.Fatal(err)
		}
		got := kr.encode()
		if kr.Terms == nil {
			// json.Marshal writes a nil slice as null; both read back empty.
			want = []byte(`{"terms":[]}`)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("encode:\n got %s\nwant %s", got, want)
		}
		var back storedKeyring
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if len(kr.Terms) > 0 && !reflect.DeepEqual(back.Terms[0].Key, kr.Terms[0].Key) {
			t.Errorf("read back %+v", back)
		}
	}
}
