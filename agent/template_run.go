package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/arca-secrets/arca/internal/atomicfile"
)

// agentSource fetches templates' secrets with the agent's own token:
// templates are the agent's own configuration, as in Vault Agent, so the
// agent's policy must allow what they read.
type agentSource struct {
	up   *upstream
	auth *autoAuth
	// child, when set, makes this the exec child's source: its secrets
	// are fetched with the child's own workload identity (exec_identity.go).
	child *childIdentity
}

var _ secretSource = agentSource{}

func (s agentSource) token(ctx context.Context) (string, error) {
	if s.child != nil {
		return s.child.token(ctx)
	}
	if t := s.auth.Token(); t != "" {
		return t, nil
	}
	return "", errNotReady
}

// refused tells auto-auth to log in again when a 403 came from a token
// the server no longer accepts (it cannot look itself up), rather than
// from the agent's policy.
func (s agentSource) refused(ctx context.Context, tok string, err error) {
	if s.child != nil {
		s.child.refused(ctx, tok, err)
		return
	}
	if !errors.Is(err, errForbidden) || !s.auth.canLookUp() {
		return
	}
	if err := s.up.call(ctx, "GET", "/v1/auth/token/lookup-self", tok, nil, nil); errors.Is(err, errForbidden) {
		s.auth.Refused()
	}
}

func apiPath(path string) string { return (&url.URL{Path: "/v1/" + path}).EscapedPath() }

func (s agentSource) read(ctx context.Context, path string) (*Secret, error) {
	return s.secretCall(ctx, "GET", path, nil)
}

func (s agentSource) write(ctx context.Context, path string, data map[string]any) (*Secret, error) {
	return s.secretCall(ctx, "PUT", path, data)
}

func (s agentSource) secretCall(ctx context.Context, method, path string, body any) (*Secret, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return nil, err
	}
	var out struct {
		LeaseID       string         `json:"lease_id"`
		LeaseDuration int            `json:"lease_duration"`
		Renewable     bool           `json:"renewable"`
		Data          map[string]any `json:"data"`
		Warnings      []string       `json:"warnings"`
	}
	if err := s.up.call(ctx, method, apiPath(path), tok, body, &out); err != nil {
		s.refused(ctx, tok, err)
		var se *serverError
		if errors.As(err, &se) && se.status == 404 {
			return nil, errSecretNotFound
		}
		return nil, err
	}
	return &Secret{LeaseID: out.LeaseID, LeaseDuration: out.LeaseDuration, Renewable: out.Renewable, Data: out.Data, Warnings: out.Warnings}, nil
}

func (s agentSource) list(ctx context.Context, path string) ([]string, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := s.up.do(ctx, "GET", apiPath(path), "list=true", tok, nil, nil)
	if err != nil {
		return nil, err
	}
	if rep.status == 404 {
		return nil, nil // nothing under the path
	}
	if rep.status/100 != 2 {
		err := &serverError{status: rep.status, msgs: errorMessages(rep.body)}
		s.refused(ctx, tok, err)
		return nil, err
	}
	var out struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rep.body, &out); err != nil {
		return nil, fmt.Errorf("decoding the list: %w", err)
	}
	return out.Data.Keys, nil
}

func (s agentSource) renew(ctx context.Context, leaseID string, increment time.Duration) (time.Duration, error) {
	tok, err := s.token(ctx)
	if err != nil {
		return 0, err
	}
	var out struct {
		LeaseDuration int64 `json:"lease_duration"`
	}
	body := map[string]any{"lease_id": leaseID, "increment": int64(increment / time.Second)}
	if err := s.up.call(ctx, "PUT", "/v1/sys/leases/renew", tok, body, &out); err != nil {
		s.refused(ctx, tok, err)
		return 0, err
	}
	return time.Duration(out.LeaseDuration) * time.Second, nil
}

// unit keeps one renderer's output current: it renders when a secret is
// due, renews leases, and hands every successful output to sink. A failed
// render keeps the last good output and is retried with a backoff.
type unit struct {
	name  string
	r     *renderer
	clock clock
	log   *slog.Logger
	// sink takes a successful render's outputs.
	sink func(ctx context.Context, out [][]byte) error
	// rendered is closed after the first output reached sink.
	rendered chan struct{}
	// inbox holds the changes the server announced (events.go).
	inbox *changes
}

// maxRetry bounds the wait between attempts of a failing template.
const maxRetry = time.Minute

