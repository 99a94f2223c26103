package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
)

// Policy is a parsed ACL policy.
type Policy struct {
	Name  string
	Rules []Rule
	// Raw is the text it was parsed from, returned on read.
	Raw string
}

// Rule grants capabilities on the paths matching Pattern.
type Rule struct {
	// Pattern: a path, optionally ending in "*" (any suffix), with "+"
	// segments matching exactly one path segment.
	Pattern string
	Caps    Capability
	// Parameter constraints for create, update and patch.
	RequiredParameters []string
	AllowedParameters  map[string][]string
	DeniedParameters   map[string][]string
	MinWrappingTTL     time.Duration
	MaxWrappingTTL     time.Duration
	// Line is where the rule starts in the policy text.
	Line int
}

// maxPolicySize bounds a policy's text.
const maxPolicySize = 1 << 20

// Parse parses an HCL policy. Every error names the policy and the line.
func Parse(name, src string) (*Policy, error) {
	if len(src) > maxPolicySize {
		return nil, &ParseError{Policy: name, Msg: fmt.Sprintf("policy is larger than %d bytes", maxPolicySize)}
	}
	f, err := hcl.Parse(src)
	if err != nil {
		line := 0
		var pe *hclparser.PosError
		if errors.As(err, &pe) {
			line = pe.Pos.Line
		}
		return nil, &ParseError{Policy: name, Line: line, Msg: "syntax error: " + err.Error()}
	}
	list, ok := f.Node.(*ast.ObjectList)
	if !ok {
		return nil, &ParseError{Policy: name, Msg: "a policy is a list of path blocks"}
	}
	p := &Policy{Name: name, Raw: src}
	for _, item := range list.Items {
		line := item.Pos().Line
		if len(item.Keys) == 0 || keyName(item.Keys[0]) != "path" {
			k := ""
			if len(item.Keys) > 0 {
				k = keyName(item.Keys[0])
			}
			return nil, &ParseError{Policy: name, Line: line, Msg: fmt.Sprintf("unknown key %q: a policy holds only path \"...\" { ... } blocks", k)}
		}
		r, err := parseRule(item)
		if err != nil {
			return nil, &ParseError{Policy: name, Line: lineOf(err, line), Msg: err.Error(), Err: errors.Unwrap(err)}
		}
		p.Rules = append(p.Rules, r)
	}
	return p, nil
}

