package dhcpd

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
	"github.com/phoneprov/phoneprov/dhcpd/internal/alloc"
	"github.com/phoneprov/phoneprov/dhcpd/internal/delivery"
	"github.com/phoneprov/phoneprov/dhcpd/internal/sock"
	"github.com/phoneprov/phoneprov/dhcpd/internal/wire"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// link is a served interface as the handler sees it.
type link struct {
	name  string
	index int
	mac   net.HardwareAddr
	mtu   int
	// subnets on this link, each with the server's own address in it.
	subnets []linkSubnet
}

type linkSubnet struct {
	s      *subnet
	server netip.Addr
}

// inbound is one received packet with where it came from.
type inbound struct {
	data []byte
	// link is the interface the packet arrived on, when it is a served one.
	link *link
	// local is the server address the packet was sent to (for relayed
	// packets) as the kernel reports it.
	local netip.Addr
	// dst is the IP destination (broadcast or one of ours).
	dst netip.Addr
	src netip.AddrPort
	// conn is the socket to answer on.
	conn *sock.Conn
}

// outbound is a reply ready to send.
type outbound struct {
	data []byte
	to   delivery.Decision
	// mac and ifIndex are for a neighbour entry before a unicast to yiaddr.
	mac     []byte
	ifIndex int
}

// checkRequest asks for an address check; done is called once with its result.
type checkRequest struct {
	in      *inbound
	addr    netip.Addr
	relayed bool
	done    func(answered bool, err error)
}

// handler turns requests into replies. It is safe for concurrent use: each
// worker passes its own scratch.
type handler struct {
	pol     *policy
	alloc   *alloc.Allocator
	store   leases.Store
	vars    func(netip.Addr) dhcpopts.Vars
	log     *slog.Logger
	met     *metrics
	obs     LeaseObserver
	partner Partner // nil without [dhcp.ha]
	now     func() time.Time
	timeout time.Duration // for store writes
	// check starts an address check and reports whether it could; nil
	// when checks are off.
	check func(checkRequest) bool
	// send sends a reply to a DISCOVER that waited for an address check.
	send func(c *sock.Conn, out outbound)
	// exhaustedLog rate-limits the pool-exhausted warning, per subnet.
	exhaustedLog []atomicInt64
}

// scratch is one worker's reusable memory.
type scratch struct {
	cands   []*subnet
	msg     message
	b       wire.Builder
	out     []byte
	written [4]uint64
}

func newScratch() *scratch { return &scratch{out: make([]byte, 0, 1500)} }

func (sc *scratch) mark(code uint8)      { sc.written[code>>6] |= 1 << (code & 63) }
func (sc *scratch) done(code uint8) bool { return sc.written[code>>6]&(1<<(code&63)) != 0 }

// maxChecksPerPacket bounds the address checks one DISCOVER can cause
// when candidate after candidate turns out to be in use.
const maxChecksPerPacket = 3

// maxHops drops packets that went through too many relays (RFC 1542 §4.1.1).
const maxHops = 16

// handle processes one packet; it returns a reply to send, or false.
func (h *handler) handle(ctx context.Context, in *inbound, sc *scratch) (outbound, bool) {
	m := &sc.msg
	var err error
	if *m, err = parseMessage(in.data); err != nil {
		h.met.parseFailed.Inc()
		h.log.Debug("dropped malformed packet", "from", in.src, "err", err)
		return outbound{}, false
	}
	typ := m.typ
	h.met.receivedOf(typ).Inc()
	if m.OpCode != dhcpv4.OpcodeBootRequest || typ == dhcpv4.MessageTypeNone || m.HopCount > maxHops || m.hlen > 16 {
		h.met.dropped.WithLabelValues(dropNotForUs).Inc()
		return outbound{}, false
	}
	cands, server := h.subnetsFor(in, m, sc.cands[:0])
	sc.cands = cands[:0]
	if len(cands) == 0 {
		h.met.dropped.WithLabelValues(dropNoSubnet).Inc()
		h.log.Debug("no subnet for packet", "from", in.src, "giaddr", m.giaddr, "ciaddr", m.ciaddr, "type", typ)
		return outbound{}, false
	}
	if h.partner != nil && !h.partner.Admit(m.NumSeconds, func() string { return idOf(m).Key }) {
		h.met.dropped.WithLabelValues(dropHAOther).Inc()
		return outbound{}, false
	}
	switch typ {
	case dhcpv4.MessageTypeDiscover:
		return h.discover(ctx, in, sc, cands, server)
	case dhcpv4.MessageTypeRequest:
		return h.request(ctx, in, sc, cands, server)
	case dhcpv4.MessageTypeRelease:
		h.release(ctx, in, sc, cands, server)
	case dhcpv4.MessageTypeDecline:
		h.decline(ctx, in, sc, cands, server)
	case dhcpv4.MessageTypeInform:
		return h.inform(in, sc, cands, server)
	default:
		h.met.dropped.WithLabelValues(dropNotForUs).Inc()
	}
	return outbound{}, false
}

