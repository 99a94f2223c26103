package server

import (
	"sort"
	"strings"
)

// RouteInfo is one entry of the sys route table, for tests outside the
// package.
type RouteInfo struct {
	// Path is the route under sys/ ("mounts/" is a prefix route).
	Path string
	// Open routes need no token and answer outside the pipeline.
	Open bool
}

// SysRouteTable lists the server's sys routes, sorted by path.
func (s *Server) SysRouteTable() []RouteInfo {
	out := make([]RouteInfo, 0, len(s.sys))
	for p, rt := range s.sys {
		out = append(out, RouteInfo{Path: p, Open: rt.kind == open})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// SysRouteOf is the route of the table that serves a canonical path
// under sys/ (without "sys/"), as the server picks it.
func (s *Server) SysRouteOf(path string) (string, bool) {
	if _, ok := s.sys[strings.TrimSuffix(path, "/")]; ok {
		return strings.TrimSuffix(path, "/"), true
	}
	best := ""
	for route := range s.sys {
		if strings.HasSuffix(route, "/") && strings.HasPrefix(path, route) && len(route) > len(best) {
			best = route
		}
	}
	return best, best != ""
}
