package wipehttp

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWriteBodyGoesPastTheResponseBuffer: a short answer is sent padded
// past net/http's 2 KiB buffer, still the same JSON, with its length; the
// caller's slice is left as it was (the agent's cache keeps it).
func TestWriteBodyGoesPastTheResponseBuffer(t *testing.T) {
	body := []byte(`{"data":{"password":"s3cret"}}` + "\n")
	keep := bytes.Clone(body)
	rec := httptest.NewRecorder()
	WriteBody(rec, http.StatusOK, body)
	if rec.Body.Len() <= netHTTPBodyBuffer {
		t.Fatalf("sent %d bytes, want more than %d", rec.Body.Len(), netHTTPBodyBuffer)
	}
	if rec.Header().Get("Content-Length") != "2049" {
		t.Fatalf("Content-Length %q", rec.Header().Get("Content-Length"))
	}
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("padded answer is not JSON: %v", err)
	}
	if !bytes.Equal(body, keep) {
		t.Fatal("WriteBody changed the caller's slice")
	}
	rec = httptest.NewRecorder()
	WriteBody(rec, http.StatusNoContent, nil)
	if rec.Body.Len() != 0 {
		t.Fatal("a 204 got a body")
	}
}

// TestConnClearsWhatPassesThrough: what Read is handed is cleared before
// it is filled, and a write from a buffer of net/http's size is cleared
// once written; a write from another slice is left alone.
func TestConnClearsWhatPassesThrough(t *testing.T) {
	a, b := net.Pipe()
	c := Conn{a}
	go func() { _, _ = b.Write([]byte("hi")) }()
	buf := bytes.Repeat([]byte{'x'}, 8)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "hi" || !bytes.Equal(buf[n:], make([]byte, 8-n)) {
		t.Fatalf("read %q %v: stale bytes left after the new ones", buf, err)
	}
	go func() { _, _ = io.Copy(io.Discard, b) }()
	wbuf := make([]byte, 10, netHTTPWriteBuffer)
	copy(wbuf, "token=abc;")
	if _, err := c.Write(wbuf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wbuf, make([]byte, 10)) {
		t.Fatalf("net/http-sized write buffer not cleared: %q", wbuf)
	}
	other := []byte("cached answer")
	if _, err := c.Write(other); err != nil {
		t.Fatal(err)
	}
	if string(other) != "cached answer" {
		t.Fatal("a slice that is not net/http's buffer was cleared")
	}
	c.Close()
}

// TestCredentialsTakenAndDropped: the token header's original string is
// cleared, the request keeps working with a copy, and after the request
// the header is gone.
func TestCredentialsTakenAndDropped(t *testing.T) {
	orig := string([]byte("s.abcdefghijklmnop"))
	r := httptest.NewRequest("GET", "/v1/x", nil)
	r.Header["X-Vault-Token"] = []string{orig}
	r.Header["User-Agent"] = []string{"t"}
	TakeCredentials(r)
	if r.Header.Get("X-Vault-Token") != "s.abcdefghijklmnop" {
		t.Fatalf("token after take: %q", r.Header.Get("X-Vault-Token"))
	}
	if orig == "s.abcdefghijklmnop" {
		t.Fatal("net/http's copy of the token was not cleared")
	}
	DropCredentials(r)
	if _, ok := r.Header["X-Vault-Token"]; ok || r.Header.Get("User-Agent") != "t" {
		t.Fatalf("after drop: %v", r.Header)
	}
}
