// Package policy parses Vault's HCL ACL policies and compiles them into an
// ACL that decides requests: path patterns with a trailing "*" glob and "+"
// segment wildcards, the most specific pattern wins, deny always wins, and
// parameter constraints (required, allowed, denied) apply to writes.
//
// Evaluation is a pure function of the compiled ACL and the request (path,
// operation, parameters); it does no I/O. Request paths reach it already
// normalised by the server (no "//", no dot segments, URL-decoded), and
// matching is byte-exact and case-sensitive, so no spelling of a path can
// reach a rule that the plain path does not.
package policy
