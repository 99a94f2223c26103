package assemble

import (
	"fmt"

	"github.com/arca-secrets/arca/internal/config"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/bolt"
	"github.com/arca-secrets/arca/storage/inmem"
)

// OpenStorage opens the configured backend. applied is told of the keys
// of writes a raft node applies that it did not make (for core's
// Invalidate).
func OpenStorage(conf *config.Config, applied func(keys []string)) (storage.Backend, func() error, error) {
	switch conf.Storage.Type {
	case "raft":
		return openRaft(conf, applied)
	case "inmem":
		return inmem.New(), func() error { return nil }, nil
	case "bolt":
		b, err := bolt.Open(conf.Storage.Path, bolt.Options{})
		if err != nil {
			return nil, nil, err
		}
		return b, b.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown storage type %q", conf.Storage.Type)
}
