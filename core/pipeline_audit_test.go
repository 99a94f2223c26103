package core_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/logical"
)

// auditedCore is devCore with a file audit device; it returns the core,
// its root token and a function returning the audit lines written since
// its last call, each as "type path" with " error" when it has one.
func auditedCore(t *testing.T, cfg core.Config) (*core.Core, []byte, string, func() []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	cfg.AuditDevices = append(cfg.AuditDevices, core.AuditDevice{Name: "file", Type: "file", Options: map[string]string{"file_path": path}})
	c, key, root := devCore(t, cfg)
	var offset int64
	read := func() []string {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var out []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			offset += int64(len(sc.Bytes())) + 1
			var e struct {
				Type    string `json:"type"`
				Error   string `json:"error"`
				Request struct {
					Path string `json:"path"`
				} `json:"request"`
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			line := e.Type + " " + e.Request.Path
			if e.Error != "" {
				line += " error"
			}
			out = append(out, line)
		}
		return out
	}
	return c, key, root, read
}

// TestServeSysNeverAnswersUnrecorded: a sys handler runs outside the
// state lock, so a seal may land while it runs (here, the handler seals
// itself right after unwrapping, as a concurrent sys/seal would). Sealing
// closes the audit devices; the handler's answer, which holds the
// unwrapped secret, must then be recorded or withheld, never both
// unrecorded and handed back for sending.
func TestServeSysNeverAnswersUnrecorded(t *testing.T) {
	ctx := context.Background()
	c, _, root, read := auditedCore(t, core.Config{})
	info, err := c.Wrap(ctx, []byte(`{"data":{"secret":"s"}}`), time.Minute, "sys/wrapping/wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	read()
	var sent map[string]any
	err = c.ServeSys(ctx, &core.Request{Operation: logical.UpdateOperation, Path: "sys/wrapping/unwrap", Token: root,
		Body: func(bool) (map[string]any, error) { return map[string]any{"token": info.Token}, nil }},
		func(ctx context.Context, call *core.Call) (map[string]any, error) {
			body, err := c.Unwrap(ctx, info.Token)
			if err != nil {
				return nil, err
			}
			if err := c.Seal(ctx); err != nil {
				t.Fatal(err)
			}
			sent = map[string]any{"body": string(body)}
			return sent, nil
		})
	lines := read()
	recorded := len(lines) == 2 && lines[1] == "response sys/wrapping/unwrap"
	if err == nil && !recorded {
		t.Errorf("ServeSys returned no error, so the server sends %v, but the audit log holds only %q", sent, lines)
	}
}

// brokenExists is an engine whose existence check fails, as one whose
// storage read fails would.
type brokenExists struct{ called bool }

func (e *brokenExists) HandleRequest(context.Context, *logical.Request) (*logical.Response, error) {
	e.called = true
	return nil, nil
}

func (e *brokenExists) Exists(context.Context, *logical.Request) (bool, error) {
	return false, errors.New("storage read failed")
}

var _ logical.ExistenceChecker = (*brokenExists)(nil)

// TestRefusalsBeforeTheACLAreAudited: a write whose existence check
// fails is refused after the token was checked; like every refusal of
// an authenticated request, it leaves a request entry with the error.
func TestRefusalsBeforeTheACLAreAudited(t *testing.T) {
	ctx := context.Background()
	eng := &brokenExists{}
	c, _, root, read := auditedCore(t, core.Config{Engines: map[string]logical.Factory{
		"broken": func(context.Context, logical.MountConfig) (logical.Engine, error) { return eng, nil },
	}})
	if err := c.Mount(ctx, core.MountEntry{Path: "broken", Type: "broken"}); err != nil {
		t.Fatal(err)
	}
	read()
	_, err := c.HandleRequest(ctx, root, &logical.Request{Operation: logical.UpdateOperation, Path: "broken/x", Data: map[string]any{}})
	if err == nil || eng.called {
		t.Fatalf("a write whose existence check failed: %v, handler called %v", err, eng.called)
	}
	if lines := read(); len(lines) != 1 || lines[0] != "request broken/x error" {
		t.Errorf("audit lines %q, want one refused request", lines)
	}
}
