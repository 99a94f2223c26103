package cli

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"text/tabwriter"

	"github.com/openbao/openbao/api/v2"
)

// runOperatorRaft serves arca operator raft: list-peers, remove-peer and
// snapshot save/restore, through sys/storage/raft/* (as the vault and
// bao CLIs do).
func runOperatorRaft(e *env, args []string) int {
	return subcommands(e, "operator raft", args, map[string]func(*env, []string) int{
		"join":        runRaftJoin,
		"list-peers":  runRaftListPeers,
		"remove-peer": runRaftRemovePeer,
		"snapshot":    runRaftSnapshot,
	})
}

func runRaftListPeers(e *env, args []string) int {
	c, cf, _, code := clientFor(e, "operator raft list-peers", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	s, err := c.Logical().Read("sys/storage/raft/configuration")
	if err != nil {
		return apiError(e, "listing raft peers", err)
	}
	if cf.format == "json" {
		_ = printJSON(e.stdout, s.Data)
		return exitOK
	}
	conf, _ := s.Data["config"].(map[string]any)
	servers, _ := conf["servers"].([]any)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 4, ' ', 0)
	fmt.Fprintln(tw, "Node\tAddress\tState\tVoter")
	fmt.Fprintln(tw, "----\t-------\t-----\t-----")
	for _, raw := range servers {
		srv, _ := raw.(map[string]any)
		state := "follower"
		if srv["leader"] == true {
			state = "leader"
		}
		fmt.Fprintf(tw, "%v\t%v\t%s\t%v\n", srv["node_id"], srv["address"], state, srv["voter"])
	}
	tw.Flush()
	return exitOK
}

// runRaftJoin asks the node addressed (ARCA_ADDR, -address) to join the
// cluster of the node at leader_api_addr; it needs no token. The node is
// then unsealed with the cluster's unseal keys.
func runRaftJoin(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "operator raft join", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	resp, err := c.Sys().RaftJoin(&api.RaftJoinRequest{LeaderAPIAddr: pos[0]})
	if err != nil {
		return apiError(e, "joining the cluster", err)
	}
	fmt.Fprintf(e.stdout, "Joined: %v\n", resp.Joined)
	return map[bool]int{true: exitOK, false: 1}[resp.Joined]
}

func runRaftRemovePeer(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "operator raft remove-peer", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	if _, err := c.Logical().Write("sys/storage/raft/remove-peer", map[string]any{"server_id": pos[0]}); err != nil {
		return apiError(e, "removing the peer", err)
	}
	fmt.Fprintf(e.stdout, "Peer removed successfully!\n")
	return exitOK
}

func runRaftSnapshot(e *env, args []string) int {
	return subcommands(e, "operator raft snapshot", args, map[string]func(*env, []string) int{
		"save":    runRaftSnapshotSave,
		"restore": runRaftSnapshotRestore,
	})
}

func runRaftSnapshotSave(e *env, args []string) int {
	c, _, pos, code := clientFor(e, "operator raft snapshot save", args, 1, 1, nil)
	if code >= 0 {
		return code
	}
	req := c.NewRequest(http.MethodGet, "/v1/sys/storage/raft/snapshot")
	resp, err := c.RawRequest(req)
	if err != nil {
		return apiError(e, "saving a snapshot", err)
	}
	defer resp.Body.Close()
	f, err := os.OpenFile(pos[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return apiError(e, "creating the snapshot file", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		os.Remove(pos[0])
		return apiError(e, "writing the snapshot", err)
	}
	if err := f.Close(); err != nil {
		return apiError(e, "writing the snapshot", err)
	}
	return exitOK
}

// runRaftSnapshotRestore restores a saved snapshot; -force restores one
// of another cluster (sys/storage/raft/snapshot-force), whose keys then
// unseal this one.
func runRaftSnapshotRestore(e *env, args []string) int {
	var force bool
	c, _, pos, code := clientFor(e, "operator raft snapshot restore", args, 1, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "force", false, "restore a snapshot of another cluster (its keys will unseal this one)")
	})
	if code >= 0 {
		return code
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return apiError(e, "opening the snapshot", err)
	}
	defer f.Close()
	path := "/v1/sys/storage/raft/snapshot"
	if force {
		path += "-force"
	}
	req := c.NewRequest(http.MethodPost, path)
	req.Body = f
	resp, err := c.RawRequest(req)
	if err != nil {
		return apiError(e, "restoring the snapshot", err)
	}
	resp.Body.Close()
	fmt.Fprintln(e.stdout, "Snapshot restored: the server has sealed itself; unseal it with the keys of the cluster the snapshot came from.")
	return exitOK
}

// runOperatorStepDown asks the active node (through whichever node is
// addressed) to hand the lead to another node (sys/step-down).
func runOperatorStepDown(e *env, args []string) int {
	c, _, _, code := clientFor(e, "operator step-down", args, 0, 0, nil)
	if code >= 0 {
		return code
	}
	if err := c.Sys().StepDown(); err != nil {
		return apiError(e, "stepping down", err)
	}
	fmt.Fprintf(e.stdout, "Success! Stepped down: %s\n", c.Address())
	return exitOK
}
