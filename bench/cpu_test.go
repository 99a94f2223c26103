package bench

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

// The CPU time read from /proc grows with work this process does, and a
// process that does not exist is an error, not a zero.
func TestCPUSecondsFollowsWork(t *testing.T) {
	pid := []int{os.Getpid()}
	before, err := cpuSeconds(pid)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		for range 10000 {
			sum = sha256.Sum256(sum[:])
		}
		now, err := cpuSeconds(pid)
		if err != nil {
			t.Fatal(err)
		}
		if now-before >= 0.05 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time went from %.2fs to %.2fs over 30s of hashing", before, now)
		}
	}
	if _, err := cpuSeconds([]int{1 << 30}); err == nil {
		t.Fatal("a process that does not exist read as a CPU time")
	}
}

// A run given the server's pids reports its CPU time per operation; one
// whose handler burns CPU reports more than one that does not.
func TestRunReportsServerCPUPerOp(t *testing.T) {
	cpuPerOp := func(burn int) float64 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sum := sha256.Sum256(nil)
			for range burn {
				sum = sha256.Sum256(sum[:])
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		res, err := Run(context.Background(), Config{Addr: srv.URL, Token: "t", Duration: 300 * time.Millisecond, Concurrency: 2,
			Mix: []Weighted{{Name: "token-create", Weight: 1}}, Prefix: "p", ServerPIDs: []int{os.Getpid()}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Ops == 0 {
			t.Fatal("no operations")
		}
		return res[0].ServerCPUMicros
	}
	light, heavy := cpuPerOp(0), cpuPerOp(20000)
	if heavy <= light || heavy < 1000 {
		t.Fatalf("server CPU per op: %.0f µs with a trivial handler, %.0f µs with one that hashes 20,000 times", light, heavy)
	}
}
