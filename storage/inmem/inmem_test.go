package inmem

import (
	"testing"

	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return New() })
}

func BenchmarkInmem(b *testing.B) {
	storagetest.RunBenchmarks(b, func(b *testing.B) storage.Backend { return New() })
}
