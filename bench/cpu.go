package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// every Linux this runs on; reading it needs sysconf, which Go does not
// expose without cgo).
const clockTicks = 100

// cpuSeconds is the CPU time (user and system, every thread) the
// processes have used so far, from /proc/<pid>/stat: what a server spent
// on a run, read beside ops/s on a machine whose other load changes the
// ops/s but not the work done per operation.
func cpuSeconds(pids []int) (float64, error) {
	var ticks uint64
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return 0, fmt.Errorf("bench: reading the CPU time of process %d: %w", pid, err)
		}
		// The command name (field 2) may hold spaces; the fields after
		// its closing parenthesis are fixed: utime and stime are the
		// 12th and 13th of them.
		i := bytes.LastIndexByte(raw, ')')
		if i < 0 {
			return 0, fmt.Errorf("bench: process %d: unexpected /proc stat", pid)
		}
		fields := bytes.Fields(raw[i+1:])
		if len(fields) < 13 {
			return 0, fmt.Errorf("bench: process %d: unexpected /proc stat", pid)
		}
		for _, f := range fields[11:13] {
			n, err := strconv.ParseUint(string(f), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bench: process %d: unexpected /proc stat: %w", pid, err)
			}
			ticks += n
		}
	}
	return float64(ticks) / clockTicks, nil
}
