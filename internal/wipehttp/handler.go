package wipehttp

import (
	"net/http"

	"github.com/arca-secrets/arca/secmem"
)

// Handler serves each request under secmem.Do, with its token headers
// taken out of net/http's strings for the time of the request.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secmem.Do(func() {
			TakeCredentials(r)
			defer DropCredentials(r)
			h.ServeHTTP(w, r)
		})
	})
}
