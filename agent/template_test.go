package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arca-secrets/arca/internal/clocktest"
)

// fakeSource is a server in memory: reads give what is in secrets,
// writes issue numbered dynamic credentials with a lease.
type fakeSource struct {
	mu      sync.Mutex
	secrets map[string]*Secret
	lists   map[string][]string
	issued  int
	// leaseTTL and maxTTL shape issued leases; renewals give at most
	// what is left of maxTTL.
	leaseTTL, maxTTL time.Duration
	clock            *clocktest.Clock
	issuedAt         map[string]time.Time
	reads, renewals  int
	fail, renewFail  error
	// failed (if set) hears of each read that failed.
	failed chan struct{}
}

func newFakeSource(c *clocktest.Clock) *fakeSource {
	return &fakeSource{secrets: map[string]*Secret{}, lists: map[string][]string{}, clock: c, issuedAt: map[string]time.Time{},
		leaseTTL: time.Hour, maxTTL: 3 * time.Hour}
}

func (f *fakeSource) set(path string, data map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[path] = &Secret{Data: map[string]any{"data": data}}
}

func (f *fakeSource) read(_ context.Context, path string) (*Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.fail != nil {
		if f.failed != nil {
			select {
			case f.failed <- struct{}{}:
			default:
			}
		}
		return nil, f.fail
	}
	s, ok := f.secrets[path]
	if !ok {
		return nil, errSecretNotFound
	}
	return s, nil
}

func (f *fakeSource) write(_ context.Context, path string, data map[string]any) (*Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	f.issued++
	id := fmt.Sprintf("%s/lease-%d", path, f.issued)
	f.issuedAt[id] = f.clock.Now()
	d := map[string]any{"username": fmt.Sprintf("v-user-%d", f.issued), "password": "pw"}
	for k, v := range data {
		d[k] = v
	}
	return &Secret{LeaseID: id, LeaseDuration: int(f.leaseTTL / time.Second), Renewable: true, Data: d}, nil
}

func (f *fakeSource) list(_ context.Context, path string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists[path], nil
}

func (f *fakeSource) renew(_ context.Context, id string, inc time.Duration) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renewals++
	if f.renewFail != nil {
		return 0, f.renewFail
	}
	left := f.issuedAt[id].Add(f.maxTTL).Sub(f.clock.Now())
	return min(inc, left), nil
}

