package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openbao/openbao/api/v2"
)

// rssOf is the resident set size of process pid in bytes, from
// /proc/<pid>/status.
func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	line := firstLine(string(raw), "VmRSS:")
	f := strings.Fields(line)
	if len(f) != 3 || f[2] != "kB" {
		t.Fatalf("unexpected VmRSS line %q", line)
	}
	kb, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return kb << 10
}

// jsonArray is a JSON array of n small numbers.
func jsonArray(n int) []byte {
	var b bytes.Buffer
	b.Grow(2*n + 2)
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('7')
	}
	b.WriteByte(']')
	return b.Bytes()
}

// sendBody posts body to path with token (none when empty), with a
// Content-Length or chunked, and returns the status and answer. A
// server that answers and closes before the whole body is sent may make
// the write fail: then the answer is read from what arrived.
func sendBody(t *testing.T, addr, token, path string, body []byte, chunked bool) (int, string) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length: chunked encoding
	}
	req, err := http.NewRequest("POST", "http://"+addr+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s (%d bytes): %v", path, len(body), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAttackTokenlessHugeBody: a token-less (or bogus-token) POST of a
// 24 MiB JSON array to a path that needs a token is refused before the
// body is parsed, and the server's memory does not grow with it.
func TestAttackTokenlessHugeBody(t *testing.T) {
	p, _ := startDev(t, "root")
	body := jsonArray(12 << 20) // 24 MiB
	pid := p.cmd.Process.Pid
	before := rssOf(t, pid)
	for _, tc := range []struct {
		name, token, path string
		chunked           bool
	}{
		{"kv no token", "", "/v1/secret/data/x", false},
		{"kv no token chunked", "", "/v1/secret/data/x", true},
		{"kv bogus token", "s.not-a-real-token", "/v1/secret/data/x", false},
		{"sys policy no token", "", "/v1/sys/policies/acl/x", false},
		{"sys mounts no token chunked", "", "/v1/sys/mounts/x", true},
		{"auth non-login no token", "", "/v1/auth/token/create", false},
		{"wrapping unwrap no token", "", "/v1/sys/wrapping/unwrap", true},
	} {
		code, resp := sendBody(t, p.addr, tc.token, tc.path, body, tc.chunked)
		if code != http.StatusForbidden && code != http.StatusRequestEntityTooLarge && code != http.StatusBadRequest {
			t.Errorf("%s: got %d %.200s, want 403 or 413", tc.name, code, resp)
		}
		if strings.Contains(resp, "JSON") {
			t.Errorf("%s: the answer speaks of JSON, so the body was parsed: %.200s", tc.name, resp)
		}
	}
	after := rssOf(t, pid)
	if grew := after - before; grew > 64<<20 {
		t.Fatalf("RSS grew by %d MiB over 7 token-less 24 MiB requests (%d -> %d MiB), want < 64 MiB", grew>>20, before>>20, after>>20)
	}
}

// TestAttackJSONShape: with a valid token, bodies of a hostile shape are
// refused with 400 naming the limit they break.
func TestAttackJSONShape(t *testing.T) {
	p, _ := startDev(t, "root")
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	for _, tc := range []struct {
		name, body, limit string
	}{
		{"deep arrays", `{"data":` + deep + `}`, "max_json_depth"},
		{"deep bare", deep, "max_json_depth"},
		{"deep objects", strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000), "max_json_depth"},
		{"huge array", `{"data":{"a":` + string(jsonArray(200000)) + `}}`, "max_json_array_element_count"},
		{"huge string", `{"data":{"a":"` + strings.Repeat("x", 2<<20) + `"}}`, "max_json_string_value_length"},
		{"huge key", `{"data":{"` + strings.Repeat("k", 2<<20) + `":1}}`, "max_json_string_value_length"},
		{"huge object", `{"data":{` + objectEntries(200000) + `}}`, "max_json_object_entry_count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := rawRequest(t, p.addr, "root", "PUT", "/v1/secret/data/shape", strings.NewReader(tc.body))
			if code != http.StatusBadRequest || !strings.Contains(resp, tc.limit) {
				t.Fatalf("got %d %.300s, want 400 naming %s", code, resp, tc.limit)
			}
		})
	}
	// The same shapes to a sys route.
	code, resp := rawRequest(t, p.addr, "root", "PUT", "/v1/sys/policies/acl/x", strings.NewReader(`{"policy":`+deep+`}`))
	if code != http.StatusBadRequest || !strings.Contains(resp, "max_json_depth") {
		t.Fatalf("deep body to sys/policies/acl: got %d %.300s, want 400 naming max_json_depth", code, resp)
	}
	if _, err := newClient(t, p.addr, "root").KVv2("secret").Get(t.Context(), "shape"); statusOf(err) != http.StatusNotFound && err == nil {
		t.Fatalf("something was written at secret/shape: %v", err)
	}
}

