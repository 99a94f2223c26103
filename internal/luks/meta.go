package luks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Meta is the part of a LUKS2 header's JSON metadata the commands read.
type Meta struct {
	Keyslots map[string]json.RawMessage `json:"keyslots"`
	Tokens   map[string]json.RawMessage `json:"tokens"`
}

// Metadata reads the header's JSON metadata.
func (d *Device) Metadata(ctx context.Context) (*Meta, error) {
	out, err := d.do(ctx, Cmd{Args: []string{"luksDump", "--dump-json-metadata", d.Path}})
	var ce *CryptError
	if errors.As(err, &ce) && (ce.Status == 1 || ce.Status == 4) {
		return nil, fmt.Errorf("%s: %w (%v)", d.Path, ErrNotLUKS2, err)
	}
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("%s: reading the LUKS2 metadata: %w", d.Path, err)
	}
	return &m, nil
}

// FreeSlot returns the lowest keyslot number not in use (LUKS2 has 32).
func (m *Meta) FreeSlot() (int, error) {
	for i := 0; i < 32; i++ {
		if _, used := m.Keyslots[strconv.Itoa(i)]; !used {
			return i, nil
		}
	}
	return 0, ErrNoFreeSlot
}

// Slots returns the keyslot numbers in use, in order.
func (m *Meta) Slots() []int {
	var out []int
	for k := range m.Keyslots {
		if n, err := strconv.Atoi(k); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// ArcaTokens returns the header's tokens of type arca by token id, in
// order of id. A token of type arca that does not parse is returned with
// its error, so that a caller can say which one is broken.
func (m *Meta) ArcaTokens() []FoundToken {
	var out []FoundToken
	for k, raw := range m.Tokens {
		id, err := strconv.Atoi(k)
		if err != nil {
			continue
		}
		var probe struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &probe) != nil || probe.Type != TokenType {
			continue
		}
		ft := FoundToken{ID: id}
		ft.Err = ParseToken(raw, &ft.Token)
		out = append(out, ft)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// FoundToken is an arca token read from a header.
type FoundToken struct {
	ID    int
	Token Token
	Err   error
}
