package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/template"
	"time"
)

// Secret is what {{ secret "path" }} gives a template: the server's
// answer, as consul-template shows it (.Data.data.x for KV version 2,
// .Data.username for database credentials).
type Secret struct {
	LeaseID       string
	LeaseDuration int
	Renewable     bool
	Data          map[string]any
	Warnings      []string
}

// secretSource is how templates reach the server: with the agent's own
// token (agentSource), or a fake in tests.
type secretSource interface {
	// read is a GET; write a PUT of data (a read that issues something:
	// database credentials, a certificate).
	read(ctx context.Context, path string) (*Secret, error)
	write(ctx context.Context, path string, data map[string]any) (*Secret, error)
	// list is a LIST; it gives the keys.
	list(ctx context.Context, path string) ([]string, error)
	// renew extends a lease by increment and gives its new TTL.
	renew(ctx context.Context, leaseID string, increment time.Duration) (time.Duration, error)
}

// errSecretNotFound: the server has nothing at a template's path.
var errSecretNotFound = errors.New("no secret at this path")

// templateFuncNames are the functions templates may call, for parsing
// the configuration (the renderer binds the real ones).
var templateFuncNames = template.FuncMap{
	"secret":       func(string, ...string) (*Secret, error) { return nil, nil },
	"secrets":      func(string) ([]string, error) { return nil, nil },
	"env":          os.Getenv,
	"toJSON":       toJSON,
	"toJSONPretty": toJSONPretty,
	"base64Encode": base64Encode,
	"base64Decode": base64Decode,
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func toJSONPretty(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return string(b), err
}

func base64Encode(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func base64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// dep is one secret a unit's templates use, and when it is due again.
type dep struct {
	secret *Secret
	keys   []string
	// path is what was read, written or (list) listed; change events
	// about it make the dep due.
	path string
	list bool
	// origTTL is the lease's TTL when it was issued; a renewal that
	// gives less has reached the lease's max TTL.
	origTTL time.Duration
	// renewAt (zero: never) is when the lease is renewed; refetchAt when
	// the secret is read (or issued) again.
	renewAt, refetchAt time.Time
}

// renderer renders a set of templates that share their secrets: one
// file template, or the exec child's env templates. It is used by one
// goroutine at a time.
type renderer struct {
	src    secretSource
	clock  clock
	static time.Duration
	tmpls  []*template.Template

	// ctx is the render in progress's.
	ctx  context.Context
	deps map[string]*dep
	used map[string]bool
}

// namedTemplate is a template's text and how to parse it.
type namedTemplate struct {
	name, text, left, right string
	errorOnMissingKey       bool
}

func newRenderer(src secretSource, c clock, static time.Duration, list []namedTemplate) (*renderer, error) {
	r := &renderer{src: src, clock: c, static: static, deps: map[string]*dep{}}
	funcs := template.FuncMap{}
	for k, v := range templateFuncNames {
		funcs[k] = v
	}
	funcs["secret"], funcs["secrets"] = r.secret, r.secrets
	for _, nt := range list {
		t := template.New(nt.name).Delims(nt.left, nt.right).Funcs(funcs)
		if nt.errorOnMissingKey {
			t = t.Option("missingkey=error")
		}
		t, err := t.Parse(nt.text)
		if err != nil {
			return nil, err
		}
		r.tmpls = append(r.tmpls, t)
	}
	return r, nil
}

// render executes every template, fetching the secrets that are due, and
// gives their outputs in order. Secrets no template used any more are
// forgotten (their leases are left to expire).
func (r *renderer) render(ctx context.Context) ([][]byte, error) {
	r.ctx, r.used = ctx, map[string]bool{}
	defer func() { r.ctx = nil }()
	out := make([][]byte, len(r.tmpls))
	for i, t := range r.tmpls {
		var b bytes.Buffer
		if err := t.Execute(&b, nil); err != nil {
			return nil, err
		}
		out[i] = b.Bytes()
	}
	for k := range r.deps {
		if !r.used[k] {
			delete(r.deps, k)
		}
	}
	return out, nil
}

// secret is {{ secret "path" }} (a read) or {{ secret "path" "k=v" ... }}
// (a write of those parameters, as for database credentials or a
// certificate).
func (r *renderer) secret(path string, args ...string) (*Secret, error) {
	path = strings.Trim(path, "/")
	var data map[string]any
	key := "read " + path
	if len(args) > 0 {
		data = map[string]any{}
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("secret %q: argument %q is not key=value", path, a)
			}
			data[k] = v
		}
		sorted := append([]string(nil), args...)
		sort.Strings(sorted)
		key = "write " + path + " " + strings.Join(sorted, " ")
	}
	d, err := r.dep(key, func() (*dep, error) {
		var s *Secret
		var err error
		if data == nil {
			s, err = r.src.read(r.ctx, path)
		} else {
			s, err = r.src.write(r.ctx, path, data)
		}
		if err != nil {
			return nil, fmt.Errorf("secret %q: %w", path, err)
		}
		return &dep{secret: s, path: path}, nil
	})
	if err != nil {
		return nil, err
	}
	return d.secret, nil
}