func isSet(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

// subnetsFor returns the subnets that may serve the packet and the server
// address to speak from: the relay's subnet for relayed packets, else the
// subnets of the receiving link. The server address for a relayed packet
// is the local address the relay sent to.
func (h *handler) subnetsFor(in *inbound, m *message, out []*subnet) ([]*subnet, netip.Addr) {
	if isSet(m.giaddr) {
		ss := h.pol.subnetOf(m.giaddr)
		if ss == nil {
			return nil, netip.Addr{}
		}
		server := in.local
		if !isSet(server) || !server.Is4() {
			server = in.dst
		}
		if in.link != nil {
			for _, ls := range in.link.subnets {
				if ls.s == ss {
					server = ls.server
				}
			}
		}
		if !isSet(server) || server == limitedBroadcast {
			return nil, netip.Addr{}
		}
		return append(out, ss), server
	}
	// A client of a relayed subnet renews by unicast straight to us,
	// without the relay: find its subnet by its address.
	if isSet(m.ciaddr) && isSet(in.dst) && in.dst != limitedBroadcast {
		if ss := h.pol.subnetOf(m.ciaddr); ss != nil && ss.iface == "" {
			return append(out, ss), in.dst
		}
	}
	if in.link == nil {
		return nil, netip.Addr{} // a broadcast or local packet on a relay-only socket
	}
	var server netip.Addr
	for _, ls := range in.link.subnets {
		if isSet(m.ciaddr) && !ls.s.prefix.Contains(m.ciaddr) {
			continue
		}
		if !server.IsValid() {
			server = ls.server
		}
		out = append(out, ls.s)
	}
	if len(out) == 0 && isSet(m.ciaddr) && len(in.link.subnets) > 0 {
		// A client whose address is on no subnet of this link: hand back
		// the link's subnets so a REQUEST can be NAKed.
		for _, ls := range in.link.subnets {
			out = append(out, ls.s)
		}
		server = in.link.subnets[0].server
	}
	return out, server
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// serverFor is the server's own address for subnet ss on the packet's path.
func serverFor(in *inbound, ss *subnet, fallback netip.Addr) netip.Addr {
	if in.link != nil {
		for _, ls := range in.link.subnets {
			if ls.s == ss {
				return ls.server
			}
		}
	}
	return fallback
}

// ours reports whether a is one of the server's addresses on the packet's path.
func (h *handler) ours(in *inbound, a, server netip.Addr) bool {
	if a == server {
		return true
	}
	if in.link != nil {
		for _, ls := range in.link.subnets {
			if ls.server == a {
				return true
			}
		}
	}
	for _, r := range h.pol.relayListen {
		if r == a {
			return true
		}
	}
	return false
}

func idOf(m *message) alloc.ID {
	cid, _ := m.option(dhcpv4.OptionClientIdentifier)
	return alloc.NewID(cid, m.ClientHWAddr)
}

// classOf is the client's class: its reservation's class, else the first
// class that matches.
func (h *handler) classOf(m *message, ss *subnet, id alloc.ID) (*class, *reservation) {
	r, _ := alloc.Lookup(ss.resByKey, id)
	if r != nil && r.class != nil {
		return r.class, r
	}
	f := factsOf(m, ss)
	return h.pol.classify(&f), r
}

// discovery is a DISCOVER being answered: the parsed request and what the
// allocation needs, kept whole while an address check runs.
type discovery struct {
	ctx       context.Context
	in        inbound
	m         message
	cands     []*subnet
	server    netip.Addr
	id        alloc.ID
	requested netip.Addr
	checks    int // address checks done for it
}

func (h *handler) discover(ctx context.Context, in *inbound, sc *scratch, cands []*subnet, server netip.Addr) (outbound, bool) {
	d := discovery{ctx: ctx, in: *in, m: sc.msg, cands: cands, server: server, id: idOf(&sc.msg)}
	d.requested, _ = sc.msg.addrOption(dhcpv4.OptionRequestedIPAddress)
	return h.answer(&d, sc)
}

// answer asks the allocator for an address in each candidate subnet and
// offers the first it gives. A DISCOVER whose address must be checked
// first gets no answer now: it waits for the check (see await).
func (h *handler) answer(d *discovery, sc *scratch) (outbound, bool) {
	m := &sc.msg
	now := h.now()
	limited := false
	for _, ss := range d.cands {
		cl, r := h.classOf(m, ss, d.id)
		res := h.alloc.Offer(alloc.OfferRequest{Subnet: ss.index, ID: d.id, Class: cl.allocIndex(),
			Requested: d.requested, NowNS: now.UnixNano(), Check: h.check != nil})
		if res.Conflict.IsValid() {
			h.log.Warn("reserved address is in use by another client; offering a pool address meanwhile",
				"addr", res.Conflict, "client", net.HardwareAddr(d.id.HWAddr).String())
		}
		if res.Reclaimed {
			h.met.reclaimed.Inc()
		}
		switch res.Status {
		case alloc.Limited:
			limited = true
			continue
		case alloc.Exhausted:
			continue
		case alloc.CheckNeeded, alloc.Checking:
			h.await(d, ss, res)
			h.met.dropped.WithLabelValues(dropChecking).Inc()
			return outbound{}, false
		}
		lt := h.leaseTime(ss, cl)
		out := h.reply(&d.in, sc, ss, cl, r, serverFor(&d.in, ss, d.server), dhcpv4.MessageTypeOffer, res.Addr, lt)
		h.met.sentOffer.Inc()
		h.emit(d.ctx, Offered, m, ss, res.Addr, cl, now, now.Add(lt))
		return out, true
	}
	if limited {
		// Counted as a drop, not an allocation failure: the pool may have
		// room, only not for clients in no class.
		h.met.dropped.WithLabelValues(dropUnclassifiedLimit).Inc()
		return outbound{}, false
	}
	for _, ss := range d.cands {
		h.met.allocFail.WithLabelValues(ss.label).Inc()
		h.warnExhausted(ss, d.id)
	}
	return outbound{}, false
}

// warnExhausted logs a full pool at most once a minute per subnet.
func (h *handler) warnExhausted(ss *subnet, id alloc.ID) {
	last := &h.exhaustedLog[ss.index]
	now := h.now().UnixNano()
	prev := last.Load()
	if now-prev < int64(time.Minute) || !last.CompareAndSwap(prev, now) {
		return
	}
	h.log.Warn("no free address: pool exhausted, DISCOVER left unanswered (logged once a minute)",
		"subnet", ss.label, "client", net.HardwareAddr(id.HWAddr).String())
}

// await makes the DISCOVER wait in the allocator for the check of the
// address held for it, starting the check when none runs yet. When the
// check ends the allocation runs again from the kept request, and the
// answer is sent. A request that had its share of checks, or finds no
// check slot free, gets nothing: no unchecked address is handed out, and
// the client asks again in a few seconds.
func (h *handler) await(d *discovery, ss *subnet, res alloc.OfferResult) {
	start := res.Status == alloc.CheckNeeded
	if start && d.checks >= maxChecksPerPacket {
		h.alloc.DropHold(ss.index, d.id.Key)
		return
	}
	w := new(discovery)
	*w = *d
	w.cands = slices.Clone(d.cands)
	if start {
		w.checks++
	}
	if !h.alloc.Await(ss.index, res.Addr, d.id.Key, func() { h.resume(w) }) || !start {
		return
	}
	if !h.startCheck(w, ss, res.Addr) {
		h.alloc.DropHold(ss.index, d.id.Key)
	}
}

// startCheck probes addr, held for the waiting DISCOVER w, and reports
// the answer to the allocator, which wakes w.
func (h *handler) startCheck(w *discovery, ss *subnet, addr netip.Addr) bool {
	key := w.id.Key
	relayed := ss.iface == "" || isSet(w.m.giaddr)
	return h.check(checkRequest{in: &w.in, addr: addr, relayed: relayed, done: func(answered bool, err error) {
		if err != nil {
			h.log.Warn("address check failed; treating the address as free", "addr", addr, "err", err)
		}
		if answered {
			h.met.conflicts.Inc()
			h.log.Warn("address in use although its lease ran out; kept out of the pool", "addr", addr,
				"probation", h.pol.cfg.DeclineProbation)
		}
		h.alloc.Checked(ss.index, addr, key, answered, h.now().UnixNano())
	}})
}

// resume answers a DISCOVER whose address check ended: the allocation
// runs again from its kept request (no bytes are parsed again), now with
// the check's result, and the answer, if any, is sent.
func (h *handler) resume(w *discovery) {
	defer h.dropPanic(w.in.src)
	sc := newScratch()
	sc.msg = w.m
	if out, ok := h.answer(w, sc); ok && h.send != nil {
		h.send(w.in.conn, out)
	}
}

// dropPanic, deferred, turns a panic in the handler into a dropped,
// counted packet, so one bad packet never stops the server.
func (h *handler) dropPanic(from netip.AddrPort) {
	if r := recover(); r != nil {
		h.met.parseFailed.Inc()
		h.log.Error("dhcp handler panic; packet dropped", "from", from, "panic", r)
	}
}

func (h *handler) leaseTime(ss *subnet, cl *class) time.Duration {
	if cl != nil && cl.leaseTime > 0 {
		return cl.leaseTime
	}
	return ss.leaseTime
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

func (h *handler) request(ctx context.Context, in *inbound, sc *scratch, cands []*subnet, server netip.Addr) (outbound, bool) {
	m := &sc.msg
	id := idOf(m)
	kind, addr, ok := h.requestState(in, m, id, cands, server)
	if !ok {
		return outbound{}, false
	}
	ss := cands[0]
	for _, c := range cands {
		if c.prefix.Contains(addr) {
			ss = c
			break
		}
	}
	srv := serverFor(in, ss, server)
	cl, r := h.classOf(m, ss, id)
	lt := h.leaseTime(ss, cl)
	now := h.now()
	host, _ := m.option(dhcpv4.OptionHostName)
	vc, _ := m.option(dhcpv4.OptionClassIdentifier)
	res := h.alloc.Commit(alloc.CommitRequest{
		Subnet: ss.index, ID: id, Addr: addr, Hostname: string(host), VendorClass: trimNULs(vc),
		Class: cl.allocIndex(), ClassName: cl.nameOrNone(), LeaseTime: lt, NowNS: now.UnixNano(), Check: h.check != nil,
	})
	if res.Nak != "" {
		// A server that offered the address NAKs whatever its mode; for the
		// other states only an authoritative server speaks up.
		if kind != selecting && !h.pol.authoritative {
			h.met.dropped.WithLabelValues(dropSilent).Inc()
			return outbound{}, false
		}
		h.log.Info("dhcp nak", "addr", addr, "mac", net.HardwareAddr(id.HWAddr).String(), "state", kind.String(), "reason", res.Nak)
		h.met.sentNak.Inc()
		return h.nak(in, sc, srv, res.Nak), true
	}
	if !h.persist(ctx, &res, addr, id) {
		return outbound{}, false
	}
	out := h.reply(in, sc, ss, cl, r, srv, dhcpv4.MessageTypeAck, addr, lt)
	h.met.sentAck.Inc()
	h.emit(ctx, Acked, m, ss, addr, cl, now, now.Add(lt))
	return out, true
}

// requestState tells which RFC 2131 state a REQUEST comes from (selecting,
// init-reboot, renewing, rebinding) and the address it asks for; false
// when it is not for this server or not a valid REQUEST (counted).
func (h *handler) requestState(in *inbound, m *message, id alloc.ID, cands []*subnet, server netip.Addr) (requestKind, netip.Addr, bool) {
	sid, hasSID := m.addrOption(dhcpv4.OptionServerIdentifier)
	requested, hasReq := m.addrOption(dhcpv4.OptionRequestedIPAddress)
	var kind requestKind
	var addr netip.Addr
	switch {
	case hasSID:
		if !h.ours(in, sid, server) {
			// The client chose another server's offer: forget ours.
			for _, ss := range cands {
				h.alloc.DropHold(ss.index, id.Key)
			}
			h.met.dropped.WithLabelValues(dropOtherServer).Inc()
			return 0, netip.Addr{}, false
		}
		kind, addr = selecting, requested
		if !hasReq {
			addr = m.ciaddr // lenient: some clients put it in ciaddr
		}
	case hasReq && !isSet(m.ciaddr):
		kind, addr = initReboot, requested
	case isSet(m.ciaddr):
		kind, addr = renewing, m.ciaddr
		if in.dst == limitedBroadcast || isSet(m.giaddr) {
			kind = rebinding
		}
	}
	if kind == 0 || !isSet(addr) {
		h.met.dropped.WithLabelValues(dropInvalid).Inc()
		return 0, netip.Addr{}, false
	}
	return kind, addr, true
}

// persist makes a committed lease durable before its ACK: in the journal
// (undoing the commit when that fails) and, in a pair, acknowledged by the
// HA partner. False: no ACK may leave (counted and logged).
func (h *handler) persist(ctx context.Context, res *alloc.Grant, addr netip.Addr, id alloc.ID) bool {
	wctx, cancel := context.WithTimeout(ctx, h.timeout)
	err := h.store.Put(wctx, res.Puts...)
	cancel()
	if err != nil {
		res.Undo()
		h.met.storeErrors.Inc()
		h.met.dropped.WithLabelValues(dropStore).Inc()
		h.log.Error("lease not stored; ACK withheld", "addr", addr, "mac", net.HardwareAddr(id.HWAddr).String(), "err", err)
		return false
	}
	if h.partner != nil {
		if err := h.partner.LeasesCommitted(ctx, res.Puts); err != nil {
			h.met.dropped.WithLabelValues(dropHAUnacked).Inc()
			h.log.Warn("lease not acknowledged by the HA partner; ACK withheld", "addr", addr, "mac", net.HardwareAddr(id.HWAddr).String(), "err", err)
			return false
		}
	}
	return true
}

func (h *handler) release(ctx context.Context, in *inbound, sc *scratch, cands []*subnet, server netip.Addr) {
	m := &sc.msg
	if sid, ok := m.addrOption(dhcpv4.OptionServerIdentifier); ok && !h.ours(in, sid, server) {
		h.met.dropped.WithLabelValues(dropOtherServer).Inc()
		return
	}
	id := idOf(m)
	now := h.now()
	for _, ss := range cands {
		l, ok := h.alloc.Release(ss.index, id, m.ciaddr, now.UnixNano())
		if !ok {
			continue
		}
		h.write(ctx, l)
		h.tellPartner(ctx, l)
		h.emitLease(ctx, Released, l, m, now)
		return
	}
	h.met.dropped.WithLabelValues(dropUnknownLease).Inc()
}

func (h *handler) decline(ctx context.Context, in *inbound, sc *scratch, cands []*subnet, server netip.Addr) {
	m := &sc.msg
	if sid, ok := m.addrOption(dhcpv4.OptionServerIdentifier); ok && !h.ours(in, sid, server) {
		h.met.dropped.WithLabelValues(dropOtherServer).Inc()
		return
	}
	addr, ok := m.addrOption(dhcpv4.OptionRequestedIPAddress)
	if !ok {
		h.met.dropped.WithLabelValues(dropInvalid).Inc()
		return
	}
	id := idOf(m)
	now := h.now()
	for _, ss := range cands {
		if !ss.prefix.Contains(addr) {
			continue
		}
		l, ok := h.alloc.Decline(ss.index, id, addr, now.UnixNano())
		if !ok {
			break
		}
		h.met.declines.Inc()
		h.log.Warn("address declined by client: in use by another host, on probation", "addr", addr,
			"mac", net.HardwareAddr(id.HWAddr).String(), "until", l.Expiry)
		h.write(ctx, l)
		h.tellPartner(ctx, l)
		l.HWAddr = net.HardwareAddr(id.HWAddr)
		h.emitLease(ctx, Declined, l, m, now)
		return
	}
	h.met.dropped.WithLabelValues(dropUnknownLease).Inc()
}

// write stores records outside the ACK path (release, decline, expiry).
func (h *handler) write(ctx context.Context, ls ...leases.Lease) {
	wctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	if err := h.store.Put(wctx, ls...); err != nil {
		h.met.storeErrors.Inc()
		h.log.Error("lease change not stored", "leases", len(ls), "err", err)
	}
}

// tellPartner passes a release or decline to the HA partner; no reply
// waits for it, so a failure is only logged.
func (h *handler) tellPartner(ctx context.Context, l leases.Lease) {
	if h.partner == nil {
		return
	}
	if err := h.partner.LeasesCommitted(ctx, []leases.Lease{l}); err != nil {
		h.log.Warn("lease change not sent to the HA partner", "addr", l.Addr, "state", l.State, "err", err)
	}
}

func (h *handler) inform(in *inbound, sc *scratch, cands []*subnet, server netip.Addr) (outbound, bool) {
	m := &sc.msg
	if !isSet(m.ciaddr) {
		h.met.dropped.WithLabelValues(dropInvalid).Inc()
		return outbound{}, false
	}
	ss := cands[0]
	id := idOf(m)
	cl, r := h.classOf(m, ss, id)
	out := h.reply(in, sc, ss, cl, r, serverFor(in, ss, server), dhcpv4.MessageTypeAck, netip.Addr{}, 0)
	h.met.sentAck.Inc()
	return out, true
}

// reply builds an OFFER or ACK (an INFORM answer when yiaddr is unset) in
// ordered steps: the header, the standard options, then the configured
// options by priority (see addConfigured), each kept only if it still
// fits the one size limit (see sizeLimit), then the option 82 echo, for
// which room is kept from the start.
func (h *handler) reply(in *inbound, sc *scratch, ss *subnet, cl *class, r *reservation, server netip.Addr,
	typ dhcpv4.MessageType, yiaddr netip.Addr, lease time.Duration) outbound {
	m := &sc.msg
	hdr := replyTo(m)
	hdr.YourIPAddr = ipOf(yiaddr)
	var ciaddr netip.Addr
	if typ == dhcpv4.MessageTypeAck {
		ciaddr = m.ciaddr
		hdr.ClientIPAddr = m.ClientIPAddr
	}
	hdr.ServerIPAddr = ipOf(nextServer(ss.nextServer, server))
	limit := sizeLimit(in, m)
	agent, hasAgent := startReply(sc, m, &hdr, limit)
	addStandard(sc, ss, typ, server, lease)
	h.addConfigured(sc, ss.setFor(cl), r, server, limit)
	data := finishReply(sc, agent, hasAgent)
	to := delivery.Decide(delivery.Request{
		GIAddr: m.giaddr, CIAddr: ciaddr, YIAddr: yiaddr, BroadcastFlag: m.IsBroadcast(),
		CanUnicast: in.link != nil && m.isEthernet(),
	})
	out := outbound{data: data, to: to}
	if to.Method == delivery.UnicastYIAddr {
		out.mac = m.ClientHWAddr
		out.ifIndex = in.link.index
	}
	return out
}

// sizeLimit is the size policy of every reply: the largest DHCP payload
// the client accepts (option 57, see message.maxReply), less if the
// link's MTU is smaller.
func sizeLimit(in *inbound, m *message) int {
	limit := m.maxReply()
	if in.link != nil && in.link.mtu > 0 && in.link.mtu-wire.IPUDPOverhead < limit {
		limit = in.link.mtu - wire.IPUDPOverhead
	}
	return limit
}

// startReply starts the reply in sc's builder, keeping room for the
// option 82 echo (RFC 3046) it returns.
func startReply(sc *scratch, m *message, hdr *dhcpv4.DHCPv4, limit int) (agent []byte, hasAgent bool) {
	agent, hasAgent = m.option(dhcpv4.OptionRelayAgentInformation)
	reserve := 0
	if hasAgent {
		reserve = dhcpopts.WireLen(len(agent))
	}
	sc.b.Start(sc.out, limit, reserve, hdr)
	sc.written = [4]uint64{}
	return agent, hasAgent
}

// finishReply adds the option 82 echo and End, and returns the reply.
func finishReply(sc *scratch, agent []byte, hasAgent bool) []byte {
	if hasAgent {
		sc.b.AddReserved(dhcpv4.OptionRelayAgentInformation.Code(), agent)
	}
	data := sc.b.Finish()
	sc.out = data[:0]
	return data
}

// addStandard adds what every OFFER and ACK carries: message type, server
// identifier, the lease times (T1 and T2 default to 1/2 and 7/8 of the
// lease), subnet mask and the client identifier echo (RFC 6842). Those
// codes, and 82, are then never added again.
func addStandard(sc *scratch, ss *subnet, typ dhcpv4.MessageType, server netip.Addr, lease time.Duration) {
	b, m := &sc.b, &sc.msg
	b.Add8(dhcpv4.OptionDHCPMessageType.Code(), uint8(typ))
	b.AddAddr(dhcpv4.OptionServerIdentifier.Code(), server)
	if lease > 0 {
		t1, t2 := ss.renewTime, ss.rebindTime
		if t1 == 0 || t1 >= lease {
			t1 = lease / 2
		}
		if t2 == 0 || t2 >= lease {
			t2 = lease * 7 / 8
		}
		b.Add32(dhcpv4.OptionIPAddressLeaseTime.Code(), uint32(lease/time.Second))
		b.Add32(dhcpv4.OptionRenewTimeValue.Code(), uint32(t1/time.Second))
		b.Add32(dhcpv4.OptionRebindingTimeValue.Code(), uint32(t2/time.Second))
	}
	b.AddAddr(dhcpv4.OptionSubnetMask.Code(), ss.mask)
	if cid, ok := m.option(dhcpv4.OptionClientIdentifier); ok {
		b.Add(dhcpv4.OptionClientIdentifier.Code(), cid)
	}
	for _, c := range [...]dhcpv4.OptionCode{dhcpv4.OptionDHCPMessageType, dhcpv4.OptionServerIdentifier,
		dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue,
		dhcpv4.OptionSubnetMask, dhcpv4.OptionClientIdentifier, dhcpv4.OptionRelayAgentInformation} {
		sc.mark(c.Code())
	}
}

// addConfigured adds the configured options in order of importance, each
// kept if it still fits: the class's options the client asked for (or
// that are always sent), routers, what the client asked for in its
// order, DNS and domain (sent to everyone, as Kea does), the rest of what
// is always sent. A reservation's host name stands for option 12.
func (h *handler) addConfigured(sc *scratch, set *optionSet, r *reservation, server netip.Addr, limit int) {
	m := &sc.msg
	enc := set.encoded(server, h.vars, func(code uint8, err error) {
		h.log.Error("option cannot be encoded for this address; left out", "code", code, "server", server, "err", err)
	})
	prl, _ := m.option(dhcpv4.OptionParameterRequestList)
	var droppedClass, dropped int
	add := func(code uint8) {
		if sc.done(code) {
			return
		}
		var ok bool
		switch {
		case code == dhcpv4.OptionHostName.Code() && r != nil && r.hostname != "":
			ok = sc.b.Add(code, []byte(r.hostname))
		case enc.tlv[code] != nil:
			ok = sc.b.AddEncoded(enc.tlv[code])
		default:
			return
		}
		sc.mark(code)
		if !ok {
			dropped++
			if set.byCode[code] != nil && set.byCode[code].class {
				droppedClass++
			}
		}
	}
	for _, c := range set.class {
		if bytes.IndexByte(prl, c) >= 0 || set.byCode[c].sentUnasked(prl) {
			add(c)
		}
	}
	add(dhcpv4.OptionRouter.Code())
	for _, c := range prl {
		add(c)
	}
	add(dhcpv4.OptionDomainNameServer.Code())
	add(dhcpv4.OptionDomainName.Code())
	for _, c := range set.always {
		if set.byCode[c].sentUnasked(prl) {
			add(c)
		}
	}
	if droppedClass > 0 {
		h.log.Warn("class option left out: the reply would exceed the client's maximum message size",
			"mac", net.HardwareAddr(m.ClientHWAddr).String(), "limit", limit, "dropped", dropped)
	} else if dropped > 0 {
		h.log.Debug("options left out to fit the client's maximum message size", "dropped", dropped, "limit", limit)
	}
}

// replyTo starts a reply to req: op BOOTREPLY and the fields RFC 2131
// Table 3 copies from the request (htype, hlen, xid, flags, giaddr, chaddr).
// The caller sets ciaddr, yiaddr, siaddr as the message type needs.
func replyTo(req *message) dhcpv4.DHCPv4 {
	var d dhcpv4.DHCPv4
	dhcpv4.WithReply(req.DHCPv4)(&d)
	d.GatewayIPAddr = req.GatewayIPAddr
	return d
}

// ipOf converts a to a net.IP for a dhcpv4 header: nil (written as
// 0.0.0.0) unless a is IPv4.
func ipOf(a netip.Addr) net.IP {
	if !a.Is4() {
		return nil
	}
	return a.AsSlice()
}

func nextServer(cfg string, server netip.Addr) netip.Addr {
	switch cfg {
	case "":
		return netip.Addr{}
	case "${server}":
		return server
	}
	a, _ := netip.ParseAddr(cfg)
	return a
}

// nak builds a DHCPNAK (RFC 2131 Table 3): no addresses, server id,
// a message, the option 82 echo.
func (h *handler) nak(in *inbound, sc *scratch, server netip.Addr, reason string) outbound {
	m := &sc.msg
	hdr := replyTo(m)
	to := delivery.Decide(delivery.Request{GIAddr: m.giaddr, CIAddr: m.ciaddr, BroadcastFlag: m.IsBroadcast(), NAK: true})
	if to.SetBroadcastFlag {
		hdr.SetBroadcast()
	}
	agent, hasAgent := startReply(sc, m, &hdr, sizeLimit(in, m))
	b := &sc.b
	b.Add8(dhcpv4.OptionDHCPMessageType.Code(), uint8(dhcpv4.MessageTypeNak))
	b.AddAddr(dhcpv4.OptionServerIdentifier.Code(), server)
	b.Add(dhcpv4.OptionMessage.Code(), []byte(reason))
	if cid, ok := m.option(dhcpv4.OptionClientIdentifier); ok {
		b.Add(dhcpv4.OptionClientIdentifier.Code(), cid)
	}
	return outbound{data: finishReply(sc, agent, hasAgent), to: to}
}

func (h *handler) emit(ctx context.Context, kind LeaseEventKind, m *message, ss *subnet, addr netip.Addr, cl *class, now, expiry time.Time) {
	if h.obs == nil && !h.log.Enabled(ctx, eventLevel(kind)) {
		return
	}
	host, _ := m.option(dhcpv4.OptionHostName)
	vc, _ := m.option(dhcpv4.OptionClassIdentifier)
	prl, _ := m.option(dhcpv4.OptionParameterRequestList)
	ev := LeaseEvent{
		Kind: kind, Time: now, MAC: net.HardwareAddr(append([]byte(nil), m.ClientHWAddr...)), Addr: addr, Subnet: ss.prefix,
		Hostname: string(host), VendorClass: string(trimNULs(vc)), RequestedOptions: append([]byte(nil), prl...), Expiry: expiry,
	}
	if cl != nil {
		ev.Class = cl.name
	}
	h.publish(ctx, ev)
}

func (h *handler) emitLease(ctx context.Context, kind LeaseEventKind, l leases.Lease, m *message, now time.Time) {
	ev := LeaseEvent{Kind: kind, Time: now, MAC: l.HWAddr, Addr: l.Addr, Subnet: l.Subnet, Class: l.Class,
		Hostname: l.Hostname, VendorClass: DisplayVendorClass(l.VendorClass)}
	if kind != Released {
		ev.Expiry = l.Expiry
	}
	if m != nil {
		prl, _ := m.option(dhcpv4.OptionParameterRequestList)
		ev.RequestedOptions = append([]byte(nil), prl...)
	}
	h.publish(ctx, ev)
}

func (h *handler) publish(ctx context.Context, ev LeaseEvent) {
	logEvent(ctx, h.log, ev)
	if h.obs != nil {
		h.obs.ObserveLease(ev)
	}
}

// sweep ends what ran out and stores the changes.
func (h *handler) sweep(ctx context.Context) {
	now := h.now()
	res := h.alloc.Sweep(now.UnixNano())
	if len(res.Expired) > 0 {
		h.write(ctx, res.Expired...)
		for _, l := range res.Expired {
			h.emitLease(ctx, Expired, l, nil, now)
		}
	}
	if len(res.Deleted) > 0 {
		wctx, cancel := context.WithTimeout(ctx, h.timeout)
		if err := h.store.Delete(wctx, res.Deleted...); err != nil {
			h.met.storeErrors.Inc()
			h.log.Error("ended probations not stored", "addresses", len(res.Deleted), "err", err)
		}
		cancel()
		for _, a := range res.Deleted {
			h.log.Info("address back in the pool after its probation", "addr", a)
		}
	}
}

// atomicInt64 is a named type so slices of it read well.
type atomicInt64 = atomic.Int64
