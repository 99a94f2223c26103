package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/arca-secrets/arca/agent/attest"
)

// workloadToken is a token the agent holds for one workload identity.
// Neither the token nor its accessor ever leaves the agent.
type workloadToken struct {
	token, accessor string
	obtained        time.Time
	ttl             time.Duration
}

// fresh says whether the token is before two thirds of its TTL.
func (t *workloadToken) fresh(now time.Time) bool {
	return t.ttl == 0 || now.Before(t.obtained.Add(t.ttl*2/3))
}

// valid says whether the token is before the end of its TTL.
func (t *workloadToken) valid(now time.Time) bool {
	return t.ttl == 0 || now.Before(t.obtained.Add(t.ttl))
}

// tokens caches workload tokens by identity. A token is dropped only
// when the server no longer accepts it, and every token the agent drops
// while it may still be live is revoked first: a refusal never leaves a
// live token behind, and is never answered by logging in again.
type tokens struct {
	up    *upstream
	auth  *autoAuth
	mount string
	clock clock
	log   *slog.Logger

	mu     sync.Mutex
	byKey  map[string]*workloadToken
	flight map[string]*sync.Mutex
}

func newTokens(up *upstream, auth *autoAuth, mount string, c clock, log *slog.Logger) *tokens {
	return &tokens{up: up, auth: auth, mount: mount, clock: c, log: log, byKey: map[string]*workloadToken{}, flight: map[string]*sync.Mutex{}}
}

// get returns a token for id: cached, renewed, or from a new login that
// the agent vouches for with its own token.
func (t *tokens) get(ctx context.Context, id *attest.Identity) (*workloadToken, error) {
	key := id.Key()
	t.mu.Lock()
	lock := t.flight[key]
	if lock == nil {
		lock = &sync.Mutex{}
		t.flight[key] = lock
	}
	t.mu.Unlock()
	// One login per identity at a time, however many requests arrive.
	lock.Lock()
	defer lock.Unlock()
	now := t.clock.Now()
	t.mu.Lock()
	wt := t.byKey[key]
	t.mu.Unlock()
	if wt != nil && wt.fresh(now) {
		return wt, nil
	}
	if wt != nil && wt.valid(now) {
		var out authReply
		err := t.up.call(ctx, "POST", "/v1/auth/token/renew-self", wt.token, map[string]any{}, &out)
		switch {
		case err == nil && out.Auth != nil:
			wt = &workloadToken{token: wt.token, accessor: wt.accessor, obtained: now, ttl: time.Duration(out.Auth.LeaseDuration) * time.Second}
			t.store(key, wt)
			return wt, nil
		case !errors.Is(err, errForbidden):
			// The server is unreachable or answered oddly: the token is
			// still valid, keep using it and renew it next time.
			t.log.Warn("renewing a workload token failed; it is used until it expires", "error", err)
			return wt, nil
		}
		// Refused: the token is gone (its role changed or was deleted);
		// revoking it covers a token that may not renew itself.
		t.drop(key, wt, true)
	} else if wt != nil {
		t.drop(key, wt, false) // expired
	}
	wt, err := t.login(ctx, id)
	if err != nil {
		return nil, err
	}
	t.store(key, wt)
	return wt, nil
}

// agentRelogin bounds the wait for the agent's new token after the
// server refused the old one.
const agentRelogin = 10 * time.Second

func (t *tokens) login(ctx context.Context, id *attest.Identity) (*workloadToken, error) {
	for attempt := 0; ; attempt++ {
		agentToken := t.auth.Token()
		if agentToken == "" {
			return nil, errNotReady
		}
		var out authReply
		err := t.up.call(ctx, "POST", "/v1/"+t.mount+"/login", agentToken, id.Selectors(), &out)
		if errors.Is(err, errForbidden) && attempt == 0 && t.auth.canLookUp() && errors.Is(t.check(ctx, agentToken), errBadToken) {
			// The agent's own token was refused, not the workload (a
			// token that may look itself up and is refused is dead): wait
			// for the agent to log itself in again, then retry once.
			t.auth.Refused()
			if err := t.auth.waitNewToken(ctx, agentToken, agentRelogin); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if out.Auth == nil || out.Auth.ClientToken == "" {
			return nil, errors.New("the workload login answered without a token")
		}
		wt := &workloadToken{token: out.Auth.ClientToken, accessor: out.Auth.Accessor, obtained: t.clock.Now(),
			ttl: time.Duration(out.Auth.LeaseDuration) * time.Second}
		// The agent tells a revoked token from a refusal by the token's
		// own lookup-self: a token that cannot look itself up would be
		// taken for revoked at its first refusal, and replaced at each.
		if err := t.check(ctx, wt.token); errors.Is(err, errBadToken) {
			t.revoke(wt)
			return nil, errSelfLookup
		}
		return wt, nil
	}
}

// check asks the server whether it still accepts tok: errBadToken when it
// refuses the token's own lookup-self (which the default policy grants
// every token), nil when it answers, another error when it cannot say.
func (t *tokens) check(ctx context.Context, tok string) error {
	err := t.up.call(ctx, "GET", "/v1/auth/token/lookup-self", tok, nil, nil)
	if errors.Is(err, errForbidden) {
		return errBadToken
	}
	return err
}

// refused is told that the server answered 403 to a request made with
// wt for id, and says whether wt is dead. A token the server still
// accepts is kept: the refusal is the policy's, and no login follows it.
// A token the server no longer accepts (its role changed, which revokes
// the role's tokens) is dropped, and revoked in case it is only unable
// to look itself up; the caller may then log in once for the request.
func (t *tokens) refused(ctx context.Context, id *attest.Identity, wt *workloadToken) bool {
	if !errors.Is(t.check(ctx, wt.token), errBadToken) {
		return false
	}
	t.log.Info("the server no longer accepts a workload's token (its role changed?)", "caller", id.String())
	t.drop(id.Key(), wt, true)
	return true
}

func (t *tokens) store(key string, wt *workloadToken) {
	t.mu.Lock()
	t.byKey[key] = wt
	t.mu.Unlock()
}

// drop forgets wt (if it is still the token held for key) and, unless
// it has expired, revokes it.
func (t *tokens) drop(key string, wt *workloadToken, revoke bool) {
	t.mu.Lock()
	if t.byKey[key] == wt {
		delete(t.byKey, key)
	}
	t.mu.Unlock()
	if revoke {
		t.revoke(wt)
	}
}

// revoke revokes wt at the server; a token the server no longer knows
// is refused, which is the same outcome.
func (t *tokens) revoke(wt *workloadToken) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := t.up.call(ctx, "POST", "/v1/auth/token/revoke-self", wt.token, map[string]any{}, nil)
	if err != nil && !errors.Is(err, errForbidden) {
		t.log.Warn("revoking a dropped workload token failed; it expires with its TTL", "error", err)
	}
}

// revokeAll revokes every token held, when the agent stops.
func (t *tokens) revokeAll() {
	t.mu.Lock()
	all := t.byKey
	t.byKey = map[string]*workloadToken{}
	t.mu.Unlock()
	for _, wt := range all {
		t.revoke(wt)
	}
}
