//go:build unix

package audit

import (
	"fmt"
	"log/syslog"
	"syscall"
)

// syscallNoFollow refuses to open the audit path through a symlink.
const syscallNoFollow = syscall.O_NOFOLLOW

// NewSyslog returns a device writing to the local syslog with facility
// (such as "AUTH", "LOCAL0") and tag.
func NewSyslog(facility, tag string) (Device, error) {
	fac, ok := map[string]syslog.Priority{
		"AUTH": syslog.LOG_AUTH, "AUTHPRIV": syslog.LOG_AUTHPRIV, "DAEMON": syslog.LOG_DAEMON, "USER": syslog.LOG_USER,
		"LOCAL0": syslog.LOG_LOCAL0, "LOCAL1": syslog.LOG_LOCAL1, "LOCAL2": syslog.LOG_LOCAL2, "LOCAL3": syslog.LOG_LOCAL3,
		"LOCAL4": syslog.LOG_LOCAL4, "LOCAL5": syslog.LOG_LOCAL5, "LOCAL6": syslog.LOG_LOCAL6, "LOCAL7": syslog.LOG_LOCAL7,
	}[facility]
	if !ok {
		return nil, fmt.Errorf("unknown syslog facility %q", facility)
	}
	if tag == "" {
		tag = "arca"
	}
	w, err := syslog.New(fac|syslog.LOG_INFO, tag)
	if err != nil {
		return nil, fmt.Errorf("connecting to syslog: %w", err)
	}
	return &writerDevice{w: w}, nil
}