// secrets is {{ range secrets "path/" }}: the keys a LIST gives.
func (r *renderer) secrets(path string) ([]string, error) {
	path = strings.Trim(path, "/") + "/"
	d, err := r.dep("list "+path, func() (*dep, error) {
		keys, err := r.src.list(r.ctx, path)
		if err != nil {
			return nil, fmt.Errorf("secrets %q: %w", path, err)
		}
		sort.Strings(keys)
		return &dep{keys: keys, path: path, list: true}, nil
	})
	if err != nil {
		return nil, err
	}
	return d.keys, nil
}

// dep returns the secret under key, fetched again if it is due.
func (r *renderer) dep(key string, fetch func() (*dep, error)) (*dep, error) {
	r.used[key] = true
	now := r.clock.Now()
	if d := r.deps[key]; d != nil && now.Before(d.refetchAt) {
		return d, nil
	}
	d, err := fetch()
	if err != nil {
		return nil, err
	}
	r.schedule(d, now)
	r.deps[key] = d
	return d, nil
}

// schedule sets when a freshly fetched secret is due: one without a
// lease after the static interval; a renewable lease is renewed at two
// thirds of its TTL; one that is not is fetched again then.
func (r *renderer) schedule(d *dep, now time.Time) {
	s := d.secret
	if s == nil || s.LeaseID == "" || s.LeaseDuration <= 0 {
		d.refetchAt = now.Add(r.static)
		return
	}
	d.origTTL = time.Duration(s.LeaseDuration) * time.Second
	at := now.Add(max(d.origTTL*2/3, time.Second))
	if s.Renewable {
		d.renewAt, d.refetchAt = at, far
	} else {
		d.refetchAt = at
	}
}

// far is a time no schedule reaches.
var far = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// maintain renews the leases that are due. A lease whose renewal fails,
// or that has reached its max TTL, is fetched again at the next render
// (now, or at two thirds of what is left).
func (r *renderer) maintain(ctx context.Context, log *slog.Logger) {
	now := r.clock.Now()
	for _, d := range r.deps {
		if d.renewAt.IsZero() || now.Before(d.renewAt) {
			continue
		}
		ttl, err := r.src.renew(ctx, d.secret.LeaseID, d.origTTL)
		switch {
		case err != nil:
			log.Warn("renewing a template's lease failed; fetching a new secret", "lease_id", d.secret.LeaseID, "error", err)
			d.renewAt, d.refetchAt = time.Time{}, now
		case ttl < d.origTTL-time.Second:
			// The max TTL is near: a new secret, well before this one
			// ends.
			d.renewAt, d.refetchAt = time.Time{}, now.Add(ttl/2)
		default:
			d.renewAt = now.Add(max(ttl*2/3, time.Second))
		}
	}
}

// next is when something is due: a renewal or a fetch.
func (r *renderer) next() time.Time {
	t := far
	for _, d := range r.deps {
		if !d.renewAt.IsZero() && d.renewAt.Before(t) {
			t = d.renewAt
		}
		if d.refetchAt.Before(t) {
			t = d.refetchAt
		}
	}
	return t
}

// due says whether a secret must be fetched again (a render is needed).
func (r *renderer) due(now time.Time) bool {
	for _, d := range r.deps {
		if !now.Before(d.refetchAt) {
			return true
		}
	}
	return false
}
