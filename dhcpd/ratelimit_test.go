package dhcpd

import (
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/leases/leasestest"
)

func TestBucketBurstThenRate(t *testing.T) {
	b := newBucketTable(2, 5, minClientSlots) // 2 a second, 5 at once
	key := []byte{0x00, 0x04, 0x0d, 1, 2, 3}
	now := int64(time.Hour) // any start
	for i := range 5 {
		if !b.allow(key, now) {
			t.Fatalf("packet %d of the burst refused", i+1)
		}
	}
	if b.allow(key, now) {
		t.Fatal("sixth packet at once allowed")
	}
	// Another key has its own bucket.
	if !b.allow([]byte{0x00, 0x04, 0x0d, 9, 9, 9}, now) {
		t.Fatal("another client refused")
	}
	// Half a second refills one token, not two.
	now += int64(500 * time.Millisecond)
	if !b.allow(key, now) || b.allow(key, now) {
		t.Fatal("after 500 ms: want exactly one more packet")
	}
	// A long pause refills the burst, no more.
	now += int64(time.Minute)
	n := 0
	for b.allow(key, now) {
		n++
		if n > 100 {
			break
		}
	}
	if n != 5 {
		t.Fatalf("after a pause %d packets passed, want the burst of 5", n)
	}
	if newBucketTable(0, 0, minClientSlots) != nil {
		t.Error("rate 0 must mean no limit")
	}
}

func TestClientSlotsFollowTheSite(t *testing.T) {
	for _, c := range []struct{ clients, want int }{
		{0, minClientSlots}, {254, minClientSlots}, {8192, minClientSlots},
		{8193, 2 * minClientSlots}, {65279, 1 << 17}, {1 << 17, maxClientSlots}, {10_000_000, maxClientSlots},
	} {
		if got := clientSlots(c.clients); got != c.want {
			t.Errorf("clientSlots(%d) = %d, want %d", c.clients, got, c.want)
		}
	}
	// The server sizes the table from its subnets: pools and reservations.
	c := baseConfig()
	c.Subnets[1].CIDR, c.Subnets[1].Routers = "198.18.128.0/17", []string{"198.18.128.1"}
	c.Subnets[1].Pools = []PoolConfig{{Start: "198.18.128.10", End: "198.18.255.254"}}
	srv, err := New(c, Options{Store: leasestest.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	// 100 addresses and a reservation in the first subnet, 32,757 in the
	// second: 65,716 slots rounded up.
	if got, want := c.Addresses(), 100+1+32757; got != want {
		t.Errorf("Addresses: %d, want %d", got, want)
	}
	if got := len(srv.limits.client.slots); got != 1<<17 {
		t.Errorf("client table: %d slots, want %d", got, 1<<17)
	}
}

// TestMassRebootPassesTheClientLimit sends what a site of 30,000 phones
// sends when the power comes back, a DISCOVER and a REQUEST each at one
// instant, through the default client limit sized for a /16 pool. Every
// phone is within its own limit, so the only refusals are phones that
// share a slot with five others or more. With 16,384 slots (the table's
// size before it followed the site) 450 to 494 packets were refused in
// five runs; with two slots a phone none were in 292 runs of 300, and 2
// to 4 in the others.
func TestMassRebootPassesTheClientLimit(t *testing.T) {
	def := DefaultConfig().RateLimit
	l := newRateLimits(RateLimitConfig{ClientRate: def.ClientRate, ClientBurst: def.ClientBurst}, 65279)
	now := int64(time.Hour)
	refused := 0
	p := pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(0)}.bytes()
	for i := range 30000 {
		binaryMAC(p, uint32(i))
		for range 2 {
			if l.check(p, now) != limitPass {
				refused++
			}
		}
	}
	if refused > 20 {
		t.Fatalf("%d of 60,000 packets refused by the client limit", refused)
	}
	t.Logf("%d of 60,000 packets refused", refused)
}

// relayed builds a DISCOVER from chaddr m through giaddr with option 82.
func relayed(m byte, giaddr netip.Addr, circuit, remote string) []byte {
	var sub []byte
	if circuit != "" {
		sub = append(sub, 1, byte(len(circuit)))
		sub = append(sub, circuit...)
	}
	if remote != "" {
		sub = append(sub, 2, byte(len(remote)))
		sub = append(sub, remote...)
	}
	p := pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(m), giaddr: giaddr}
	if sub != nil {
		p.opts = []opt{{dhcpv4.OptionRelayAgentInformation.Code(), sub}}
	}
	return p.bytes()
}

