package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/cluster"
	"github.com/arca-secrets/arca/core"
	"github.com/arca-secrets/arca/internal/wipehttp"
	"github.com/arca-secrets/arca/lease"
	"github.com/arca-secrets/arca/logical"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/storage/raft"
)

// respondJSON writes v as the whole body.
func respondJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every answer is made of JSON-encodable values; this is a bug.
		respondError(w, http.StatusInternalServerError, errors.New("encoding the answer failed"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	wipehttp.WriteBody(w, status, append(body, '\n'))
	clear(body)
}

// respondError writes Vault's error shape: {"errors":["..."]}.
func respondError(w http.ResponseWriter, status int, err error) {
	msgs := []string{}
	if err != nil {
		msgs = append(msgs, err.Error())
	}
	respondJSON(w, status, map[string][]string{"errors": msgs})
}

// statusOf maps an error to its HTTP status: the one place that does.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable
	case errors.Is(err, errSlowBody):
		return http.StatusRequestTimeout
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, lease.ErrRetry):
		return http.StatusBadRequest
	case errors.Is(err, core.ErrSealed), errors.Is(err, barrier.ErrSealed), errors.Is(err, seal.ErrUnavailable),
		errors.Is(err, raft.ErrNotLeader), errors.Is(err, cluster.ErrNotActive):
		return http.StatusServiceUnavailable
	case errors.Is(err, cluster.ErrInconsistent):
		return http.StatusPreconditionFailed
	case errors.Is(err, cluster.ErrJoinRefused):
		return http.StatusForbidden
	case errors.Is(err, cluster.ErrInvalid), errors.Is(err, cluster.ErrNoJoin), errors.Is(err, raft.ErrHasState):
		return http.StatusBadRequest
	case errors.Is(err, core.ErrPermissionDenied), errors.Is(err, logical.ErrPermissionDenied):
		return http.StatusForbidden
	case errors.Is(err, core.ErrNoMount), errors.Is(err, logical.ErrUnsupportedPath), errors.Is(err, logical.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, logical.ErrUpstream):
		return http.StatusBadGateway
	case errors.Is(err, logical.ErrUnsupportedOperation):
		return http.StatusMethodNotAllowed
	case errors.Is(err, core.ErrInvalidRequest), errors.Is(err, logical.ErrInvalidRequest),
		errors.Is(err, core.ErrInvalidUnsealKey), errors.Is(err, core.ErrUnsealFailed),
		errors.Is(err, core.ErrAlreadyInitialized), errors.Is(err, core.ErrNotInitialized),
		errors.Is(err, core.ErrNoRekey), errors.Is(err, core.ErrRekeyInProgress),
		errors.Is(err, core.ErrNonceMismatch), errors.Is(err, errBadRequest),
		errors.Is(err, core.ErrSharesRejected),
		errors.Is(err, core.ErrInvalidWrapping), errors.Is(err, logical.ErrInvalidRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// errBadRequest marks errors found while decoding a request.
var errBadRequest = errors.New("bad request")

// badRequest is an error the client caused, shown to it as msg.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }
func (e *badRequest) Unwrap() error { return errBadRequest }

// respondErr writes err with its status. Internal errors are logged and
// answered with a generic message, so no storage detail reaches a client.
func (s *Server) respondErr(w http.ResponseWriter, r *http.Request, err error) {
	noteNotLeader(r, err)
	status := statusOf(err)
	if errors.Is(err, core.ErrAudit) {
		// Say why, without the device's details (paths), which are logged.
		respondError(w, status, core.ErrAudit)
		return
	}
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "path", r.URL.Path, "method", r.Method, "error", err)
		respondError(w, status, errors.New("internal error"))
		return
	}
	var le *logical.Error
	if errors.As(err, &le) {
		respondError(w, status, le)
		return
	}
	respondError(w, status, err)
}
