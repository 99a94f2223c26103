// Package guardrails holds tests that keep the tree in shape: every
// package has exactly one package doc comment, and no file grows past the
// size where it should be split. It has no code of its own.
package guardrails
