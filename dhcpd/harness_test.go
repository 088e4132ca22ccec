package dhcpd

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/dhcpd/internal/alloc"
	"github.com/phoneprov/phoneprov/dhcpd/internal/wire"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/dhcpd/leases/leasestest"
)

// The unit tests drive the handler directly: packets in as bytes, replies
// out as bytes, a memory store, a clock the test moves.

var (
	serverIP  = netip.MustParseAddr("198.18.0.1")
	relayIP   = netip.MustParseAddr("198.18.1.1")
	bcastAddr = netip.MustParseAddr("255.255.255.255")
	zeroAddr  = netip.IPv4Unspecified()
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type eventRec struct {
	mu  sync.Mutex
	evs []LeaseEvent
}

func (r *eventRec) ObserveLease(ev LeaseEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
}

func (r *eventRec) kinds() []LeaseEventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []LeaseEventKind
	for _, e := range r.evs {
		out = append(out, e.Kind)
	}
	return out
}

func (r *eventRec) last() LeaseEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.evs) == 0 {
		return LeaseEvent{}
	}
	return r.evs[len(r.evs)-1]
}

// baseConfig: one local subnet with a pool of 100, one relayed subnet, the
// avaya preset.
func baseConfig() Config {
	c := DefaultConfig()
	c.Enabled = true
	c.LockDir = "/tmp"
	c.RelayListen = []string{relayIP.String()}
	c.Subnets = []SubnetConfig{
		{
			CIDR: "198.18.0.0/24", Interface: "lab0",
			Routers: []string{"198.18.0.1"}, DNSServers: []string{"198.18.0.2"}, Domain: "phones.example",
			Pools: []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.199"}},
			Reservations: []ReservationConfig{
				{MAC: "00:04:0d:00:00:50", Address: "198.18.0.50", Hostname: "lobby-phone"},
			},
		},
		{
			CIDR:    "198.18.2.0/24",
			Routers: []string{"198.18.2.1"},
			Pools:   []PoolConfig{{Start: "198.18.2.10", End: "198.18.2.20"}},
		},
	}
	c.Classes = []ClassConfig{{Preset: PresetAvaya, CallServers: []string{"198.18.0.5"}}}
	return c
}

type harness struct {
	t      testing.TB
	h      *handler
	pol    *policy
	al     *alloc.Allocator
	store  leases.Store
	clock  *clock
	reg    *prometheus.Registry
	events *eventRec
	link   *link
	sc     *scratch
	checks []checkRequest
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	c := baseConfig()
	if mutate != nil {
		mutate(&c)
	}
	return newHarnessWith(t, c, leasestest.NewMemory())
}

func newHarnessWith(t testing.TB, c Config, store leases.Store) *harness {
	t.Helper()
	var problems []string
	pol := compile(c, func(k string, err error) { problems = append(problems, k+": "+err.Error()) })
	if pol == nil {
		t.Fatalf("config: %v", problems)
	}
	hs := &harness{t: t, pol: pol, al: alloc.New(pol.allocConfig()), store: store,
		clock: &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}, reg: prometheus.NewRegistry(), events: &eventRec{}, sc: newScratch()}
	met, err := newMetrics(hs.reg, pol, hs.al)
	if err != nil {
		t.Fatal(err)
	}
	hs.h = &handler{pol: pol, alloc: hs.al, store: store, vars: defaultVars, log: testLogger(t), met: met,
		obs: hs.events, now: hs.clock.Now, timeout: time.Second, exhaustedLog: make([]atomicInt64, len(pol.subnets))}
	hs.link = &link{name: "lab0", index: 7, mac: net.HardwareAddr{0x02, 0, 0, 0, 0, 1}, mtu: 1500}
	for _, ss := range pol.subnets {
		if ss.iface == "lab0" {
			hs.link.subnets = append(hs.link.subnets, linkSubnet{s: ss, server: serverIP})
		}
	}
	return hs
}

// load runs what Bind does with the store.
func (hs *harness) load() {
	ls, err := hs.store.Load(context.Background())
	if err != nil {
		hs.t.Fatal(err)
	}
	rewrite, _ := hs.al.Load(ls, hs.clock.Now())
	if len(rewrite) > 0 {
		if err := hs.store.Put(context.Background(), rewrite...); err != nil {
			hs.t.Fatal(err)
		}
	}
}

// pkt is a client message to send.
type pkt struct {
	typ    dhcpv4.MessageType
	mac    net.HardwareAddr
	xid    uint32
	ciaddr netip.Addr
	giaddr netip.Addr
	bcast  bool
	opts   []opt
	// dst is the IP destination; broadcast unless set.
	dst netip.Addr
	// relayed packets arrive on no served link.
	viaRelay bool
}

type opt struct {
	code uint8
	data []byte
}

func addrOpt(code uint8, a netip.Addr) opt { b := a.As4(); return opt{code, b[:]} }
func strOpt(code uint8, s string) opt      { return opt{code, []byte(s)} }
func prl(codes ...uint8) opt               { return opt{dhcpv4.OptionParameterRequestList.Code(), codes} }
func maxSize(n int) opt {
	return opt{dhcpv4.OptionMaximumDHCPMessageSize.Code(), binary.BigEndian.AppendUint16(nil, uint16(n))}
}

