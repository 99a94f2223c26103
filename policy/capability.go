package policy

import (
	"fmt"
	"strings"
)

// Capability is a set of capabilities, one bit each.
type Capability uint16

const (
	Create Capability = 1 << iota
	Read
	Update
	Patch
	Delete
	List
	Sudo
	// Deny overrides everything else on the path it is granted for.
	Deny
	// Subscribe lets a token hear of changes to the path (change events)
	// without reading it, as Vault's capability of the name does.
	Subscribe
)

var capabilityNames = []struct {
	name string
	c    Capability
}{
	{"create", Create}, {"read", Read}, {"update", Update}, {"patch", Patch},
	{"delete", Delete}, {"list", List}, {"sudo", Sudo}, {"deny", Deny}, {"subscribe", Subscribe},
}

// ParseCapability returns the capability named s.
func ParseCapability(s string) (Capability, error) {
	for _, cn := range capabilityNames {
		if cn.name == s {
			return cn.c, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownCapability, s)
}

// Names returns the capabilities in c, in Vault's order.
func (c Capability) Names() []string {
	if c&Deny != 0 {
		return []string{"deny"}
	}
	var out []string
	for _, cn := range capabilityNames {
		if c&cn.c != 0 {
			out = append(out, cn.name)
		}
	}
	if len(out) == 0 {
		return []string{"deny"}
	}
	return out
}

func (c Capability) String() string { return strings.Join(c.Names(), ",") }

// ForOperation returns the capability an operation needs: "read", "list",
// "create", "update", "patch" or "delete".
func ForOperation(op string) (Capability, error) {
	switch op {
	case "read":
		return Read, nil
	case "list":
		return List, nil
	case "create":
		return Create, nil
	case "update":
		return Update, nil
	case "patch":
		return Patch, nil
	case "delete":
		return Delete, nil
	}
	return 0, fmt.Errorf("%w: unknown operation %q", ErrUnknownCapability, op)
}

// legacyPolicy maps the old `policy = "..."` shorthand to capabilities.
func legacyPolicy(s string) (Capability, bool) {
	switch s {
	case "deny":
		return Deny, true
	case "read":
		return Read | List, true
	case "write":
		return Create | Read | Update | Patch | Delete | List, true
	case "sudo":
		return Create | Read | Update | Patch | Delete | List | Sudo, true
	}
	return 0, false
}
