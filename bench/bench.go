// Package bench is a load generator for any Vault-compatible server
// (Arca, OpenBao, Vault). It sets up what its workloads need under a
// prefix of its own, runs them from many goroutines for a duration, and
// reports ops/s, latency percentiles and errors by kind per workload. It
// speaks HTTP directly over one pooled transport, allocating little per
// request, so that it is not the bottleneck.
package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one run.
type Config struct {
	// Addr is the server, or an agent's socket (unix:///run/arca/agent.sock):
	// then the operations go through the socket with no token, as the
	// bench's own workload role, and the set-up and clean-up go to
	// Server with Token.
	Addr, Token, CACert string
	// Server takes the set-up and clean-up when Addr is a socket, or
	// when set beside an HTTP Addr (the active node of the cluster Addr
	// is a standby of); the run then starts once Addr serves what was
	// set up.
	Server      string
	Duration    time.Duration
	Concurrency int
	// Mix is the workloads with their weights (kv-read:9,kv-write:1).
	Mix []Weighted
	// Prefix names everything the run creates; it is removed afterwards.
	Prefix string
	// Progress, when set, gets a line a second.
	Progress io.Writer
	// PostgresURL is a PostgreSQL server the database-creds workload
	// points the server's database engine at (postgres://user:pass@host/db,
	// a user that may create roles).
	PostgresURL string
	// KVKeys is how many keys the kv workloads write first and then
	// spread their operations over; DefaultKVKeys when zero. A server
	// whose cost per request grows with what it stores (OpenBao's dev
	// mode, see BENCHMARKS.md) reads slower with more.
	KVKeys int
	// ServerPIDs, when set, are the server's processes (a cluster's
	// nodes) on this host: their CPU time over the measured run, per
	// operation, is reported as ServerCPUMicros.
	ServerPIDs []int
}

func (cfg Config) kvKeys() int {
	if cfg.KVKeys > 0 {
		return cfg.KVKeys
	}
	return DefaultKVKeys
}

// Weighted is a workload and its share of the operations.
type Weighted struct {
	Name   string
	Weight int
}

// Result is one workload's figures.
type Result struct {
	Workload  string         `json:"workload"`
	Ops       int            `json:"ops"`
	OpsPerSec float64        `json:"ops_per_sec"`
	P50       float64        `json:"p50_ms"`
	P90       float64        `json:"p90_ms"`
	P99       float64        `json:"p99_ms"`
	Max       float64        `json:"max_ms"`
	Errors    map[string]int `json:"errors"`
	// ServerCPUMicros is the CPU time of Config.ServerPIDs over the
	// measured run (set-up excluded) divided by every operation of the
	// run, of all its workloads; 0 without ServerPIDs.
	ServerCPUMicros float64 `json:"server_cpu_us_per_op,omitempty"`
}

// workload is one kind of operation.
type workload interface {
	setup(ctx context.Context, c *client, prefix string) error
	op(ctx context.Context, c *client, r *rand.Rand) error
	cleanup(ctx context.Context, c *client, prefix string)
}

// replicated is a workload whose set-up, made through another node, must
// have reached the node measured before the run starts.
type replicated interface {
	replicated(ctx context.Context, op *client) error
}

// sample is what a worker records per workload.
type sample struct {
	lat    []time.Duration
	errors map[string]int
}

