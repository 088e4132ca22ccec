// Package alloc is the DHCP server's address allocator: which address a
// client is offered, which REQUEST becomes a lease, and what runs out when.
//
// Its API follows a client's life: Offer picks and holds an address for a
// DISCOVER; an address whose last holder may still use it is first checked
// (Offer says CheckNeeded, the caller probes the address, Await registers
// the request that waits, Checked reports the probe's answer and wakes it);
// Commit turns a REQUEST into lease records to store, with an Undo for when
// the store fails; Release and Decline end a lease; Sweep ends holds,
// probations and leases that ran out. Load fills the allocator from the
// lease store; Snapshot and Counts read it.
//
// Addresses are allocated in O(1): never-used addresses in order first,
// then freed ones, the longest free first. Every method takes one lock and
// none blocks on I/O; the caller stores the records Commit, Release,
// Decline and Sweep return.
package alloc

import (
	"net/netip"
	"sync"
	"time"
)

// NoClass is the class of a client in no class.
const NoClass = -1

// Pool is one range of addresses to hand out.
type Pool struct {
	Start, End netip.Addr
	// Classes, when not empty, are the only classes (by index) the pool
	// serves; an empty list serves every client.
	Classes []int
}

// allows reports whether a client of class cl may get an address from p.
func (p *Pool) allows(cl int) bool {
	if len(p.Classes) == 0 {
		return true
	}
	for _, c := range p.Classes {
		if c == cl {
			return true
		}
	}
	return false
}

// Limit caps the addresses of a subnet's open pools (pools for every
// class) that clients in no class may hold, leases and offers together.
type Limit struct {
	Set     bool // false: no cap
	Percent bool // N is a share of the open pools' addresses in percent
	N       int
}

// Of is the number of addresses the limit allows out of open addresses,
// or -1 for no limit.
func (l Limit) Of(open int) int {
	switch {
	case !l.Set:
		return -1
	case l.Percent:
		return open * l.N / 100
	}
	return l.N
}

// Subnet is one network the allocator serves.
type Subnet struct {
	Prefix netip.Prefix
	Pools  []Pool
	// Reservations maps an identity key (see ID) to its reserved address.
	Reservations map[string]netip.Addr
	Unclassified Limit
}

// Config is what the allocator serves and for how long it holds things.
type Config struct {
	Subnets []Subnet
	// OfferHold is how long an offer keeps its address for the client,
	// and how long a silent address check counts as fresh.
	OfferHold time.Duration
	// Quarantine is how long a declined address, or one an address check
	// found in use, stays out of the pools.
	Quarantine time.Duration
	// PressureHold is how old an offer must be before another client may
	// take its address from a pool with no free address; 0 never.
	PressureHold time.Duration
}

// ID is how a client is known: its client identifier, else its hardware
// address. Key is the identity as a map key (see ClientIDKey, HWKey).
type ID struct {
	ClientID []byte
	HWAddr   []byte
	Key      string
}

// NewID is the identity of a client that sent clientID (option 61, may be
// empty) and hwaddr (chaddr).
func NewID(clientID, hwaddr []byte) ID {
	id := ID{ClientID: clientID, HWAddr: hwaddr}
	if len(clientID) > 0 {
		id.Key = ClientIDKey(clientID)
	} else {
		id.Key = HWKey(hwaddr)
	}
	return id
}

// ClientIDKey is the identity key of a client identifier.
func ClientIDKey(id []byte) string { return "i" + string(id) }

// HWKey is the identity key of a hardware address.
func HWKey(mac []byte) string { return "h" + string(mac) }

// hwKeyBytes writes HWKey(mac) into buf without allocating; index maps
// with string(hwKeyBytes(...)) to look up without a copy.
func hwKeyBytes(buf *[17]byte, mac []byte) []byte {
	return append(append(buf[:0], 'h'), mac...)
}

// Lookup finds id in a map by identity key: by its key, else by its
// hardware address (an entry made for the MAC matches a client that also
// sends a client identifier).
func Lookup[V any](m map[string]V, id ID) (V, bool) {
	if v, ok := m[id.Key]; ok {
		return v, true
	}
	var buf [17]byte
	v, ok := m[string(hwKeyBytes(&buf, id.HWAddr))]
	return v, ok
}

