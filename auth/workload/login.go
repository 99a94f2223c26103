package workload

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/arca-secrets/arca/internal/glob"
	"github.com/arca-secrets/arca/logical"
)

// identity is what the agent attested about a caller.
type identity struct {
	UID, GID, User, Group string
	PID                   string
	ExePath, ExeSHA256    string
	Cgroup, ContainerID   string
	SystemdUnit, SELinux  string
	// Agent is who vouches: the display name of the agent's own token.
	Agent string
}

func identityFrom(req *logical.Request) (*identity, error) {
	id := &identity{Agent: req.DisplayName}
	for key, dst := range map[string]*string{
		"uid": &id.UID, "gid": &id.GID, "user": &id.User, "group": &id.Group, "pid": &id.PID,
		"exe_path": &id.ExePath, "exe_sha256": &id.ExeSHA256, "cgroup": &id.Cgroup,
		"container_id": &id.ContainerID, "systemd_unit": &id.SystemdUnit, "selinux_label": &id.SELinux,
	} {
		v, err := scalarParam(req.Data, key)
		if err != nil {
			return nil, err
		}
		if len(v) > 4096 {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "%s is longer than 4096 bytes", key)
		}
		*dst = v
	}
	if id.UID == "" || id.GID == "" {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "uid and gid are required: the agent must attest the caller")
	}
	return id, nil
}

// scalarParam reads a string or a number as a string.
func scalarParam(d map[string]any, key string) (string, error) {
	switch v := d[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case fmt.Stringer: // json.Number
		return v.String(), nil
	case float64:
		return fmt.Sprintf("%.0f", v), nil
	}
	return "", logical.Errorf(logical.ErrInvalidRequest, "%s must be a string", key)
}

// String says which identity was seen, for a refusal the workload reads.
func (id *identity) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "uid=%s gid=%s", id.UID, id.GID)
	for _, kv := range [][2]string{{"user", id.User}, {"pid", id.PID}, {"exe", id.ExePath}, {"cgroup", id.Cgroup}, {"container", id.ContainerID}, {"unit", id.SystemdUnit}, {"selinux", id.SELinux}, {"agent", id.Agent}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
		}
	}
	return b.String()
}

// matches says whether the caller meets every binding of r.
func (r *role) matches(id *identity) bool {
	return anyOf(r.BoundUIDs, id.UID, id.User) &&
		anyOf(r.BoundGIDs, id.GID, id.Group) &&
		globAny(r.BoundExePaths, id.ExePath) &&
		hashAny(r.BoundExeSHA256, id.ExeSHA256) &&
		globAny(r.BoundCgroups, id.Cgroup) &&
		exactAny(r.BoundContainerIDs, id.ContainerID) &&
		globAny(r.BoundSystemdUnits, id.SystemdUnit) &&
		globAny(r.BoundSELinuxLabels, id.SELinux) &&
		globAny(r.BoundAgents, id.Agent)
}

// anyOf: an empty binding matches; else the id or the name must be listed.
func anyOf(bound []string, id, name string) bool {
	return len(bound) == 0 || slices.Contains(bound, id) || name != "" && slices.Contains(bound, name)
}

func exactAny(bound []string, v string) bool {
	return len(bound) == 0 || v != "" && slices.Contains(bound, v)
}

func hashAny(bound []string, v string) bool {
	return len(bound) == 0 || v != "" && slices.ContainsFunc(bound, func(b string) bool { return strings.EqualFold(b, v) })
}

func globAny(bound []string, v string) bool {
	return len(bound) == 0 || v != "" && slices.ContainsFunc(bound, func(g string) bool { return glob.Match(g, v) })
}

// login finds the one role the attested caller matches and answers with
// its token settings. No match, or more than one, is refused with the
// identity that was seen: ambiguous bindings fail closed.
func (e *Engine) login(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if own := ownTokenPrefix(req.MountPoint); own != "" && strings.HasPrefix(req.DisplayName, own) {
		// A workload's token vouching for workloads would let anything
		// holding one name any selectors it likes.
		return nil, logical.Errorf(logical.ErrPermissionDenied, "a token this method issued cannot log workloads in: only an agent's own token vouches for the callers it attested")
	}
	id, err := identityFrom(req)
	if err != nil {
		return nil, err
	}
	want, err := logical.StringParam(req.Data, "role")
	if err != nil {
		return nil, err
	}
	if want != "" {
		if err := validRoleName(want); err != nil {
			return nil, err
		}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	names := []string{want}
	if want == "" {
		if names, err = req.Storage.List(ctx, rolePrefix); err != nil {
			return nil, err
		}
	}
	var matched []string
	var r *role
	for _, name := range names {
		cand, err := getRole(ctx, req.Storage, name)
		if err != nil {
			return nil, err
		}
		if cand != nil && cand.matches(id) {
			matched, r = append(matched, name), cand
		}
	}
	switch len(matched) {
	case 0:
		return nil, logical.Errorf(logical.ErrPermissionDenied, "no workload role matches the caller (%s)", id)
	case 1:
	default:
		return nil, logical.Errorf(logical.ErrPermissionDenied, "the caller (%s) matches several workload roles (%s); bind them so that one matches", id, strings.Join(matched, ", "))
	}
	name := matched[0]
	auth := r.Fields.Auth()
	auth.DisplayName = name
	auth.LeasePath = "login/" + name
	auth.InternalData = map[string]string{"role": name}
	auth.Metadata = map[string]string{"role": name, "agent": id.Agent, "uid": id.UID, "gid": id.GID}
	for k, v := range map[string]string{"user": id.User, "exe_path": id.ExePath, "exe_sha256": id.ExeSHA256, "cgroup": id.Cgroup,
		"container_id": id.ContainerID, "systemd_unit": id.SystemdUnit, "selinux_label": id.SELinux} {
		if v != "" {
			auth.Metadata[k] = v
		}
	}
	return &logical.Response{Auth: auth}, nil
}

// ownTokenPrefix is the display-name prefix of the tokens issued by the
// method mounted at mountPoint ("auth/workload/" issues "workload-<role>").
func ownTokenPrefix(mountPoint string) string {
	name := strings.TrimSuffix(strings.TrimPrefix(mountPoint, "auth/"), "/")
	if name == "" {
		return ""
	}
	return name + "-"
}

// RenewAuth refuses to renew a token whose role is gone.
func (e *Engine) RenewAuth(ctx context.Context, req *logical.Request, auth *logical.Auth) (*logical.Auth, error) {
	name := auth.InternalData["role"]
	r, err := getRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, logical.Errorf(logical.ErrPermissionDenied, "workload role %q no longer exists", name)
	}
	return auth, nil
}
