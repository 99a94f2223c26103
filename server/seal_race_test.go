package server_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// raceRequest is one request the workers repeat; body may depend on
// the worker's own state (its wrapping token).
type raceRequest struct {
	method, path string
	body         map[string]any
	wantOK       int // its status when unsealed
}

// TestSealRacingRequests: workers send requests of every kind while
// another goroutine seals and unseals, over HTTP and through core.
// Nothing panics, every answer is 200, 204, 403 or 503, and once
// unsealed everything answers as before.
func TestSealRacingRequests(t *testing.T) {
	ts := newTestServer(t, serverOptions{})
	root := ts.root
	ts.must(http.StatusNoContent, "POST", "sys/auth/approle", root, map[string]any{"type": "approle"})
	ts.must(http.StatusNoContent, "POST", "auth/approle/role/app", root, map[string]any{"token_policies": "default"})
	roleID := str(ts.must(http.StatusOK, "GET", "auth/approle/role/app/role-id", root, nil).data(), "role_id")
	secretID := str(ts.must(http.StatusOK, "POST", "auth/approle/role/app/secret-id", root, nil).data(), "secret_id")
	ts.must(http.StatusOK, "PUT", "secret/data/app", root, map[string]any{"data": map[string]any{"k": "v"}})
	key := hex.EncodeToString(ts.unsealKey)

	requests := []raceRequest{
		{"GET", "secret/data/app", nil, 200},
		{"PUT", "secret/data/app", map[string]any{"data": map[string]any{"k": "v"}}, 200},
		{"LIST", "secret/metadata", nil, 200},
		{"GET", "auth/token/lookup-self", nil, 200},
		{"POST", "auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID}, 200},
		{"GET", "sys/mounts", nil, 200},
		{"GET", "sys/auth", nil, 200},
		{"LIST", "sys/policies/acl", nil, 200},
		{"PUT", "sys/policies/acl/race", map[string]any{"policy": `path "x" { capabilities = ["read"] }`}, 204},
		{"POST", "sys/capabilities-self", map[string]any{"paths": []string{"secret/data/app"}}, 200},
		{"GET", "sys/internal/ui/mounts", nil, 200},
		{"GET", "sys/internal/ui/mounts/secret/data/app", nil, 200},
		{"GET", "sys/key-status", nil, 200},
		{"GET", "sys/audit", nil, 200},
		{"POST", "sys/audit-hash/file", map[string]any{"input": "x"}, 200},
		{"POST", "sys/wrapping/wrap", map[string]any{"a": "b"}, 200},
		{"GET", "sys/seal-status", nil, 200},
	}

	const workers, rounds = 6, 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		bad     []string
		counts  = map[int]int{}
		stop    = make(chan struct{})
		started = make(chan struct{})
	)
	record := func(what string, status int, err error) {
		mu.Lock()
		defer mu.Unlock()
		counts[status]++
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", what, err))
			return
		}
		switch status {
		case 200, 204, 403, 503:
		default:
			bad = append(bad, fmt.Sprintf("%s: status %d", what, status))
		}
	}

	// The sealer: seal and unseal, over HTTP and through core, until the
	// workers are done.
	sealerDone := make(chan int)
	go func() {
		cycles := 0
		defer func() { sealerDone <- cycles }()
		for {
			if cycles%2 == 0 {
				a, err := ts.request("PUT", "sys/seal", root, nil, nil)
				record("seal", a.status, err)
			} else if err := ts.core.Seal(context.Background()); err != nil {
				record("core seal", 0, err)
			}
			a, err := ts.request("PUT", "sys/unseal", "", map[string]any{"key": key}, nil)
			record("unseal", a.status, err)
			if a.status != 200 {
				return
			}
			cycles++
			if cycles == 1 {
				close(started)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()

	<-started
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wrapping := ""
			for range rounds {
				for i := range requests {
					rq := requests[(i+w)%len(requests)]
					a, err := ts.request(rq.method, rq.path, root, rq.body, nil)
					record(rq.method+" "+rq.path, a.status, err)
					if rq.path == "sys/wrapping/wrap" && a.status == 200 {
						wrapping = str(a.body, "wrap_info", "token")
					}
				}
				if wrapping != "" {
					a, err := ts.request("POST", "sys/wrapping/unwrap", wrapping, nil, nil)
					record("unwrap", a.status, err)
					if a.status == 200 {
						wrapping = ""
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	cycles := <-sealerDone
	t.Logf("%d seal/unseal cycles; statuses %v", cycles, counts)
	for _, b := range bad {
		t.Error(b)
	}

	// Unsealed again, everything answers as before.
	if ts.core.Sealed() {
		ts.must(http.StatusOK, "PUT", "sys/unseal", "", map[string]any{"key": key})
	}
	for _, rq := range requests {
		if a := ts.do(rq.method, rq.path, root, rq.body); a.status != rq.wantOK {
			t.Errorf("after the race, %s %s: status %d (%s), want %d", rq.method, rq.path, a.status, a.errors(), rq.wantOK)
		}
	}
	w := str(ts.must(http.StatusOK, "POST", "sys/wrapping/wrap", root, map[string]any{"a": "b"}).body, "wrap_info", "token")
	ts.must(http.StatusOK, "POST", "sys/wrapping/unwrap", w, nil)
}
