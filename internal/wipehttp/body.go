package wipehttp

import (
	"bytes"
	"net/http"
	"strconv"
)

// netHTTPBodyBuffer is the size of the buffer net/http puts in front of a
// response's body, recycled between responses without being cleared.
const netHTTPBodyBuffer = 2 << 10

// WriteBody sends status and a copy of body. net/http copies a body
// written in pieces no longer than its 2 KiB response buffer into that
// buffer, which it recycles without clearing, so an answer's secret would
// stay there until a longer answer happened to overwrite it. A body longer
// than the buffer, written in one call, goes past it (to the connection's
// write buffer, which Conn clears), so a shorter body is sent padded with
// spaces, which JSON ignores. What is written is a copy (free for Conn to
// clear); body itself is left as it is, for callers that keep it.
func WriteBody(w http.ResponseWriter, status int, body []byte) {
	out := bytes.Clone(body)
	if len(body) > 0 && bodyAllowed(status) {
		out = Padded(body)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// Padded returns a copy of body, padded with spaces (and a final newline)
// past net/http's response buffer when it is no longer than that buffer.
// The load generator's ceiling answers with it, to move as many bytes as
// Arca does.
func Padded(body []byte) []byte {
	if len(body) > netHTTPBodyBuffer {
		return bytes.Clone(body)
	}
	out := make([]byte, netHTTPBodyBuffer+1)
	n := copy(out, body)
	for i := n; i < len(out)-1; i++ {
		out[i] = ' '
	}
	out[len(out)-1] = '\n'
	return out
}

// bodyAllowed reports whether an answer with status may carry a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
