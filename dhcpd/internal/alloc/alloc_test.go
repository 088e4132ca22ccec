package alloc

import (
	"net/netip"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).UnixNano()

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func id(last byte) ID { return NewID(nil, []byte{0x02, 0xaa, 0, 0, 0, last}) }

// newTest is an allocator for 198.18.0.0/24 with one pool of n addresses
// from .100, and a reservation of .50 for id(50).
func newTest(n int, mutate func(*Config)) *Allocator {
	end := addr("198.18.0.100")
	for range n - 1 {
		end = end.Next()
	}
	cfg := Config{
		Subnets: []Subnet{{
			Prefix:       netip.MustParsePrefix("198.18.0.0/24"),
			Pools:        []Pool{{Start: addr("198.18.0.100"), End: end}},
			Reservations: map[string]netip.Addr{id(50).Key: addr("198.18.0.50")},
		}},
		OfferHold: 30 * time.Second, Quarantine: time.Hour,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return New(cfg)
}

func offer(t *testing.T, a *Allocator, who ID, nowNS int64, check bool) OfferResult {
	t.Helper()
	return a.Offer(OfferRequest{ID: who, Class: NoClass, NowNS: nowNS, Check: check})
}

func commit(t *testing.T, a *Allocator, who ID, at netip.Addr, nowNS int64) Grant {
	t.Helper()
	return a.Commit(CommitRequest{ID: who, Addr: at, Class: NoClass, LeaseTime: time.Minute, NowNS: nowNS, Check: true})
}

func TestOfferOrderAndHolds(t *testing.T) {
	a := newTest(3, nil)
	r1 := offer(t, a, id(1), t0, false)
	r2 := offer(t, a, id(2), t0, false)
	if r1.Status != Offered || r1.Addr != addr("198.18.0.100") || r2.Addr != addr("198.18.0.101") {
		t.Fatalf("never-used addresses in order: %+v %+v", r1, r2)
	}
	// The same client asking again keeps its offer.
	if again := offer(t, a, id(1), t0+1, false); again.Addr != r1.Addr {
		t.Errorf("second DISCOVER got %s, want %s", again.Addr, r1.Addr)
	}
	// A dropped hold frees the address for others.
	a.DropHold(0, id(1).Key)
	if r := a.Offer(OfferRequest{ID: id(3), Class: NoClass, Requested: r1.Addr, NowNS: t0}); r.Addr != r1.Addr {
		t.Errorf("after DropHold the requested address went elsewhere: %+v", r)
	}
	// Pool full: the next client gets nothing; the reservation still works.
	offer(t, a, id(4), t0, false)
	if r := offer(t, a, id(5), t0, false); r.Status != Exhausted {
		t.Errorf("full pool: %+v", r)
	}
	if r := offer(t, a, id(50), t0, false); r.Status != Offered || r.Addr != addr("198.18.0.50") {
		t.Errorf("reservation: %+v", r)
	}
	// Holds run out at the sweep.
	a.Sweep(t0 + int64(31*time.Second))
	if r := offer(t, a, id(5), t0+int64(31*time.Second), false); r.Status != Offered {
		t.Errorf("after the holds ran out: %+v", r)
	}
}

func TestCommitUndoReleaseDecline(t *testing.T) {
	a := newTest(2, nil)
	r := offer(t, a, id(1), t0, false)
	g := commit(t, a, id(1), r.Addr, t0)
	if g.Nak != "" || len(g.Puts) != 1 || g.Puts[0].State != leases.Active {
		t.Fatalf("grant %+v", g)
	}
	if g2 := commit(t, a, id(2), r.Addr, t0); g2.Nak != "address is in use by another client" {
		t.Errorf("someone else's lease: nak %q", g2.Nak)
	}
	if g2 := commit(t, a, id(2), addr("198.18.0.50"), t0); g2.Nak != "address is reserved for another client" {
		t.Errorf("reserved: nak %q", g2.Nak)
	}
	g.Undo()
	if ls := a.Snapshot(); len(ls) != 0 {
		t.Errorf("after Undo the lease stays: %+v", ls)
	}
	g = commit(t, a, id(1), r.Addr, t0)
	if l, ok := a.Release(0, id(2), r.Addr, t0); ok {
		t.Errorf("another client released the lease: %+v", l)
	}
	if l, ok := a.Release(0, id(1), r.Addr, t0); !ok || l.State != leases.Released {
		t.Errorf("release: %+v %v", l, ok)
	}
	g = commit(t, a, id(1), r.Addr, t0)
	l, ok := a.Decline(0, id(1), r.Addr, t0)
	if !ok || l.State != leases.Declined || len(l.HWAddr) != 0 {
		t.Fatalf("decline: %+v %v", l, ok)
	}
	if c := a.Counts()[0].Pools[0]; c.Declined != 1 || c.Assigned != 0 || c.Free() != 1 {
		t.Errorf("counts after decline %+v", c)
	}
	res := a.Sweep(t0 + int64(time.Hour) + 1e9)
	if len(res.Deleted) != 1 || res.Deleted[0] != r.Addr {
		t.Errorf("probation end: %+v", res)
	}
}

// TestCheckWaitsInAllocator: an address whose lease ran out is checked
// before it goes to another client; the DISCOVER waits in the allocator
// and asks again when woken.
func TestCheckWaitsInAllocator(t *testing.T) {
	a := newTest(2, nil)
	for i, who := range []ID{id(1), id(2)} {
		r := offer(t, a, who, t0, true)
		if g := commit(t, a, who, r.Addr, t0); g.Nak != "" {
			t.Fatalf("client %d: %s", i, g.Nak)
		}
	}
	now := t0 + int64(2*time.Minute)
	if res := a.Sweep(now); len(res.Expired) != 2 {
		t.Fatalf("expired %+v", res)
	}
	r := offer(t, a, id(3), now, true)
	if r.Status != CheckNeeded {
		t.Fatalf("expired address offered unchecked: %+v", r)
	}
	if g := commit(t, a, id(3), r.Addr, now); g.Nak != "address was another client's and has not been checked" {
		t.Errorf("REQUEST before the check: nak %q", g.Nak)
	}
	// The same client again while the check runs: no second check.
	if again := offer(t, a, id(3), now, true); again.Status != Checking || again.Addr != r.Addr {
		t.Errorf("retransmit during the check: %+v", again)
	}
	woken := 0
	if !a.Await(0, r.Addr, id(3).Key, func() { woken++ }) {
		t.Fatal("Await refused a pending check")
	}
	if a.Await(0, r.Addr, id(4).Key, func() {}) {
		t.Error("Await accepted a client that holds nothing")
	}
	// Found in use: quarantined, the hold ends, the waiter wakes and gets
	// the other address (to be checked too).
	a.Checked(0, r.Addr, id(3).Key, true, now)
	if woken != 1 {
		t.Fatalf("woken %d times", woken)
	}
	r2 := offer(t, a, id(3), now, true)
	if r2.Addr == r.Addr || r2.Status != CheckNeeded {
		t.Fatalf("after a conflict: %+v", r2)
	}
	a.Await(0, r2.Addr, id(3).Key, func() { woken++ })
	a.Checked(0, r2.Addr, id(3).Key, false, now)
	if woken != 2 {
		t.Fatalf("woken %d times", woken)
	}
	if r3 := offer(t, a, id(3), now, true); r3.Status != Offered || r3.Addr != r2.Addr {
		t.Errorf("after a silent check: %+v", r3)
	}
	if g := commit(t, a, id(3), r2.Addr, now); g.Nak != "" {
		t.Errorf("REQUEST after the check: %s", g.Nak)
	}
	// A check nobody waits for wakes nobody.
	a.Checked(0, r.Addr, id(3).Key, false, now)
	if woken != 2 {
		t.Errorf("a check nobody waits for woke someone")
	}
}

func TestUnclassifiedLimitAndClassPools(t *testing.T) {
	a := newTest(4, func(c *Config) {
		c.Subnets[0].Unclassified = Limit{Set: true, Percent: true, N: 50}
	})
	if c := a.Counts()[0]; c.UnclassifiedMax != 2 {
		t.Fatalf("50%% of 4 = %d", c.UnclassifiedMax)
	}
	offer(t, a, id(1), t0, false)
	offer(t, a, id(2), t0, false)
	if r := offer(t, a, id(3), t0, false); r.Status != Limited {
		t.Errorf("third unclassified client: %+v", r)
	}
	if r := a.Offer(OfferRequest{ID: id(3), Class: 0, NowNS: t0}); r.Status != Offered {
		t.Errorf("classified client: %+v", r)
	}
	b := newTest(2, func(c *Config) { c.Subnets[0].Pools[0].Classes = []int{1} })
	if r := offer(t, b, id(1), t0, false); r.Status != Exhausted {
		t.Errorf("class-only pool served a client in no class: %+v", r)
	}
	if r := b.Offer(OfferRequest{ID: id(1), Class: 1, NowNS: t0}); r.Status != Offered {
		t.Errorf("class-only pool refused its class: %+v", r)
	}
}

func TestReclaimStaleOffer(t *testing.T) {
	a := newTest(1, func(c *Config) { c.PressureHold = 5 * time.Second })
	r := offer(t, a, id(1), t0, false)
	if got := offer(t, a, id(2), t0+int64(time.Second), false); got.Status != Exhausted {
		t.Errorf("young offer taken: %+v", got)
	}
	got := offer(t, a, id(2), t0+int64(6*time.Second), false)
	if got.Status != Offered || !got.Reclaimed || got.Addr != r.Addr {
		t.Errorf("stale offer not reclaimed: %+v", got)
	}
}

func TestLoad(t *testing.T) {
	a := newTest(4, nil)
	now := time.Unix(0, t0)
	hw := []byte{0x02, 0xaa, 0, 0, 0, 1}
	ls := []leases.Lease{
		{Addr: addr("198.18.0.100"), HWAddr: hw, State: leases.Active, Start: now.Add(-time.Hour), Expiry: now.Add(-time.Minute)},
		{Addr: addr("198.19.0.1"), HWAddr: hw, State: leases.Active, Expiry: now.Add(time.Hour)},
	}
	rewrite, orphans := a.Load(ls, now)
	if orphans != 1 || len(rewrite) != 1 || rewrite[0].State != leases.Expired {
		t.Fatalf("rewrite %+v orphans %d", rewrite, orphans)
	}
	// Its last holder gets it back unchecked.
	if r := offer(t, a, id(1), t0, true); r.Status != Offered || r.Addr != addr("198.18.0.100") {
		t.Errorf("returning client: %+v", r)
	}
}
