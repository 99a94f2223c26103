package workload

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/arca-secrets/arca/auth/internal/tokenfields"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/storage"
)

const rolePrefix = "role/"

// role binds selectors to token settings. Every non-empty list must be
// matched by the caller (one entry of each); a role binds at least one
// selector besides bound_agents.
type role struct {
	BoundUIDs          []string `json:"bound_uids,omitempty"`
	BoundGIDs          []string `json:"bound_gids,omitempty"`
	BoundExePaths      []string `json:"bound_exe_paths,omitempty"`
	BoundExeSHA256     []string `json:"bound_exe_sha256,omitempty"`
	BoundCgroups       []string `json:"bound_cgroups,omitempty"`
	BoundContainerIDs  []string `json:"bound_container_ids,omitempty"`
	BoundSystemdUnits  []string `json:"bound_systemd_units,omitempty"`
	BoundSELinuxLabels []string `json:"bound_selinux_labels,omitempty"`
	BoundAgents        []string `json:"bound_agents,omitempty"`
	tokenfields.Fields
}

// selectorLists names each bound list for requests and responses.
func (r *role) selectorLists() map[string]*[]string {
	return map[string]*[]string{
		"bound_uids": &r.BoundUIDs, "bound_gids": &r.BoundGIDs,
		"bound_exe_paths": &r.BoundExePaths, "bound_exe_sha256": &r.BoundExeSHA256,
		"bound_cgroups": &r.BoundCgroups, "bound_container_ids": &r.BoundContainerIDs,
		"bound_systemd_units": &r.BoundSystemdUnits, "bound_selinux_labels": &r.BoundSELinuxLabels,
		"bound_agents": &r.BoundAgents,
	}
}

func getRole(ctx context.Context, st storage.Backend, name string) (*role, error) {
	en, err := st.Get(ctx, rolePrefix+name)
	if err != nil || en == nil {
		return nil, err
	}
	var r role
	if err := json.Unmarshal(en.Value, &r); err != nil {
		return nil, fmt.Errorf("decoding workload role %q: %w", name, err)
	}
	return &r, nil
}

func (e *Engine) readRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	r, err := getRole(ctx, req.Storage, name)
	if err != nil || r == nil {
		return nil, err
	}
	data := map[string]any{}
	for k, v := range r.selectorLists() {
		data[k] = logical.NonNil(*v)
	}
	r.Fields.Fill(data)
	return &logical.Response{Data: data}, nil
}

// writeRole creates or updates a role. Updating revokes every token the
// role issued, so that the new bindings and policies hold from the next
// request (the agent logs its workloads in again).
func (e *Engine) writeRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old, err := getRole(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	r := &role{}
	if old != nil {
		*r = *old
	}
	for key, dst := range r.selectorLists() {
		if _, ok := req.Data[key]; !ok {
			continue
		}
		list, err := logical.StringListParam(req.Data, key)
		if err != nil {
			return nil, err
		}
		*dst = list
	}
	if err := r.Fields.Parse(req.Data); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := req.Storage.Put(ctx, &storage.Entry{Key: rolePrefix + name, Value: raw}); err != nil {
		return nil, err
	}
	if old != nil {
		if err := e.revokeRole(ctx, name); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (r *role) validate() error {
	if len(r.BoundUIDs)+len(r.BoundGIDs)+len(r.BoundExePaths)+len(r.BoundExeSHA256)+len(r.BoundCgroups)+
		len(r.BoundContainerIDs)+len(r.BoundSystemdUnits)+len(r.BoundSELinuxLabels) == 0 {
		return logical.Errorf(logical.ErrInvalidRequest, "a workload role must bind at least one selector (bound_uids, bound_gids, bound_exe_paths, bound_exe_sha256, bound_cgroups, bound_container_ids, bound_systemd_units or bound_selinux_labels)")
	}
	for _, id := range append(append([]string{}, r.BoundUIDs...), r.BoundGIDs...) {
		if id == "" || id == "*" {
			return logical.Errorf(logical.ErrInvalidRequest, "bound_uids and bound_gids take user or group ids or names, not %q", id)
		}
	}
	for _, h := range r.BoundExeSHA256 {
		if len(h) != 64 || !isHex(h) {
			return logical.Errorf(logical.ErrInvalidRequest, "bound_exe_sha256 entries must be 64 hex digits")
		}
	}
	if r.Fields.NoDefaultPolicy {
		return logical.Errorf(logical.ErrInvalidRequest, "workload tokens keep the default policy: the agent looks each token up and revokes it with it (so that a refusal never leaves a live token behind)")
	}
	if r.Fields.Type == "batch" || r.Fields.Type == "default-batch" {
		return logical.Errorf(logical.ErrInvalidRequest, "workload roles issue service tokens: a batch token could not be revoked when the role changes")
	}
	return nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// deleteRole deletes a role and revokes every token it issued.
func (e *Engine) deleteRole(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := req.Storage.Delete(ctx, rolePrefix+name); err != nil {
		return nil, err
	}
	return nil, e.revokeRole(ctx, name)
}

func (e *Engine) revokeRole(ctx context.Context, name string) error {
	if e.revoke == nil {
		return nil
	}
	if _, err := e.revoke(ctx, "login/"+name); err != nil {
		return fmt.Errorf("the role is changed but some of its tokens are not revoked yet (they are retried): %w", err)
	}
	return nil
}
