// Package policy parses Vault's HCL ACL policies and compiles them into an
// ACL that decides requests: path patterns with a trailing "*" glob and "+"
// segment wildcards, the most specific pattern wins, deny always wins, and
// parameter constraints (required, allowed, denied) apply to writes.
//
// Evaluation is a pure function of the compiled ACL and the request (path,
// operation, parameters); it does no I/O. The request pipeline hands the
// ACL and the handler one canonical path; CanonicalPath is the part of
// that canonical form that is about slashes (no leading or trailing "/",
// no empty segments), and the ACL applies it itself as well: a decision
// is made on the canonical path, and a different spelling can only be
// refused more, never granted more. Matching is byte-exact and
// case-sensitive; folding the case of names is the pipeline's job, before
// the ACL.
//
// Parameter constraints are checked on values as handlers read them:
// lists and comma-separated strings element by element, denied values
// without regard to case (see params.go).
package policy
