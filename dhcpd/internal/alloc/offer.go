package alloc

import (
	"net/netip"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// OfferRequest is a DISCOVER as the allocator needs it.
type OfferRequest struct {
	Subnet    int // index in Config.Subnets
	ID        ID
	Class     int        // the client's class, or NoClass
	Requested netip.Addr // option 50, when sent
	NowNS     int64      // unix nanoseconds
	// Check: addresses whose last holder may still use them are checked
	// before they are offered (the caller can probe).
	Check bool
}

// OfferStatus is what Offer decided.
type OfferStatus uint8

const (
	// Offered: Addr is held for the client; offer it.
	Offered OfferStatus = iota + 1
	// CheckNeeded: Addr is held for the client, pending a check. The
	// caller probes it, calls Await to wait for the answer, and reports
	// the probe's result with Checked.
	CheckNeeded
	// Checking: Addr is held for the client and a check of it already
	// runs; Await attaches this request in place of the earlier one.
	Checking
	// Exhausted: no pool serving the client has a free address.
	Exhausted
	// Limited: the client is in no class and the subnet's unclassified
	// limit is reached.
	Limited
)

// OfferResult is what Offer decided for a DISCOVER.
type OfferResult struct {
	Status OfferStatus
	Addr   netip.Addr
	// Reclaimed: the address was taken from a stale offer (see
	// Config.PressureHold).
	Reclaimed bool
	// Conflict, when valid, is the client's reserved address, in use by
	// someone else; the client was offered a pool address meanwhile.
	Conflict netip.Addr
}

// Offer picks and holds an address for a DISCOVER: the client's held
// address, its reservation, its current or last address, the address it
// asks for, then the pools. Only pools that serve the client's class are
// used, and an unclassified client gets nothing new once the subnet's
// unclassified limit is reached.
func (a *Allocator) Offer(rq OfferRequest) OfferResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	ss := a.subnets[rq.Subnet]
	key := rq.ID.Key
	uncl := rq.Class == NoClass
	var res OfferResult
	if r, ok := Lookup(ss.cfg.Reservations, rq.ID); ok {
		b := a.lookup(r)
		if b == nil || b.availableTo(key, rq.NowNS) || b.ownedBy(rq.ID) {
			a.hold(ss, a.binding(ss, r), key, uncl, rq.NowNS)
			return OfferResult{Status: Offered, Addr: r}
		}
		res.Conflict = r
	}
	// usable: the address may go to this client now.
	usable := func(b *binding) bool {
		return b.pool != nil && b.pool.r.allows(rq.Class) && !(uncl && ss.unclassifiedFull(b)) &&
			b.availableTo(key, rq.NowNS) && !ss.reservedForOther(b.addr(), rq.ID)
	}
	// The client's own address goes back to it unchecked.
	own := false
	b := ss.held[key]
	if b == nil || b.holdKey != key || b.holdUntil <= rq.NowNS || !usable(b) {
		b = ss.ownBinding(rq.ID)
		own = b != nil && usable(b)
		if !own {
			b = a.requested(ss, rq)
		}
	}
	if b == nil {
		if uncl && ss.unclassifiedFull(nil) {
			res.Status = Limited
			return res
		}
		b, res.Reclaimed = a.fromPools(ss, rq)
	}
	if b == nil {
		res.Status = Exhausted
		return res
	}
	a.hold(ss, b, key, uncl, rq.NowNS)
	res.Addr, res.Status = b.addr(), Offered
	if !own {
		res.Status = a.checkStep(b, rq)
	}
	return res
}

// requested is the address the client asks for, when it may have it.
func (a *Allocator) requested(ss *subnetState, rq OfferRequest) *binding {
	want := rq.Requested
	if !want.IsValid() || !ss.cfg.Prefix.Contains(want) {
		return nil
	}
	p := ss.poolOf(want)
	if p == nil {
		return nil
	}
	uncl := rq.Class == NoClass
	b := a.lookup(want)
	if b == nil {
		if !p.r.allows(rq.Class) || (uncl && ss.unclassifiedFull(nil)) || ss.reservedForOther(want, rq.ID) {
			return nil
		}
		return a.binding(ss, want)
	}
	if p.r.allows(rq.Class) && !(uncl && ss.unclassifiedFull(b)) && b.availableTo(rq.ID.Key, rq.NowNS) && !ss.reservedForOther(want, rq.ID) {
		return b
	}
	return nil
}

// fromPools takes a free address from the first pool serving the client's
// class that has one.
func (a *Allocator) fromPools(ss *subnetState, rq OfferRequest) (*binding, bool) {
	for _, p := range ss.pools {
		if !p.r.allows(rq.Class) {
			continue
		}
		if b, reclaimed := a.allocate(p, rq.ID, rq.NowNS); b != nil {
			return b, reclaimed
		}
	}
	return nil, false
}

