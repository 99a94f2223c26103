// Package version holds Arca's version, set at build time with
// -ldflags "-X github.com/arca-secrets/arca/internal/version.Version=...".
package version

// Version is the release this binary was built from.
var Version = "0.1.0-dev"
