// Package probe checks whether an address is still in use before the DHCP
// server hands it to a new client: by ARP on a directly attached link (a
// host answers ARP even when a firewall drops pings), or by ICMP echo for
// relayed subnets. Sockets are opened once, in the network namespace of the
// caller, and shared by every probe; a probe waits at most until its
// context ends.
package probe

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// Prober answers whether anything answers for addr before ctx ends.
type Prober interface {
	// Probe reports true when a host answered for addr. It returns false,
	// nil when nothing answered before ctx ended.
	Probe(ctx context.Context, addr netip.Addr) (bool, error)
	// Close stops the prober; probes in flight return.
	Close() error
}

// waiters wakes the probes waiting on an address when an answer for it arrives.
type waiters struct {
	mu sync.Mutex
	m  map[netip.Addr][]chan struct{}
}

func (w *waiters) add(a netip.Addr) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.m == nil {
		w.m = make(map[netip.Addr][]chan struct{})
	}
	w.m[a] = append(w.m[a], ch)
	w.mu.Unlock()
	return ch
}

func (w *waiters) remove(a netip.Addr, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[a]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, a)
	} else {
		w.m[a] = list
	}
}

func (w *waiters) wake(a netip.Addr) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.m[a] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// probe sends to addr now and once more halfway to ctx's deadline, and
// reports whether w was woken for addr before ctx ended.
func probe(ctx context.Context, w *waiters, addr netip.Addr, send func(netip.Addr) error) (bool, error) {
	ch := w.add(addr)
	defer w.remove(addr, ch)
	if err := send(addr); err != nil {
		return false, err
	}
	var again <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		t := time.NewTimer(time.Until(dl) / 2)
		defer t.Stop()
		again = t.C
	}
	for {
		select {
		case <-ch:
			return true, nil
		case <-again:
			again = nil
			_ = send(addr) // the first send worked; a second is only a retry
		case <-ctx.Done():
			return false, nil
		}
	}
}
