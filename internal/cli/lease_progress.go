package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// maxProgressLists bounds the LIST requests one count of the leases left
// may make (a prefix with many levels below it).
const maxProgressLists = 256

// revokeWithProgress runs revoke-prefix (or revoke-force) and, while the
// server works, says on stderr every second how many leases are left
// under the prefix, counted with LIST sys/leases/lookup (sudo, as the
// revocation itself), every interval. A caller who may not list sees the
// time taken only.
func revokeWithProgress(e *env, c *api.Client, prefix string, force bool, every time.Duration) error {
	done := make(chan error, 1)
	total, countable := countLeasesUnder(c, prefix)
	start := time.Now()
	go func() {
		if force {
			done <- c.Sys().RevokeForce(prefix)
			return
		}
		done <- c.Sys().RevokeWithOptions(&api.RevokeOptions{LeaseID: prefix, Prefix: true, Sync: true})
	}()
	report := func() {
		took := time.Since(start)
		left, ok := countLeasesUnder(c, prefix)
		if !ok || !countable {
			fmt.Fprintf(e.stderr, "revoking leases under %s: %s so far\n", prefix, took.Round(time.Second))
			return
		}
		gone := max(0, total-left)
		fmt.Fprintf(e.stderr, "revoking leases under %s: %d revoked, %d left (%.0f/s)\n", prefix, gone, left, float64(gone)/took.Seconds())
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			// A report that fell due before the answer came is made: a
			// loop the scheduler ran late, and then found both ready,
			// must not drop it.
			select {
			case <-tick.C:
				report()
			default:
			}
			if err == nil && countable && time.Since(start) >= every {
				fmt.Fprintf(e.stderr, "revoked %d leases under %s in %s\n", total, prefix, time.Since(start).Round(time.Millisecond))
			}
			return err
		case <-tick.C:
			report()
		}
	}
}

// countLeasesUnder counts the leases under prefix, and says whether it
// could (a refused or failed LIST: no).
func countLeasesUnder(c *api.Client, prefix string) (int, bool) {
	dir := strings.Trim(prefix, "/") + "/"
	n, lists := 0, 0
	queue := []string{dir}
	for len(queue) > 0 {
		if lists++; lists > maxProgressLists {
			return 0, false
		}
		p := queue[0]
		queue = queue[1:]
		s, err := c.Logical().List("sys/leases/lookup/" + p)
		if err != nil {
			return 0, false
		}
		if s == nil {
			continue
		}
		keys, _ := s.Data["keys"].([]any)
		for _, k := range keys {
			name, _ := k.(string)
			if strings.HasSuffix(name, "/") {
				queue = append(queue, p+name)
			} else {
				n++
			}
		}
	}
	return n, true
}
