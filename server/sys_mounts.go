package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
)

func mountJSON(me core.MountEntry) map[string]any {
	options := me.Options
	if options == nil {
		options = map[string]string{}
	}
	return map[string]any{
		"type":        me.Type,
		"description": me.Description,
		"accessor":    me.Accessor,
		"uuid":        me.UUID,
		"config": map[string]any{
			"default_lease_ttl": me.Config.DefaultLeaseTTL,
			"max_lease_ttl":     me.Config.MaxLeaseTTL,
			"force_no_cache":    false,
		},
		"options":                 options,
		"local":                   me.Local,
		"seal_wrap":               me.SealWrap,
		"external_entropy_access": false,
		"plugin_version":          "",
		"running_plugin_version":  "",
		"running_sha256":          "",
		"deprecation_status":      "",
	}
}

// tables: sys/mounts serves secrets engines, sys/auth auth methods.
type table struct {
	name string // core table: "" or core.AuthTable
	api  string // "sys/mounts" or "sys/auth"
	kind string // for messages
}

var (
	secretsTable = table{name: "", api: "sys/mounts", kind: "secrets engine"}
	authTable    = table{name: core.AuthTable, api: "sys/auth", kind: "auth method"}
)

// displayPath is a mount's path as its table's API shows it.
func (t table) displayPath(p string) string {
	if t.name == core.AuthTable {
		return strings.TrimPrefix(p, "auth/")
	}
	return p
}

func (s *Server) handleMounts(w http.ResponseWriter, r *http.Request, sub string) {
	s.handleTable(w, r, secretsTable)
}

func (s *Server) handleMount(w http.ResponseWriter, r *http.Request, sub string) {
	s.handleTableEntry(w, r, secretsTable, sub)
}

func (s *Server) handleAuths(w http.ResponseWriter, r *http.Request, sub string) {
	s.handleTable(w, r, authTable)
}

func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request, sub string) {
	s.handleTableEntry(w, r, authTable, sub)
}

// handleTable lists a mount table: GET sys/mounts or sys/auth.
func (s *Server) handleTable(w http.ResponseWriter, r *http.Request, t table) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	mounts, err := s.core.Mounts(r.Context(), t.name)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	data := map[string]any{}
	for _, me := range mounts {
		data[t.displayPath(me.Path)] = mountJSON(me)
	}
	body := envelope(data)
	// Vault also puts each mount at the top level, for older clients.
	for k, v := range data {
		body[k] = v
	}
	respondJSON(w, http.StatusOK, body)
}

// routerPath is where a mount of table t at path lives in the router.
func (t table) routerPath(path string) (string, error) {
	p, err := core.NormalizeMountPath(path)
	if err != nil {
		return "", err
	}
	if t.name == core.AuthTable {
		return "auth/" + p, nil
	}
	return p, nil
}

// handleTableEntry serves sys/mounts/<path> and sys/auth/<path> (enable,
// read, disable) and their /tune.
func (s *Server) handleTableEntry(w http.ResponseWriter, r *http.Request, t table, sub string) {
	if path, ok := strings.CutSuffix(strings.TrimSuffix(sub, "/"), "/tune"); ok {
		s.handleTune(w, r, t, path)
		return
	}
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		me, ok := s.mountAt(w, r, t, sub)
		if ok {
			respondJSON(w, http.StatusOK, envelope(mountJSON(me)))
		}
	case http.MethodDelete:
		if err := s.core.Unmount(r.Context(), sub, t.name); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.enableMount(w, r, t, sub)
	}
}

// mountAt returns the mount of table t at exactly path, or answers 400.
func (s *Server) mountAt(w http.ResponseWriter, r *http.Request, t table, path string) (core.MountEntry, bool) {
	norm, err := t.routerPath(path)
	if err != nil {
		s.respondErr(w, r, err)
		return core.MountEntry{}, false
	}
	me, err := s.core.MountInfo(r.Context(), norm)
	if err != nil || me.Path != norm || me.Table != t.name {
		s.respondErr(w, r, &badRequest{"no " + t.kind + " is mounted at " + t.displayPath(norm)})
		return core.MountEntry{}, false
	}
	return me, true
}

