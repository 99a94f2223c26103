package agent

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/arca-secrets/arca/agent/attest"
)

// workloadToken is a token the agent holds for one workload identity.
type workloadToken struct {
	token    string
	obtained time.Time
	ttl      time.Duration
}

// fresh says whether the token is before two thirds of its TTL.
func (t *workloadToken) fresh(now time.Time) bool {
	return t.ttl == 0 || now.Before(t.obtained.Add(t.ttl*2/3))
}

// tokens caches workload tokens by identity; the tokens never leave the
// agent.
type tokens struct {
	up    *upstream
	auth  *autoAuth
	mount string

	mu     sync.Mutex
	byKey  map[string]*workloadToken
	flight map[string]*sync.Mutex
}

func newTokens(up *upstream, auth *autoAuth, mount string) *tokens {
	return &tokens{up: up, auth: auth, mount: mount, byKey: map[string]*workloadToken{}, flight: map[string]*sync.Mutex{}}
}

// get returns a token for id: cached, renewed, or from a new login that
// the agent vouches for with its own token. cached says whether it came
// from the cache (a refusal may then mean the role changed).
func (t *tokens) get(ctx context.Context, id *attest.Identity) (tok string, cached bool, err error) {
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
	now := time.Now()
	t.mu.Lock()
	wt := t.byKey[key]
	t.mu.Unlock()
	if wt != nil && wt.fresh(now) {
		return wt.token, true, nil
	}
	if wt != nil && now.Before(wt.obtained.Add(wt.ttl)) {
		var out authReply
		if err := t.up.call(ctx, "POST", "/v1/auth/token/renew-self", wt.token, map[string]any{}, &out); err == nil && out.Auth != nil {
			wt = &workloadToken{token: wt.token, obtained: now, ttl: time.Duration(out.Auth.LeaseDuration) * time.Second}
			t.store(key, wt)
			return wt.token, true, nil
		}
	}
	wt, err = t.login(ctx, id)
	if err != nil {
		t.drop(key)
		return "", false, err
	}
	t.store(key, wt)
	return wt.token, false, nil
}

func (t *tokens) login(ctx context.Context, id *attest.Identity) (*workloadToken, error) {
	for attempt := 0; ; attempt++ {
		agentToken := t.auth.Token()
		if agentToken == "" {
			return nil, errNotReady
		}
		var out authReply
		err := t.up.call(ctx, "POST", "/v1/"+t.mount+"/login", agentToken, id.Selectors(), &out)
		var se *serverError
		if errors.As(err, &se) && se.status == 403 && attempt == 0 && isBadToken(se) {
			// The agent's own token was refused: log in again, retry once.
			t.auth.Refused()
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil {
			return nil, err
		}
		if out.Auth == nil || out.Auth.ClientToken == "" {
			return nil, errors.New("the workload login answered without a token")
		}
		return &workloadToken{token: out.Auth.ClientToken, obtained: time.Now(), ttl: time.Duration(out.Auth.LeaseDuration) * time.Second}, nil
	}
}

// isBadToken tells a refused agent token from a refused workload.
func isBadToken(se *serverError) bool {
	for _, m := range se.msgs {
		if m == "permission denied" || m == "invalid token" || m == "bad token" {
			return true
		}
	}
	return false
}

func (t *tokens) store(key string, wt *workloadToken) {
	t.mu.Lock()
	t.byKey[key] = wt
	t.mu.Unlock()
}

func (t *tokens) drop(key string) {
	t.mu.Lock()
	delete(t.byKey, key)
	t.mu.Unlock()
}

var errNotReady = errors.New("the agent has not authenticated to the server yet")
