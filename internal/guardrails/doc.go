// Package guardrails holds tests that keep the tree in shape: every
// package has exactly one package doc comment; no file grows past 800
// lines nor package past 4,000 lines of non-test Go, the sizes where they
// should be split; imports follow the layering of ARCHITECTURE.md (engines
// and the layers under core never reach core or server, core never
// reaches server, the agent carries no storage or server code); test
// helpers stay out of production code; tests skip for the machine's sake
// only through internal/testenv, so that CI can refuse such skips; CI runs
// the README's test command; and the Markdown links only to files of the
// repository. It has no code of its own.
package guardrails
