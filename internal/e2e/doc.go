// Package e2e holds end-to-end tests: each starts real arca server
// processes on loopback and drives them over real sockets with the OpenBao
// API client, a client nobody here wrote. The package has no code of its
// own outside tests.
package e2e
