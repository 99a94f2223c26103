package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ChildExitError is what Run returns in exec mode when the child exited
// by itself: the agent exits with Code, as Vault Agent does.
type ChildExitError struct{ Code int }

func (e *ChildExitError) Error() string { return fmt.Sprintf("the child exited with code %d", e.Code) }

// supervisor runs the exec child: it starts it once the file templates
// and its environment are rendered, restarts it when the environment
// changes (restart_on_secret_changes = "always"), and stops it (signal,
// then SIGKILL after the timeout) when the agent stops.
type supervisor struct {
	conf *Exec
	log  *slog.Logger
	// env gives the rendered variables (nil channel: no env templates).
	env <-chan []string
	// before is waited for before the first start (false: give up).
	before func(context.Context) bool
	// child, when set, is the identity the child's secrets were fetched
	// for: a started child that is not it is stopped at once.
	child *childIdentity
	// revoked gives the reason the child may no longer run (nil: never).
	revoked <-chan string
	// cgroup is the child's own (nil: it runs in the agent's).
	cgroup *childCgroup
}

// ChildRevokedError is what Run returns in exec mode when the child was
// stopped because the server revoked its right to run.
type ChildRevokedError struct{ Reason string }

func (e *ChildRevokedError) Error() string {
	return "the child was stopped: its workload identity was revoked: " + e.Reason
}

// child is a running child process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when Wait returned
}

// run supervises until the child exits by itself (a *ChildExitError) or
// ctx ends (nil, after stopping it).
func (s *supervisor) run(ctx context.Context) error {
	if !s.before(ctx) {
		return nil
	}
	var vars []string
	if s.env != nil {
		select {
		case <-ctx.Done():
			return nil
		case vars = <-s.env:
		}
	}
	c, err := s.start(vars)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			s.stop(c)
			return nil
		case reason := <-s.revoked:
			s.log.Error("the child's workload identity was revoked; stopping it", "pid", c.cmd.Process.Pid, "reason", reason)
			s.stop(c)
			return &ChildRevokedError{Reason: reason}
		case next := <-s.env:
			if slices.Equal(next, vars) {
				continue
			}
			vars = next
			if !s.conf.RestartAlways {
				s.log.Info("the child's secrets changed; not restarting it (restart_on_secret_changes = \"never\")")
				continue
			}
			s.log.Info("the child's secrets changed; restarting it", "pid", c.cmd.Process.Pid)
			s.stop(c)
			if c, err = s.start(vars); err != nil {
				return err
			}
		case <-c.done:
			code := exitCode(c.cmd.ProcessState)
			s.log.Info("the child exited", "pid", c.cmd.Process.Pid, "code", code)
			return &ChildExitError{Code: code}
		}
	}
}

// exitCode is a shell's view of how a process ended: its code, or 128
// plus the signal that killed it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// start starts the child with the agent's environment and vars (which
// win over the agent's own).
func (s *supervisor) start(vars []string) (*child, error) {
	cmd := exec.Command(s.conf.Command[0], s.conf.Command[1:]...)
	cmd.Env = childEnv(os.Environ(), vars)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if s.cgroup != nil {
		s.cgroup.place(cmd.SysProcAttr)
	}
	if s.conf.User != "" || s.conf.Group != "" {
		uid, gid, err := lookupOwner(s.conf.User, s.conf.Group)
		if err != nil {
			return nil, fmt.Errorf("exec: %w", err)
		}
		cred := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid()), Groups: []uint32{}}
		if uid >= 0 {
			cred.Uid = uint32(uid)
		}
		if gid >= 0 {
			cred.Gid = uint32(gid)
		}
		cmd.SysProcAttr.Credential = cred
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec: starting %s: %w", s.conf.Command[0], err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	if s.child != nil {
		// Start returns once the child runs its program: what it
		// attests to now is what it is.
		if err := s.child.verify(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			<-c.done
			return nil, fmt.Errorf("exec: %w", err)
		}
	}
	s.log.Info("started the child", "command", s.conf.Command[0], "pid", cmd.Process.Pid)
	return c, nil
}

// stop signals the child and kills it if it has not exited after the
// stop timeout.
func (s *supervisor) stop(c *child) {
	if err := c.cmd.Process.Signal(s.conf.StopSignal); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.log.Warn("signalling the child failed", "error", err)
	}
	t := time.NewTimer(s.conf.StopTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		s.log.Warn("the child did not stop in time; killing it", "pid", c.cmd.Process.Pid, "timeout", s.conf.StopTimeout)
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	// What the child started goes with it.
	if s.cgroup != nil {
		if err := s.cgroup.killAll(); err != nil {
			s.log.Warn("stopping what the child left in its cgroup", "error", err)
		}
	}
}

// childEnv is base with vars added, a variable in vars replacing one of
// the same name in base.
func childEnv(base, vars []string) []string {
	names := map[string]bool{}
	for _, v := range vars {
		name, _, _ := strings.Cut(v, "=")
		names[name] = true
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, v := range base {
		name, _, _ := strings.Cut(v, "=")
		if !names[name] {
			out = append(out, v)
		}
	}
	return append(out, vars...)
}
