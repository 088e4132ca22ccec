// Package leasestest holds test doubles for code that needs a leases.Store.
package leasestest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// Memory is a leases.Store that keeps leases in a map, for tests of code
// that needs a Store. It validates leases like leases.Journal and copies them
// in and out, so callers cannot alias its contents.
type Memory struct {
	mu     sync.Mutex
	leases map[netip.Addr]leases.Lease
	closed bool
}

var _ leases.Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{leases: make(map[netip.Addr]leases.Lease)}
}

// Load returns copies of every lease, ordered by address.
func (m *Memory) Load(ctx context.Context) ([]leases.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, leases.ErrClosed
	}
	out := make([]leases.Lease, 0, len(m.leases))
	for _, l := range m.leases {
		out = append(out, l.Clone())
	}
	slices.SortFunc(out, func(a, b leases.Lease) int { return a.Addr.Compare(b.Addr) })
	return out, nil
}

// Put stores copies of the leases, replacing any lease for the same address.
func (m *Memory) Put(ctx context.Context, ls ...leases.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range ls {
		if err := ls[i].Validate(); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return leases.ErrClosed
	}
	for _, l := range ls {
		m.leases[l.Addr] = normalize(l.Clone())
	}
	return nil
}

// normalize makes a lease look the way the journal returns it, so tests
// written against Memory hold for the journal too: empty byte slices become nil.
func normalize(l leases.Lease) leases.Lease {
	if len(l.HWAddr) == 0 {
		l.HWAddr = nil
	}
	if len(l.ClientID) == 0 {
		l.ClientID = nil
	}
	return l
}

// Delete removes the leases for these addresses.
func (m *Memory) Delete(ctx context.Context, addrs ...netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, a := range addrs {
		if !a.Is4() {
			return fmt.Errorf("lease address %v is not an IPv4 address", a)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return leases.ErrClosed
	}
	for _, a := range addrs {
		delete(m.leases, a)
	}
	return nil
}

// Close marks the store closed and drops its contents. Closing twice is harmless.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.leases = nil
	return nil
}
