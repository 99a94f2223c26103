package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/arca-secrets/arca/agent/attest"
)

// childIdentity is the workload identity of the exec child: the one it
// attests to (its executable, user and group, its cgroup), known
// before it starts. The child's env_template secrets are fetched with a
// token of this identity's workload role, the same role that would serve
// it through the socket, never with the agent's own token; once the
// child runs, the supervisor checks that it is this identity.
type childIdentity struct {
	id     *attest.Identity
	tokens *tokens
}

// newChildIdentity is the identity conf's child will attest to, in
// cgroup ("": the agent's).
func newChildIdentity(conf *Exec, cgroup string, t *tokens) (*childIdentity, error) {
	path, err := exec.LookPath(conf.Command[0])
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if conf.User != "" || conf.Group != "" {
		u, g, err := lookupOwner(conf.User, conf.Group)
		if err != nil {
			return nil, fmt.Errorf("exec: %w", err)
		}
		if u >= 0 {
			uid = u
		}
		if g >= 0 {
			gid = g
		}
	}
	id, err := attest.Child(path, uint32(uid), uint32(gid), cgroup)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	return &childIdentity{id: id, tokens: t}, nil
}

func (c *childIdentity) token(ctx context.Context) (string, error) {
	wt, err := c.tokens.get(ctx, c.id)
	if err != nil {
		return "", fmt.Errorf("the exec child's workload login (%s): %w", c.id, err)
	}
	return wt.token, nil
}

// held is the child's current token, if any.
func (c *childIdentity) held() *workloadToken {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	return c.tokens.byKey[c.id.Key()]
}

// refused drops the child's token when a 403 came from a token the
// server no longer accepts.
func (c *childIdentity) refused(ctx context.Context, tok string, err error) {
	if !errors.Is(err, errForbidden) {
		return
	}
	if wt := c.held(); wt != nil && wt.token == tok {
		c.tokens.refused(ctx, c.id, wt)
	}
}

// verify checks that the started process pid is the identity the
// child's secrets were fetched for.
func (c *childIdentity) verify(pid int) error {
	got, err := attest.Process(pid)
	if err != nil {
		return err
	}
	want := c.id
	same := got.UID == want.UID && got.GID == want.GID && got.Cgroup == want.Cgroup
	// A child may already have exec'd its next program (a shell that
	// execs the service); while it still runs the one the agent started,
	// that must be the very file whose identity was vouched for.
	if got.ExePath == want.ExePath && got.ExeSHA256 != want.ExeSHA256 {
		same = false
	}
	if !same {
		return fmt.Errorf("%w: the child attests to %s, not to the identity its secrets were fetched for (%s)", attest.ErrRefused, got, want)
	}
	return nil
}

// revocation says why the child may no longer run: the server refuses
// its identity a login (its role was deleted or no longer matches it).
// "" means it may run, or the server cannot say now (unreachable): a
// child is never stopped because the server is down.
func (c *childIdentity) revocation(ctx context.Context) string {
	if wt := c.held(); wt != nil {
		err := c.tokens.check(ctx, wt.token)
		if !errors.Is(err, errBadToken) {
			return "" // accepted, or the server cannot say
		}
		c.tokens.drop(c.id.Key(), wt, false)
	}
	_, err := c.tokens.get(ctx, c.id)
	var se *serverError
	if errors.As(err, &se) && se.status == 403 {
		return "the server no longer logs the child in: " + strings.Join(se.msgs, "; ")
	}
	return ""
}

// childGuard watches change events for what can end the child's right
// to run (its role changed or its token's lease was revoked), asks the
// server, and reports a revocation once.
type childGuard struct {
	child *childIdentity
	log   *slog.Logger
	check chan struct{}
	// revoked receives the reason the child must stop.
	revoked chan string
	// recheck re-renders the child's environment after a new login.
	recheck func()
}

func newChildGuard(c *childIdentity, log *slog.Logger, recheck func()) *childGuard {
	return &childGuard{child: c, log: log, check: make(chan struct{}, 1), revoked: make(chan string, 1), recheck: recheck}
}

// notify is the watcher's hook: events that may concern the child's
// right to run make the guard ask the server.
func (g *childGuard) notify(c change) {
	if !c.all && !strings.HasPrefix(c.typ, "workload/") && c.typ != "lease/revoke" && !strings.HasPrefix(c.typ, "policy/") {
		return
	}
	select {
	case g.check <- struct{}{}:
	default:
	}
}

func (g *childGuard) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.check:
		}
		before := g.child.held()
		if reason := g.child.revocation(ctx); reason != "" {
			g.revoked <- reason
			return
		}
		if after := g.child.held(); after != before && g.recheck != nil {
			// A new token (the old one was revoked): the secrets it may
			// read are read again.
			g.recheck()
		}
	}
}
