package agent

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// StaleHeader is set on a read served from the cache past its TTL while
// the server was unreachable: how far past the TTL it is, in whole
// seconds ("12s"). Age, as in Vault Agent's cache, is set on every answer
// from the cache: how long ago the server gave it, in whole seconds.
const StaleHeader = "X-Arca-Stale"

// errTooStale is the answer once the outage has outlasted max_stale.
var errTooStale = errors.New("arca agent: the server is unreachable and the cached value is older than max_stale")

// serverDown says whether a forward failed because the server could not
// answer: no connection, a timeout, or a sealed, standby-less or
// overloaded server (502, 503, 504). A refusal or a 500 is an answer.
func serverDown(rep *reply, err error) bool {
	if err != nil {
		return true
	}
	switch rep.status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// loginDown says whether getting a workload's token failed because the
// server could not answer (and not because it refused).
func loginDown(err error) bool {
	var se *serverError
	switch {
	case errors.Is(err, errNotReady), errors.Is(err, errSelfLookup):
		return false
	case errors.As(err, &se):
		return serverDown(&reply{status: se.status}, nil)
	}
	return true
}

// serveStale answers, from the cache, a read by the identity who that the
// server could not answer: the cached answer within max_stale past its
// TTL (with Age and X-Arca-Stale), a 503 past it. It returns false, and
// writes nothing, when nothing is cached for who (or max_stale is 0).
func serveStale(w http.ResponseWriter, kv *kvCache, who, uri string) bool {
	if kv == nil {
		return false
	}
	rep, st, age, past := kv.stale(who, uri)
	switch st {
	case withinMaxStale:
		setAge(w, age)
		w.Header().Set(StaleHeader, (past / time.Second * time.Second).String())
		writeReply(w, rep)
		return true
	case pastMaxStale:
		setAge(w, age)
		writeErr(w, http.StatusServiceUnavailable, errTooStale.Error())
		return true
	}
	return false
}

// setAge sets Age: how long ago the server gave a cached answer.
func setAge(w http.ResponseWriter, age time.Duration) {
	w.Header().Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
}
