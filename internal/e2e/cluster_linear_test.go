package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/openbao/openbao/api/v2"
)

// A register workload: clients write and read a few KV keys through
// different nodes, reads asking for linearizability, while a node is
// cut off by a proxy and the active node is killed. Porcupine checks the
// history against a register per key.

type regInput struct {
	write bool
	key   string
	value string
}

type regOutput struct{ value string }

var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(regInput).key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(regOutput).value == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.write {
			return fmt.Sprintf("put %s=%q", in.key, in.value)
		}
		return fmt.Sprintf("get %s -> %q", in.key, output.(regOutput).value)
	},
}

// runRegisterWorkload drives the workload on tc for the schedule and
// returns the history. cut is the proxy in front of tc.nodes[2].
func runRegisterWorkload(t *testing.T, tc *testCluster, cut *faultProxy, kill bool) []porcupine.Operation {
	t.Helper()
	root := tc.init.RootToken
	if err := newClient(t, tc.nodes[0].addr, root).Sys().Mount("reg", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var mu sync.Mutex
	var history []porcupine.Operation
	var ambiguous []int // indexes of writes whose outcome is unknown
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := tc.nodes[id%len(tc.nodes)]
			client := &http.Client{Timeout: 5 * time.Second}
			rng := rand.New(rand.NewPCG(uint64(id), 7))
			// Paced, so that the history stays small enough to check
			// exhaustively in seconds.
			pace := time.NewTicker(50 * time.Millisecond)
			defer pace.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				case <-pace.C:
				}
				in := regInput{key: fmt.Sprintf("k%d", rng.IntN(8)), write: rng.IntN(2) == 0}
				var req *http.Request
				if in.write {
					in.value = fmt.Sprintf("c%d-%d", id, seq)
					req, _ = http.NewRequest(http.MethodPut, "http://"+node.addr+"/v1/reg/"+in.key, strings.NewReader(`{"v":"`+in.value+`"}`))
				} else {
					req, _ = http.NewRequest(http.MethodGet, "http://"+node.addr+"/v1/reg/"+in.key, nil)
					req.Header.Set("X-Arca-Consistency", "linearizable")
				}
				req.Header.Set("X-Vault-Token", root)
				call := now()
				resp, err := client.Do(req)
				op := porcupine.Operation{ClientId: id, Input: in, Call: call}
				var body struct {
					Data struct {
						V string `json:"v"`
					} `json:"data"`
				}
				status := 0
				if err == nil {
					status = resp.StatusCode
					_ = json.NewDecoder(resp.Body).Decode(&body)
					resp.Body.Close()
				}
				op.Return = now()
				mu.Lock()
				switch {
				case in.write && status/100 == 2:
					op.Output = regOutput{}
					history = append(history, op)
				case in.write:
					// It may have happened, at any time from now on.
					op.Output = regOutput{}
					ambiguous = append(ambiguous, len(history))
					history = append(history, op)
				case status == http.StatusOK:
					op.Output = regOutput{value: body.Data.V}
					history = append(history, op)
				case status == http.StatusNotFound:
					op.Output = regOutput{}
					history = append(history, op)
				}
				mu.Unlock()
			}
		}()
	}
	phase := func(d time.Duration) {
		if !eventually(d+time.Second, func() bool { return time.Since(start) >= d }) {
			t.Fatal("the workload's clock stopped")
		}
	}
	phase(2 * time.Second)
	cut.Cut()
	phase(4500 * time.Millisecond)
	cut.Heal()
	if kill {
		tc.active(10 * time.Second).p.kill()
	}
	phase(8 * time.Second)
	close(stop)
	wg.Wait()
	for _, i := range ambiguous {
		history[i].Return = math.MaxInt64 // it may take effect at any time after its call
	}
	return history
}

// threeWithProxy forms a 3-node cluster of bin whose third node is
// reached by the others only through a fault proxy.
func threeWithProxy(t *testing.T, bin string) (*testCluster, *faultProxy) {
	t.Helper()
	bind := freeAddr(t)
	proxy := newFaultProxy(t, bind)
	third := &clusterNode{clusterAddr: proxy.addr(), bindAddr: bind}
	return newTestClusterWith(t, bin, []*clusterNode{nil, nil, third}), proxy
}

// TestClusterLinearizable: the history of the register workload under a
// cut-off node and a killed active node is linearizable.
func TestClusterLinearizable(t *testing.T) {
	tc, proxy := threeWithProxy(t, arcaBin)
	history := runRegisterWorkload(t, tc, proxy, true)
	res, info := porcupine.CheckOperationsVerbose(registerModel, history, 60*time.Second)
	t.Logf("%d operations checked: %v", len(history), res)
	if res != porcupine.Ok {
		path := filepath.Join(t.TempDir(), "history.html")
		_ = porcupine.VisualizePath(registerModel, info, path)
		t.Fatalf("the register history is %v (visualisation: %s)", res, path)
	}
}

// TestClusterLinearizableCatchesStaleReads: the same workload against a
// build whose standbys answer linearizable reads from whatever they have
// applied (build tag arca_broken_reads, never in a release build) is
// found not linearizable: the check above would catch a broken read
// path.
func TestClusterLinearizableCatchesStaleReads(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "arca-broken-reads")
	build := exec.Command("go", "build", "-tags", "arca_broken_reads", "-o", bin, "github.com/arca-secrets/arca/cmd/arca")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the broken-reads arca: %v\n%s", err, out)
	}
	tc, proxy := threeWithProxy(t, bin)
	history := runRegisterWorkload(t, tc, proxy, false)
	res := porcupine.CheckOperationsTimeout(registerModel, history, 60*time.Second)
	t.Logf("%d operations checked: %v", len(history), res)
	if res != porcupine.Illegal {
		t.Fatalf("stale reads from a cut-off standby were not caught: the checker says %v", res)
	}
}
