package alloc

import (
	"container/heap"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// The helpers below keep a binding's hold, free-queue place, expiry-heap
// place and unclassified count in step; the caller holds a.mu.

// account keeps the subnet's count of addresses unclassified clients hold
// in step with b: call it after changing b's state, class or hold.
func (a *Allocator) account(b *binding) {
	want := false
	if b.pool != nil && len(b.pool.r.Classes) == 0 {
		_, reserved := b.subnet.resByAddr[b.addr()]
		want = !reserved && ((b.state == leases.Active && b.class == "") || (b.holdKey != "" && b.holdUncl))
	}
	switch {
	case want && !b.uncl:
		b.subnet.uncl++
	case !want && b.uncl:
		b.subnet.uncl--
	}
	b.uncl = want
}

// hold keeps b for the client key for the offer hold time.
func (a *Allocator) hold(ss *subnetState, b *binding, key string, uncl bool, nowNS int64) {
	if old := ss.held[key]; old != nil && old != b && old.holdKey == key {
		a.unhold(ss, old)
	}
	b.holdKey = key
	b.holdUntil = nowNS + int64(a.cfg.OfferHold)
	b.holdUncl = uncl
	ss.held[key] = b
	if b.pool != nil {
		b.pool.holds = append(b.pool.holds, timer{b, b.holdUntil})
	} else {
		a.holds = append(a.holds, timer{b, b.holdUntil})
	}
	a.account(b)
}

// clearHold forgets b's hold, and a check its holder waits for, without
// freeing the address.
func (a *Allocator) clearHold(ss *subnetState, b *binding) {
	if ss.held[b.holdKey] == b {
		delete(ss.held, b.holdKey)
	}
	b.holdKey, b.holdUntil, b.holdUncl = "", 0, false
	b.checking, b.wake = false, nil
	a.account(b)
}

// unhold drops the hold on b and returns the address to the free queue when
// nobody has it.
func (a *Allocator) unhold(ss *subnetState, b *binding) {
	a.clearHold(ss, b)
	a.freeIfUnused(b)
}

// freeIfUnused queues b for reuse if no lease, hold or probation keeps it.
func (a *Allocator) freeIfUnused(b *binding) {
	if b.pool == nil || b.holdKey != "" || b.state == leases.Active || b.state == leases.Declined || b.quarantinedUntil > 0 {
		return
	}
	if _, reserved := b.subnet.resByAddr[b.addr()]; reserved {
		return
	}
	b.pool.push(b)
}

// setExpiry sets state and expiry and keeps the expiry heap and the
// unclassified count in step: active leases and declined addresses are in
// the heap. Set b.class first.
func (a *Allocator) setExpiry(b *binding, s leases.State, expiry int64) {
	b.setState(s)
	b.expiry = expiry
	a.account(b)
	inHeap := s == leases.Active || s == leases.Declined
	switch {
	case inHeap && b.heapIdx >= 0:
		heap.Fix(&a.expiries, int(b.heapIdx))
	case inHeap:
		heap.Push(&a.expiries, b)
	case b.heapIdx >= 0:
		heap.Remove(&a.expiries, int(b.heapIdx))
	}
}

// restore puts back b's durable record r (see Grant.Undo).
func (a *Allocator) restore(b *binding, r record) {
	state, expiry := r.state, r.expiry
	r.state, r.expiry = b.state, b.expiry
	b.record = r
	a.setExpiry(b, state, expiry)
	b.gen++
}
