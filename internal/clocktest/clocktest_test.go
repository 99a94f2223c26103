package clocktest

import (
	"sync"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	c := New()
	if got := c.Now(); !got.Equal(Start) {
		t.Fatalf("new clock: got %v, want %v", got, Start)
	}
	if got := c.Now(); !got.Equal(Start) {
		t.Fatalf("second reading: got %v, want %v", got, Start)
	}
	c.Advance(90 * time.Minute)
	if got, want := c.Now(), Start.Add(90*time.Minute); !got.Equal(want) {
		t.Fatalf("after Advance: got %v, want %v", got, want)
	}
	later := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(later)
	if got := c.Now(); !got.Equal(later) {
		t.Fatalf("after Set: got %v, want %v", got, later)
	}
	if got := At(later).Now(); !got.Equal(later) {
		t.Fatalf("At: got %v, want %v", got, later)
	}
}

// Readers and movers may race (an engine's background loop reads while
// the test advances); run with -race.
func TestClockConcurrentUse(t *testing.T) {
	c := New()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), Start.Add(400*time.Second); !got.Equal(want) {
		t.Fatalf("after 400 advances of 1s: got %v, want %v", got, want)
	}
}
