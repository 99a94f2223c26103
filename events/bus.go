// Package events is the server's change-event bus. Core publishes an
// Event when something a reader may have cached changes (a KV write or
// delete, a lease revoked, a policy or workload role changed); each
// subscriber (a WebSocket on sys/events/subscribe/:type) gets the events
// that match its pattern and pass its filter (the subscriber's ACL).
//
// A writer never waits for a subscriber: Publish hands the event to one
// dispatcher through a bounded queue and returns. The dispatcher filters
// and copies it into each subscriber's bounded queue; a full queue drops
// the event and counts it, and the subscriber is told how many it missed,
// so it can re-read what it holds. Events carry paths and operations,
// never values.
package events

import (
	"errors"
	"path"
	"sync"
	"time"
)

// Errors a subscription ends with (Subscription.Err).
var (
	// ErrTokenRevoked: the subscriber's token was revoked.
	ErrTokenRevoked = errors.New("the subscription's token was revoked")
	// ErrClosed: the bus was closed (the server is stopping).
	ErrClosed = errors.New("the event bus is closed")
	// ErrSealed: the server was sealed; subscribe again once it is
	// unsealed.
	ErrSealed = errors.New("the server was sealed: subscribe again once it is unsealed")
	// ErrNotActive: the node is no longer the cluster's active node, and
	// publishes nothing more; subscribe again (a standby forwards the
	// subscription to the new active node).
	ErrNotActive = errors.New("this node is no longer the active node: subscribe again")
)

// Retry says whether a subscription that ended with err may be made
// again at once: the node sealed, stepped down or stopped, not a token
// revoked.
func Retry(err error) bool {
	return errors.Is(err, ErrSealed) || errors.Is(err, ErrNotActive) || errors.Is(err, ErrClosed)
}

// Default queue sizes (Config).
const (
	DefaultQueue           = 256
	DefaultDispatcherQueue = 4096
)

// Config is what a Bus is built from.
type Config struct {
	// Now stamps events; time.Now when nil.
	Now func() time.Time
	// Index, when set, stamps each event with the X-Vault-Index of the
	// state it is published in (Event.Index): a cluster's applied index,
	// read after the change was applied.
	Index func() string
	// Queue bounds each subscriber's queue (DefaultQueue when 0).
	Queue int
	// DispatcherQueue bounds the events waiting for the dispatcher
	// (DefaultDispatcherQueue when 0). When it is full an event is dropped
	// and every subscriber is told it missed one.
	DispatcherQueue int
}

// Bus fans events out to subscriptions. A nil *Bus publishes nothing, so
// a core built without one needs no checks.
type Bus struct {
	now   func() time.Time
	index func() string
	queue int
	in    chan Event
	// missedIn counts events the dispatcher's queue had no room for.
	mu       sync.Mutex
	missedIn int
	subs     map[*Subscription]struct{}
	closed   bool
	done     chan struct{}
}

// New starts a bus and its dispatcher; Close stops them.
func New(cfg Config) *Bus {
	b := &Bus{now: cfg.Now, index: cfg.Index, queue: cfg.Queue, subs: map[*Subscription]struct{}{}, done: make(chan struct{})}
	if b.now == nil {
		b.now = time.Now
	}
	if b.queue <= 0 {
		b.queue = DefaultQueue
	}
	n := cfg.DispatcherQueue
	if n <= 0 {
		n = DefaultDispatcherQueue
	}
	b.in = make(chan Event, n)
	go b.dispatch()
	return b
}

// Publish queues ev for the subscribers and returns at once.
func (b *Bus) Publish(ev Event) {
	if b == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = b.now()
	}
	if ev.ID == "" {
		ev.ID = newID()
	}
	if b.index != nil && ev.Index == "" {
		ev.Index = b.index()
	}
	select {
	case b.in <- ev:
	default:
		b.mu.Lock()
		b.missedIn++
		b.mu.Unlock()
	}
}

