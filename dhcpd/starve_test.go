package dhcpd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Tests of the defences against pool starvation (issue 10): class-only
// pools, the unclassified limit, offers reclaimed under pressure, and the
// rate limits.

func inRangeAddr(a netip.Addr, first, last string) bool {
	return !a.Less(netip.MustParseAddr(first)) && !netip.MustParseAddr(last).Less(a)
}

func discover(m net.HardwareAddr, opts ...opt) pkt {
	return pkt{typ: dhcpv4.MessageTypeDiscover, mac: m, opts: opts}
}

func TestClassOnlyPoolServesOnlyItsClass(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{
			{Start: "198.18.0.100", End: "198.18.0.101"},
			{Start: "198.18.0.200", End: "198.18.0.209", ClientClasses: []string{"avaya"}},
		}
	})
	// Unknown clients use up the open pool and never reach the phones' pool.
	for i := byte(1); i <= 2; i++ {
		if a := hs.dora(mac(i)); !inRangeAddr(a, "198.18.0.100", "198.18.0.101") {
			t.Fatalf("unknown client got %s, outside the open pool", a)
		}
	}
	hs.mustSilence(discover(mac(3)))
	if got := hs.counter("phoneprov_dhcp_allocation_failures_total", "subnet", "198.18.0.0/24"); got != 1 {
		t.Errorf("allocation failures %v, want 1", got)
	}
	// Asking for an address of the phones' pool does not help.
	hs.mustSilence(discover(mac(3), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.18.0.205"))))
	// Nor does requesting it straight away (INIT-REBOOT): NAK.
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(3),
		opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.18.0.205"))}}, dhcpv4.MessageTypeNak)
	// A phone of the class is served from its pool, whole DORA.
	phone := net.HardwareAddr{0x00, 0x1b, 0x4f, 0, 0, 1}
	a := hs.dora(phone, avayaVC)
	if !inRangeAddr(a, "198.18.0.200", "198.18.0.209") {
		t.Fatalf("phone got %s, want the avaya pool", a)
	}
	if l, ok := hs.stored(a); !ok || l.Class != "avaya" {
		t.Errorf("phone's lease %+v", l)
	}
}

func TestPoolClassMustExist(t *testing.T) {
	c := baseConfig()
	c.Subnets[0].Pools[0].ClientClasses = []string{"avaya", "nosuch"}
	p := problems(c)
	if got := p["subnet[0].pool[0].client_classes[1]"]; got == "" {
		t.Fatalf("unknown class not reported on its key: %v", p)
	}
}

func TestUnclassifiedLimitLeavesRoomForPhones(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.119"}} // 20 addresses
		c.UnclassifiedLimit = "25%"                                                     // 5 of them
	})
	// Offers count as much as leases: five unknown clients ask, two finish.
	for i := byte(1); i <= 5; i++ {
		if i <= 2 {
			hs.dora(mac(i))
		} else {
			hs.mustReply(discover(mac(i)), dhcpv4.MessageTypeOffer)
		}
	}
	if got := hs.counter("phoneprov_dhcp_unclassified_addresses", "subnet", "198.18.0.0/24"); got != 5 {
		t.Errorf("unclassified held gauge %v, want 5", got)
	}
	if got := hs.counter("phoneprov_dhcp_unclassified_limit", "subnet", "198.18.0.0/24"); got != 5 {
		t.Errorf("unclassified limit gauge %v, want 5", got)
	}
	// The sixth gets nothing, counted as a drop, not as a full pool.
	hs.mustSilence(discover(mac(6)))
	if got := hs.counter("phoneprov_dhcp_packets_dropped_total", "reason", dropUnclassifiedLimit); got != 1 {
		t.Errorf("unclassified_limit drops %v, want 1", got)
	}
	if got := hs.counter("phoneprov_dhcp_allocation_failures_total", "subnet", "198.18.0.0/24"); got != 0 {
		t.Errorf("allocation failures %v, want 0", got)
	}
	// Nor does it get a free address by requesting it outright.
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(6),
		opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.18.0.119"))}}, dhcpv4.MessageTypeNak)
	// Clients that count already keep going: a repeated DISCOVER and a renewal.
	hs.mustReply(discover(mac(3)), dhcpv4.MessageTypeOffer)
	first := hs.dora(mac(1))
	// Phones are not limited.
	for i := byte(1); i <= 3; i++ {
		hs.dora(net.HardwareAddr{0x00, 0x1b, 0x4f, 0, 0, i}, avayaVC)
	}
	// A release makes room for the next unknown client.
	hs.send(pkt{typ: dhcpv4.MessageTypeRelease, mac: mac(1), ciaddr: first, dst: serverIP,
		opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP)}})
	hs.mustReply(discover(mac(6)), dhcpv4.MessageTypeOffer)
	// When the offers run out, their addresses count no more.
	hs.clock.Add(31 * time.Second)
	hs.h.sweep(t.Context())
	if got := hs.counter("phoneprov_dhcp_unclassified_addresses", "subnet", "198.18.0.0/24"); got != 1 {
		t.Errorf("after the offers ran out the gauge is %v, want 1 (mac 2's lease)", got)
	}
}

