package server

import "net/http"

// eraseMark lets a handler ask for freed memory to be erased as soon as
// its request is over.
type eraseMark struct{ now bool }

type eraseKey struct{}

// eraseAfter asks for the garbage of this request and all before it to be
// collected, and so erased, once the answer is sent.
func eraseAfter(r *http.Request) {
	if m, ok := r.Context().Value(eraseKey{}).(*eraseMark); ok {
		m.now = true
	}
}