func objectEntries(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":1`, i)
	}
	return b.String()
}

// TestAttackLoginBodyBound: paths served without a token take only a
// small body.
func TestAttackLoginBodyBound(t *testing.T) {
	p, root := startDev(t, "root")
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	big := []byte(`{"password":"` + strings.Repeat("p", 1<<20) + `"}`)
	for _, path := range []string{"/v1/auth/userpass/login/x", "/v1/sys/unseal", "/v1/sys/wrapping/lookup"} {
		for _, chunked := range []bool{false, true} {
			code, resp := sendBody(t, p.addr, "", path, big, chunked)
			if code != http.StatusRequestEntityTooLarge {
				t.Errorf("1 MiB token-less POST %s (chunked %v): got %d %.200s, want 413", path, chunked, code, resp)
			}
		}
	}
}

// TestAttackListenerLimits: the listener's max_request_size and
// max_json_depth from the config file take effect.
func TestAttackListenerLimits(t *testing.T) {
	p, root, _, _ := startListener(t, "max_request_size = 1024", "max_json_depth = 4")
	if err := root.Sys().Mount("secret", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	tok := root.Token()
	small := `{"data":{"a":"b"}}`
	if code, resp := rawRequest(t, p.addr, tok, "PUT", "/v1/secret/data/ok", strings.NewReader(small)); !served(code) {
		t.Fatalf("small write: %d %s", code, resp)
	}
	big := `{"data":{"a":"` + strings.Repeat("x", 2048) + `"}}`
	for _, chunked := range []bool{false, true} {
		code, resp := sendBody(t, p.addr, tok, "/v1/secret/data/big", []byte(big), chunked)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(resp, "max_request_size") {
			t.Errorf("2 KiB write with max_request_size = 1024 (chunked %v): got %d %s, want 413 naming max_request_size", chunked, code, resp)
		}
	}
	code, resp := sendBody(t, p.addr, tok, "/v1/sys/policies/acl/big", []byte(`{"policy":"`+strings.Repeat("#", 2048)+`"}`), false)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 KiB sys write with max_request_size = 1024: got %d %s, want 413", code, resp)
	}
	deep := `{"data":{"a":[[[[1]]]]}}`
	code, resp = rawRequest(t, p.addr, tok, "PUT", "/v1/secret/data/deep", strings.NewReader(deep))
	if code != http.StatusBadRequest || !strings.Contains(resp, "max_json_depth") {
		t.Errorf("depth 6 with max_json_depth = 4: got %d %s, want 400 naming max_json_depth", code, resp)
	}
}

// slowUpload opens a connection to addr and sends the headers of a PUT
// to path with token and a body of length bytes, of which it sends only
// the first few. The connection is closed at the end of the test.
func slowUpload(t *testing.T, addr, token, path string, length int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	auth := ""
	if token != "" {
		auth = "X-Vault-Token: " + token + "\r\n"
	}
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"data\":{\"a\":\"", path, addr, auth, length)
	return conn
}

// stalled is a slow upload that should hold one request slot. When the
// server answered it instead (it arrived while the slots were full), it
// is opened again.
type stalled struct {
	t                 *testing.T
	addr, token, path string
	conn              net.Conn
}

func newStalled(t *testing.T, addr, token, path string) *stalled {
	s := &stalled{t: t, addr: addr, token: token, path: path}
	s.conn = slowUpload(t, addr, token, path, 32<<10)
	return s
}

// refresh opens the upload again if the server has answered or closed
// it; it reports whether the upload was still waiting.
func (s *stalled) refresh() bool {
	s.t.Helper()
	if err := s.conn.SetReadDeadline(time.Now()); err != nil {
		s.t.Fatal(err)
	}
	var b [1]byte
	_, err := s.conn.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		if err := s.conn.SetReadDeadline(time.Time{}); err != nil {
			s.t.Fatal(err)
		}
		return true
	}
	s.conn.Close()
	s.conn = slowUpload(s.t, s.addr, s.token, s.path, 32<<10)
	return false
}

// fillSlots waits until a request with tok is refused with 503 while the
// uploads wait, re-opening any the server answered, and returns the
// last answer.
func fillSlots(t *testing.T, addr, tok string, uploads ...*stalled) (bool, int, string) {
	t.Helper()
	var code int
	var resp string
	ok := eventually(10*time.Second, func() bool {
		code, resp = rawRequest(t, addr, tok, "GET", "/v1/auth/token/lookup-self", nil)
		if code == http.StatusServiceUnavailable {
			return true
		}
		// An upload that met a full server was answered: open it again,
		// and give it the pause before the next probe to arrive.
		for _, u := range uploads {
			u.refresh()
		}
		return false
	})
	return ok, code, resp
}

