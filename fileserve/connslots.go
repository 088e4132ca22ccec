package fileserve

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connSlots caps the connections the fast paths serve at once, HTTP and
// HTTPS together (HTTPConfig.MaxConnections). An accept loop takes a slot
// for each connection it accepts before serving it, so past the cap one
// accepted connection per listener waits, unread, and the others wait in
// the kernel's listen queue; a connection gives its slot back when it
// ends, or when it is handed to net/http (backup uploads and mounts, which
// are few).
//
// Keep-alive connections waiting for a next request that may never come
// must not hold the slots new phones need. While an accept loop waits, it
// closes some of them every evictEvery, those that have waited longest
// first (Server.closeIdleForRoom), until a slot frees. A client sees what
// it sees when any server times out an idle connection, and opens a new
// one.
type connSlots struct {
	tokens chan struct{}   // one per connection served; nil: no cap
	open   atomic.Int64    // connections served now, with or without a cap
	evict  func(n int) int // closes up to n idle keep-alive connections; returns how many

	waits  prometheus.Counter // accepts that found every slot taken
	closed prometheus.Counter // idle keep-alive connections closed to make room
}

// newConnSlots returns slots for max connections (0: no cap). evict is
// the server's (Server.closeIdleForRoom).
func newConnSlots(max int, m *metrics, evict func(n int) int) *connSlots {
	s := &connSlots{evict: evict, waits: m.connWaits, closed: m.connsClosedForRoom}
	if max > 0 {
		s.tokens = make(chan struct{}, max)
	}
	return s
}

// take waits for a slot; it reports false when stop is closed first.
func (s *connSlots) take(stop <-chan struct{}) bool {
	if !s.wait(stop) {
		return false
	}
	s.open.Add(1)
	return true
}

// alone reports whether the caller's connection is the only one served.
func (s *connSlots) alone() bool { return s.open.Load() <= 1 }

// evictEvery is how often an accept loop waiting for a slot closes idle
// keep-alive connections again: the connections busy when it began may
// have finished their response since.
const evictEvery = 10 * time.Millisecond

// wait takes a token; when none is free it closes idle keep-alive
// connections (evict), again every evictEvery, until a token frees or
// stop closes.
func (s *connSlots) wait(stop <-chan struct{}) bool {
	if s.tokens == nil {
		return true
	}
	select {
	case s.tokens <- struct{}{}:
		return true
	default:
	}
	s.waits.Inc()
	tick := time.NewTicker(evictEvery)
	defer tick.Stop()
	for {
		// As nginx does when its connections run out: close up to 32 idle
		// keep-alive connections (here 1/32 of the cap) and take a freed slot.
		if n := s.evict(max(1, cap(s.tokens)/32)); n > 0 {
			s.closed.Add(float64(n))
		}
		select {
		case s.tokens <- struct{}{}:
			return true
		case <-stop:
			return false
		case <-tick.C:
		}
	}
}

// give returns a slot taken with take.
func (s *connSlots) give() {
	s.open.Add(-1)
	if s.tokens != nil {
		<-s.tokens
	}
}
