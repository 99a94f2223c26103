package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/arca-secrets/arca/internal/wipehttp"
)

// ceilingBody is the size and shape of a KV v2 read answer for the 100-byte
// secrets the kv workloads write, so that the ceiling moves as many bytes
// per request as kv-read does: Arca pads a short answer with spaces past
// net/http's 2 KiB response buffer (internal/wipehttp), so this is padded
// the same way.
var ceilingBody = wipehttp.Padded([]byte(`{"request_id":"00000000-0000-0000-0000-000000000000","lease_id":"","renewable":false,"lease_duration":0,` +
	`"data":{"data":{"value":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"},` +
	`"metadata":{"created_time":"2026-01-01T00:00:00.000000000Z","custom_metadata":null,"deletion_time":"","destroyed":false,"version":1}},` +
	`"wrap_info":null,"warnings":null,"auth":null}`))

// ServeCeiling answers every request on ln with a fixed KV-read-sized JSON
// body and nothing else, until ctx ends. It is the ceiling of a comparison:
// what the Go HTTP stack and the generator reach on this machine when the
// server does no work, measured with the "ceiling" workload.
func ServeCeiling(ctx context.Context, ln net.Listener) error {
	length := strconv.Itoa(len(ceilingBody))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["Content-Length"] = []string{length}
			_, _ = w.Write(ceilingBody)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ceiling reads the same paths as kv-read from a server that does no work
// (ServeCeiling); it needs no setup.
type ceiling struct {
	keys  int
	mount string
}

func (w *ceiling) setup(_ context.Context, _ *client, prefix string) error {
	w.mount = prefix + "-kv"
	return nil
}
func (w *ceiling) op(ctx context.Context, c *client, r *rand.Rand) error {
	return c.do(ctx, http.MethodGet, kvPath(w.mount, r.IntN(w.keys)), "", nil, nil)
}
func (w *ceiling) cleanup(context.Context, *client, string) {}
