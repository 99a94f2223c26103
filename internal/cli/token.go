package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/openbao/openbao/api/v2"
)

func runToken(e *env, args []string) int {
	return subcommands(e, "token", args, map[string]func(*env, []string) int{
		"create":       runTokenCreate,
		"lookup":       runTokenLookup,
		"renew":        runTokenRenew,
		"revoke":       runTokenRevoke,
		"capabilities": runTokenCapabilities,
	})
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

func runTokenCreate(e *env, args []string) int {
	var policies, metadata listFlag
	var req api.TokenCreateRequest
	var orphan, noDefault bool
	renewable := true
	c, cf, _, code := clientFor(e, "token create", args, 0, 0, func(fs *flag.FlagSet) {
		fs.Var(&policies, "policy", "a policy for the token; repeatable")
		fs.Var(&metadata, "metadata", "key=value metadata; repeatable")
		fs.StringVar(&req.TTL, "ttl", "", "initial TTL, e.g. 1h")
		fs.StringVar(&req.ExplicitMaxTTL, "explicit-max-ttl", "", "hard limit on the TTL, renewals included")
		fs.StringVar(&req.Period, "period", "", "make a periodic token renewed by this period (root or sudo)")
		fs.IntVar(&req.NumUses, "use-limit", 0, "number of uses (0: unlimited)")
		fs.StringVar(&req.DisplayName, "display-name", "", "a name for the token")
		fs.StringVar(&req.ID, "id", "", "the token's value (root only)")
		fs.BoolVar(&orphan, "orphan", false, "create a token with no parent")
		fs.BoolVar(&noDefault, "no-default-policy", false, "do not attach the default policy")
		fs.BoolVar(&renewable, "renewable", true, "allow renewal")
	})
	if code >= 0 {
		return code
	}
	req.Policies, req.NoDefaultPolicy, req.Renewable = policies, noDefault, &renewable
	if len(metadata) > 0 {
		req.Metadata = map[string]string{}
		for _, kv := range metadata {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return usageError(e, "-metadata must be key=value, got %q", kv)
			}
			req.Metadata[k] = v
		}
	}
	create := c.Auth().Token().Create
	if orphan {
		create = c.Auth().Token().CreateOrphan
	}
	s, err := create(&req)
	if err != nil {
		return apiError(e, "creating token", err)
	}
	printAuth(e, cf.format, s)
	return exitOK
}

// printAuth prints a login or token creation answer.
func printAuth(e *env, format string, s *api.Secret) {
	if format == "json" || s.Auth == nil {
		_ = printJSON(e.stdout, s)
		return
	}
	a := s.Auth
	printTable(e.stdout, []kvRow{
		{"token", a.ClientToken},
		{"token_accessor", a.Accessor},
		{"token_duration", fmt.Sprintf("%ds", a.LeaseDuration)},
		{"token_renewable", fmt.Sprint(a.Renewable)},
		{"token_policies", formatValue(a.TokenPolicies)},
		{"policies", formatValue(a.Policies)},
	})
}

func runTokenLookup(e *env, args []string) int {
	var accessor bool
	c, cf, pos, code := clientFor(e, "token lookup", args, 0, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&accessor, "accessor", false, "the argument is an accessor, not a token")
	})
	if code >= 0 {
		return code
	}
	var s *api.Secret
	var err error
	switch {
	case len(pos) == 0:
		s, err = c.Auth().Token().LookupSelf()
	case accessor:
		s, err = c.Auth().Token().LookupAccessor(pos[0])
	default:
		s, err = c.Auth().Token().Lookup(pos[0])
	}
	if err != nil {
		return apiError(e, "looking up token", err)
	}
	printSecret(e, cf.format, s)
	return exitOK
}

func runTokenRenew(e *env, args []string) int {
	var increment string
	c, cf, pos, code := clientFor(e, "token renew", args, 0, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&increment, "increment", "", "requested TTL from now, e.g. 1h")
	})
	if code >= 0 {
		return code
	}
	data := map[string]any{}
	if increment != "" {
		data["increment"] = increment
	}
	path := "auth/token/renew-self"
	if len(pos) == 1 {
		path, data["token"] = "auth/token/renew", pos[0]
	}
	s, err := c.Logical().Write(path, data)
	if err != nil {
		return apiError(e, "renewing token", err)
	}
	printAuth(e, cf.format, s)
	return exitOK
}

func runTokenRevoke(e *env, args []string) int {
	var accessor, self bool
	var mode string
	c, _, pos, code := clientFor(e, "token revoke", args, 0, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&accessor, "accessor", false, "the argument is an accessor")
		fs.BoolVar(&self, "self", false, "revoke the token in use")
		fs.StringVar(&mode, "mode", "", `"orphan" revokes the token alone; its children become orphans`)
	})
	if code >= 0 {
		return code
	}
	if self == (len(pos) == 1) {
		return usageError(e, "arca token revoke: give a token (or accessor), or -self")
	}
	var err error
	switch {
	case self:
		err = c.Auth().Token().RevokeSelf("")
	case accessor:
		err = c.Auth().Token().RevokeAccessor(pos[0])
	case mode == "orphan":
		err = c.Auth().Token().RevokeOrphan(pos[0])
	case mode == "":
		err = c.Auth().Token().RevokeTree(pos[0])
	default:
		return usageError(e, "-mode must be orphan or empty")
	}
	if err != nil {
		return apiError(e, "revoking token", err)
	}
	fmt.Fprintln(e.stdout, "Success! Revoked token (if it existed)")
	return exitOK
}

func runTokenCapabilities(e *env, args []string) int {
	c, cf, pos, code := clientFor(e, "token capabilities", args, 1, 2, nil)
	if code >= 0 {
		return code
	}
	var caps []string
	var err error
	if len(pos) == 1 {
		caps, err = c.Sys().CapabilitiesSelf(pos[0])
	} else {
		caps, err = c.Sys().Capabilities(pos[0], pos[1])
	}
	if err != nil {
		return apiError(e, "checking capabilities", err)
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, caps)
		return exitOK
	}
	fmt.Fprintln(e.stdout, strings.Join(caps, ", "))
	return exitOK
}
