package leases

import (
	"context"
	"net/netip"
	"slices"
	"sync"
)

// Memory is a Store that keeps leases in a map: for tests of code that needs
// a Store, and for a server run that must leave nothing on disk. It validates
// leases exactly like Bolt and copies them in and out, so callers cannot alias
// its contents.
type Memory struct {
	mu     sync.Mutex
	leases map[netip.Addr]Lease
	closed bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{leases: make(map[netip.Addr]Lease)}
}

// Load returns copies of every lease, ordered by address.
func (m *Memory) Load(ctx context.Context) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	out := make([]Lease, 0, len(m.leases))
	for _, l := range m.leases {
		out = append(out, l.Clone())
	}
	slices.SortFunc(out, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	return out, nil
}

// Put stores copies of the leases, replacing any lease for the same address.
func (m *Memory) Put(ctx context.Context, ls ...Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateAll(ls); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, l := range ls {
		m.leases[l.Addr] = normalize(l.Clone())
	}
	return nil
}

// normalize makes a lease look the way Bolt returns it, so tests written
// against Memory hold for Bolt too: empty byte slices become nil.
func normalize(l Lease) Lease {
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
	if err := validateAddrs(addrs); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
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
