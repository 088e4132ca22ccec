package dhcpd

import (
	"container/heap"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// binding is everything the server knows about one address: its durable
// lease record (mirroring the store), an in-memory offer hold, and the state
// of its address check.
type binding struct {
	addr   netip.Addr
	subnet *subnetState
	pool   *poolState // nil outside every pool (a reservation)

	// The durable record; state 0 means none.
	state         leases.State
	key           string // identity of the holder (see identity); "" for a declined address
	hwaddr        []byte
	clientID      []byte
	hostname      string
	vendorClass   string
	class         string
	start, expiry int64 // unix seconds

	// The offer hold, in memory only; holdUncl when its client is in no class.
	holdKey   string
	holdUntil int64 // unix nanoseconds
	holdUncl  bool
	// uncl: the address counts against its subnet's unclassified limit
	// (see table.account).
	uncl bool

	// The address check: needsCheck when the last holder may still use the
	// address; checkedAt when a check last found it silent; quarantined
	// until when a check found it answering.
	needsCheck       bool
	checkedAt        int64
	quarantinedUntil int64

	queued  bool // on its pool's free queue
	heapIdx int  // in the expiry heap, or -1
	gen     uint64
}

// record is the durable part of a binding, for undoing a failed store write.
type record struct {
	state         leases.State
	key           string
	hwaddr        []byte
	clientID      []byte
	hostname      string
	vendorClass   string
	class         string
	start, expiry int64
	needsCheck    bool
}

func (b *binding) record() record {
	return record{b.state, b.key, b.hwaddr, b.clientID, b.hostname, b.vendorClass, b.class, b.start, b.expiry, b.needsCheck}
}

// poolState hands out the addresses of one pool: never-used addresses in
// order first (the cursor), then freed ones, the longest free first (the
// queue). Both steps are O(1) amortised.
type poolState struct {
	r      poolRange
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

// subnetState is the run-time side of a configured subnet.
type subnetState struct {
	cfg   *subnet
	pools []*poolState
	// owner maps an identity to the binding it holds or last held here.
	owner map[string]*binding
	// held maps an identity to the address held for its REQUEST.
	held map[string]*binding
	// uncl counts the open-pool addresses unclassified clients hold
	// (leases and offers); unclMax caps it, -1 for no cap.
	uncl, unclMax int
}

// timer is an entry of a fixed-delay queue: holds and quarantines all last
// the same time, so a FIFO is ordered by deadline.
type timer struct {
	b     *binding
	until int64
}

// table is the server's lease state. Every method takes the lock; none
// blocks on I/O.
type table struct {
	mu       sync.Mutex
	byAddr   map[netip.Addr]*binding
	subnets  []*subnetState
	expiries expiryHeap
	holds    []timer // holds outside every pool (reservations)
	quar     []timer
	// probation and hold durations.
	offerHold, quarantine time.Duration
	// pressureHold: how old an offer must be before a client may take its
	// address from a pool with no free address; 0 never.
	pressureHold time.Duration
	// vendorClasses interns option 60 values: thousands of phones send a
	// handful of strings.
	vendorClasses map[string]string
}

// maxInterned bounds the intern table, so odd clients cannot grow it.
const maxInterned = 4096

// intern returns a shared copy of b; the caller holds t.mu.
func (t *table) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := t.vendorClasses[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(t.vendorClasses) < maxInterned {
		t.vendorClasses[s] = s
	}
	return s
}

func newTable(p *policy) *table {
	t := &table{byAddr: map[netip.Addr]*binding{}, offerHold: p.cfg.OfferHold, quarantine: p.cfg.DeclineProbation,
		pressureHold: p.cfg.PressureOfferHold, vendorClasses: map[string]string{}}
	for _, s := range p.subnets {
		ss := &subnetState{cfg: s, owner: map[string]*binding{}, held: map[string]*binding{}}
		open := 0
		for _, r := range s.pools {
			ps := &poolState{r: r, subnet: ss, cursor: u32(r.start), end: u32(r.end)}
			ps.total = int(ps.end-ps.cursor) + 1
			for a := range s.resByAddr {
				if inRange(a, r) {
					ps.total--
				}
			}
			if len(r.classes) == 0 {
				open += ps.total
			}
			ss.pools = append(ss.pools, ps)
		}
		ss.unclMax = s.uncl.of(open)
		t.subnets = append(t.subnets, ss)
	}
	return t
}

// account keeps the subnet's count of addresses unclassified clients hold
// in step with b: call it after changing b's state, class or hold.
func (t *table) account(b *binding) {
	want := false
	if b.pool != nil && len(b.pool.r.classes) == 0 {
		_, reserved := b.subnet.cfg.resByAddr[b.addr]
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

// unclassifiedFull reports whether an unclassified client may not take
// one more address in ss (b, when set, is the address it would take: one
// it counts for already costs nothing).
func (ss *subnetState) unclassifiedFull(b *binding) bool {
	return ss.unclMax >= 0 && ss.uncl >= ss.unclMax && (b == nil || !b.uncl)
}

func inRange(a netip.Addr, r poolRange) bool { return !a.Less(r.start) && !r.end.Less(a) }

func (ss *subnetState) poolOf(a netip.Addr) *poolState {
	for _, p := range ss.pools {
		if inRange(a, p.r) {
			return p
		}
	}
	return nil
}

func (t *table) subnetOf(a netip.Addr) *subnetState {
	for _, s := range t.subnets {
		if s.cfg.prefix.Contains(a) {
			return s
		}
	}
	return nil
}

// identity is how a client is known: its client identifier, else its
// hardware address. key is the identity as a map key (see newIdentity).
type identity struct {
	clientID []byte
	hwaddr   []byte
	key      string
}

func newIdentity(clientID, hwaddr []byte) identity {
	id := identity{clientID: clientID, hwaddr: hwaddr}
	if len(clientID) > 0 {
		id.key = clientIDKey(clientID)
	} else {
		id.key = hwKey(hwaddr)
	}
	return id
}

// hwKeyBytes writes hwKey(mac) into buf without allocating; index maps
// with string(hwKeyBytes(...)) to look up without a copy.
func hwKeyBytes(buf *[17]byte, mac []byte) []byte {
	return append(append(buf[:0], 'h'), mac...)
}

// ownBinding is the binding the client holds or last held in the subnet:
// by client identifier, else by hardware address when that binding was made
// without one.
func (ss *subnetState) ownBinding(id identity) *binding {
	if b := ss.owner[id.key]; b != nil {
		return b
	}
	if len(id.clientID) > 0 {
		var buf [17]byte
		if b := ss.owner[string(hwKeyBytes(&buf, id.hwaddr))]; b != nil && len(b.clientID) == 0 {
			return b
		}
	}
	return nil
}

// reservationFor finds the client's reservation by client identifier or MAC.
func (ss *subnetState) reservationFor(id identity) *reservation {
	if len(ss.cfg.resByKey) == 0 {
		return nil
	}
	if r := ss.cfg.resByKey[id.key]; r != nil {
		return r
	}
	var buf [17]byte
	return ss.cfg.resByKey[string(hwKeyBytes(&buf, id.hwaddr))]
}

// activeAt reports whether the binding's lease is active at now (seconds).
func (b *binding) activeAt(now int64) bool { return b.state == leases.Active && b.expiry > now }

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

func (t *table) binding(ss *subnetState, a netip.Addr) *binding {
	b := t.byAddr[a]
	if b == nil {
		b = &binding{addr: a, subnet: ss, pool: ss.poolOf(a), heapIdx: -1}
		t.byAddr[a] = b
	}
	return b
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

func (t *table) hold(ss *subnetState, b *binding, key string, uncl bool, nowNS int64) {
	if old := ss.held[key]; old != nil && old != b && old.holdKey == key {
		t.unhold(ss, old)
	}
	b.holdKey = key
	b.holdUntil = nowNS + int64(t.offerHold)
	b.holdUncl = uncl
	ss.held[key] = b
	if b.pool != nil {
		b.pool.holds = append(b.pool.holds, timer{b, b.holdUntil})
	} else {
		t.holds = append(t.holds, timer{b, b.holdUntil})
	}
	t.account(b)
}

// clearHold forgets b's hold without freeing the address.
func (t *table) clearHold(ss *subnetState, b *binding) {
	if ss.held[b.holdKey] == b {
		delete(ss.held, b.holdKey)
	}
	b.holdKey, b.holdUntil, b.holdUncl = "", 0, false
	t.account(b)
}

// unhold drops the hold on b and returns the address to the free queue when
// nobody has it.
func (t *table) unhold(ss *subnetState, b *binding) {
	t.clearHold(ss, b)
	t.freeIfUnused(b)
}

// freeIfUnused queues b for reuse if no lease, hold or probation keeps it.
func (t *table) freeIfUnused(b *binding) {
	if b.pool == nil || b.holdKey != "" || b.state == leases.Active || b.state == leases.Declined || b.quarantinedUntil > 0 {
		return
	}
	if _, reserved := b.subnet.cfg.resByAddr[b.addr]; reserved {
		return
	}
	b.pool.push(b)
}

// offerResult is what allocation decided for a DISCOVER.
type offerResult struct {
	addr      netip.Addr
	mustCheck bool // the address must be checked before it is offered
	exhausted bool
	// limited: the client is in no class and the subnet's unclassified
	// limit is reached.
	limited bool
	// reclaimed: the address was taken from a stale offer (see reclaim).
	reclaimed bool
	conflict  *reservation // the client's reserved address is in use by someone else
}

// offer picks and holds an address for a DISCOVER from a client of class
// cl (nil: in no class): the client's held address, its reservation, its
// current or last address, the address it asks for, then the pools. Only
// pools that serve cl are used, and an unclassified client gets nothing
// new once the subnet's unclassified limit is reached.
func (t *table) offer(ss *subnetState, id identity, cl *class, requested netip.Addr, nowNS int64, check bool, fresh time.Duration) offerResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := id.key
	uncl := cl == nil
	var res offerResult
	if r := ss.reservationFor(id); r != nil {
		b := t.byAddr[r.addr]
		if b == nil || b.availableTo(key, nowNS) || b.ownedBy(id) {
			b = t.binding(ss, r.addr)
			t.hold(ss, b, key, uncl, nowNS)
			return offerResult{addr: r.addr}
		}
		res.conflict = r
	}
	// usable: the address may go to this client now.
	usable := func(b *binding) bool {
		return b.pool != nil && b.pool.r.allows(cl) && !(uncl && ss.unclassifiedFull(b)) && b.availableTo(key, nowNS) && !ss.reservedForOther(b.addr, id)
	}
	if b := ss.held[key]; b != nil && b.holdKey == key && b.holdUntil > nowNS && usable(b) {
		t.hold(ss, b, key, uncl, nowNS)
		res.addr, res.mustCheck = b.addr, check && b.mustCheck(key, nowNS, fresh)
		return res
	}
	if b := ss.ownBinding(id); b != nil && usable(b) {
		t.hold(ss, b, key, uncl, nowNS)
		res.addr = b.addr
		return res
	}
	if requested.IsValid() && ss.cfg.prefix.Contains(requested) {
		if p := ss.poolOf(requested); p != nil {
			b := t.byAddr[requested]
			untouched := b == nil && p.r.allows(cl) && !(uncl && ss.unclassifiedFull(nil)) && !ss.reservedForOther(requested, id)
			if untouched || (b != nil && usable(b)) {
				b = t.binding(ss, requested)
				t.hold(ss, b, key, uncl, nowNS)
				res.addr, res.mustCheck = requested, check && b.mustCheck(key, nowNS, fresh)
				return res
			}
		}
	}
	if uncl && ss.unclassifiedFull(nil) {
		res.limited = true
		return res
	}
	for _, p := range ss.pools {
		if !p.r.allows(cl) {
			continue
		}
		if b, reclaimed := t.allocate(p, id, key, nowNS); b != nil {
			t.hold(ss, b, key, uncl, nowNS)
			res.addr, res.mustCheck, res.reclaimed = b.addr, check && b.mustCheck(key, nowNS, fresh), reclaimed
			return res
		}
	}
	res.exhausted = true
	return res
}

func (b *binding) ownedBy(id identity) bool {
	if b.key == "" {
		return false
	}
	var buf [17]byte
	return b.key == id.key || (len(b.clientID) == 0 && b.key == string(hwKeyBytes(&buf, id.hwaddr)))
}

// reservedForOther reports whether a is reserved for a client other than id.
func (ss *subnetState) reservedForOther(a netip.Addr, id identity) bool {
	r := ss.cfg.resByAddr[a]
	return r != nil && !r.matches(id)
}

// matches reports whether the reservation is for id (by client identifier
// or by MAC).
func (r *reservation) matches(id identity) bool {
	var buf [17]byte
	return r.key == id.key || r.key == string(hwKeyBytes(&buf, id.hwaddr))
}

// allocate takes the next free address of the pool: a never-used one, else
// the one freed longest ago, else one reclaimed from a stale offer.
func (t *table) allocate(p *poolState, id identity, key string, nowNS int64) (b *binding, reclaimed bool) {
	ss := p.subnet
	for p.cursor <= p.end {
		a := a32(p.cursor)
		p.cursor++
		if _, reserved := ss.cfg.resByAddr[a]; reserved {
			continue
		}
		if _, known := t.byAddr[a]; known {
			continue // it has a history; it joins the queue when free
		}
		return t.binding(ss, a), false
	}
	for {
		b := p.pop()
		if b == nil {
			b = t.reclaim(p, id, key, nowNS)
			return b, b != nil
		}
		if b.availableTo(key, nowNS) && !ss.reservedForOther(b.addr, id) {
			return b, false
		}
	}
}

// maxReclaimScan bounds the offers reclaim looks at for one DISCOVER.
const maxReclaimScan = 16

// reclaim takes, for a pool with no free address, the address of an offer
// made at least pressureHold ago and not yet requested: under pressure an
// offer holds its address only briefly. The oldest offers come first;
// the client whose offer is taken is NAKed if it requests it and starts
// over. Nil when no offer is old enough.
func (t *table) reclaim(p *poolState, id identity, key string, nowNS int64) *binding {
	if t.pressureHold <= 0 {
		return nil
	}
	live := func(h timer) bool { return h.b.holdKey != "" && h.b.holdUntil == h.until }
	for len(p.holds) > 0 && !live(p.holds[0]) {
		p.holds[0] = timer{}
		p.holds = p.holds[1:]
	}
	// An offer made at or before cutoff ends (holdUntil) at or before this.
	cutoff := nowNS - int64(t.pressureHold) + int64(t.offerHold)
	for i := 0; i < len(p.holds) && i < maxReclaimScan; i++ {
		h := p.holds[i]
		if h.until > cutoff {
			return nil // this offer and every later one are younger
		}
		b := h.b
		if !live(h) || b.holdKey == key {
			continue
		}
		if b.quarantinedUntil > nowNS || (b.state == leases.Active && b.expiry > nowNS/1e9) ||
			b.state == leases.Declined || p.subnet.reservedForOther(b.addr, id) {
			continue // held by its own lease, or not free for other reasons
		}
		t.clearHold(p.subnet, b)
		return b
	}
	return nil
}

// checked records the result of an address check for the address held for key.
func (t *table) checked(ss *subnetState, a netip.Addr, key string, answered bool, nowNS int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.byAddr[a]
	if b == nil {
		return
	}
	if !answered {
		b.checkedAt = nowNS
		return
	}
	// Someone uses the address: keep it out of the pool for the probation
	// time, and release the hold so the client is offered another.
	b.quarantinedUntil = nowNS + int64(t.quarantine)
	b.needsCheck = true
	if b.pool != nil {
		b.pool.declined++
	}
	t.quar = append(t.quar, timer{b, b.quarantinedUntil})
	if b.holdKey == key {
		t.clearHold(ss, b)
	}
}

// requestKind is the RFC 2131 §4.3.2 client state a REQUEST comes from.
type requestKind uint8

const (
	selecting requestKind = iota + 1
	initReboot
	renewing
	rebinding
)

var requestKindNames = [...]string{"", "selecting", "init-reboot", "renewing", "rebinding"}

func (k requestKind) String() string { return requestKindNames[k] }

// commitRequest is a REQUEST the handler wants to turn into a lease.
type commitRequest struct {
	kind        requestKind
	id          identity
	addr        netip.Addr
	hostname    string
	vendorClass []byte
	class       *class // nil: in no class
	leaseTime   time.Duration
	nowNS       int64
	check       bool
	fresh       time.Duration
}

// commitResult is the outcome: nak (with a reason), or the lease records
// to store before the ACK and an undo for when the store fails.
type commitResult struct {
	nak  string
	puts []leases.Lease
	undo func()
}

// commit decides a REQUEST and, when it is granted, records the lease in
// memory at once, so no other client can get the address while the store
// writes it.
func (t *table) commit(ss *subnetState, rq commitRequest) commitResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := rq.id.key
	a := rq.addr
	res := ss.reservationFor(rq.id)
	switch {
	case !ss.cfg.prefix.Contains(a):
		return commitResult{nak: "address is not on the client's network"}
	case res != nil && res.addr != a:
		return commitResult{nak: "the client has a reservation for " + res.addr.String()}
	case ss.reservedForOther(a, rq.id):
		return commitResult{nak: "address is reserved for another client"}
	case res == nil && ss.poolOf(a) == nil:
		return commitResult{nak: "address is in no pool"}
	case res == nil && !ss.poolOf(a).r.allows(rq.class):
		return commitResult{nak: "address is in a pool kept for other client classes"}
	}
	b := t.byAddr[a]
	if b != nil && !b.availableTo(key, rq.nowNS) {
		return commitResult{nak: "address is in use by another client"}
	}
	if res == nil && rq.class == nil && ss.unclassifiedFull(b) {
		return commitResult{nak: "no address left for clients in no class (unclassified_limit)"}
	}
	if res == nil && rq.check && b.mustCheck(key, rq.nowNS, rq.fresh) {
		// Another client's lease on this address ran out and the address
		// was not checked: let the client start over with DISCOVER.
		return commitResult{nak: "address was another client's and has not been checked"}
	}
	b = t.binding(ss, a)
	prev, prevOwner, prevHeld := b.record(), ss.owner[key], ss.held[key]
	oldKey := b.key
	var puts []leases.Lease
	// The client moves: its old address here is released.
	var moved *binding
	var movedPrev record
	if o := ss.ownBinding(rq.id); o != nil && o != b && o.state == leases.Active {
		moved, movedPrev = o, o.record()
		t.setExpiry(o, leases.Released, rq.nowNS/1e9)
		t.freeIfUnused(o)
		puts = append(puts, o.lease())
	}
	if oldKey != "" && oldKey != key && ss.owner[oldKey] == b {
		delete(ss.owner, oldKey)
	}
	now := rq.nowNS / 1e9
	b.key = key
	b.hwaddr = append(b.hwaddr[:0:0], rq.id.hwaddr...)
	b.clientID = nil
	if len(rq.id.clientID) > 0 {
		b.clientID = append([]byte(nil), rq.id.clientID...)
	}
	b.hostname, b.vendorClass, b.class = rq.hostname, t.intern(rq.vendorClass), ""
	if rq.class != nil {
		b.class = rq.class.name
	}
	b.start = now
	b.needsCheck = false
	t.setExpiry(b, leases.Active, now+int64(rq.leaseTime/time.Second))
	if b.holdKey != "" {
		t.clearHold(ss, b)
	}
	if h := ss.held[key]; h != nil && h != b {
		t.unhold(ss, h)
	}
	ss.owner[key] = b
	b.gen++
	gen := b.gen
	puts = append(puts, b.lease())
	undo := func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if b.gen != gen {
			return // changed again since; the newer state stands
		}
		t.restore(b, prev)
		if ss.owner[key] == b {
			delete(ss.owner, key)
		}
		if prevOwner != nil {
			ss.owner[key] = prevOwner
		}
		if oldKey != "" && oldKey != key {
			ss.owner[oldKey] = b
		}
		if prevHeld != nil {
			ss.held[key] = prevHeld
		}
		if moved != nil {
			t.restore(moved, movedPrev)
		}
		t.freeIfUnused(b)
	}
	return commitResult{puts: puts, undo: undo}
}

func (t *table) restore(b *binding, r record) {
	b.key, b.hwaddr, b.clientID = r.key, r.hwaddr, r.clientID
	b.hostname, b.vendorClass, b.class, b.start = r.hostname, r.vendorClass, r.class, r.start
	b.needsCheck = r.needsCheck
	t.setExpiry(b, r.state, r.expiry)
	b.gen++
}

// setExpiry sets state and expiry and keeps the expiry heap and the
// unclassified count in step: active leases and declined addresses are in
// the heap. Set b.class first.
func (t *table) setExpiry(b *binding, s leases.State, expiry int64) {
	b.setState(s)
	b.expiry = expiry
	t.account(b)
	inHeap := s == leases.Active || s == leases.Declined
	switch {
	case inHeap && b.heapIdx >= 0:
		heap.Fix(&t.expiries, b.heapIdx)
	case inHeap:
		heap.Push(&t.expiries, b)
	case b.heapIdx >= 0:
		heap.Remove(&t.expiries, b.heapIdx)
	}
}

// lease is b's durable record in the store's form.
func (b *binding) lease() leases.Lease {
	return leases.Lease{
		Addr:        b.addr,
		HWAddr:      net.HardwareAddr(slices.Clone(b.hwaddr)),
		ClientID:    slices.Clone(b.clientID),
		Subnet:      b.subnet.cfg.prefix,
		Hostname:    b.hostname,
		VendorClass: b.vendorClass,
		Class:       b.class,
		Start:       time.Unix(b.start, 0),
		Expiry:      time.Unix(b.expiry, 0),
		State:       b.state,
	}
}

// release ends the client's lease on a (DHCPRELEASE). It returns the record
// to store, or false when the client holds no lease on a.
func (t *table) release(ss *subnetState, id identity, a netip.Addr, nowNS int64) (leases.Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.byAddr[a]
	if b == nil || b.subnet != ss || !b.ownedBy(id) || b.state != leases.Active {
		return leases.Lease{}, false
	}
	t.setExpiry(b, leases.Released, nowNS/1e9)
	b.needsCheck = false
	b.gen++
	t.freeIfUnused(b)
	return b.lease(), true
}

// decline puts a on probation after a client found it in use (DHCPDECLINE).
func (t *table) decline(ss *subnetState, id identity, a netip.Addr, nowNS int64) (leases.Lease, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.byAddr[a]
	if b == nil || b.subnet != ss {
		return leases.Lease{}, false
	}
	key := id.key
	if !b.ownedBy(id) && b.holdKey != key {
		return leases.Lease{}, false
	}
	if ss.owner[b.key] == b {
		delete(ss.owner, b.key)
	}
	if ss.held[key] == b {
		delete(ss.held, key)
	}
	t.clearHold(ss, b)
	b.key, b.clientID, b.hostname, b.vendorClass, b.class = "", nil, "", "", ""
	b.hwaddr = nil
	b.start = nowNS / 1e9
	b.needsCheck = true
	t.setExpiry(b, leases.Declined, nowNS/1e9+int64(t.quarantine/time.Second))
	b.gen++
	return b.lease(), true
}

// dropHold forgets the hold for key (the client chose another server).
func (t *table) dropHold(ss *subnetState, key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b := ss.held[key]; b != nil && b.holdKey == key {
		t.unhold(ss, b)
	}
}

// sweepResult is what a sweep changed: records to store, addresses to
// delete from the store, and the expired leases for events.
type sweepResult struct {
	expired []leases.Lease
	deleted []netip.Addr
}

// endHolds ends the holds of the queue q that ran out by now.
func (t *table) endHolds(q *[]timer, nowNS int64) {
	for len(*q) > 0 && (*q)[0].until <= nowNS {
		h := (*q)[0]
		(*q)[0] = timer{}
		*q = (*q)[1:]
		if h.b.holdKey != "" && h.b.holdUntil == h.until {
			t.unhold(h.b.subnet, h.b)
		}
	}
	if len(*q) == 0 {
		*q = nil
	}
}

// sweep ends holds, quarantines, leases and probations that ran out by now.
func (t *table) sweep(nowNS int64) sweepResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out sweepResult
	t.endHolds(&t.holds, nowNS)
	for _, ss := range t.subnets {
		for _, p := range ss.pools {
			t.endHolds(&p.holds, nowNS)
		}
	}
	for len(t.quar) > 0 && t.quar[0].until <= nowNS {
		q := t.quar[0]
		t.quar[0] = timer{}
		t.quar = t.quar[1:]
		if q.b.quarantinedUntil == q.until {
			q.b.quarantinedUntil = 0
			if q.b.pool != nil {
				q.b.pool.declined--
			}
			t.freeIfUnused(q.b)
		}
	}
	now := nowNS / 1e9
	for t.expiries.Len() > 0 && t.expiries[0].expiry <= now {
		b := t.expiries[0]
		switch b.state {
		case leases.Active:
			t.setExpiry(b, leases.Expired, b.expiry)
			b.needsCheck = true
			b.gen++
			out.expired = append(out.expired, b.lease())
		case leases.Declined:
			t.setExpiry(b, 0, 0)
			b.gen++
			out.deleted = append(out.deleted, b.addr)
		default:
			heap.Remove(&t.expiries, 0)
			continue
		}
		t.freeIfUnused(b)
	}
	if len(t.quar) == 0 {
		t.quar = nil
	}
	return out
}

// load fills the table from stored leases. It returns records whose state
// must be rewritten (active leases that expired while the server was down)
// and the number of leases outside every configured subnet.
func (t *table) load(ls []leases.Lease, now time.Time) (rewrite []leases.Lease, orphans int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Freed addresses join the queues oldest first.
	slices.SortFunc(ls, func(a, b leases.Lease) int { return a.Expiry.Compare(b.Expiry) })
	nowS := now.Unix()
	for _, l := range ls {
		ss := t.subnetOf(l.Addr)
		if ss == nil || !l.State.Valid() {
			orphans++
			continue
		}
		b := t.binding(ss, l.Addr)
		b.hwaddr, b.clientID = l.HWAddr, l.ClientID
		b.hostname, b.vendorClass, b.class = l.Hostname, t.intern([]byte(l.VendorClass)), l.Class
		b.start = l.Start.Unix()
		if len(l.ClientID) > 0 {
			b.key = clientIDKey(l.ClientID)
		} else if len(l.HWAddr) > 0 {
			b.key = hwKey(l.HWAddr)
		}
		state := l.State
		if state == leases.Active && l.Expiry.Unix() <= nowS {
			state = leases.Expired
			b.needsCheck = true
		}
		if state == leases.Expired {
			b.needsCheck = true
		}
		if state == leases.Declined {
			b.key = ""
			b.needsCheck = true
		}
		t.setExpiry(b, state, l.Expiry.Unix())
		if state != l.State {
			rewrite = append(rewrite, b.lease())
		}
		if b.key != "" {
			if o := ss.owner[b.key]; o == nil || o.start <= b.start {
				ss.owner[b.key] = b
			}
		}
		t.freeIfUnused(b)
	}
	return rewrite, orphans
}

// snapshot copies every lease record.
func (t *table) snapshot() []leases.Lease {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]leases.Lease, 0, len(t.byAddr))
	for _, b := range t.byAddr {
		if b.state.Valid() {
			out = append(out, b.lease())
		}
	}
	slices.SortFunc(out, func(a, b leases.Lease) int { return a.Addr.Compare(b.Addr) })
	return out
}

// poolCounts is one pool's numbers for the metrics.
type poolCounts struct {
	subnet, pool                    string
	total, assigned, declined, free int
}

func (t *table) counts(nowNS int64) []poolCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []poolCounts
	for _, ss := range t.subnets {
		for _, p := range ss.pools {
			free := p.total - p.assigned - p.declined
			if free < 0 {
				free = 0
			}
			out = append(out, poolCounts{ss.cfg.label, p.r.label, p.total, p.assigned, p.declined, free})
		}
	}
	return out
}

// unclassifiedCount is one subnet's unclassified use for the metrics.
type unclassifiedCount struct {
	subnet      string
	held, limit int
}

func (t *table) unclassifiedCounts() []unclassifiedCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]unclassifiedCount, 0, len(t.subnets))
	for _, ss := range t.subnets {
		out = append(out, unclassifiedCount{ss.cfg.label, ss.uncl, ss.unclMax})
	}
	return out
}

// expiryHeap orders bindings by expiry.
type expiryHeap []*binding

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry < h[j].expiry }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *expiryHeap) Push(x any) {
	b := x.(*binding)
	b.heapIdx = len(*h)
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
