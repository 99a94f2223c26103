// Package vaultindex reads and writes X-Vault-Index values: the state of
// a cluster's storage a read must see at least. A standby that has not
// applied that much yet waits, then forwards the read to the active
// node. The value is Vault's shape, base64 of
// "v1:cluster:local:replicated:mac", so Vault clients pass it back
// unchanged; the mac is a plain checksum, not a key's: a forged index
// costs only a bounded wait and then a forward.
package vaultindex

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// Encode is the X-Vault-Index value of the applied index i.
func Encode(i uint64) string {
	state := "v1:arca:" + strconv.FormatUint(i, 10) + ":0"
	sum := sha256.Sum256([]byte(state))
	return base64.StdEncoding.EncodeToString([]byte(state + ":" + hex.EncodeToString(sum[:])))
}

// Parse is the highest index among X-Vault-Index values (each may hold
// several, comma-joined); ok false when none parses.
func Parse(values []string) (uint64, bool) {
	var best uint64
	var ok bool
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			f := strings.Split(string(raw), ":")
			if len(f) != 5 || f[0] != "v1" {
				continue
			}
			i, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				continue
			}
			if !ok || i > best {
				best, ok = i, true
			}
		}
	}
	return best, ok
}
