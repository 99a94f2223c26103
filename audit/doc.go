// Package audit records every request and response to audit devices
// (file, socket, syslog) as JSON lines in Vault's shape, with secrets
// (tokens, passwords, secret values) replaced by HMAC-SHA256 under a salt of
// each device's own, so an operator can search for a known value with
// sys/audit-hash without the log ever holding it.
//
// Beyond Vault, each line of a device carries the hash of the line before
// it and its own hash, so Verify can tell an edited, deleted or reordered
// line (see chain.go for the format).
//
// The broker fails closed: when devices are enabled and none of them can
// record an entry, Log returns an error and core refuses the request
// instead of serving it unrecorded.
package audit
