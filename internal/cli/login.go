package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/openbao/openbao/api/v2"
)

// runLogin authenticates and stores the token in the token file (mode
// 0600), like "vault login". With no -method it takes a token (argument
// or prompt) and checks it; with -method=userpass or approle it logs in
// with key=value credentials, prompting for a missing password; with
// -method=cert it logs in with the client certificate it presents.
func runLogin(e *env, args []string) int {
	var method, path string
	var noStore bool
	c, cf, pos, code := clientFor(e, "login", args, 0, -1, func(fs *flag.FlagSet) {
		fs.StringVar(&method, "method", "token", "auth method: token, userpass, approle or cert")
		fs.StringVar(&path, "path", "", "mount path of the auth method (default: the method name)")
		fs.BoolVar(&noStore, "no-store", false, "print the token without storing it")
	})
	if code >= 0 {
		return code
	}
	if path == "" {
		path = method
	}
	path = strings.Trim(path, "/")
	var s *api.Secret
	var err error
	switch method {
	case "token":
		tok := ""
		if len(pos) > 0 {
			tok = pos[0]
		} else if tok, err = readSecret(e, "Token (will be hidden): "); err != nil {
			return usageError(e, "Error reading token: %v", err)
		}
		c.SetToken(tok)
		if s, err = c.Auth().Token().LookupSelf(); err != nil {
			return apiError(e, "logging in", err)
		}
		s = &api.Secret{Auth: &api.SecretAuth{ClientToken: tok, Accessor: fmt.Sprint(s.Data["accessor"]), Policies: anyStrings(s.Data["policies"]), TokenPolicies: anyStrings(s.Data["policies"])}}
	case "userpass":
		data, perr := parseData(e.stdin, pos)
		if perr != nil {
			return usageError(e, "%v", perr)
		}
		user, _ := data["username"].(string)
		if user == "" {
			return usageError(e, "userpass login needs username=NAME")
		}
		if _, ok := data["password"]; !ok {
			pw, rerr := readSecret(e, "Password (will be hidden): ")
			if rerr != nil {
				return usageError(e, "Error reading password: %v", rerr)
			}
			data["password"] = pw
		}
		delete(data, "username")
		s, err = c.Logical().Write("auth/"+path+"/login/"+user, data)
	case "approle":
		data, perr := parseData(e.stdin, pos)
		if perr != nil {
			return usageError(e, "%v", perr)
		}
		s, err = c.Logical().Write("auth/"+path+"/login", data)
	case "cert":
		// The certificate is the one the client presents (ARCA_CLIENT_CERT
		// and ARCA_CLIENT_KEY); name=ENTRY picks the entry to check it
		// against.
		data, perr := parseData(e.stdin, pos)
		if perr != nil {
			return usageError(e, "%v", perr)
		}
		s, err = c.Logical().Write("auth/"+path+"/login", data)
	default:
		return usageError(e, "unknown -method %q (token, userpass, approle, cert)", method)
	}
	if err != nil {
		return apiError(e, "logging in", err)
	}
	if s == nil || s.Auth == nil {
		fmt.Fprintln(e.stderr, "Error logging in: the server returned no token")
		return exitError
	}
	if !noStore {
		where, err := e.storeToken(s.Auth.ClientToken)
		if err != nil {
			return apiError(e, "storing token", err)
		}
		if cf.format == "table" {
			fmt.Fprintf(e.stdout, "Success! You are now authenticated. The token is stored in %s and used\nby later commands when ARCA_TOKEN is not set.\n\n", where)
		}
	}
	printAuth(e, cf.format, s)
	return exitOK
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}
