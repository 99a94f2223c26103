package policy

// DefaultText is the built-in "default" policy, attached to every token
// unless it asks not to be: a token may look itself up, renew and revoke
// itself, ask what it may do, use its cubbyhole, wrap and unwrap, and see
// the mounts it can use.
const DefaultText = `# Allow tokens to look up, renew and revoke themselves.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Allow a token to ask what it may do.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Allow a token to use its own cubbyhole.
path "cubbyhole/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap and unwrap responses.
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}

# Allow a token to find the mount of a path (the CLI asks first), and
# list the mounts it can use: only those are shown.
path "sys/internal/ui/mounts" {
  capabilities = ["read"]
}
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
`

// responseWrappingText is what a wrapping token may do: hand itself to the
// wrapping endpoints, through the same pipeline as any other token.
const responseWrappingText = `
path "sys/wrapping/unwrap" { capabilities = ["update"] }
path "sys/wrapping/lookup" { capabilities = ["update"] }
path "sys/wrapping/rewrap" { capabilities = ["update"] }
`

// ResponseWrapping is the built-in "response-wrapping" policy, which no
// one can write.
func ResponseWrapping() *Policy {
	p, err := Parse("response-wrapping", responseWrappingText)
	if err != nil {
		panic(err) // a constant that does not parse is a bug, found by tests
	}
	return p
}