func mac(last byte) net.HardwareAddr { return net.HardwareAddr{0x02, 0xaa, 0, 0, 0, last} }

func (p pkt) bytes() []byte {
	hw := make(net.HardwareAddr, 6)
	copy(hw, p.mac)
	r := dhcpv4.DHCPv4{OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, ClientHWAddr: hw,
		ClientIPAddr: ipOf(p.ciaddr), GatewayIPAddr: ipOf(p.giaddr)}
	binary.BigEndian.PutUint32(r.TransactionID[:], p.xid)
	if p.giaddr.IsValid() {
		r.HopCount = 1
	}
	if p.bcast {
		r.SetBroadcast()
	}
	// Built like the server's replies, so options stay in the order given
	// (dhcpv4's ToBytes would sort them).
	var b wire.Builder
	b.Start(make([]byte, 0, 1500), 1500, 0, &r)
	b.Add8(dhcpv4.OptionDHCPMessageType.Code(), uint8(p.typ))
	for _, o := range p.opts {
		if !b.Add(o.code, o.data) {
			panic("test packet too big")
		}
	}
	return b.Finish()
}

// send hands the packet to the handler and parses the reply, if any.
func (hs *harness) send(p pkt) (*message, outbound, bool) {
	hs.t.Helper()
	if p.xid == 0 {
		p.xid = 0x1000 + uint32(len(p.mac))
	}
	in := &inbound{data: p.bytes(), link: hs.link, dst: bcastAddr, src: netip.AddrPortFrom(zeroAddr, 68)}
	if p.dst.IsValid() {
		in.dst = p.dst
	}
	if isSet(p.ciaddr) {
		in.src = netip.AddrPortFrom(p.ciaddr, 68)
	}
	if p.viaRelay {
		in.link = nil
		in.local = relayIP
		in.dst = relayIP
		in.src = netip.AddrPortFrom(p.giaddr, 67)
	}
	out, ok := hs.h.handle(context.Background(), in, hs.sc)
	if !ok {
		return nil, outbound{}, false
	}
	m, err := parseMessage(out.data)
	if err != nil {
		hs.t.Fatalf("reply does not parse: %v", err)
	}
	if xid := binary.BigEndian.Uint32(m.TransactionID[:]); m.OpCode != dhcpv4.OpcodeBootReply || xid != p.xid {
		hs.t.Fatalf("reply op %d xid %x, want op 2 xid %x", m.OpCode, xid, p.xid)
	}
	return &m, out, true
}

// get returns option code of a parsed message and whether it is there.
func (m *message) get(code uint8) ([]byte, bool) {
	v, ok := m.Options[code]
	return v, ok
}

// has reports whether option code is in a parsed message.
func (m *message) has(code uint8) bool {
	_, ok := m.Options[code]
	return ok
}

// mustReply sends and fails unless a reply of type want comes back.
func (hs *harness) mustReply(p pkt, want dhcpv4.MessageType) (*message, outbound) {
	hs.t.Helper()
	m, out, ok := hs.send(p)
	if !ok {
		hs.t.Fatalf("%v from %s: no reply, want %v", p.typ, p.mac, want)
	}
	if m.typ != want {
		msg, _ := m.get(dhcpv4.OptionMessage.Code())
		hs.t.Fatalf("%v from %s: got %v (%s), want %v", p.typ, p.mac, m.typ, msg, want)
	}
	return m, out
}

func (hs *harness) mustSilence(p pkt) {
	hs.t.Helper()
	if m, _, ok := hs.send(p); ok {
		hs.t.Fatalf("%v from %s: got %v, want no reply", p.typ, p.mac, m.typ)
	}
}

// dora runs DISCOVER, OFFER, REQUEST, ACK and returns the address.
func (hs *harness) dora(mac net.HardwareAddr, extra ...opt) netip.Addr {
	hs.t.Helper()
	offer, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac, opts: extra}, dhcpv4.MessageTypeOffer)
	reqOpts := append([]opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}, extra...)
	ack, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac, opts: reqOpts}, dhcpv4.MessageTypeAck)
	if ack.yiaddr != offer.yiaddr {
		hs.t.Fatalf("ACK for %s, offered %s", ack.yiaddr, offer.yiaddr)
	}
	return ack.yiaddr
}

func (hs *harness) stored(a netip.Addr) (leases.Lease, bool) {
	hs.t.Helper()
	ls, err := hs.store.Load(context.Background())
	if err != nil {
		hs.t.Fatal(err)
	}
	for _, l := range ls {
		if l.Addr == a {
			return l, true
		}
	}
	return leases.Lease{}, false
}

func (hs *harness) counter(name string, labels ...string) float64 {
	hs.t.Helper()
	return gatherValue(hs.reg, name, labels...)
}

// gatherValue reads one series (the first matching the label pairs) from a
// registry; 0 when it is not there.
func gatherValue(reg *prometheus.Registry, name string, labels ...string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

// fakeStore is a Store for tests that never reach it.
type fakeStore struct{ leases.Store }
