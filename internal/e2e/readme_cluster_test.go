package e2e

import (
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/arca-secrets/arca/internal/testenv"
)

// TestREADMECluster follows the README's cluster section as a user would:
// three nodes on one machine, two joining the first, a write through a
// standby, the active node killed, and its return; then a step-down, a
// backup, and its restore onto a fresh cluster of three more nodes,
// refused as another cluster's until forced. Only the ports change.
func TestREADMECluster(t *testing.T) {
	testenv.Program(t, "curl", "curl")
	heading := "High availability: a Raft cluster"
	ports := func() string {
		var p []string
		for range 6 {
			_, port, _ := net.SplitHostPort(freeAddr(t))
			p = append(p, port)
		}
		return "(- " + strings.Join(p, " ") + ")"
	}
	script := strings.Replace(readmeBlocks(t, heading), "API=(- 8210 8220 8230 8240 8250 8260); CLUSTER=(- 8211 8221 8231 8241 8251 8261)", "API="+ports()+"; CLUSTER="+ports(), 1)
	out := runOwnServersSection(t, heading, script, filepath.Join("arca-ha", "node1.log"))
	// bash reports the node killed in step 5 whenever it reaps it, in the
	// middle of another command's output at times.
	out = regexp.MustCompile(`/bin/bash: line \d+: +\d+ Killed[^\n]*\n`).ReplaceAll(out, nil)
	for _, re := range []string{`node1\s+\S+\s+leader`, `node3\s+\S+\s+follower\s+true`, `HA Mode\s+standby`,
		// kv get -field prints no newline: the value before the kill,
		// then after it from node 3 and from node 1 back as a standby.
		`s3cr3tn3wn3wHA Mode\s+standby`,
		`active: http://127.0.0.1:\d+ -> http://127.0.0.1:\d+`, `comes from another cluster`, `restored: n3w\n`} {
		if !regexp.MustCompile(re).MatchString(string(out)) {
			t.Errorf("the output lacks %s:\n%s", re, out)
		}
	}
}
