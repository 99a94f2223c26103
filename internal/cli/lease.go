package cli

import (
	"flag"
	"fmt"
	"strings"
	"time"
)

func runLease(e *env, args []string) int {
	return subcommands(e, "lease", args, map[string]func(*env, []string) int{
		"lookup": runLeaseLookup,
		"renew":  runLeaseRenew,
		"revoke": runLeaseRevoke,
	})
}

func runLeaseLookup(e *env, args []string) int {
	c, cf, pos, code := clientFor(e, "lease lookup", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	if strings.HasSuffix(pos[0], "/") {
		s, err := c.Logical().List("sys/leases/lookup/" + strings.TrimPrefix(pos[0], "/"))
		if err != nil {
			return apiError(e, "listing leases", err)
		}
		if s == nil {
			fmt.Fprintf(e.stderr, "No leases under %s\n", pos[0])
			return 2
		}
		return printKeys(e, cf.format, s)
	}
	s, err := c.Sys().Lookup(pos[0])
	if err != nil {
		return apiError(e, "looking up lease", err)
	}
	printSecret(e, cf.format, s)
	return exitOK
}

func runLeaseRenew(e *env, args []string) int {
	var increment time.Duration
	c, cf, pos, code := clientFor(e, "lease renew", args, 1, 1, func(fs *flag.FlagSet) {
		fs.DurationVar(&increment, "increment", 0, "requested TTL from now, e.g. 1h")
	})
	if code >= 0 {
		return code
	}
	s, err := c.Sys().Renew(pos[0], int(increment/time.Second))
	if err != nil {
		return apiError(e, "renewing lease", err)
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, s)
		return exitOK
	}
	printTable(e.stdout, []kvRow{{"lease_id", s.LeaseID}, {"lease_duration", fmt.Sprintf("%ds", s.LeaseDuration)}, {"lease_renewable", fmt.Sprint(s.Renewable)}})
	return exitOK
}

func runLeaseRevoke(e *env, args []string) int {
	var prefix, force bool
	c, _, pos, code := clientFor(e, "lease revoke", args, 1, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&prefix, "prefix", false, "revoke every lease under the given prefix (sudo)")
		fs.BoolVar(&force, "force", false, "with -prefix: drop the leases even if their backend cannot revoke them (sudo)")
	})
	if code >= 0 {
		return code
	}
	var err error
	switch {
	case force && !prefix:
		return usageError(e, "-force needs -prefix")
	case force:
		err = c.Sys().RevokeForce(pos[0])
	case prefix:
		err = c.Sys().RevokePrefix(pos[0])
	default:
		err = c.Sys().Revoke(pos[0])
	}
	if err != nil {
		return apiError(e, "revoking", err)
	}
	if prefix {
		fmt.Fprintf(e.stdout, "Success! Revoked every lease under: %s\n", pos[0])
	} else {
		fmt.Fprintf(e.stdout, "Success! Revoked lease: %s\n", pos[0])
	}
	return exitOK
}