func renderOne(t *testing.T, r *renderer) string {
	t.Helper()
	out, err := r.render(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return string(out[0])
}

func newTestRenderer(t *testing.T, src secretSource, c *clocktest.Clock, nt namedTemplate) *renderer {
	t.Helper()
	if nt.name == "" {
		nt.name = "t"
	}
	r, err := newRenderer(src, clock{now: c.Now, recheck: time.Minute}, 5*time.Minute, []namedTemplate{nt})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTemplateFunctions(t *testing.T) {
	c := clocktest.New()
	src := newFakeSource(c)
	src.set("secret/data/app", map[string]any{"password": "s3cret", "port": 5432})
	src.lists["secret/metadata/"] = []string{"b", "a"}
	t.Setenv("ARCA_TEMPLATE_TEST", "from-env")
	for _, tc := range []struct{ name, text, want string }{
		{"kv v2", `{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}`, "s3cret"},
		{"leading slash", `{{ with secret "/secret/data/app" }}{{ .Data.data.port }}{{ end }}`, "5432"},
		{"dynamic", `{{ with secret "database/creds/ro" "ttl=1h" }}{{ .Data.username }} {{ .Data.ttl }} {{ .Renewable }}{{ end }}`, "v-user-1 1h true"},
		{"env", `{{ env "ARCA_TEMPLATE_TEST" }}`, "from-env"},
		{"toJSON", `{{ with secret "secret/data/app" }}{{ toJSON .Data.data }}{{ end }}`, `{"password":"s3cret","port":5432}`},
		{"base64Encode", `{{ base64Encode "hi" }}`, "aGk="},
		{"list", `{{ range secrets "secret/metadata/" }}{{ . }};{{ end }}`, "a;b;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := renderOne(t, newTestRenderer(t, src, c, namedTemplate{text: tc.text})); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTemplateMissingKeys(t *testing.T) {
	c := clocktest.New()
	src := newFakeSource(c)
	src.set("secret/data/app", map[string]any{"password": "s3cret"})
	text := `{{ with secret "secret/data/app" }}{{ .Data.data.nope }}{{ end }}`
	if got := renderOne(t, newTestRenderer(t, src, c, namedTemplate{text: text})); got != "<no value>" {
		t.Errorf("without error_on_missing_key: got %q, want %q", got, "<no value>")
	}
	r := newTestRenderer(t, src, c, namedTemplate{text: text, errorOnMissingKey: true})
	_, err := r.render(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("with error_on_missing_key: got %v, want an error naming the key", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows a secret: %v", err)
	}
	r = newTestRenderer(t, src, c, namedTemplate{text: `{{ with secret "secret/data/none" }}x{{ end }}`})
	if _, err := r.render(context.Background()); !errors.Is(err, errSecretNotFound) {
		t.Errorf("a missing secret: got %v, want errSecretNotFound", err)
	}
}

func TestTemplateDelimiters(t *testing.T) {
	c := clocktest.New()
	src := newFakeSource(c)
	src.set("secret/data/app", map[string]any{"password": "s3cret"})
	r := newTestRenderer(t, src, c, namedTemplate{text: `{{ keep }} [[ with secret "secret/data/app" ]][[ .Data.data.password ]][[ end ]]`, left: "[[", right: "]]"})
	if got, want := renderOne(t, r), "{{ keep }} s3cret"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A static secret is read once per render interval, however often the
// template renders; a dynamic one is issued once, renewed at two thirds
// of its TTL, and issued again before its max TTL ends.
func TestTemplateSchedules(t *testing.T) {
	c := clocktest.New()
	src := newFakeSource(c)
	src.set("secret/data/app", map[string]any{"v": "1"})
	r := newTestRenderer(t, src, c, namedTemplate{text: `{{ with secret "secret/data/app" }}{{ .Data.data.v }}{{ end }} {{ with secret "database/creds/ro" "x=y" }}{{ .Data.username }}{{ end }}`})
	if got := renderOne(t, r); got != "1 v-user-1" {
		t.Fatalf("got %q", got)
	}
	src.set("secret/data/app", map[string]any{"v": "2"})
	if got, want := r.next(), c.Now().Add(5*time.Minute); !got.Equal(want) {
		t.Fatalf("next: got %v, want %v (the static interval)", got, want)
	}
	if got := renderOne(t, r); got != "1 v-user-1" {
		t.Fatalf("before the interval: got %q, want the cached value", got)
	}
	c.Advance(5 * time.Minute)
	if got := renderOne(t, r); got != "2 v-user-1" {
		t.Fatalf("after the interval: got %q, want the new value and the same credentials", got)
	}
	// The lease (1h, max 3h) is renewed at 40m, 80m, 120m, then capped
	// renewals ask for a new secret before 3h.
	for i := 0; i < 100 && src.issued == 1; i++ {
		c.Set(r.next())
		r.maintain(context.Background(), discard)
		renderOne(t, r)
	}
	if src.issued != 2 || src.renewals < 2 {
		t.Fatalf("issued %d, renewed %d times: want a new secret after renewals", src.issued, src.renewals)
	}
	if end := clocktest.Start.Add(3 * time.Hour); !c.Now().Before(end) {
		t.Errorf("the new secret came at %v, after the first lease's max TTL (%v)", c.Now(), end)
	}
	if got := renderOne(t, r); !strings.HasSuffix(got, "v-user-2") {
		t.Errorf("got %q, want the new credentials", got)
	}
}

// The command runs once per change of the file, not once per render.
func TestTemplateCommandOncePerChange(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	tmpl := Template{Destination: filepath.Join(dir, "out"), Perms: 0o600, Command: "echo run >> " + count}
	sink := fileSink(tmpl, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, content := range []string{"a", "a", "b", "b", "b", "a"} {
		if err := sink(context.Background(), [][]byte{[]byte(content)}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(count)
	if got := strings.Count(string(b), "run"); got != 3 {
		t.Errorf("the command ran %d times, want 3 (one per change)", got)
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "DB_PASSWORD=old", "HOME=/root"}, []string{"DB_PASSWORD=new"})
	want := []string{"PATH=/bin", "HOME=/root", "DB_PASSWORD=new"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A lease whose renewal is refused is replaced at once by a new secret.
func TestTemplateRenewalFailure(t *testing.T) {
	c := clocktest.New()
	src := newFakeSource(c)
	src.renewFail = errors.New("permission denied")
	r := newTestRenderer(t, src, c, namedTemplate{text: `{{ with secret "database/creds/ro" "x=y" }}{{ .Data.username }}{{ end }}`})
	if got := renderOne(t, r); got != "v-user-1" {
		t.Fatalf("got %q", got)
	}
	c.Set(r.next())
	if want := clocktest.Start.Add(40 * time.Minute); !c.Now().Equal(want) {
		t.Fatalf("the renewal is due at %v, want two thirds of the hour's TTL (%v)", c.Now(), want)
	}
	r.maintain(context.Background(), discard)
	if got := renderOne(t, r); got != "v-user-2" || src.renewals != 1 {
		t.Errorf("after a failed renewal: got %q after %d renewals, want new credentials", got, src.renewals)
	}
}
