package wipehttp

import (
	"net/http"
	"strings"
	"unsafe"
)

// credentialHeaders carry tokens.
var credentialHeaders = []string{"X-Vault-Token", "Authorization"}

// TakeCredentials moves the token headers' values into new strings and
// clears net/http's copies, which net/http keeps alive with the request
// until the connection's next one; DropCredentials lets the new strings
// go when the request ends, so the collector overwrites them. Only HTTP/1: HTTP/2
// shares header values with the connection's header table, which must
// stay intact.
func TakeCredentials(r *http.Request) {
	if r.ProtoMajor != 1 {
		return
	}
	for _, name := range credentialHeaders {
		values := r.Header[name]
		for i, v := range values {
			values[i] = strings.Clone(v)
			wipeString(v)
		}
	}
}

// DropCredentials removes the token headers from the request, whose
// header map net/http keeps until the next request on the connection, so
// that the strings TakeCredentials made become garbage (and are erased)
// with the rest of the request.
func DropCredentials(r *http.Request) {
	for _, name := range credentialHeaders {
		// net/http cuts all of a request's header values from one
		// array, which other headers keep alive: empty the slots too.
		clear(r.Header[name])
		delete(r.Header, name)
	}
}

// wipeString clears the bytes of a string that this process allocated at
// run time and that nothing else still reads.
func wipeString(s string) {
	if len(s) < 2 {
		// The runtime shares one-byte strings from a static table.
		return
	}
	clear(unsafe.Slice(unsafe.StringData(s), len(s)))
}
