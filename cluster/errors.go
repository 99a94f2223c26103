package cluster

import "errors"

var (
	// ErrNotActive: what was asked needs the active node, and this node
	// is not it (and could not forward).
	ErrNotActive = errors.New("this node is not the active node of the cluster, and no active node could be reached")
	// ErrJoinRefused: a join answer did not prove the unseal keys (no
	// challenge given to that server id, or a wrong answer). The
	// challenge is spent either way.
	ErrJoinRefused = errors.New("join refused: no matching challenge was answered")
	// ErrInvalid: a malformed join request.
	ErrInvalid = errors.New("invalid join request")
	// ErrNoJoin: unseal keys were given for a join, but no join is under
	// way.
	ErrNoJoin = errors.New("this node is not joining a cluster")
	// ErrInconsistent: a read asked for an index this node has not
	// applied within the wait, and X-Vault-Inconsistent: fail (412).
	ErrInconsistent = errors.New("required index state not present on this node")
)