func (s *Server) enableMount(w http.ResponseWriter, r *http.Request, t table, path string) {
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	me := core.MountEntry{Path: path, Table: t.name}
	if me.Type, err = logical.StringParam(body, "type"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.Type == "" {
		s.respondErr(w, r, &badRequest{"'type' must be given: the " + t.kind + " to enable"})
		return
	}
	if me.Description, err = logical.StringParam(body, "description"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.Options, err = stringMapParam(body, "options"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.Local, _, err = logical.BoolParam(body, "local"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.SealWrap, _, err = logical.BoolParam(body, "seal_wrap"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	conf, err := objectParam(body, "config")
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.Config, err = tuneFrom(conf, core.MountTune{}); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if err := s.core.Mount(r.Context(), me); err != nil {
		s.respondErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// tuneFrom applies the TTL fields present in data to cur.
func tuneFrom(data map[string]any, cur core.MountTune) (core.MountTune, error) {
	if v, ok, err := logical.DurationParam(data, "default_lease_ttl"); err != nil {
		return cur, err
	} else if ok {
		cur.DefaultLeaseTTL = int(v / time.Second)
	}
	if v, ok, err := logical.DurationParam(data, "max_lease_ttl"); err != nil {
		return cur, err
	} else if ok {
		cur.MaxLeaseTTL = int(v / time.Second)
	}
	return cur, nil
}

func (s *Server) handleTune(w http.ResponseWriter, r *http.Request, t table, path string) {
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut) {
		return
	}
	me, ok := s.mountAt(w, r, t, path)
	if !ok {
		return
	}
	if r.Method == http.MethodGet {
		data := map[string]any{
			"default_lease_ttl": me.Config.DefaultLeaseTTL,
			"max_lease_ttl":     me.Config.MaxLeaseTTL,
			"force_no_cache":    false,
			"description":       me.Description,
			"options":           me.Options,
		}
		respondJSON(w, http.StatusOK, envelope(data))
		return
	}
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	tune, err := tuneFrom(body, me.Config)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	var desc *string
	if _, ok := body["description"]; ok {
		d, err := logical.StringParam(body, "description")
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		desc = &d
	}
	if err := s.core.Tune(r.Context(), path, t.name, tune, desc); err != nil {
		s.respondErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleUIMount tells a client which mount serves a path and its options
// (the vault/bao CLIs ask this first to learn a KV mount's version). A
// mount the token can do nothing under is refused as if it did not exist.
func (s *Server) handleUIMount(w http.ResponseWriter, r *http.Request, path string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	me, err := s.core.MountInfo(r.Context(), path)
	if err == nil && !callOf(r).Caller.ACL.HasAccessUnder(me.Path) {
		err = core.ErrPermissionDenied
	}
	if err != nil {
		if errors.Is(err, core.ErrNoMount) {
			err = core.ErrPermissionDenied
		}
		s.respondErr(w, r, err)
		return
	}
	data := mountJSON(me)
	data["path"] = me.Path
	respondJSON(w, http.StatusOK, envelope(data))
}

// handleUIMounts lists the mounts the token can do something under, as
// Vault does: secrets engines under "secret", auth methods under "auth".
func (s *Server) handleUIMounts(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	acl := callOf(r).Caller.ACL
	data := map[string]any{}
	for _, t := range []table{secretsTable, authTable} {
		mounts, err := s.core.Mounts(r.Context(), t.name)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		visible := map[string]any{}
		for _, me := range mounts {
			if acl.HasAccessUnder(me.Path) {
				visible[t.displayPath(me.Path)] = mountJSON(me)
			}
		}
		data[map[string]string{"": "secret", core.AuthTable: "auth"}[t.name]] = visible
	}
	respondJSON(w, http.StatusOK, envelope(data))
}