// RevokeToken ends the subscriptions made with the token of accessor.
func (b *Bus) RevokeToken(accessor string) {
	if b == nil || accessor == "" {
		return
	}
	b.mu.Lock()
	var ended []*Subscription
	for s := range b.subs {
		if s.accessor == accessor {
			ended = append(ended, s)
		}
	}
	b.mu.Unlock()
	for _, s := range ended {
		s.end(ErrTokenRevoked)
	}
}

// EndAll ends every subscription with err (ErrSealed, ErrNotActive);
// the bus takes new ones.
func (b *Bus) EndAll(err error) {
	if b == nil {
		return
	}
	b.mu.Lock()
	subs := b.subs
	b.subs = map[*Subscription]struct{}{}
	b.mu.Unlock()
	for s := range subs {
		s.end(err)
	}
}

// Close ends every subscription and stops the dispatcher.
func (b *Bus) Close() {
	if b == nil {
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	close(b.done)
	b.EndAll(ErrClosed)
}

// Subscribers is how many subscriptions are open.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Filter decides whether a subscriber may learn of ev; it runs on the
// dispatcher (events it refuses never take room in the queue, so they
// cannot make the subscriber miss others) and must not block for long.
type Filter func(ev Event) bool

// Subscribe opens a subscription to the events whose type matches pattern
// (a glob: "kv-v2/data-write", "kv*", "*") and that filter lets through.
// accessor names the subscriber's token, for RevokeToken.
func (b *Bus) Subscribe(pattern, accessor string, filter Filter) (*Subscription, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, ErrBadPattern
	}
	s := &Subscription{bus: b, pattern: pattern, accessor: accessor, filter: filter, limit: b.queue,
		ready: make(chan struct{}, 1), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	return s, nil
}

// ErrBadPattern: the event type pattern is not a valid glob.
var ErrBadPattern = errors.New("invalid event type pattern")

func (b *Bus) dispatch() {
	for {
		select {
		case <-b.done:
			return
		case ev := <-b.in:
			// Encoded once here, not once per subscriber.
			if raw, err := ev.CloudEvent(); err == nil {
				ev.encoded = raw
			}
			b.mu.Lock()
			lost := b.missedIn
			b.missedIn = 0
			subs := make([]*Subscription, 0, len(b.subs))
			for s := range b.subs {
				subs = append(subs, s)
			}
			b.mu.Unlock()
			for _, s := range subs {
				s.offer(ev, lost)
			}
		}
	}
}

// Subscription is one subscriber's queue.
type Subscription struct {
	bus      *Bus
	pattern  string
	accessor string
	filter   Filter
	limit    int

	mu     sync.Mutex
	queue  []Event
	missed int
	err    error
	ready  chan struct{}
	done   chan struct{}
}

// offer queues ev if it matches and passes the filter; lost events
// (dropped before the dispatcher) count as missed for everyone, as the
// dispatcher cannot know whom they concerned.
func (s *Subscription) offer(ev Event, lost int) {
	want := matches(s.pattern, ev.Type) && (s.filter == nil || s.filter(ev))
	if !want && lost == 0 {
		return
	}
	s.mu.Lock()
	s.missed += lost
	if want {
		if len(s.queue) < s.limit {
			s.queue = append(s.queue, ev)
		} else {
			s.missed++
		}
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func matches(pattern, typ string) bool {
	ok, _ := path.Match(pattern, typ)
	if !ok && pattern != "" && pattern[len(pattern)-1] == '*' {
		// "kv*" covers "kv-v2/data-write": a trailing star crosses the
		// slash, as Vault's patterns do.
		ok = len(typ) >= len(pattern)-1 && typ[:len(pattern)-1] == pattern[:len(pattern)-1]
	}
	return ok
}

// Ready is signalled when Take has something to return.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Done is closed when the subscription has ended (see Err).
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err says why the subscription ended; nil while it lasts or after Close.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Take returns the queued events and how many were dropped since the
// last Take, and empties the queue.
func (s *Subscription) Take() ([]Event, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs, missed := s.queue, s.missed
	s.queue, s.missed = nil, 0
	return evs, missed
}

// Close ends the subscription.
func (s *Subscription) Close() { s.end(nil) }

func (s *Subscription) end(err error) {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	s.err = err
	close(s.done)
}
