package alloc

import (
	"net/netip"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// CommitRequest is a REQUEST the caller wants to turn into a lease.
type CommitRequest struct {
	Subnet      int // index in Config.Subnets
	ID          ID
	Addr        netip.Addr
	Hostname    string
	VendorClass []byte
	Class       int    // the client's class, or NoClass
	ClassName   string // stored with the lease; "" for NoClass
	LeaseTime   time.Duration
	NowNS       int64 // unix nanoseconds
	// Check: as OfferRequest.Check.
	Check bool
}

// Grant is Commit's answer: a NAK reason, or the lease records to store
// before the ACK and the undo for when storing them fails.
type Grant struct {
	Nak  string
	Puts []leases.Lease
	undo undo
}

// undo is what Grant.Undo puts back.
type undo struct {
	a         *Allocator
	ss        *subnetState
	b         *binding
	gen       uint32
	key       string
	prev      record
	prevOwner *binding
	prevHeld  *binding
	oldKey    string // b's holder before
	moved     *binding
	movedPrev record
}

// Commit decides a REQUEST and, when it is granted, records the lease in
// memory at once, so no other client can get the address while the
// caller stores it.
func (a *Allocator) Commit(rq CommitRequest) Grant {
	a.mu.Lock()
	defer a.mu.Unlock()
	ss := a.subnets[rq.Subnet]
	if nak := a.refusal(ss, rq); nak != "" {
		return Grant{Nak: nak}
	}
	b := a.binding(ss, rq.Addr)
	key := rq.ID.Key
	u := undo{a: a, ss: ss, b: b, key: key, prev: b.record, prevOwner: ss.owner[key], prevHeld: ss.held[key], oldKey: b.key}
	var puts []leases.Lease
	// The client moves: its old address here is released.
	if o := ss.ownBinding(rq.ID); o != nil && o != b && o.state == leases.Active {
		u.moved, u.movedPrev = o, o.record
		a.setExpiry(o, leases.Released, rq.NowNS/1e9)
		a.freeIfUnused(o)
		puts = append(puts, o.lease())
	}
	a.grant(ss, b, rq)
	u.gen = b.gen
	return Grant{Puts: append(puts, b.lease()), undo: u}
}

// refusal is the NAK reason for a REQUEST, or "" when it may be granted.
func (a *Allocator) refusal(ss *subnetState, rq CommitRequest) string {
	addr := rq.Addr
	res, hasRes := Lookup(ss.cfg.Reservations, rq.ID)
	p := ss.poolOf(addr)
	switch {
	case !ss.cfg.Prefix.Contains(addr):
		return "address is not on the client's network"
	case hasRes && res != addr:
		return "the client has a reservation for " + res.String()
	case ss.reservedForOther(addr, rq.ID):
		return "address is reserved for another client"
	case !hasRes && p == nil:
		return "address is in no pool"
	case !hasRes && !p.r.allows(rq.Class):
		return "address is in a pool kept for other client classes"
	}
	b := a.lookup(addr)
	if b != nil && !b.availableTo(rq.ID.Key, rq.NowNS) {
		return "address is in use by another client"
	}
	if !hasRes && rq.Class == NoClass && ss.unclassifiedFull(b) {
		return "no address left for clients in no class (unclassified_limit)"
	}
	if !hasRes && rq.Check && b.mustCheck(rq.ID.Key, rq.NowNS, a.cfg.OfferHold) {
		// Another client's lease on this address ran out and the address
		// was not checked: let the client start over with DISCOVER.
		return "address was another client's and has not been checked"
	}
	return ""
}

// grant makes b the client's active lease and ends its holds.
func (a *Allocator) grant(ss *subnetState, b *binding, rq CommitRequest) {
	key := rq.ID.Key
	if b.key != "" && b.key != key && ss.owner[b.key] == b {
		delete(ss.owner, b.key)
	}
	now := rq.NowNS / 1e9
	b.key = key
	b.hwaddr = hwaddrOf(key, rq.ID.HWAddr)
	b.hostname, b.vendorClass, b.class = rq.Hostname, a.intern(rq.VendorClass), rq.ClassName
	b.start = now
	b.needsCheck = false
	a.setExpiry(b, leases.Active, now+int64(rq.LeaseTime/time.Second))
	if b.holdKey != "" {
		a.clearHold(ss, b)
	}
	if h := ss.held[key]; h != nil && h != b {
		a.unhold(ss, h)
	}
	ss.owner[key] = b
	b.gen++
}

// Undo puts back what Commit changed, when storing its records failed.
// A change made to the address since stands.
func (g *Grant) Undo() {
	u := &g.undo
	if u.a == nil {
		return
	}
	a, ss, b, key := u.a, u.ss, u.b, u.key
	a.mu.Lock()
	defer a.mu.Unlock()
	if b.gen != u.gen {
		return // changed again since; the newer state stands
	}
	a.restore(b, u.prev)
	if ss.owner[key] == b {
		delete(ss.owner, key)
	}
	if u.prevOwner != nil {
		ss.owner[key] = u.prevOwner
	}
	if u.oldKey != "" && u.oldKey != key {
		ss.owner[u.oldKey] = b
	}
	if u.prevHeld != nil {
		ss.held[key] = u.prevHeld
	}
	if u.moved != nil {
		a.restore(u.moved, u.movedPrev)
	}
	a.freeIfUnused(b)
}

// Release ends the client's lease on addr (DHCPRELEASE). It returns the
// record to store, or false when the client holds no lease on addr.
func (a *Allocator) Release(subnet int, id ID, addr netip.Addr, nowNS int64) (leases.Lease, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.lookup(addr)
	if b == nil || b.subnet != a.subnets[subnet] || !b.ownedBy(id) || b.state != leases.Active {
		return leases.Lease{}, false
	}
	a.setExpiry(b, leases.Released, nowNS/1e9)
	b.needsCheck = false
	b.gen++
	a.freeIfUnused(b)
	return b.lease(), true
}

// Decline puts addr on probation for the quarantine time after a client
// found it in use (DHCPDECLINE). It returns the record to store, or false
// when the client neither holds nor was offered addr.
func (a *Allocator) Decline(subnet int, id ID, addr netip.Addr, nowNS int64) (leases.Lease, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ss := a.subnets[subnet]
	b := a.lookup(addr)
	if b == nil || b.subnet != ss {
		return leases.Lease{}, false
	}
	key := id.Key
	if !b.ownedBy(id) && b.holdKey != key {
		return leases.Lease{}, false
	}
	if ss.owner[b.key] == b {
		delete(ss.owner, b.key)
	}
	if ss.held[key] == b {
		delete(ss.held, key)
	}
	a.clearHold(ss, b)
	b.key, b.hostname, b.vendorClass, b.class = "", "", "", ""
	b.hwaddr = ""
	b.start = nowNS / 1e9
	b.needsCheck = true
	a.setExpiry(b, leases.Declined, nowNS/1e9+int64(a.cfg.Quarantine/time.Second))
	b.gen++
	return b.lease(), true
}
