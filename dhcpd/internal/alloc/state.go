package alloc

import (
	"net"
	"net/netip"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// binding is everything the allocator knows about one address: its durable
// lease record (mirroring the store), an in-memory offer hold, and the state
// of its address check.
type binding struct {
	subnet *subnetState
	pool   *poolState // nil outside every pool (a reservation)

	// The durable record; state 0 means none.
	record

	// The offer hold, in memory only; holdUncl when its client is in no class.
	holdKey   string
	holdUntil int64 // unix nanoseconds

	// The address check: checking while a probe runs for the holder, who
	// waits in wake (see Await); checkedAt when a check last found it
	// silent; quarantined until when a check found it answering.
	wake             func()
	checkedAt        int64
	quarantinedUntil int64

	gen     uint32 // counts changes, for Grant.Undo
	heapIdx int32  // in the expiry heap, or -1
	ip      uint32 // the address (see u32): 4 bytes where a netip.Addr takes 24

	holdUncl bool
	// uncl: the address counts against its subnet's unclassified limit
	// (see Allocator.account).
	uncl     bool
	checking bool
	queued   bool // on its pool's free queue
}

// addr is the binding's address.
func (b *binding) addr() netip.Addr { return a32(b.ip) }

// record is the durable part of a binding, kept whole for undoing a
// failed store write.
type record struct {
	// key is the identity of the holder (see ID), "" for a declined
	// address; it also keeps the holder's client identifier (see clientID).
	key string
	// hwaddr is the holder's chaddr; a part of key when key is its
	// HWKey, so most leases keep the address once.
	hwaddr        string
	hostname      string
	vendorClass   string
	class         string
	start, expiry int64 // unix seconds
	state         leases.State
	// needsCheck: the last holder may still use the address.
	needsCheck bool
}

// lease is b's durable record in the store's form.
func (b *binding) lease() leases.Lease {
	return leases.Lease{
		Addr:        b.addr(),
		HWAddr:      b.hardwareAddr(),
		ClientID:    b.clientID(),
		Subnet:      b.subnet.cfg.Prefix,
		Hostname:    b.hostname,
		VendorClass: b.vendorClass,
		Class:       b.class,
		Start:       time.Unix(b.start, 0),
		Expiry:      time.Unix(b.expiry, 0),
		State:       b.state,
	}
}

// hardwareAddr is a copy of the holder's chaddr, nil when none is known.
func (r *record) hardwareAddr() net.HardwareAddr {
	if r.hwaddr == "" {
		return nil
	}
	return net.HardwareAddr(r.hwaddr)
}

// hwaddrOf is mac as record.hwaddr keeps it: a part of key when key is
// mac's HWKey (which ends with it), else a copy.
func hwaddrOf(key string, mac []byte) string {
	var buf [17]byte
	if key == string(hwKeyBytes(&buf, mac)) {
		return key[len(key)-len(mac):]
	}
	return string(mac)
}

// hasClientID reports whether the holder sent a client identifier: its
// key is then ClientIDKey of it.
func (r *record) hasClientID() bool { return len(r.key) > 1 && r.key[0] == 'i' }

// clientID is a copy of the holder's client identifier, or nil when it sent
// none: the key holds it, so the record does not keep it twice.
func (r *record) clientID() []byte {
	if !r.hasClientID() {
		return nil
	}
	return []byte(r.key[1:])
}

// availableTo reports whether the address may go to the identity key at
// nowNS: not held or leased by someone else, not declined or quarantined.
func (b *binding) availableTo(key string, nowNS int64) bool {
	now := nowNS / 1e9
	if b.holdKey != "" && b.holdKey != key && b.holdUntil > nowNS {
		return false
	}
	if b.quarantinedUntil > nowNS {
		return false
	}
	switch b.state {
	case leases.Active:
		return b.key == key || b.expiry <= now
	case leases.Declined:
		return b.expiry <= now
	}
	return true
}

// mustCheck reports whether the address needs a check before it goes to key:
// its last holder was someone else whose lease ran out (it may still use
// the address) or it was declined, and no check found it silent lately.
func (b *binding) mustCheck(key string, nowNS int64, fresh time.Duration) bool {
	if b == nil || b.key == key {
		return false
	}
	risky := b.needsCheck || (b.state == leases.Active && b.expiry <= nowNS/1e9) || b.state == leases.Expired
	return risky && nowNS-b.checkedAt > int64(fresh)
}

func (b *binding) ownedBy(id ID) bool {
	if b.key == "" {
		return false
	}
	var buf [17]byte
	return b.key == id.Key || (!b.hasClientID() && b.key == string(hwKeyBytes(&buf, id.HWAddr)))
}

// setState moves b to state s, keeping the pool counters right.
func (b *binding) setState(s leases.State) {
	if p := b.pool; p != nil {
		switch b.state {
		case leases.Active:
			p.assigned--
		case leases.Declined:
			p.declined--
		}
		switch s {
		case leases.Active:
			p.assigned++
		case leases.Declined:
			p.declined++
		}
	}
	b.state = s
}

// poolState hands out the addresses of one pool: never-used addresses in
// order first (the cursor), then freed ones, the longest free first (the
// queue). Both steps are O(1) amortised.
type poolState struct {
	r      *Pool
	subnet *subnetState
	cursor uint32 // next never-used address
	end    uint32
	queue  []*binding
	head   int
	// holds are the offer holds on the pool's addresses, oldest first.
	holds    []timer
	total    int
	assigned int
	declined int
}

func (p *poolState) push(b *binding) {
	if b.queued {
		return
	}
	b.queued = true
	if p.head > 1024 && p.head > len(p.queue)/2 {
		p.queue = append(p.queue[:0], p.queue[p.head:]...)
		p.head = 0
	}
	p.queue = append(p.queue, b)
}

func (p *poolState) pop() *binding {
	if p.head >= len(p.queue) {
		return nil
	}
	b := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	b.queued = false
	return b
}

// subnetState is the run-time side of a Subnet.
type subnetState struct {
	cfg       *Subnet
	resByAddr map[netip.Addr]string // reserved address → identity key
	pools     []*poolState
	// owner maps an identity to the binding it holds or last held here.
	owner map[string]*binding
	// held maps an identity to the address held for its REQUEST.
	held map[string]*binding
	// uncl counts the open-pool addresses unclassified clients hold
	// (leases and offers); unclMax caps it, -1 for no cap.
	uncl, unclMax int
}

// unclassifiedFull reports whether an unclassified client may not take
// one more address in ss (b, when set, is the address it would take: one
// it counts for already costs nothing).
func (ss *subnetState) unclassifiedFull(b *binding) bool {
	return ss.unclMax >= 0 && ss.uncl >= ss.unclMax && (b == nil || !b.uncl)
}

func (ss *subnetState) poolOf(a netip.Addr) *poolState {
	for _, p := range ss.pools {
		if inRange(a, p.r) {
			return p
		}
	}
	return nil
}

// ownBinding is the binding the client holds or last held in the subnet:
// by client identifier, else by hardware address when that binding was made
// without one.
func (ss *subnetState) ownBinding(id ID) *binding {
	if b := ss.owner[id.Key]; b != nil {
		return b
	}
	if len(id.ClientID) > 0 {
		var buf [17]byte
		if b := ss.owner[string(hwKeyBytes(&buf, id.HWAddr))]; b != nil && !b.hasClientID() {
			return b
		}
	}
	return nil
}

// reservedForOther reports whether a is reserved for a client other than id.
func (ss *subnetState) reservedForOther(a netip.Addr, id ID) bool {
	k, ok := ss.resByAddr[a]
	return ok && !keyMatches(k, id)
}

// timer is an entry of a fixed-delay queue: holds and quarantines all last
// the same time, so a FIFO is ordered by deadline.
type timer struct {
	b     *binding
	until int64
}

// expiryHeap orders bindings by expiry.
type expiryHeap []*binding

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry < h[j].expiry }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = int32(i), int32(j)
}
func (h *expiryHeap) Push(x any) {
	b := x.(*binding)
	b.heapIdx = int32(len(*h))
	*h = append(*h, b)
}
func (h *expiryHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	b.heapIdx = -1
	*h = old[:len(old)-1]
	return b
}