// Run sets up, runs and cleans up, and returns one Result per workload.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Concurrency < 1 || cfg.Duration <= 0 || len(cfg.Mix) == 0 {
		return nil, fmt.Errorf("bench: need a positive duration and concurrency and at least one workload")
	}
	opc, c, err := clients(cfg)
	if err != nil {
		return nil, err
	}
	works := make([]workload, len(cfg.Mix))
	total := 0
	for i, w := range cfg.Mix {
		if works[i], err = newWorkload(w.Name, cfg); err != nil {
			return nil, err
		}
		if w.Weight < 1 {
			return nil, fmt.Errorf("bench: weight of %s must be at least 1", w.Name)
		}
		total += w.Weight
	}
	for i, w := range works {
		if err := w.setup(ctx, c, cfg.Prefix); err != nil {
			for j := range i + 1 {
				works[j].cleanup(context.Background(), c, cfg.Prefix)
			}
			return nil, fmt.Errorf("bench: setting up %s: %w", cfg.Mix[i].Name, err)
		}
	}
	defer func() {
		for _, w := range works {
			w.cleanup(context.Background(), c, cfg.Prefix)
		}
	}()
	if opc != c {
		for _, w := range works {
			if r, ok := w.(replicated); ok {
				if err := r.replicated(ctx, opc); err != nil {
					return nil, err
				}
			}
		}
	}
	var cpuBefore float64
	if len(cfg.ServerPIDs) > 0 {
		if cpuBefore, err = cpuSeconds(cfg.ServerPIDs); err != nil {
			return nil, err
		}
	}
	samples := runWorkers(ctx, cfg, works, total, opc)
	results := summarise(cfg, samples)
	if len(cfg.ServerPIDs) > 0 {
		cpuAfter, err := cpuSeconds(cfg.ServerPIDs)
		if err != nil {
			return nil, err
		}
		ops := 0
		for _, r := range results {
			ops += r.Ops
		}
		for i := range results {
			if ops > 0 {
				results[i].ServerCPUMicros = (cpuAfter - cpuBefore) / float64(ops) * 1e6
			}
		}
	}
	return results, nil
}

func runWorkers(ctx context.Context, cfg Config, works []workload, total int, c *client) [][]sample {
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var done atomic.Int64
	samples := make([][]sample, cfg.Concurrency)
	var wg sync.WaitGroup
	for g := range cfg.Concurrency {
		samples[g] = make([]sample, len(works))
		for i := range works {
			samples[g][i].errors = map[string]int{}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				i := pick(cfg.Mix, total, r)
				start := time.Now()
				err := works[i].op(ctx, c, r)
				if ctx.Err() != nil {
					return // a request cut by the end of the run is not counted
				}
				s := &samples[g][i]
				s.lat = append(s.lat, time.Since(start))
				if err != nil {
					s.errors[errorKind(err)]++
				}
				done.Add(1)
			}
		}()
	}
	if cfg.Progress != nil {
		go progress(ctx, cfg.Progress, &done)
	}
	wg.Wait()
	return samples
}

func progress(ctx context.Context, w io.Writer, done *atomic.Int64) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start, last := time.Now(), int64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n := done.Load()
			fmt.Fprintf(w, "%5.0fs  %d ops  %d ops/s\n", time.Since(start).Seconds(), n, n-last)
			last = n
		}
	}
}

func pick(mix []Weighted, total int, r *rand.Rand) int {
	n := r.IntN(total)
	for i, w := range mix {
		if n < w.Weight {
			return i
		}
		n -= w.Weight
	}
	return len(mix) - 1
}

func summarise(cfg Config, samples [][]sample) []Result {
	out := make([]Result, len(cfg.Mix))
	for i, w := range cfg.Mix {
		var lat []time.Duration
		errs := map[string]int{}
		for g := range samples {
			lat = append(lat, samples[g][i].lat...)
			for k, v := range samples[g][i].errors {
				errs[k] += v
			}
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		ms := func(q float64) float64 {
			if len(lat) == 0 {
				return 0
			}
			idx := int(q * float64(len(lat)-1))
			return float64(lat[idx]) / float64(time.Millisecond)
		}
		out[i] = Result{Workload: w.Name, Ops: len(lat), OpsPerSec: float64(len(lat)) / cfg.Duration.Seconds(),
			P50: ms(0.50), P90: ms(0.90), P99: ms(0.99), Max: ms(1), Errors: errs}
	}
	return out
}
