package volume

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/arca-secrets/arca/storage"
)

const volumePrefix = "volume/"

// kekSize is the size of a key-encryption key: AES-256.
const kekSize = 32

// vol is a volume as stored: its KEK versions, or the record that it was
// revoked (then Versions is empty and its keys are gone).
type vol struct {
	Name     string       `json:"name"`
	Created  time.Time    `json:"created_time"`
	Latest   int          `json:"latest_version"`
	Versions []kekVersion `json:"versions,omitempty"`
	Revoked  *time.Time   `json:"revoked_time,omitempty"`
}

// kekVersion is one version of a volume's key.
type kekVersion struct {
	Version int       `json:"version"`
	Created time.Time `json:"created_time"`
	Key     kek       `json:"key"`
}

// kek is a key-encryption key. Its bytes leave the package only inside
// storage (through the barrier); it prints redacted and compares only
// through the cipher it makes.
type kek struct {
	b []byte
	_ [0]func() // not comparable with ==
}

func newKEK() (kek, error) {
	b := make([]byte, kekSize)
	if _, err := rand.Read(b); err != nil {
		return kek{}, fmt.Errorf("generating a volume key: %w", err)
	}
	return kek{b: b}, nil
}

func (k kek) String() string   { return "volume.kek(REDACTED)" }
func (k kek) GoString() string { return k.String() }

// MarshalJSON stores the key's bytes; only storage sees this form.
func (k kek) MarshalJSON() ([]byte, error) { return json.Marshal(k.b) }

func (k *kek) UnmarshalJSON(raw []byte) error {
	var b []byte
	if err := json.Unmarshal(raw, &b); err != nil {
		return err
	}
	if len(b) != kekSize {
		return fmt.Errorf("volume key has %d bytes, want %d", len(b), kekSize)
	}
	k.b = b
	return nil
}

// version returns the KEK version n, or nil.
func (v *vol) version(n int) *kekVersion {
	for i := range v.Versions {
		if v.Versions[i].Version == n {
			return &v.Versions[i]
		}
	}
	return nil
}

func load(ctx context.Context, st storage.Backend, name string) (*vol, error) {
	raw, err := st.Get(ctx, volumePrefix+name)
	if err != nil {
		return nil, fmt.Errorf("reading volume %s: %w", name, err)
	}
	if raw == nil {
		return nil, nil
	}
	var v vol
	if err := json.Unmarshal(raw.Value, &v); err != nil {
		return nil, fmt.Errorf("decoding volume %s: %w", name, err)
	}
	return &v, nil
}

func save(ctx context.Context, st storage.Backend, v *vol) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding volume %s: %w", v.Name, err)
	}
	if err := st.Put(ctx, &storage.Entry{Key: volumePrefix + v.Name, Value: raw}); err != nil {
		return fmt.Errorf("storing volume %s: %w", v.Name, err)
	}
	return nil
}