// TestAttackConcurrencyLimit: with max_concurrent_requests = 1, a
// request held open by a slow upload does not keep the next one out.
func TestAttackConcurrencyLimit(t *testing.T) {
	// With one slot, an authenticated upload that stalls mid-body must not
	// hold it: waiting on a client costs no slot (the limit itself is
	// proven in process, in server's TestConcurrencyLimit).
	p, root, _, _ := startListener(t, "max_concurrent_requests = 1")
	conn := slowUpload(t, p.addr, root.Token(), "/v1/cubbyhole/slow", 1<<20)
	defer conn.Close()
	var code int
	var resp string
	if !eventually(10*time.Second, func() bool {
		code, resp = rawRequest(t, p.addr, root.Token(), "GET", "/v1/auth/token/lookup-self", nil)
		return code == http.StatusOK
	}) {
		t.Fatalf("a request while a stalled upload is open: got %d %s, want 200", code, resp)
	}
}

// TestAttackRequestDuration: max_request_duration bounds a request held
// open by a stalled upload, with a token or token-less to a login path:
// the server gives up on it long before its generic 30 s read timeout,
// so that stalled uploads cannot hold every max_concurrent_requests slot.
func TestAttackRequestDuration(t *testing.T) {
	p, root, _, _ := startListener(t, `max_request_duration = "1s"`)
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, token, path string }{
		{"with a token", root.Token(), "/v1/cubbyhole/slow"},
		{"token-less login", "", "/v1/auth/userpass/login/bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := slowUpload(t, p.addr, tc.token, tc.path, 32<<10)
			// Ten times the configured bound, and well under the 30 s
			// read timeout the server has anyway.
			if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("PUT %s with a stalled body was still open after 10 s with max_request_duration = 1s", tc.path)
				}
				return // the server closed the connection: it gave up
			}
			resp.Body.Close()
			if served(resp.StatusCode) {
				t.Fatalf("stalled upload: got %d, want a refusal", resp.StatusCode)
			}
		})
	}
}

// TestAttackWideJSONWithWeakToken: a default-policy token (anyone who
// can log in, or holds a wrapping token) posts 30 MiB of JSON to a path
// it may not write, shaped to stay under every per-array bound: ~1,500
// arrays of 9,990 elements each, 15 million values in all. The request
// must be refused without the server building those values: its RSS
// may grow by a few times the body, not by hundreds of MiB.
func TestAttackWideJSONWithWeakToken(t *testing.T) {
	p, root := startDev(t, "root")
	tok := childToken(t, root, "default")
	var b bytes.Buffer
	b.WriteString(`{"a":[`)
	inner := jsonArray(9990)
	for i := 0; b.Len()+len(inner)+4 < 30<<20; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(inner)
	}
	b.WriteString(`]}`)
	pid := p.cmd.Process.Pid
	before := rssOf(t, pid)
	code, resp := sendBody(t, p.addr, tok, "/v1/secret/data/x", b.Bytes(), false)
	after := rssOf(t, pid)
	if served(code) {
		t.Fatalf("30 MiB write with a default-policy token: %d %s, want a refusal", code, resp)
	}
	if grew := after - before; grew > 160<<20 {
		t.Fatalf("a %d MiB body from a default-policy token to a path it may not write (answer %d %q) grew the server's RSS by %d MiB (%d -> %d MiB), want < 160 MiB", b.Len()>>20, code, strings.TrimSpace(resp), grew>>20, before>>20, after>>20)
	}
}

// TestAttackStalledLoginsStarveServer: token-less callers open uploads
// to paths served without a token (a login, sys/unseal) and stall them.
// With max_concurrent_requests = 2 they take every slot, and the root
// token is refused with 503; max_request_duration = "1s" must free the
// slots well before the server's 30 s read timeout would.
func TestAttackStalledLoginsStarveServer(t *testing.T) {
	p, root, _, _ := startListener(t, "max_concurrent_requests = 2", `max_request_duration = "1s"`)
	if err := root.Sys().EnableAuthWithOptions("userpass", &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	login := newStalled(t, p.addr, "", "/v1/auth/userpass/login/bob")
	unsealUp := newStalled(t, p.addr, "", "/v1/sys/unseal")
	ok, code, resp := fillSlots(t, p.addr, root.Token(), login, unsealUp)
	if !ok {
		// The attack failed: token-less stalled uploads never took
		// every slot, so there is nothing for the duration to free.
		t.Logf("two stalled token-less uploads did not fill the slots: last %d %s", code, resp)
		return
	}
	if !eventually(10*time.Second, func() bool {
		code, resp = rawRequest(t, p.addr, root.Token(), "GET", "/v1/auth/token/lookup-self", nil)
		return code == http.StatusOK
	}) {
		t.Fatalf("two stalled token-less uploads still hold every slot after 10 s with max_request_duration = 1s: the root token gets %d %s", code, resp)
	}
}
