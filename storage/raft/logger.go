package raft

import (
	"io"
	"log/slog"

	hclog "github.com/hashicorp/go-hclog"
)

// newLogger gives Raft an hclog logger that writes to l at Info and above
// (discarded when l is nil).
func newLogger(l *slog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Info, Output: slogWriter{l}})
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Info(string(p))
	return len(p), nil
}

var _ io.Writer = slogWriter{}
