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
	sync, every := true, time.Second
	c, _, pos, code := clientFor(e, "lease revoke", args, 1, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&prefix, "prefix", false, "revoke every lease under the given prefix (sudo)")
		fs.BoolVar(&force, "force", false, "with -prefix: drop the leases even if their backend cannot revoke them (sudo)")
		fs.BoolVar(&sync, "sync", true, "with -prefix: wait until every lease is revoked, with progress on stderr; -sync=false queues the revocation on the server and returns at once")
		fs.DurationVar(&every, "progress-interval", time.Second, "with -prefix and -sync: how often to report progress on stderr")
	})
	if code >= 0 {
		return code
	}
	var err error
	switch {
	case force && !prefix:
		return usageError(e, "-force needs -prefix")
	case prefix && !sync:
		route := "sys/leases/revoke-prefix/"
		if force {
			route = "sys/leases/revoke-force/"
		}
		_, err = c.Logical().Write(route+strings.TrimPrefix(pos[0], "/"), map[string]any{"sync": false})
	case prefix:
		err = revokeWithProgress(e, c, pos[0], force, max(every, time.Millisecond))
	default:
		err = c.Sys().Revoke(pos[0])
	}
	if err != nil {
		return apiError(e, "revoking", err)
	}
	switch {
	case prefix && !sync:
		fmt.Fprintf(e.stdout, "Success! Queued the revocation of every lease under: %s\n", pos[0])
	case prefix:
		fmt.Fprintf(e.stdout, "Success! Revoked every lease under: %s\n", pos[0])
	default:
		fmt.Fprintf(e.stdout, "Success! Revoked lease: %s\n", pos[0])
	}
	return exitOK
}
