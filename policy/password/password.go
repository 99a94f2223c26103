// Package password parses password policies, in the HCL form Vault's
// sys/policies/password takes, and generates passwords from them:
//
//	length = 24
//	rule "charset" {
//	  charset   = "abcdefghijklmnopqrstuvwxyz"
//	  min-chars = 1
//	}
//
// The password is drawn from the union of the rules' character sets; each
// rule's min-chars characters come from its own set.
package password

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"

	"github.com/hashicorp/hcl"
)

// Length bounds, as Vault's.
const (
	MinLength = 4
	MaxLength = 100
)

// maxText bounds a policy's text.
const maxText = 64 << 10

// Policy is a parsed password policy.
type Policy struct {
	Length int
	rules  []rule
	all    []rune // union of the rules' sets, each rune once
}

type rule struct {
	set []rune
	min int
}

// Parse reads a policy and reports every problem in it.
func Parse(text string) (*Policy, error) {
	if len(text) > maxText {
		return nil, fmt.Errorf("the policy is longer than %d bytes", maxText)
	}
	var root map[string]any
	if err := hcl.Decode(&root, text); err != nil {
		return nil, fmt.Errorf("parsing the policy: %w", err)
	}
	var errs []error
	errf := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	p := &Policy{}
	for k := range root {
		if k != "length" && k != "rule" {
			errf("unknown key %q (a policy has length and rule blocks)", k)
		}
	}
	switch n := root["length"].(type) {
	case int:
		p.Length = n
	case nil:
		errf("length is required")
	default:
		errf("length must be a whole number")
	}
	if p.Length != 0 && (p.Length < MinLength || p.Length > MaxLength) {
		errf("length must be between %d and %d", MinLength, MaxLength)
	}
	seen := map[rune]bool{}
	for _, block := range blocks(root["rule"]) {
		for typ, body := range block {
			if typ != "charset" {
				errf("rule %q: only \"charset\" rules are supported", typ)
				continue
			}
			for _, b := range blocks(body) {
				r, err := parseCharset(b)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				p.rules = append(p.rules, r)
				for _, c := range r.set {
					if !seen[c] {
						seen[c] = true
						p.all = append(p.all, c)
					}
				}
			}
		}
	}
	if len(p.rules) == 0 {
		errf("at least one rule \"charset\" is required")
	}
	need := 0
	for _, r := range p.rules {
		need += r.min
	}
	if p.Length > 0 && need > p.Length {
		errf("the rules' min-chars add up to %d, more than length %d", need, p.Length)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(p.all, func(i, j int) bool { return p.all[i] < p.all[j] })
	return p, nil
}

// blocks turns what HCL decodes a block into (a list of maps) into maps.
func blocks(v any) []map[string]any {
	switch b := v.(type) {
	case []map[string]any:
		return b
	case map[string]any:
		return []map[string]any{b}
	}
	return nil
}

func parseCharset(b map[string]any) (rule, error) {
	var r rule
	for k := range b {
		if k != "charset" && k != "min-chars" {
			return r, fmt.Errorf("rule \"charset\": unknown key %q", k)
		}
	}
	set, ok := b["charset"].(string)
	if !ok || set == "" {
		return r, errors.New("rule \"charset\": charset must be a non-empty string")
	}
	for _, c := range set {
		if c < 0x20 || c == 0x7f {
			return r, errors.New("rule \"charset\": charset must not hold control characters")
		}
		if !slices.Contains(r.set, c) {
			r.set = append(r.set, c)
		}
	}
	switch n := b["min-chars"].(type) {
	case nil:
	case int:
		if n < 0 {
			return r, errors.New("rule \"charset\": min-chars must not be negative")
		}
		r.min = n
	default:
		return r, errors.New("rule \"charset\": min-chars must be a whole number")
	}
	return r, nil
}

// Generate returns a new password: each rule's min-chars drawn from its
// set, the rest from the union, in an order shuffled with crypto/rand.
func (p *Policy) Generate() (string, error) {
	out := make([]rune, 0, p.Length)
	for _, r := range p.rules {
		for range r.min {
			c, err := pick(r.set)
			if err != nil {
				return "", err
			}
			out = append(out, c)
		}
	}
	for len(out) < p.Length {
		c, err := pick(p.all)
		if err != nil {
			return "", err
		}
		out = append(out, c)
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := randIndex(i + 1)
		if err != nil {
			return "", err
		}
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

func pick(set []rune) (rune, error) {
	i, err := randIndex(len(set))
	if err != nil {
		return 0, err
	}
	return set[i], nil
}

func randIndex(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}
