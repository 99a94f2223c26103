package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Parameter constraints are checked on the values as the handlers will
// read them, not as they were typed. Handlers accept a list field (such as
// a token's "policies") as a JSON list or as a comma-separated string,
// trim each element, and fold names to lower case; a check that compared
// the raw value alone could be passed by ["admin","default"],
// "default,admin" or "Admin". The checks cannot know which fields a
// handler splits or folds, so they fail closed:
//
//   - denied_parameters: a value is denied when the whole value, the whole
//     value trimmed, or any of its comma-separated pieces (trimmed) matches
//     a denied value, compared without regard to case; for a list, when
//     any element is denied; for an object, when any key or value is.
//   - allowed_parameters: a value is allowed only when the whole value and
//     each comma-separated piece match an allowed value; for a list, every
//     element must be allowed. Comparison is case-sensitive: a handler
//     that does not fold case acts on exactly the spelling that was
//     allowed, and one that folds acts on the folded form of an allowed
//     spelling, so neither can act on a value the policy did not name.
//     Folding here instead would let "ADMIN" pass an allowed "admin" to a
//     handler that keeps case. An object, or a value the checks cannot
//     read, is allowed only by the bare "*".
//   - required_parameters: the parameter must be present and hold at least
//     one non-empty element; "", " , " and [] are what a handler reads as
//     absent.
//
// Allowed and denied values may start or end with "*" as a glob (Vault's
// prefix and suffix matching; "*" alone is any value).

// maxValueDepth bounds how deep the checks look into nested lists and
// objects; a deeper value counts as unreadable (denied where a denied
// list applies, allowed only by "*").
const maxValueDepth = 32

// flatValue is a parameter value taken apart for the checks.
type flatValue struct {
	// leaves: the scalars, with list elements and object values in place
	// of their containers; an empty list is one "" leaf.
	leaves []string
	// keys: the keys of every object in the value.
	keys []string
	// object: the value is or holds an object.
	object bool
	// unreadable: the value holds a type the checks do not know, or is
	// nested deeper than maxValueDepth.
	unreadable bool
}

func flatten(v any) flatValue {
	var f flatValue
	f.add(v, 0)
	return f
}

func (f *flatValue) add(v any, depth int) {
	if depth > maxValueDepth {
		f.unreadable = true
		return
	}
	switch x := v.(type) {
	case nil:
		f.leaves = append(f.leaves, "")
	case string:
		f.leaves = append(f.leaves, x)
	case json.Number:
		f.leaves = append(f.leaves, x.String())
	case bool:
		f.leaves = append(f.leaves, strconv.FormatBool(x))
	case float64:
		f.leaves = append(f.leaves, strconv.FormatFloat(x, 'f', -1, 64))
	case int:
		f.leaves = append(f.leaves, strconv.Itoa(x))
	case int64:
		f.leaves = append(f.leaves, strconv.FormatInt(x, 10))
	case []string:
		if len(x) == 0 {
			f.leaves = append(f.leaves, "")
		}
		f.leaves = append(f.leaves, x...)
	case []any:
		if len(x) == 0 {
			f.leaves = append(f.leaves, "")
		}
		for _, e := range x {
			f.add(e, depth+1)
		}
	case map[string]any:
		f.object = true
		for k, e := range x {
			f.keys = append(f.keys, k)
			f.add(e, depth+1)
		}
	case fmt.Stringer:
		f.leaves = append(f.leaves, x.String())
	default:
		f.unreadable = true
	}
}

// pieces returns s's comma-separated elements, trimmed, without empty
// ones, as a list handler reads them.
func pieces(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (r *rule) checkParams(params map[string]any) string {
	for _, k := range r.required {
		if v, ok := params[k]; !ok || !present(v) {
			return "permission denied: missing required parameter " + k
		}
	}
	// Sorted, so that the reason given for a refusal does not depend on
	// map order.
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := params[k]
		if r.isDenied(k, v) {
			return "permission denied: parameter " + k + " is denied"
		}
		if len(r.allowed) == 0 {
			continue
		}
		vals, ok := r.allowed[k]
		if !ok {
			vals, ok = r.allowed["*"]
		}
		if !ok || (len(vals) > 0 && !allowedValue(v, vals)) {
			return "permission denied: parameter " + k + " is not allowed"
		}
	}
	return ""
}

// isDenied applies denied_parameters to k = v. Keys compare without
// regard to case (r.denied is keyed by lower-cased names).
func (r *rule) isDenied(k string, v any) bool {
	for _, key := range [2]string{strings.ToLower(k), "*"} {
		if vals, ok := r.denied[key]; ok && (len(vals) == 0 || deniedValue(v, vals)) {
			return true
		}
	}
	return false
}

func present(v any) bool {
	f := flatten(v)
	if f.unreadable || len(f.keys) > 0 {
		return true
	}
	return slices.ContainsFunc(f.leaves, func(s string) bool { return len(pieces(s)) > 0 })
}

func deniedValue(v any, pats []string) bool {
	f := flatten(v)
	if f.unreadable {
		return true
	}
	return slices.ContainsFunc(f.leaves, func(s string) bool { return deniedString(s, pats) }) ||
		slices.ContainsFunc(f.keys, func(s string) bool { return deniedString(s, pats) })
}

func deniedString(s string, pats []string) bool {
	hit := func(c string) bool {
		return slices.ContainsFunc(pats, func(p string) bool { return foldGlob(p, c) })
	}
	return hit(s) || hit(strings.TrimSpace(s)) || slices.ContainsFunc(pieces(s), hit)
}

func allowedValue(v any, pats []string) bool {
	f := flatten(v)
	if f.unreadable || f.object {
		return slices.Contains(pats, "*")
	}
	return len(f.leaves) > 0 && !slices.ContainsFunc(f.leaves, func(s string) bool { return !allowedString(s, pats) })
}

func allowedString(s string, pats []string) bool {
	hit := func(c string) bool {
		return slices.ContainsFunc(pats, func(p string) bool { return globValue(p, c) })
	}
	if !hit(s) {
		return false
	}
	if !strings.Contains(s, ",") {
		return true
	}
	return !slices.ContainsFunc(pieces(s), func(c string) bool { return !hit(c) })
}

// foldGlob is globValue without regard to case: the lower-case fold that
// handlers apply, and the upper-case one for letters whose lower-case
// forms differ (the Kelvin sign, the dotless i).
func foldGlob(pattern, v string) bool {
	return globValue(pattern, v) ||
		globValue(strings.ToLower(pattern), strings.ToLower(v)) ||
		globValue(strings.ToUpper(pattern), strings.ToUpper(v))
}

// globValue matches a value against an allowed or denied value, which
// may start or end with "*" ("*" alone matches anything).
func globValue(pattern, v string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*") && strings.HasSuffix(pattern, "*") && len(pattern) > 1:
		return strings.Contains(v, pattern[1:len(pattern)-1])
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(v, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(v, pattern[:len(pattern)-1])
	}
	return pattern == v
}