func (u *unit) run(ctx context.Context, ready <-chan struct{}) {
	select {
	case <-ctx.Done():
		return
	case <-ready:
	}
	backoff := time.Second
	first := true
	for ctx.Err() == nil {
		start := u.clock.Now()
		u.applyChanges()
		u.r.maintain(ctx, u.log)
		out, err := u.r.render(ctx)
		if err == nil {
			err = u.sink(ctx, out)
		}
		next := u.r.next()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The error names paths and keys, never values.
			u.log.Warn("template failed; the last good output stays", "template", u.name, "error", err, "retry_in", backoff)
			next = start.Add(backoff)
			backoff = min(backoff*2, maxRetry)
		} else {
			backoff = time.Second
			if first {
				first = false
				close(u.rendered)
			}
		}
		u.clock.sleepUntil(ctx, next, u.inbox.wake)
	}
}

// fileSink writes a template's output to its destination and runs its
// command when the file changed.
func fileSink(t Template, log *slog.Logger) func(context.Context, [][]byte) error {
	return func(ctx context.Context, out [][]byte) error {
		uid, gid, err := lookupOwner(t.User, t.Group)
		if err != nil {
			return err
		}
		changed, err := atomicfile.Write(t.Destination, out[0], t.Perms, uid, gid)
		if err != nil {
			return err
		}
		if !changed {
			log.Debug("template unchanged", "destination", t.Destination)
			return nil
		}
		log.Info("template rendered", "destination", t.Destination)
		if t.Command != "" {
			runCommand(ctx, t.Command, log)
		}
		return nil
	}
}

// commandTimeout bounds a template's command (consul-template's default).
const commandTimeout = 30 * time.Second

// runCommand runs a template's command line with /bin/sh -c. Its output
// goes to the agent's own stdout and stderr.
func runCommand(ctx context.Context, line string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Warn("a template's command failed", "command", line, "error", err)
	}
}

// lookupOwner resolves a user and group (names or numeric ids; "": keep,
// -1).
func lookupOwner(userName, groupName string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			if u, err = user.LookupId(userName); err != nil {
				return 0, 0, fmt.Errorf("user %q: %w", userName, err)
			}
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			if g, err = user.LookupGroupId(groupName); err != nil {
				return 0, 0, fmt.Errorf("group %q: %w", groupName, err)
			}
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}

// templating runs the file templates and the exec child's environment.
type templating struct {
	units []*unit
	// files are the file templates' units.
	files []*unit
	// env gets the child's rendered variables (NAME=value), nil without
	// exec.
	env chan []string
	// envUnit renders env (nil without env templates).
	envUnit *unit
}

func newTemplating(cfg *Config, src, envSrc secretSource, c clock, log *slog.Logger) (*templating, error) {
	tg := &templating{}
	for i, t := range cfg.Templates {
		r, err := newRenderer(src, c, cfg.StaticSecretRenderInterval, []namedTemplate{{
			name: t.Destination, text: t.Contents, left: t.LeftDelim, right: t.RightDelim, errorOnMissingKey: t.ErrorOnMissingKey}})
		if err != nil {
			return nil, fmt.Errorf("template %d: %w", i+1, err)
		}
		u := &unit{name: t.Destination, r: r, clock: c, log: log, sink: fileSink(t, log), rendered: make(chan struct{}), inbox: newChanges()}
		tg.units, tg.files = append(tg.units, u), append(tg.files, u)
	}
	if cfg.Exec != nil && len(cfg.Exec.Env) > 0 {
		var list []namedTemplate
		for _, e := range cfg.Exec.Env {
			list = append(list, namedTemplate{name: e.Name, text: e.Contents, left: e.LeftDelim, right: e.RightDelim, errorOnMissingKey: e.ErrorOnMissingKey})
		}
		r, err := newRenderer(envSrc, c, cfg.StaticSecretRenderInterval, list)
		if err != nil {
			return nil, fmt.Errorf("env_template: %w", err)
		}
		tg.env = make(chan []string)
		envs := cfg.Exec.Env
		tg.envUnit = &unit{name: "env_template", r: r, clock: c, log: log, rendered: make(chan struct{}), inbox: newChanges(),
			sink: func(ctx context.Context, out [][]byte) error {
				vars := make([]string, len(out))
				for i, b := range out {
					vars[i] = envs[i].Name + "=" + string(b)
				}
				select {
				case tg.env <- vars:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
		tg.units = append(tg.units, tg.envUnit)
	}
	return tg, nil
}

// start runs every unit until ctx ends.
func (tg *templating) start(ctx context.Context, ready <-chan struct{}, wg *sync.WaitGroup) {
	for _, u := range tg.units {
		wg.Add(1)
		go func() { defer wg.Done(); u.run(ctx, ready) }()
	}
}

// filesRendered waits until every file template has been rendered once
// (false: ctx ended first).
func (tg *templating) filesRendered(ctx context.Context) bool {
	for _, u := range tg.files {
		select {
		case <-u.rendered:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
