package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// autoAuth keeps the agent's own token: AppRole login from files or cert
// login with a client certificate, renewal at two thirds of its TTL, login
// again when renewal fails.
type autoAuth struct {
	conf AutoAuth
	up   *upstream
	// loginUp carries the client certificate for the cert method (up
	// otherwise).
	loginUp *upstream
	log     *slog.Logger
	clock   clock

	mu    sync.RWMutex
	token string
	// changed is closed (and replaced) whenever token changes.
	changed chan struct{}
	// lookUp: the token may look itself up, so that the server's refusal
	// of a workload login can be checked against it.
	lookUp   bool
	roleID   string
	secretID string
	// ready is closed once the first login succeeded.
	ready     chan struct{}
	readyOnce sync.Once
	// relogin asks the loop to log in again now (the token was refused).
	relogin chan struct{}
}

func newAutoAuth(conf AutoAuth, up *upstream, log *slog.Logger, c clock) (*autoAuth, error) {
	a := &autoAuth{conf: conf, up: up, loginUp: up, log: log, clock: c, changed: make(chan struct{}),
		ready: make(chan struct{}), relogin: make(chan struct{}, 1)}
	if conf.Method == "cert" {
		var err error
		if a.loginUp, err = up.withClientCert(conf.ClientCert, conf.ClientKey); err != nil {
			return nil, err
		}
		return a, nil
	}
	role, err := os.ReadFile(conf.RoleIDFile)
	if err != nil {
		return nil, fmt.Errorf("auto_auth: reading role_id_file_path: %w", err)
	}
	a.roleID = strings.TrimSpace(string(role))
	if conf.SecretIDFile != "" {
		// A secret ID file that is not there yet (or was consumed by an
		// earlier start) is waited for: login retries until one appears.
		if err := a.readSecretID(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return a, nil
}

// readSecretID reads the secret ID file and, as Vault Agent does by
// default, removes it, so the secret ID lives only in the agent's memory.
func (a *autoAuth) readSecretID() error {
	b, err := os.ReadFile(a.conf.SecretIDFile)
	if errors.Is(err, os.ErrNotExist) && a.secretID != "" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("auto_auth: reading secret_id_file_path: %w", err)
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		a.secretID = s
	}
	if a.conf.RemoveSecretFile {
		if err := os.Remove(a.conf.SecretIDFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			a.log.Warn("could not remove the secret ID file", "error", err)
		}
	}
	return nil
}

// Token is the current agent token ("" before the first login).
func (a *autoAuth) Token() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.token
}

// canLookUp says whether the token may look itself up (see lookUp).
func (a *autoAuth) canLookUp() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.lookUp
}

// waitNewToken waits, at most limit and while ctx lasts, for a token
// other than old (after Refused).
func (a *autoAuth) waitNewToken(ctx context.Context, old string, limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		a.mu.RLock()
		tok, changed := a.token, a.changed
		a.mu.RUnlock()
		if tok != "" && tok != old {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return errNotReady
		case <-changed:
		}
	}
}

// Refused tells the loop that the server refused the token.
func (a *autoAuth) Refused() {
	select {
	case a.relogin <- struct{}{}:
	default:
	}
}

// loginBody is what the method's login takes.
func (a *autoAuth) loginBody() (map[string]any, error) {
	if a.conf.Method == "cert" {
		if a.conf.CertName == "" {
			return map[string]any{}, nil
		}
		return map[string]any{"name": a.conf.CertName}, nil
	}
	if a.conf.SecretIDFile != "" {
		if err := a.readSecretID(); err != nil {
			return nil, err
		}
	}
	body := map[string]any{"role_id": a.roleID}
	if a.secretID != "" {
		body["secret_id"] = a.secretID
	}
	return body, nil
}

func (a *autoAuth) login(ctx context.Context) (time.Duration, error) {
	body, err := a.loginBody()
	if err != nil {
		return 0, err
	}
	var out authReply
	if err := a.loginUp.call(ctx, "POST", "/v1/"+a.conf.Mount+"/login", "", body, &out); err != nil {
		return 0, err
	}
	if out.Auth == nil || out.Auth.ClientToken == "" {
		return 0, fmt.Errorf("the login answered without a token")
	}
	// Whether the token may look itself up decides whether a refused
	// workload login can be told apart from a refused agent token.
	lookErr := a.up.call(ctx, "GET", "/v1/auth/token/lookup-self", out.Auth.ClientToken, nil, nil)
	if lookErr != nil {
		a.log.Warn("the agent's token may not look itself up (the default policy grants it): a refused token is noticed only when its renewal fails", "error", lookErr)
	}
	a.mu.Lock()
	a.token = out.Auth.ClientToken
	a.lookUp = lookErr == nil
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
	a.readyOnce.Do(func() { close(a.ready) })
	return time.Duration(out.Auth.LeaseDuration) * time.Second, nil
}

func (a *autoAuth) renew(ctx context.Context) (time.Duration, error) {
	var out authReply
	if err := a.up.call(ctx, "POST", "/v1/auth/token/renew-self", a.Token(), map[string]any{}, &out); err != nil {
		return 0, err
	}
	if out.Auth == nil {
		return 0, fmt.Errorf("the renewal answered without auth")
	}
	return time.Duration(out.Auth.LeaseDuration) * time.Second, nil
}

// run logs in and keeps the token alive until ctx ends.
func (a *autoAuth) run(ctx context.Context) {
	backoff := time.Second
	var ttl time.Duration
	loggedIn := false
	for ctx.Err() == nil {
		var err error
		if loggedIn {
			ttl, err = a.renew(ctx)
			if errors.Is(err, errForbidden) {
				loggedIn = false // the token is gone: log in again
			}
		}
		if !loggedIn {
			if ttl, err = a.login(ctx); err == nil {
				loggedIn = true
				a.log.Info("agent authenticated", "method", a.conf.Method, "ttl", ttl)
			}
		}
		wait := backoff
		if err != nil {
			a.log.Warn("agent authentication failed; retrying", "error", err, "in", backoff)
			backoff = min(backoff*2, time.Minute)
		} else {
			backoff = time.Second
			wait = max(ttl*2/3, time.Second)
			if ttl == 0 {
				wait = time.Hour // a token without expiry needs no renewal
			}
		}
		if a.clock.sleepUntil(ctx, a.clock.Now().Add(wait), a.relogin) {
			loggedIn = false
		}
	}
}
