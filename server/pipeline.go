package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"

	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/internal/wipehttp"
	"github.com/arca-secrets/arca/logical"
)

// bodyReader returns the function core calls, once the token has been
// checked, to read the request's parameters: the JSON body for writes,
// the query for reads, lists and deletes (and a delete's body too). The
// body read is put back on r, so a sys handler decodes exactly the bytes
// the ACL judged.
func (s *Server) bodyReader(w http.ResponseWriter, r *http.Request, op logical.Operation) func(bool) (map[string]any, error) {
	return func(authenticated bool) (map[string]any, error) {
		data := map[string]any{}
		if op != logical.UpdateOperation && op != logical.PatchOperation {
			for k, v := range r.URL.Query() {
				if k == "list" || len(v) == 0 {
					continue
				}
				data[k] = v[0]
			}
			if op != logical.DeleteOperation {
				return data, nil
			}
		}
		limit := s.limits.MaxRequestSize
		if !authenticated {
			limit = s.limits.unauthenticatedBody()
		}
		raw, err := s.readBody(w, r, limit)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		body, err := s.decodeJSON(raw)
		if err != nil {
			return nil, err
		}
		for k, v := range body {
			data[k] = v
		}
		return data, nil
	}
}

// readBody reads r's body up to limit bytes.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &tooLarge{limit}
	}
	// Waiting on a client's bytes holds no slot of
	// max_concurrent_requests: a body that trickles in must not keep
	// others out. The slot is taken back to do the work.
	sl, _ := r.Context().Value(slotKey{}).(*slot)
	sl.release()
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if !sl.take() {
		return nil, errBusy
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &tooLarge{limit}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errSlowBody
		}
		return nil, &badRequest{"reading request body failed"}
	}
	return raw, nil
}

// decodeJSON decodes a JSON object body (numbers kept exact), after its
// shape has been checked against the listener's limits. An empty body
// is an empty map.
func (s *Server) decodeJSON(raw []byte) (map[string]any, error) {
	out := map[string]any{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return out, nil
	}
	if err := checkJSONShape(raw, s.limits.JSON); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, &badRequest{"failed to parse JSON input: " + jsonProblem(err)}
	}
	if dec.More() {
		return nil, &badRequest{"failed to parse JSON input: trailing data after the JSON object"}
	}
	return out, nil
}

type callKey struct{}

func withCall(r *http.Request, call *core.Call) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callKey{}, call))
}

// callOf is the pipeline's record of an authenticated sys request.
func callOf(r *http.Request) *core.Call {
	call, _ := r.Context().Value(callKey{}).(*core.Call)
	return call
}

// recorder holds a sys handler's answer until its audit entry is
// written: nothing reaches the client that was not recorded.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	// stream, when a handler sets it, takes the connection over once the
	// request is recorded (a WebSocket of events) instead of the answer.
	stream func(w http.ResponseWriter, r *http.Request)
}

var _ http.ResponseWriter = (*recorder)(nil)

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(b)
}

// recordedAnswer is a handler's own error answer, already written to the
// recorder: it is audited as an error and then sent as written.
type recordedAnswer struct {
	status int
	msgs   []string
}

func (e *recordedAnswer) Error() string {
	if len(e.msgs) == 0 {
		return http.StatusText(e.status)
	}
	return e.msgs[0]
}

// auditData is what the audit log records of the answer: its JSON
// object (the audit devices hash its values), or the handler's error.
func (rec *recorder) auditData() (map[string]any, error) {
	var body map[string]any
	_ = json.Unmarshal(rec.body.Bytes(), &body)
	if rec.status >= 400 {
		ra := &recordedAnswer{status: rec.status}
		if errs, ok := body["errors"].([]any); ok {
			for _, e := range errs {
				if s, ok := e.(string); ok {
					ra.msgs = append(ra.msgs, s)
				}
			}
		}
		return nil, ra
	}
	return body, nil
}

// flush sends the recorded answer.
func (rec *recorder) flush(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	status := rec.status
	if status == 0 {
		status = http.StatusNoContent
	}
	wipehttp.WriteBody(w, status, rec.body.Bytes())
	clear(rec.body.Bytes())
}
