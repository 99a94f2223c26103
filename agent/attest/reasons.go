package attest

import "sync/atomic"

// Reason says why a request on a connection was attested in full rather
// than re-checked (Conn.Identity).
type Reason int

// The reasons, in the order the re-check tests them.
const (
	ReasonFirst      Reason = iota // the connection's first request
	ReasonExited                   // the connecting process is gone (pidfd)
	ReasonPIDEpoch                 // the pid tracker cannot vouch that it saw every pid handed out since the holder scan (newpids.go)
	ReasonNewProcess               // too many processes were created on the host since the holder scan to look at each, or one could not be read
	ReasonNewHolder                // a process created since the holder scan holds the connection
	ReasonHolder                   // a holder exec'd, was replaced, or cannot be read
	ReasonTraced                   // a holder is traced
	ReasonCgroup                   // the connecting process moved to another cgroup
	numReasons
)

var reasonNames = [numReasons]string{"first", "exited", "pid_epoch", "new_process", "new_holder", "holder_changed", "traced", "cgroup"}

func (r Reason) String() string {
	if r < 0 || r >= numReasons {
		return "unknown"
	}
	return reasonNames[r]
}

// Reasons lists every reason, for metrics that show each from the start.
func Reasons() []Reason {
	out := make([]Reason, numReasons)
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

// fullCounts are the full attestations of this process's connections, by
// reason. Process-wide, as the exe hash cache is: an agent has one
// socket, and the counts are for its metrics.
var fullCounts [numReasons]atomic.Uint64

// FullAttestations is how many requests were attested in full for r.
func FullAttestations(r Reason) uint64 {
	if r < 0 || r >= numReasons {
		return 0
	}
	return fullCounts[r].Load()
}
