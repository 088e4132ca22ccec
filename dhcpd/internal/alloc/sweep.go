package alloc

import (
	"container/heap"
	"net/netip"
	"slices"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// SweepResult is what a sweep changed: the expired leases to store (and
// report), and the addresses whose probation ended, to delete from the
// store.
type SweepResult struct {
	Expired []leases.Lease
	Deleted []netip.Addr
}

// Sweep ends the holds, quarantines, leases and probations that ran out by
// nowNS (unix nanoseconds).
func (a *Allocator) Sweep(nowNS int64) SweepResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.endHolds(&a.holds, nowNS)
	for _, ss := range a.subnets {
		for _, p := range ss.pools {
			a.endHolds(&p.holds, nowNS)
		}
	}
	a.endQuarantines(nowNS)
	return a.endLeases(nowNS / 1e9)
}

// endHolds ends the holds of the queue q that ran out by now.
func (a *Allocator) endHolds(q *[]timer, nowNS int64) {
	for len(*q) > 0 && (*q)[0].until <= nowNS {
		h := (*q)[0]
		(*q)[0] = timer{}
		*q = (*q)[1:]
		if h.b.holdKey != "" && h.b.holdUntil == h.until {
			a.unhold(h.b.subnet, h.b)
		}
	}
	if len(*q) == 0 {
		*q = nil
	}
}

// endQuarantines returns to the pools the addresses a check found in use
// a quarantine ago.
func (a *Allocator) endQuarantines(nowNS int64) {
	for len(a.quar) > 0 && a.quar[0].until <= nowNS {
		q := a.quar[0]
		a.quar[0] = timer{}
		a.quar = a.quar[1:]
		if q.b.quarantinedUntil == q.until {
			q.b.quarantinedUntil = 0
			if q.b.pool != nil {
				q.b.pool.declined--
			}
			a.freeIfUnused(q.b)
		}
	}
	if len(a.quar) == 0 {
		a.quar = nil
	}
}

// endLeases expires the active leases and ends the probations that ran
// out by now (unix seconds).
func (a *Allocator) endLeases(now int64) SweepResult {
	var out SweepResult
	for a.expiries.Len() > 0 && a.expiries[0].expiry <= now {
		b := a.expiries[0]
		switch b.state {
		case leases.Active:
			a.setExpiry(b, leases.Expired, b.expiry)
			b.needsCheck = true
			b.gen++
			out.Expired = append(out.Expired, b.lease())
		case leases.Declined:
			a.setExpiry(b, 0, 0)
			b.gen++
			out.Deleted = append(out.Deleted, b.addr())
		default:
			heap.Remove(&a.expiries, 0)
			continue
		}
		a.freeIfUnused(b)
	}
	return out
}

// Load fills the allocator from stored leases. It returns the records
// whose state must be rewritten (active leases that expired while the
// server was down) and the number of leases outside every subnet, which
// it ignores.
func (a *Allocator) Load(ls []leases.Lease, now time.Time) (rewrite []leases.Lease, orphans int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Freed addresses join the queues oldest first.
	slices.SortFunc(ls, func(x, y leases.Lease) int { return x.Expiry.Compare(y.Expiry) })
	nowS := now.Unix()
	for _, l := range ls {
		ss := a.subnetOf(l.Addr)
		if ss == nil || !l.State.Valid() {
			orphans++
			continue
		}
		if b := a.loadOne(ss, l, nowS); b.state != l.State {
			rewrite = append(rewrite, b.lease())
		}
	}
	return rewrite, orphans
}

// loadOne makes the binding of one stored lease.
func (a *Allocator) loadOne(ss *subnetState, l leases.Lease, nowS int64) *binding {
	b := a.binding(ss, l.Addr)
	b.hostname, b.vendorClass, b.class = l.Hostname, a.intern([]byte(l.VendorClass)), l.Class
	b.start = l.Start.Unix()
	if len(l.ClientID) > 0 {
		b.key = ClientIDKey(l.ClientID)
	} else if len(l.HWAddr) > 0 {
		b.key = HWKey(l.HWAddr)
	}
	b.hwaddr = hwaddrOf(b.key, l.HWAddr)
	state := l.State
	if state == leases.Active && l.Expiry.Unix() <= nowS {
		state = leases.Expired
	}
	switch state {
	case leases.Expired:
		b.needsCheck = true
	case leases.Declined:
		b.key = ""
		b.needsCheck = true
	}
	a.setExpiry(b, state, l.Expiry.Unix())
	if b.key != "" {
		if o := ss.owner[b.key]; o == nil || o.start <= b.start {
			ss.owner[b.key] = b
		}
	}
	a.freeIfUnused(b)
	return b
}

// Snapshot copies every lease record, ordered by address.
func (a *Allocator) Snapshot() []leases.Lease {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]leases.Lease, 0, len(a.byAddr))
	for _, b := range a.byAddr {
		if b.state.Valid() {
			out = append(out, b.lease())
		}
	}
	slices.SortFunc(out, func(x, y leases.Lease) int { return x.Addr.Compare(y.Addr) })
	return out
}

// PoolCounts are one pool's addresses by state.
type PoolCounts struct {
	Total    int // the pool's addresses less reservations
	Assigned int // held by an active lease
	Declined int // on probation: declined, or found in use by a check
}

// Free is the addresses neither assigned nor declined.
func (c PoolCounts) Free() int { return max(0, c.Total-c.Assigned-c.Declined) }

// SubnetCounts are one subnet's numbers.
type SubnetCounts struct {
	Pools []PoolCounts // as Subnet.Pools
	// Unclassified is the open-pool addresses clients in no class hold
	// (leases and offers); UnclassifiedMax the cap, -1 for none.
	Unclassified, UnclassifiedMax int
}

// Counts returns every subnet's numbers, as Config.Subnets.
func (a *Allocator) Counts() []SubnetCounts {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]SubnetCounts, 0, len(a.subnets))
	for _, ss := range a.subnets {
		sc := SubnetCounts{Pools: make([]PoolCounts, 0, len(ss.pools)), Unclassified: ss.uncl, UnclassifiedMax: ss.unclMax}
		for _, p := range ss.pools {
			sc.Pools = append(sc.Pools, PoolCounts{p.total, p.assigned, p.declined})
		}
		out = append(out, sc)
	}
	return out
}