// checkStep decides whether the address held for the client needs a
// check first, and marks the pending check.
func (a *Allocator) checkStep(b *binding, rq OfferRequest) OfferStatus {
	switch {
	case !rq.Check || !b.mustCheck(rq.ID.Key, rq.NowNS, a.cfg.OfferHold):
		return Offered
	case b.checking:
		return Checking
	}
	b.checking = true
	return CheckNeeded
}

// allocate takes the next free address of the pool: a never-used one, else
// the one freed longest ago, else one reclaimed from a stale offer.
func (a *Allocator) allocate(p *poolState, id ID, nowNS int64) (b *binding, reclaimed bool) {
	ss := p.subnet
	for p.cursor <= p.end {
		addr := a32(p.cursor)
		p.cursor++
		if _, reserved := ss.resByAddr[addr]; reserved {
			continue
		}
		if a.lookup(addr) != nil {
			continue // it has a history; it joins the queue when free
		}
		return a.binding(ss, addr), false
	}
	for {
		b := p.pop()
		if b == nil {
			b = a.reclaim(p, id, nowNS)
			return b, b != nil
		}
		if b.availableTo(id.Key, nowNS) && !ss.reservedForOther(b.addr(), id) {
			return b, false
		}
	}
}

// maxReclaimScan bounds the offers reclaim looks at for one DISCOVER.
const maxReclaimScan = 16

// reclaim takes, for a pool with no free address, the address of an offer
// made at least PressureHold ago and not yet requested: under pressure an
// offer holds its address only briefly. The oldest offers come first;
// the client whose offer is taken is NAKed if it requests it and starts
// over. Nil when no offer is old enough.
func (a *Allocator) reclaim(p *poolState, id ID, nowNS int64) *binding {
	if a.cfg.PressureHold <= 0 {
		return nil
	}
	live := func(h timer) bool { return h.b.holdKey != "" && h.b.holdUntil == h.until }
	for len(p.holds) > 0 && !live(p.holds[0]) {
		p.holds[0] = timer{}
		p.holds = p.holds[1:]
	}
	// An offer made at or before cutoff ends (holdUntil) at or before this.
	cutoff := nowNS - int64(a.cfg.PressureHold) + int64(a.cfg.OfferHold)
	for i := 0; i < len(p.holds) && i < maxReclaimScan; i++ {
		h := p.holds[i]
		if h.until > cutoff {
			return nil // this offer and every later one are younger
		}
		b := h.b
		if !live(h) || b.holdKey == id.Key {
			continue
		}
		if b.quarantinedUntil > nowNS || (b.state == leases.Active && b.expiry > nowNS/1e9) ||
			b.state == leases.Declined || p.subnet.reservedForOther(b.addr(), id) {
			continue // held by its own lease, or not free for other reasons
		}
		a.clearHold(p.subnet, b)
		return b
	}
	return nil
}

// Await makes wake the request waiting for the check of addr, held for
// the client key (after Offer said CheckNeeded or Checking); it replaces
// an earlier waiter. When the check ends (see Checked), wake is called
// once, outside the lock, and the waiting request asks Offer again: the
// address is then offered to it, or, if the check found it in use,
// another. Await reports false, and keeps nothing, when no check of addr
// for key is pending.
func (a *Allocator) Await(subnet int, addr netip.Addr, key string, wake func()) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.lookup(addr)
	if b == nil || b.subnet != a.subnets[subnet] || !b.checking || b.holdKey != key {
		return false
	}
	b.wake = wake
	return true
}

// Checked records the result of the check of addr, held for the client
// key: silent, the address counts as checked for OfferHold; answered,
// someone uses it, so it stays out of the pools for the quarantine time
// and the hold ends. Then it wakes the request waiting for the check.
func (a *Allocator) Checked(subnet int, addr netip.Addr, key string, answered bool, nowNS int64) {
	if wake := a.checked(a.subnets[subnet], addr, key, answered, nowNS); wake != nil {
		wake()
	}
}

func (a *Allocator) checked(ss *subnetState, addr netip.Addr, key string, answered bool, nowNS int64) func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.lookup(addr)
	if b == nil {
		return nil
	}
	var wake func()
	if b.holdKey == key {
		wake = b.wake
		b.checking, b.wake = false, nil
	}
	if !answered {
		b.checkedAt = nowNS
		return wake
	}
	b.quarantinedUntil = nowNS + int64(a.cfg.Quarantine)
	b.needsCheck = true
	if b.pool != nil {
		b.pool.declined++
	}
	a.quar = append(a.quar, timer{b, b.quarantinedUntil})
	if b.holdKey == key {
		a.clearHold(ss, b)
	}
	return wake
}

// DropHold forgets the offer held for key (the client chose another
// server, or its check could not run), and a check it waits for.
func (a *Allocator) DropHold(subnet int, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ss := a.subnets[subnet]
	if b := ss.held[key]; b != nil && b.holdKey == key {
		a.unhold(ss, b)
	}
}
