package approle

import (
	"time"

	"github.com/arca-secrets/arca/logical"
)

// NewWithClock is Factory with an injected clock, for tests.
func NewWithClock(conf logical.MountConfig, now func() time.Time) logical.Engine {
	return newEngine(conf, now)
}