// keyMatches reports whether the identity key k is id's (by client
// identifier or by MAC).
func keyMatches(k string, id ID) bool {
	var buf [17]byte
	return k == id.Key || k == string(hwKeyBytes(&buf, id.HWAddr))
}

// Allocator is the lease state of every subnet. It is safe for concurrent
// use.
type Allocator struct {
	mu       sync.Mutex
	byAddr   map[uint32]*binding // by IPv4 address (see u32)
	subnets  []*subnetState
	expiries expiryHeap
	holds    []timer // holds outside every pool (reservations)
	quar     []timer
	cfg      Config
	// vendorClasses interns option 60 values: thousands of phones send a
	// handful of strings.
	vendorClasses map[string]string
	// slab is where the next bindings come from (see binding).
	slab []binding
}

// New builds an allocator for cfg with no lease in it.
func New(cfg Config) *Allocator {
	a := &Allocator{byAddr: map[uint32]*binding{}, cfg: cfg, vendorClasses: map[string]string{}}
	for i := range cfg.Subnets {
		a.subnets = append(a.subnets, newSubnetState(&cfg.Subnets[i]))
	}
	return a
}

func newSubnetState(s *Subnet) *subnetState {
	ss := &subnetState{cfg: s, owner: map[string]*binding{}, held: map[string]*binding{},
		resByAddr: make(map[netip.Addr]string, len(s.Reservations))}
	for k, a := range s.Reservations {
		ss.resByAddr[a] = k
	}
	open := 0
	for i := range s.Pools {
		r := &s.Pools[i]
		ps := &poolState{r: r, subnet: ss, cursor: u32(r.Start), end: u32(r.End)}
		ps.total = int(ps.end-ps.cursor) + 1
		for a := range ss.resByAddr {
			if inRange(a, r) {
				ps.total--
			}
		}
		if len(r.Classes) == 0 {
			open += ps.total
		}
		ss.pools = append(ss.pools, ps)
	}
	ss.unclMax = s.Unclassified.Of(open)
	return ss
}

// maxInterned bounds the intern table, so odd clients cannot grow it.
const maxInterned = 4096

// intern returns a shared copy of b; the caller holds a.mu.
func (a *Allocator) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := a.vendorClasses[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(a.vendorClasses) < maxInterned {
		a.vendorClasses[s] = s
	}
	return s
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func a32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func inRange(a netip.Addr, r *Pool) bool { return !a.Less(r.Start) && !r.End.Less(a) }

func (a *Allocator) subnetOf(addr netip.Addr) *subnetState {
	for _, s := range a.subnets {
		if s.cfg.Prefix.Contains(addr) {
			return s
		}
	}
	return nil
}

// binding returns the state of addr, creating it; the caller holds a.mu.
func (a *Allocator) binding(ss *subnetState, addr netip.Addr) *binding {
	b := a.byAddr[u32(addr)]
	if b == nil {
		if len(a.slab) == 0 {
			a.slab = make([]binding, bindingsPerSlab)
		}
		b, a.slab = &a.slab[0], a.slab[1:]
		*b = binding{ip: u32(addr), subnet: ss, pool: ss.poolOf(addr), heapIdx: -1}
		a.byAddr[b.ip] = b
	}
	return b
}

// bindingsPerSlab is how many bindings are allocated at once. An address
// keeps its binding for the allocator's life, so bindings are made in
// slabs rather than one by one: a slab is packed with bindings only, where
// single ones would share the heap's pages with each DHCP exchange's
// short-lived objects of their size and keep those pages from going back
// to the system. A slab fills 8 KiB, one of the heap's size classes
// (TestSlabFillsASizeClass).
const bindingsPerSlab = 44

// lookup returns the binding of addr, or nil when the allocator has none.
func (a *Allocator) lookup(addr netip.Addr) *binding {
	if !addr.Is4() {
		return nil
	}
	return a.byAddr[u32(addr)]
}