func TestUnclassifiedLimitValues(t *testing.T) {
	for v, want := range map[string]int{"": -1, "none": -1, "0": 0, "7": 7, "50%": 50, "100%": 100, "0%": 0} {
		u, err := parseUnclassifiedLimit(v)
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		if got := u.Of(200); (u.Percent && got != want*2) || (!u.Percent && got != want) {
			t.Errorf("%q of 200 = %d", v, got)
		}
	}
	c := baseConfig()
	c.UnclassifiedLimit = "120%"
	c.Subnets[1].UnclassifiedLimit = "lots"
	p := problems(c)
	if p["unclassified_limit"] == "" || p["subnet[1].unclassified_limit"] == "" {
		t.Errorf("bad limits not reported on their keys: %v", p)
	}
	// A subnet can lift the [dhcp] cap.
	c = baseConfig()
	c.UnclassifiedLimit = "1"
	c.Subnets[0].UnclassifiedLimit = "none"
	hs := newHarnessWith(t, c, nil)
	counts := hs.al.Counts()
	if counts[0].UnclassifiedMax != -1 || counts[1].UnclassifiedMax != 1 {
		t.Errorf("caps %d %d, want -1 1", counts[0].UnclassifiedMax, counts[1].UnclassifiedMax)
	}
}

func TestStaleOfferReclaimedWhenPoolIsFull(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.102"}}
	})
	// A holds a lease and DISCOVERs again (a hold on its own leased
	// address); B and C only DISCOVER: their offers fill the pool.
	leased := hs.dora(mac(1))
	hs.mustReply(discover(mac(1)), dhcpv4.MessageTypeOffer)
	offB, _ := hs.mustReply(discover(mac(2)), dhcpv4.MessageTypeOffer)
	hs.clock.Add(time.Second)
	offC, _ := hs.mustReply(discover(mac(3)), dhcpv4.MessageTypeOffer)
	hs.mustSilence(discover(mac(4)))
	// Under pressure an offer holds its address only pressure_offer_hold
	// (3 s by default), not the whole offer_hold (30 s): the oldest
	// unrequested offer goes to the next client.
	hs.clock.Add(2500 * time.Millisecond)
	got, _ := hs.mustReply(discover(mac(4)), dhcpv4.MessageTypeOffer)
	if got.yiaddr != offB.yiaddr {
		t.Fatalf("reclaimed %s, want B's %s (the oldest offer)", got.yiaddr, offB.yiaddr)
	}
	if n := hs.counter("phoneprov_dhcp_offers_reclaimed_total"); n != 1 {
		t.Errorf("reclaimed counter %v, want 1", n)
	}
	// C's offer is only 2.5 s old, and A's address is leased: nothing more.
	hs.mustSilence(discover(mac(5)))
	// B comes back with its REQUEST: the address is someone else's now.
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(2), opts: []opt{
		addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offB.yiaddr)}},
		dhcpv4.MessageTypeNak)
	hs.clock.Add(time.Second)
	if got, _ := hs.mustReply(discover(mac(5)), dhcpv4.MessageTypeOffer); got.yiaddr != offC.yiaddr || got.yiaddr == leased {
		t.Fatalf("second reclaim gave %s, want C's %s", got.yiaddr, offC.yiaddr)
	}
	if _, ok := hs.stored(leased); !ok {
		t.Fatal("A's lease is gone")
	}
}

func TestNoReclaimWhenPressureHoldIsOff(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.100"}}
		c.PressureOfferHold = 0
	})
	hs.mustReply(discover(mac(1)), dhcpv4.MessageTypeOffer)
	hs.clock.Add(29 * time.Second)
	hs.mustSilence(discover(mac(2)))
	hs.clock.Add(2 * time.Second)
	hs.h.sweep(t.Context())
	hs.mustReply(discover(mac(2)), dhcpv4.MessageTypeOffer)
}

func TestPressureOfferHoldBounds(t *testing.T) {
	c := baseConfig()
	c.PressureOfferHold = time.Minute // longer than offer_hold
	if p := problems(c); p["pressure_offer_hold"] == "" {
		t.Errorf("pressure_offer_hold above offer_hold accepted: %v", p)
	}
}
