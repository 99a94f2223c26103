package wipehttp

import "net/http"

// Handler serves each request with its token headers taken out of
// net/http's strings for the time of the request (TakeCredentials).
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		TakeCredentials(r)
		defer DropCredentials(r)
		h.ServeHTTP(w, r)
	})
}
