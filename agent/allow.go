package agent

import (
	"net/http"
	"path"
	"strings"
)

// passage is how the agent forwards a workload's request, if at all.
type passage int

const (
	// refused: not forwarded; the agent answers 403.
	refused passage = iota
	// forwarded: sent with the workload's token; the answer is checked
	// for tokens before it leaves the agent.
	forwarded
	// lookupSelf: auth/token/lookup-self, whose answer is the token's own
	// description: its id and accessor are cut out.
	lookupSelf
)

// Methods a workload may use on a secrets engine's paths ("LIST" is
// Vault's list verb; GET with ?list=true is the same).
var engineMethods = []string{http.MethodGet, http.MethodHead, "LIST", http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// systemPaths are the paths under sys/ and auth/ that a workload may use
// through the agent, with their methods. None of them answers with a
// token; lookup-self answers with the caller's own, which is cut out.
var systemPaths = map[string]struct {
	methods []string
	how     passage
}{
	"sys/health":             {[]string{http.MethodGet, http.MethodHead}, forwarded},
	"sys/seal-status":        {[]string{http.MethodGet}, forwarded},
	"sys/leader":             {[]string{http.MethodGet}, forwarded},
	"sys/capabilities-self":  {[]string{http.MethodPost, http.MethodPut}, forwarded},
	"sys/leases/lookup":      {[]string{http.MethodPost, http.MethodPut}, forwarded},
	"sys/leases/renew":       {[]string{http.MethodPost, http.MethodPut}, forwarded},
	"sys/leases/revoke":      {[]string{http.MethodPost, http.MethodPut}, forwarded},
	"auth/token/lookup-self": {[]string{http.MethodGet, http.MethodPost, http.MethodPut}, lookupSelf},
}

// mountInfoPrefix is sys/internal/ui/mounts/<path>: one mount's type and
// options, read (GET) by Vault clients before a KV request.
const mountInfoPrefix = "sys/internal/ui/mounts/"

// servedPaths says, for a refusal, what the agent serves.
const servedPaths = "it serves secrets engines' paths, auth/token/lookup-self, sys/health, sys/seal-status, sys/leader, sys/capabilities-self, sys/leases/{lookup,renew,revoke} and sys/internal/ui/mounts/*"

// allow decides whether a workload's request may pass through the agent:
// an allow-list of paths and methods. p is the request's path after
// /v1/. Everything under auth/ (logins, token creation, renewal and
// revocation: the agent holds the workload's token, the workload never
// does), sys/ (administration, response wrapping) and identity/ is
// refused except what systemPaths names; so is a path that is not in
// canonical form, since the server might read it otherwise than the
// agent does.
func allow(method, p string) (passage, string) {
	// One trailing slash is kept (Vault's lists end with one).
	p = strings.TrimSuffix(p, "/")
	if p == "" || p != path.Clean(p) || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#%\\") || hasControl(p) {
		return refused, "the path is not in canonical form"
	}
	if sp, ok := systemPaths[p]; ok {
		if !contains(sp.methods, method) {
			return refused, method + " is not served on " + p
		}
		return sp.how, ""
	}
	if strings.HasPrefix(p, mountInfoPrefix) {
		if method != http.MethodGet {
			return refused, method + " is not served on " + mountInfoPrefix
		}
		return forwarded, ""
	}
	top, _, _ := strings.Cut(p, "/")
	switch strings.ToLower(top) {
	case "sys", "auth", "identity":
		return refused, p + " is not served through the agent: " + servedPaths
	}
	if !contains(engineMethods, method) {
		return refused, method + " is not served through the agent"
	}
	return forwarded, ""
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
