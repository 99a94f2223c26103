package e2e

import "time"

// eventually calls cond until it returns true or timeout has passed, and
// reports whether it returned true. The tests here drive real arca
// processes whose clocks they cannot move, so they wait for the state they
// expect (a server answering, a lease revoked) by asking for it, never by
// sleeping a guessed time. The caller fails the test with what cond last
// saw. Polls start 10ms apart and back off to 100ms.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := 10 * time.Millisecond
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(pause, left)) // between polls, not instead of one
		pause = min(2*pause, 100*time.Millisecond)
	}
	return true
}
