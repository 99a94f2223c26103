package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/arca-secrets/arca/core"
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

// handleMounts lists the mount table: GET sys/mounts.
func (s *Server) handleMounts(w http.ResponseWriter, r *http.Request, _ string) {
	if !allow(w, r, http.MethodGet) || !s.authorize(w, r) {
		return
	}
	mounts, err := s.core.Mounts(r.Context())
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	data := map[string]any{}
	for _, me := range mounts {
		data[me.Path] = mountJSON(me)
	}
	body := envelope(data)
	// Vault also puts each mount at the top level, for older clients.
	for k, v := range data {
		body[k] = v
	}
	respondJSON(w, http.StatusOK, body)
}

// handleMount serves sys/mounts/<path> (enable, read, disable) and
// sys/mounts/<path>/tune.
func (s *Server) handleMount(w http.ResponseWriter, r *http.Request, sub string) {
	if !s.authorize(w, r) {
		return
	}
	if path, ok := strings.CutSuffix(strings.TrimSuffix(sub, "/"), "/tune"); ok {
		s.handleTune(w, r, path)
		return
	}
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		path, err := core.NormalizeMountPath(sub)
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		me, err := s.core.MountInfo(r.Context(), path)
		if err != nil || me.Path != path {
			s.respondErr(w, r, &badRequest{"no secrets engine is mounted at " + path})
			return
		}
		respondJSON(w, http.StatusOK, envelope(mountJSON(me)))
	case http.MethodDelete:
		if err := s.core.Unmount(r.Context(), sub); err != nil {
			s.respondErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		s.enableMount(w, r, sub)
	}
}

func (s *Server) enableMount(w http.ResponseWriter, r *http.Request, path string) {
	body, err := decodeBody(r)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	me := core.MountEntry{Path: path}
	if me.Type, err = stringParam(body, "type"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.Type == "" {
		s.respondErr(w, r, &badRequest{"'type' must be given: the secrets engine to enable, such as kv"})
		return
	}
	if me.Description, err = stringParam(body, "description"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.Options, err = stringMapParam(body, "options"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.Local, err = boolParam(body, "local"); err != nil {
		s.respondErr(w, r, err)
		return
	}
	if me.SealWrap, err = boolParam(body, "seal_wrap"); err != nil {
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
	if v, ok, err := durationParam(data, "default_lease_ttl"); err != nil {
		return cur, err
	} else if ok {
		cur.DefaultLeaseTTL = v
	}
	if v, ok, err := durationParam(data, "max_lease_ttl"); err != nil {
		return cur, err
	} else if ok {
		cur.MaxLeaseTTL = v
	}
	return cur, nil
}

func (s *Server) handleTune(w http.ResponseWriter, r *http.Request, path string) {
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut) {
		return
	}
	norm, err := core.NormalizeMountPath(path)
	if err != nil {
		s.respondErr(w, r, err)
		return
	}
	me, err := s.core.MountInfo(r.Context(), norm)
	if err != nil || me.Path != norm {
		s.respondErr(w, r, &badRequest{"no secrets engine is mounted at " + norm})
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
		d, err := stringParam(body, "description")
		if err != nil {
			s.respondErr(w, r, err)
			return
		}
		desc = &d
	}
	if err := s.core.Tune(r.Context(), norm, tune, desc); err != nil {
		s.respondErr(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleUIMount tells a client which mount serves a path and its options
// (the vault/bao CLIs ask this first to learn a KV mount's version).
func (s *Server) handleUIMount(w http.ResponseWriter, r *http.Request, path string) {
	if !allow(w, r, http.MethodGet) || !s.authorize(w, r) {
		return
	}
	me, err := s.core.MountInfo(r.Context(), path)
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