// lineError carries the line of a problem inside a rule.
type lineError struct {
	line int
	msg  string
	err  error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

func errAt(pos token.Pos, err error, format string, args ...any) error {
	return &lineError{line: pos.Line, msg: fmt.Sprintf(format, args...), err: err}
}

func lineOf(err error, def int) int {
	var le *lineError
	if errors.As(err, &le) && le.line > 0 {
		return le.line
	}
	return def
}

func keyName(k *ast.ObjectKey) string {
	if v, ok := k.Token.Value().(string); ok {
		return v
	}
	return k.Token.Text
}

func parseRule(item *ast.ObjectItem) (Rule, error) {
	pos := item.Pos()
	if len(item.Keys) != 2 {
		return Rule{}, errAt(pos, nil, "a path block is written path \"PATTERN\" { capabilities = [...] }")
	}
	pattern := strings.TrimPrefix(keyName(item.Keys[1]), "/")
	if err := validatePattern(pattern); err != nil {
		return Rule{}, errAt(pos, nil, "path %q: %v", pattern, err)
	}
	body, ok := item.Val.(*ast.ObjectType)
	if !ok {
		return Rule{}, errAt(pos, nil, "path %q must be followed by a { ... } block", pattern)
	}
	r := Rule{Pattern: pattern, Line: pos.Line}
	seenCaps := false
	for _, it := range body.List.Items {
		k := keyName(it.Keys[0])
		kpos := it.Keys[0].Pos()
		var err error
		switch k {
		case "capabilities":
			seenCaps = true
			var names []string
			if names, err = stringList(it); err == nil {
				for _, n := range names {
					c, cerr := ParseCapability(n)
					if cerr != nil {
						return Rule{}, errAt(kpos, cerr, "path %q: %v", pattern, cerr)
					}
					r.Caps |= c
				}
			}
		case "policy":
			seenCaps = true
			var s string
			if s, err = stringValue(it); err == nil {
				c, ok := legacyPolicy(s)
				if !ok {
					return Rule{}, errAt(kpos, ErrUnknownCapability, "path %q: unknown policy %q (deny, read, write, sudo)", pattern, s)
				}
				r.Caps |= c
			}
		case "required_parameters":
			r.RequiredParameters, err = stringList(it)
		case "allowed_parameters":
			r.AllowedParameters, err = paramMap(it)
		case "denied_parameters":
			r.DeniedParameters, err = paramMap(it)
		case "min_wrapping_ttl":
			r.MinWrappingTTL, err = duration(it)
		case "max_wrapping_ttl":
			r.MaxWrappingTTL, err = duration(it)
		default:
			return Rule{}, errAt(kpos, nil, "path %q: unknown key %q", pattern, k)
		}
		if err != nil {
			return Rule{}, errAt(kpos, nil, "path %q: %s: %v", pattern, k, err)
		}
	}
	if !seenCaps {
		return Rule{}, errAt(pos, nil, "path %q: capabilities must be set", pattern)
	}
	if r.Caps&Deny != 0 {
		r.Caps = Deny
	}
	if r.MaxWrappingTTL > 0 && r.MinWrappingTTL > r.MaxWrappingTTL {
		return Rule{}, errAt(pos, nil, "path %q: min_wrapping_ttl is larger than max_wrapping_ttl", pattern)
	}
	return r, nil
}

// validatePattern allows "*" only at the end and "+" only as a whole
// segment, and refuses dot segments and empty segments, which no request
// path can contain.
func validatePattern(p string) error {
	if strings.Contains(p, "*") && strings.Index(p, "*") != len(p)-1 {
		return errors.New(`"*" is allowed only at the end`)
	}
	segs := strings.Split(strings.TrimSuffix(p, "*"), "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "" && !last && i > 0:
			return errors.New("empty path segment")
		case seg == "." || seg == "..":
			return errors.New("dot segments never match a request")
		case strings.Contains(seg, "+") && seg != "+":
			return errors.New(`"+" must be a whole path segment`)
		}
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, "//") {
		return errors.New("empty path segment")
	}
	return nil
}

func stringValue(it *ast.ObjectItem) (string, error) {
	lit, ok := it.Val.(*ast.LiteralType)
	if !ok || lit.Token.Type != token.STRING {
		return "", errors.New("must be a string")
	}
	s, _ := lit.Token.Value().(string)
	return s, nil
}

func stringList(it *ast.ObjectItem) ([]string, error) {
	return listOf(it.Val)
}

func listOf(n ast.Node) ([]string, error) {
	l, ok := n.(*ast.ListType)
	if !ok {
		return nil, errors.New("must be a list of strings")
	}
	out := []string{}
	for _, e := range l.List {
		lit, ok := e.(*ast.LiteralType)
		if !ok {
			return nil, errors.New("must be a list of strings")
		}
		switch lit.Token.Type {
		case token.STRING:
			s, _ := lit.Token.Value().(string)
			out = append(out, s)
		case token.NUMBER, token.FLOAT, token.BOOL:
			out = append(out, lit.Token.Text)
		default:
			return nil, errors.New("must be a list of strings")
		}
	}
	return out, nil
}

// paramMap reads { "name" = ["value", ...] }.
func paramMap(it *ast.ObjectItem) (map[string][]string, error) {
	obj, ok := it.Val.(*ast.ObjectType)
	if !ok {
		return nil, errors.New(`must be a map such as { "name" = ["value"] }`)
	}
	out := map[string][]string{}
	for _, p := range obj.List.Items {
		if len(p.Keys) != 1 {
			return nil, errors.New(`must be a map such as { "name" = ["value"] }`)
		}
		vals, err := listOf(p.Val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyName(p.Keys[0]), err)
		}
		out[keyName(p.Keys[0])] = vals
	}
	return out, nil
}

func duration(it *ast.ObjectItem) (time.Duration, error) {
	lit, ok := it.Val.(*ast.LiteralType)
	if !ok {
		return 0, errors.New(`must be a duration such as "30s"`)
	}
	s := lit.Token.Text
	if v, ok := lit.Token.Value().(string); ok {
		s = v
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	var secs int64
	if _, err := fmt.Sscanf(s, "%d", &secs); err == nil && secs >= 0 && fmt.Sprint(secs) == s {
		return time.Duration(secs) * time.Second, nil
	}
	return 0, errors.New(`must be a duration such as "30s"`)
}