func TestRateLimitsKeys(t *testing.T) {
	now := int64(time.Hour)
	gi := netip.MustParseAddr("198.18.1.1")
	// Keys share a bucket when their seeded hashes share a slot, which for
	// this test's few dozen keys happens in about one run of forty: draw
	// seeds until every client key has a slot of its own.
	var l *rateLimits
	for try := 0; ; try++ {
		l = newRateLimits(RateLimitConfig{ClientRate: 1, ClientBurst: 2, RelayRate: 1, RelayBurst: 3}, 100)
		seen := map[uint64]bool{}
		distinct := true
		for m := range 50 {
			slot := l.client.slot(mac(byte(m)))
			distinct = distinct && !seen[slot]
			seen[slot] = true
		}
		if distinct {
			break
		}
		if try == 100 {
			t.Fatal("no seed in 100 gave the test's clients a bucket each")
		}
	}
	// One client: two pass, the third is the client limit's.
	direct := pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1)}.bytes()
	for i, want := range []limitVerdict{limitPass, limitPass, limitClient} {
		if got := l.check(direct, now); got != want {
			t.Fatalf("direct packet %d: %v, want %v", i+1, got, want)
		}
	}
	// A direct packet without option 82 is never the relay limit's.
	for m := byte(10); m < 20; m++ {
		if got := l.check(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(m)}.bytes(), now); got != limitPass {
			t.Fatalf("direct client %d: %v", m, got)
		}
	}
	// One circuit: three clients pass, the fourth is the relay limit's.
	for m := byte(30); m < 33; m++ {
		if got := l.check(relayed(m, gi, "port-1", "sw-a"), now); got != limitPass {
			t.Fatalf("client %d on port-1: %v", m, got)
		}
	}
	if got := l.check(relayed(33, gi, "port-1", "sw-a"), now); got != limitRelay {
		t.Fatalf("fourth client on port-1: %v, want relay limit", got)
	}
	// Another circuit, another remote-id or another relay: their own buckets.
	for _, p := range [][]byte{relayed(34, gi, "port-2", "sw-a"), relayed(35, gi, "port-1", "sw-b"),
		relayed(36, netip.MustParseAddr("198.18.2.1"), "port-1", "sw-a"), relayed(37, zeroAddr, "port-1", "sw-a")} {
		if got := l.check(p, now); got != limitPass {
			t.Fatalf("other circuit: %v", got)
		}
	}
	// Relayed without option 82: keyed by giaddr alone.
	for m := byte(40); m < 43; m++ {
		l.check(relayed(m, gi, "", ""), now)
	}
	if got := l.check(relayed(43, gi, "", ""), now); got != limitRelay {
		t.Fatalf("fourth client of a relay without option 82: %v", got)
	}
	// Too short for DHCP: left to the handler, which counts it malformed.
	for _, p := range [][]byte{nil, make([]byte, 100), make([]byte, 300)} {
		if got := l.check(p, now); got != limitPass {
			t.Fatalf("malformed packet of %d bytes: %v", len(p), got)
		}
	}
}

func TestRelayAgentIDsToleratesBadOptions(t *testing.T) {
	for _, opts := range [][]byte{
		{82},                          // cut after the code
		{82, 10, 1, 2},                // longer than the data
		{82, 4, 1, 9, 'x', 'y'},       // sub-option longer than the option
		{0, 0, 82, 3, 1, 1, 'x', 255}, // pads first
	} {
		c, r, _ := relayAgentIDs(opts)
		if len(c) > 1 || r != nil {
			t.Errorf("%v: circuit %q remote %q", opts, c, r)
		}
	}
}

func TestRateLimitCheckDoesNotAllocate(t *testing.T) {
	l := newRateLimits(RateLimitConfig{ClientRate: 1000, ClientBurst: 1000, RelayRate: 1000, RelayBurst: 1000}, 100)
	p := relayed(1, netip.MustParseAddr("198.18.1.1"), "Gi1/0/17", "switch-3")
	now := int64(0)
	if n := testing.AllocsPerRun(1000, func() { now += 1e6; l.check(p, now) }); n != 0 {
		t.Fatalf("check allocates %v times per packet", n)
	}
}

// BenchmarkRateLimitCheck is the cost both limits add to each packet
// read, for a relayed packet with option 82.
func BenchmarkRateLimitCheck(b *testing.B) {
	l := newRateLimits(RateLimitConfig{ClientRate: 1_000_000, ClientBurst: 1_000_000, RelayRate: 1_000_000, RelayBurst: 1_000_000}, 65279)
	p := relayed(1, netip.MustParseAddr("198.18.1.1"), "Gi1/0/17", "switch-3")
	b.ReportAllocs()
	now := int64(0)
	for b.Loop() {
		now += 1000
		binaryMAC(p, uint32(now))
		l.check(p, now)
	}
}

// binaryMAC varies the chaddr, so the benchmark touches many buckets.
func binaryMAC(p []byte, v uint32) {
	p[30], p[31], p[32], p[33] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
