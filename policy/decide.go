package policy

import "time"

// Decision is the answer to one request.
type Decision struct {
	Allowed bool
	// Sudo: the governing rules grant sudo (needed on root-protected
	// paths).
	Sudo bool
	// Reason says why a request was refused, for the error message.
	Reason string
	// MinWrappingTTL and MaxWrappingTTL bound the response-wrapping TTL
	// the request must ask for (zero: no bound).
	MinWrappingTTL, MaxWrappingTTL time.Duration
}

// Check decides whether op ("read", "list", "create", "update", "patch",
// "delete") on path with the request parameters is allowed. It is a pure
// function of its inputs.
//
// The decision is made on CanonicalPath(path), so every spelling of a
// path is governed by the rules for that path: a rule on
// "auth/token/revoke-orphan" decides "auth/token/revoke-orphan/" too.
// A list operation is decided on the directory form, "c/", as in Vault;
// an exact rule on "c" itself governs that listing (Vault's rule), unless
// a rule matching "c/" denies. A spelling other than the canonical one
// (or, for a list, "c/") can only narrow the decision: when a rule
// matches that spelling but not the canonical path (such as a deny on
// "c/*" against a request for "c/"), it must grant as well. So a caller
// that hands the raw path to a handler gets no more than the canonical
// path would, and the canonical path is never refused less than any of
// its spellings.
func (a *ACL) Check(path, op string, params map[string]any) Decision {
	if a.root {
		return Decision{Allowed: true, Sudo: true}
	}
	need, err := ForOperation(op)
	if err != nil {
		return Decision{Reason: err.Error()}
	}
	r, narrow := a.govern(path, need == List)
	d := decide(r, need, params)
	if narrow != nil {
		d = d.and(decide(narrow, need, params))
	}
	return d
}

// govern returns the rule that decides op on path and, when path is not
// spelt canonically, the most specific rule that matches its spelling but
// not the canonical path (nil when there is none).
func (a *ACL) govern(path string, list bool) (r, narrow *rule) {
	c := CanonicalPath(path)
	target := c
	if list {
		target = dirForm(c)
		r = a.listRule(c)
	} else {
		r = a.match(c)
	}
	if path == c || path == target {
		return r, nil
	}
	a.each(path, func(x *rule) {
		if !globMatch(x.pattern, target) && (narrow == nil || moreSpecific(x, narrow)) {
			narrow = x
		}
	})
	return r, narrow
}

// listRule is the rule that decides listing canonical path c.
func (a *ACL) listRule(c string) *rule {
	dir := a.match(dirForm(c))
	if dir != nil && dir.caps&Deny != 0 {
		return dir
	}
	if r := a.exact[c]; r != nil {
		return r
	}
	return dir
}

func decide(r *rule, need Capability, params map[string]any) Decision {
	if r == nil || r.caps&Deny != 0 || r.caps&need == 0 {
		return Decision{Reason: "permission denied"}
	}
	if need&(Create|Update|Patch) != 0 {
		if reason := r.checkParams(params); reason != "" {
			return Decision{Reason: reason}
		}
	}
	return Decision{Allowed: true, Sudo: r.caps&Sudo != 0, MinWrappingTTL: r.minWrap, MaxWrappingTTL: r.maxWrap}
}

// and is the decision that both d and o allow: the first refusal, or the
// strictest of both grants.
func (d Decision) and(o Decision) Decision {
	if !d.Allowed {
		return d
	}
	if !o.Allowed {
		return o
	}
	d.Sudo = d.Sudo && o.Sudo
	d.MinWrappingTTL = max(d.MinWrappingTTL, o.MinWrappingTTL)
	if o.MaxWrappingTTL > 0 && (d.MaxWrappingTTL == 0 || o.MaxWrappingTTL < d.MaxWrappingTTL) {
		d.MaxWrappingTTL = o.MaxWrappingTTL
	}
	return d
}

// WrapTTLAllowed reports whether a request wrapped with ttl (zero: not
// wrapped) satisfies the decision's wrapping bounds.
func (d Decision) WrapTTLAllowed(ttl time.Duration) bool {
	if d.MinWrappingTTL > 0 && ttl < d.MinWrappingTTL {
		return false
	}
	return d.MaxWrappingTTL == 0 || ttl <= d.MaxWrappingTTL
}

// Capabilities returns what the ACL grants on path, as Check would decide
// it without parameters (["root"] for root, ["deny"] when nothing): "list"
// comes from the rule that governs listing path as a directory, the other
// capabilities from the rule that governs path itself, and "sudo" from
// either.
func (a *ACL) Capabilities(path string) []string {
	if a.root {
		return []string{"root"}
	}
	caps := granted(a.govern(path, false)) &^ List
	if l := granted(a.govern(path, true)); l&List != 0 {
		caps |= l & (List | Sudo)
	}
	return caps.Names()
}

// granted is what r grants, narrowed by narrow; nothing when either
// denies.
func granted(r, narrow *rule) Capability {
	if r == nil || r.caps&Deny != 0 {
		return 0
	}
	c := r.caps
	if narrow != nil {
		if narrow.caps&Deny != 0 {
			return 0
		}
		c &= narrow.caps
	}
	return c
}
