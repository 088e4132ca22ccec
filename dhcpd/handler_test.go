package dhcpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/internal/delivery"
	"github.com/phoneprov/phoneprov/dhcpd/internal/sock"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/dhcpd/leases/leasestest"
)

func TestDiscoverOfferRequestAck(t *testing.T) {
	hs := newHarness(t, nil)
	c := mac(1)
	offer, out := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: c}, dhcpv4.MessageTypeOffer)
	if offer.yiaddr != netip.MustParseAddr("198.18.0.100") {
		t.Errorf("first offer %s, want the pool's first address", offer.yiaddr)
	}
	if sid, _ := offer.addrOption(dhcpv4.OptionServerIdentifier); sid != serverIP {
		t.Errorf("server id %s", sid)
	}
	if offer.siaddr != serverIP {
		t.Errorf("siaddr %s, want this box", offer.siaddr)
	}
	if v, _ := offer.get(dhcpv4.OptionIPAddressLeaseTime.Code()); len(v) != 4 || v[2] != 0x51 || v[3] != 0x80 {
		t.Errorf("lease time %x, want 86400 s", v)
	}
	for _, code := range []uint8{dhcpv4.OptionSubnetMask.Code(), dhcpv4.OptionRouter.Code(), dhcpv4.OptionDomainNameServer.Code(), dhcpv4.OptionDomainName.Code(), dhcpv4.OptionRenewTimeValue.Code(), dhcpv4.OptionRebindingTimeValue.Code()} {
		if !offer.has(code) {
			t.Errorf("offer lacks option %d", code)
		}
	}
	if out.to.Method != delivery.UnicastYIAddr || out.to.Dest.Addr() != offer.yiaddr || !bytes.Equal(out.mac, c) {
		t.Errorf("offer delivery %+v mac %s, want unicast to yiaddr at chaddr", out.to, out.mac)
	}
	if ls, _ := hs.store.Load(context.Background()); len(ls) != 0 {
		t.Fatalf("an OFFER wrote %d leases; offers are memory only", len(ls))
	}
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: c, opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}}, dhcpv4.MessageTypeAck)
	l, ok := hs.stored(offer.yiaddr)
	if !ok || l.State != leases.Active || !bytes.Equal(l.HWAddr, c) || l.Expiry.Sub(l.Start) != 24*time.Hour {
		t.Fatalf("stored lease %+v (found %v)", l, ok)
	}
	if got := hs.events.kinds(); !slices.Equal(got, []LeaseEventKind{Offered, Acked}) {
		t.Errorf("events %v", got)
	}
	if hs.counter("phoneprov_dhcp_packets_received_total", "type", "discover") != 1 ||
		hs.counter("phoneprov_dhcp_packets_sent_total", "type", "ack") != 1 {
		t.Error("packet counters not updated")
	}
	if got := hs.counter("phoneprov_dhcp_pool_addresses", "subnet", "198.18.0.0/24", "state", "assigned"); got != 1 {
		t.Errorf("assigned gauge %v, want 1", got)
	}
	if got := hs.counter("phoneprov_dhcp_pool_addresses", "subnet", "198.18.0.0/24", "state", "free"); got != 99 {
		t.Errorf("free gauge %v, want 99", got)
	}
}

func TestSameClientGetsSameAddress(t *testing.T) {
	hs := newHarness(t, nil)
	a := hs.dora(mac(1))
	b := hs.dora(mac(2))
	if a == b {
		t.Fatalf("two clients share %s", a)
	}
	// Again, while the lease runs.
	if again := hs.dora(mac(1)); again != a {
		t.Errorf("same client got %s, then %s", a, again)
	}
	// After a release too: its old address is the one it gets.
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeRelease, mac: mac(1), ciaddr: a, opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP)}})
	if l, _ := hs.stored(a); l.State != leases.Released {
		t.Fatalf("after RELEASE the lease is %v", l.State)
	}
	if again := hs.dora(mac(1)); again != a {
		t.Errorf("after release the client got %s, want its old %s", again, a)
	}
	// By client identifier: a new MAC with the same client-id is the same client.
	cid := opt{dhcpv4.OptionClientIdentifier.Code(), []byte{0xff, 1, 2, 3, 4}}
	c := hs.dora(mac(3), cid)
	if d := hs.dora(mac(4), cid); d != c {
		t.Errorf("client-id kept, MAC changed: got %s, want %s", d, c)
	}
}

func TestOfferIsHeldAndRepeated(t *testing.T) {
	hs := newHarness(t, nil)
	first, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1)}, dhcpv4.MessageTypeOffer)
	again, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1)}, dhcpv4.MessageTypeOffer)
	other, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2)}, dhcpv4.MessageTypeOffer)
	if first.yiaddr != again.yiaddr {
		t.Errorf("retransmitted DISCOVER got %s, then %s", first.yiaddr, again.yiaddr)
	}
	if other.yiaddr == first.yiaddr {
		t.Errorf("address held for one client offered to another")
	}
}

func TestRequestedAddressHonoured(t *testing.T) {
	hs := newHarness(t, nil)
	want := netip.MustParseAddr("198.18.0.150")
	offer, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), want)}}, dhcpv4.MessageTypeOffer)
	if offer.yiaddr != want {
		t.Fatalf("offered %s, client asked for free %s", offer.yiaddr, want)
	}
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), want)}}, dhcpv4.MessageTypeAck)
	// Taken: another client asking for it gets something else.
	offer2, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), want)}}, dhcpv4.MessageTypeOffer)
	if offer2.yiaddr == want {
		t.Errorf("leased address offered to a second client")
	}
	// Outside the pools or the subnet: ignored.
	for _, a := range []string{"198.18.0.20", "198.18.9.9"} {
		o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(3), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr(a))}}, dhcpv4.MessageTypeOffer)
		if o.yiaddr.String() == a {
			t.Errorf("offered requested %s outside the pool", a)
		}
	}
}

func TestRequestStates(t *testing.T) {
	hs := newHarness(t, nil)
	a := hs.dora(mac(1))
	b := hs.dora(mac(2))
	sid := addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP)

	t.Run("init-reboot own address", func(t *testing.T) {
		hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), a)}}, dhcpv4.MessageTypeAck)
	})
	t.Run("init-reboot wrong network is NAKed by broadcast", func(t *testing.T) {
		_, out := hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.19.7.7"))}}, dhcpv4.MessageTypeNak)
		if out.to.Method != delivery.Broadcast {
			t.Errorf("NAK delivered by %v", out.to.Method)
		}
	})
	t.Run("init-reboot someone else's address is NAKed", func(t *testing.T) {
		hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), b)}}, dhcpv4.MessageTypeNak)
	})
	t.Run("init-reboot free pool address is granted", func(t *testing.T) {
		free := netip.MustParseAddr("198.18.0.180")
		hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(3), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), free)}}, dhcpv4.MessageTypeAck)
	})
	t.Run("renewing is unicast to ciaddr", func(t *testing.T) {
		before, _ := hs.stored(a)
		hs.clock.Add(time.Hour)
		ack, out := hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), ciaddr: a, dst: serverIP}, dhcpv4.MessageTypeAck)
		if ack.ciaddr != a || ack.yiaddr != a {
			t.Errorf("renew ACK ciaddr %s yiaddr %s", ack.ciaddr, ack.yiaddr)
		}
		if out.to.Method != delivery.UnicastCIAddr || out.to.Dest.Addr() != a {
			t.Errorf("renew ACK delivery %+v", out.to)
		}
		after, _ := hs.stored(a)
		if !after.Expiry.After(before.Expiry) {
			t.Errorf("renewal did not extend the lease: %v → %v", before.Expiry, after.Expiry)
		}
	})
	t.Run("rebinding (broadcast) is answered", func(t *testing.T) {
		hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), ciaddr: a, bcast: true}, dhcpv4.MessageTypeAck)
	})
	t.Run("renewing someone else's address is NAKed", func(t *testing.T) {
		hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), ciaddr: b, dst: serverIP}, dhcpv4.MessageTypeNak)
	})
	t.Run("selecting our offer", func(t *testing.T) {
		offer, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(9)}, dhcpv4.MessageTypeOffer)
		hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(9), opts: []opt{sid, addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}}, dhcpv4.MessageTypeAck)
	})
	t.Run("selecting a wrong address with our server id is NAKed", func(t *testing.T) {
		hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(9), opts: []opt{sid, addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), b)}}, dhcpv4.MessageTypeNak)
	})
	t.Run("selecting another server is silence and frees our offer", func(t *testing.T) {
		offer, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(10)}, dhcpv4.MessageTypeOffer)
		hs.mustSilence(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(10), opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), netip.MustParseAddr("198.18.0.254")), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}})
		if got := hs.counter("phoneprov_dhcp_packets_dropped_total", "reason", dropOtherServer); got != 1 {
			t.Errorf("other_server drops %v", got)
		}
		// Held, the address would go to no other client.
		other, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(11), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}}, dhcpv4.MessageTypeOffer)
		if other.yiaddr != offer.yiaddr {
			t.Errorf("offer to a client that chose another server is still held")
		}
		if _, ok := hs.stored(offer.yiaddr); ok {
			t.Errorf("declined offer was stored")
		}
	})
	t.Run("a request with neither ciaddr nor option 50 is dropped", func(t *testing.T) {
		hs.mustSilence(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(11)})
	})
}

func TestNotAuthoritativeStaysSilent(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Authoritative = false })
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.19.7.7"))}})
	if got := hs.counter("phoneprov_dhcp_packets_sent_total", "type", "nak"); got != 0 {
		t.Errorf("NAKs sent: %v", got)
	}
}

func TestDeclineProbation(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.101"}}
	})
	a := hs.dora(mac(1))
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDecline, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), a)}})
	if got := hs.counter("phoneprov_dhcp_declines_total"); got != 1 {
		t.Errorf("declines %v", got)
	}
	if l, _ := hs.stored(a); l.State != leases.Declined || len(l.HWAddr) != 0 {
		t.Errorf("declined address stored as %+v", l)
	}
	if got := hs.counter("phoneprov_dhcp_pool_addresses", "state", "declined"); got != 1 {
		t.Errorf("declined gauge %v", got)
	}
	if ev := hs.events.last(); ev.Kind != Declined || ev.Addr != a {
		t.Errorf("last event %+v", ev)
	}
	// The same client gets the other address; a third gets nothing.
	if b := hs.dora(mac(1)); b == a {
		t.Fatalf("declined address %s offered again", a)
	}
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(3)})
	// After the probation the address comes back.
	hs.clock.Add(24*time.Hour + time.Second)
	hs.h.sweep(context.Background())
	if _, ok := hs.stored(a); ok {
		t.Errorf("probation ended but the declined record stays")
	}
	offer, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(3)}, dhcpv4.MessageTypeOffer)
	if offer.yiaddr != a {
		t.Errorf("after probation offered %s, want %s", offer.yiaddr, a)
	}
}

func TestInform(t *testing.T) {
	hs := newHarness(t, nil)
	ci := netip.MustParseAddr("198.18.0.33")
	ack, out := hs.mustReply(pkt{typ: dhcpv4.MessageTypeInform, mac: mac(1), ciaddr: ci, dst: serverIP,
		opts: []opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com"), prl(1, 3, 6, 242)}}, dhcpv4.MessageTypeAck)
	if ack.has(dhcpv4.OptionIPAddressLeaseTime.Code()) || isSet(ack.yiaddr) {
		t.Errorf("INFORM answer has lease time %v or yiaddr %s", ack.has(dhcpv4.OptionIPAddressLeaseTime.Code()), ack.yiaddr)
	}
	if !ack.has(242) {
		t.Error("INFORM answer lacks the class option")
	}
	if out.to.Method != delivery.UnicastCIAddr || out.to.Dest.Addr() != ci {
		t.Errorf("INFORM answer delivery %+v", out.to)
	}
	if ls, _ := hs.store.Load(context.Background()); len(ls) != 0 {
		t.Errorf("INFORM stored %d leases", len(ls))
	}
}

func TestPoolExhaustion(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.101"}}
	})
	seen := map[netip.Addr]bool{}
	for i := byte(1); i <= 2; i++ {
		seen[hs.dora(mac(i))] = true
	}
	if len(seen) != 2 {
		t.Fatalf("two clients, addresses %v", seen)
	}
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(3)})
	if got := hs.counter("phoneprov_dhcp_allocation_failures_total", "subnet", "198.18.0.0/24"); got != 1 {
		t.Errorf("allocation failures %v", got)
	}
	if got := hs.counter("phoneprov_dhcp_pool_addresses", "state", "free"); got != 0 {
		t.Errorf("free gauge %v", got)
	}
}

func TestExpiredLeaseReclaimedAfterCheck(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.100"}}
		c.Subnets[0].LeaseTime = time.Minute
	})
	var checks []checkRequest
	hs.h.check = func(rq checkRequest) bool { checks = append(checks, rq); return true }
	var sent []outbound
	hs.h.send = func(_ *sock.Conn, out outbound) { sent = append(sent, out) }

	a := hs.dora(mac(1))
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2)})
	hs.clock.Add(2 * time.Minute)
	hs.h.sweep(context.Background())
	if l, _ := hs.stored(a); l.State != leases.Expired {
		t.Fatalf("after expiry the lease is %v", l.State)
	}
	if ev := hs.events.last(); ev.Kind != Expired || ev.Addr != a {
		t.Errorf("last event %+v", ev)
	}
	// Another client: the old holder may still use the address, so it is
	// checked first and the DISCOVER is answered when the check ends.
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2)})
	if len(checks) != 1 || checks[0].addr != a {
		t.Fatalf("checks %+v, want one for %s", checks, a)
	}
	checks[0].done(false, nil)
	if len(sent) != 1 {
		t.Fatal("no offer after a silent check")
	}
	out := sent[0]
	if m, err := parseMessage(out.data); err != nil || m.yiaddr != a {
		t.Fatalf("offer after check: %v %v", m.yiaddr, err)
	}
	// The old holder itself would not have been checked.
	checks = nil
	hs2 := newHarness(t, func(c *Config) { c.Subnets[0].LeaseTime = time.Minute })
	hs2.h.check = func(rq checkRequest) bool { checks = append(checks, rq); return true }
	a2 := hs2.dora(mac(1))
	hs2.clock.Add(2 * time.Minute)
	hs2.h.sweep(context.Background())
	if got := hs2.dora(mac(1)); got != a2 || len(checks) != 0 {
		t.Errorf("returning client got %s (had %s) after %d checks", got, a2, len(checks))
	}
}

func TestAddressInUseIsQuarantined(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.101"}}
		c.Subnets[0].LeaseTime = time.Minute
	})
	var checks []checkRequest
	hs.h.check = func(rq checkRequest) bool { checks = append(checks, rq); return true }
	var sent []outbound
	hs.h.send = func(_ *sock.Conn, out outbound) { sent = append(sent, out) }
	a := hs.dora(mac(1))
	b := hs.dora(mac(2))
	hs.clock.Add(2 * time.Minute)
	hs.h.sweep(context.Background())
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(3)})
	if len(checks) != 1 {
		t.Fatalf("%d checks", len(checks))
	}
	checked := checks[0].addr
	checks[0].done(true, nil) // the old holder answered
	if got := hs.counter("phoneprov_dhcp_address_conflicts_total"); got != 1 {
		t.Errorf("conflicts %v", got)
	}
	if len(sent) != 0 {
		m, _ := parseMessage(sent[0].data)
		t.Fatalf("offered %s right after its check found it in use", m.yiaddr)
	}
	if len(checks) != 2 || checks[1].addr == checked || (checks[1].addr != a && checks[1].addr != b) {
		t.Fatalf("second check %+v, want the other address", checks)
	}
}

func TestReleaseEventsAndStore(t *testing.T) {
	hs := newHarness(t, nil)
	a := hs.dora(mac(1))
	// A release for someone else's lease changes nothing.
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeRelease, mac: mac(2), ciaddr: a})
	if l, _ := hs.stored(a); l.State != leases.Active {
		t.Fatalf("foreign RELEASE changed the lease to %v", l.State)
	}
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeRelease, mac: mac(1), ciaddr: a, opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP)}})
	if ev := hs.events.last(); ev.Kind != Released || ev.Addr != a {
		t.Errorf("last event %+v", ev)
	}
}

func TestReservation(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Classes = append(c.Classes, ClassConfig{Name: "lobby", VendorClass: []string{"never"},
			Options: []OptionConfig{{Name: "tftp-server-name", Value: "lobby.example"}}})
		c.Subnets[0].Reservations[0].Class = "lobby"
	})
	res := mac(0)
	copy(res, []byte{0x00, 0x04, 0x0d, 0x00, 0x00, 0x50})
	offer, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: res, opts: []opt{prl(12, 66)}}, dhcpv4.MessageTypeOffer)
	if offer.yiaddr != netip.MustParseAddr("198.18.0.50") {
		t.Fatalf("reserved client offered %s", offer.yiaddr)
	}
	if v, _ := offer.get(dhcpv4.OptionHostName.Code()); string(v) != "lobby-phone" {
		t.Errorf("host name %q", v)
	}
	if v, _ := offer.get(66); string(v) != "lobby.example" {
		t.Errorf("reservation's class option 66 = %q", v)
	}
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: res, opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}}, dhcpv4.MessageTypeAck)
	// Nobody else gets it, even asking for it.
	o2, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(7), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}}, dhcpv4.MessageTypeOffer)
	if o2.yiaddr == offer.yiaddr {
		t.Error("reserved address offered to another client")
	}
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(7), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}}, dhcpv4.MessageTypeNak)
	// The reserved client asking for a pool address is told to use its own.
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: res, opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.18.0.120"))}}, dhcpv4.MessageTypeNak)
}

func TestRelayedRequest(t *testing.T) {
	hs := newHarness(t, nil)
	gi := netip.MustParseAddr("198.18.2.1")
	agent := opt{dhcpv4.OptionRelayAgentInformation.Code(), []byte{1, 4, 'p', 'o', 'r', 't', 2, 3, 's', 'w', '1'}}
	offer, out := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), giaddr: gi, viaRelay: true, opts: []opt{agent}}, dhcpv4.MessageTypeOffer)
	if !netip.MustParsePrefix("198.18.2.0/24").Contains(offer.yiaddr) {
		t.Fatalf("relayed client offered %s", offer.yiaddr)
	}
	if out.to.Method != delivery.ToRelay || out.to.Dest != netip.AddrPortFrom(gi, 67) {
		t.Errorf("relayed offer delivery %+v", out.to)
	}
	if sid, _ := offer.addrOption(dhcpv4.OptionServerIdentifier); sid != relayIP {
		t.Errorf("server id %s, want the address the relay sent to", sid)
	}
	if v, _ := offer.get(dhcpv4.OptionRelayAgentInformation.Code()); !bytes.Equal(v, agent.data) {
		t.Errorf("option 82 echo %x", v)
	}
	// Option 82 is the last option before End.
	raw := out.data
	end := bytes.LastIndexByte(bytes.TrimRight(raw, "\x00"), dhcpv4.OptionEnd.Code())
	if end < len(agent.data)+2 || raw[end-len(agent.data)-2] != dhcpv4.OptionRelayAgentInformation.Code() {
		t.Errorf("option 82 is not last")
	}
	if r, _ := offer.get(dhcpv4.OptionRouter.Code()); !bytes.Equal(r, []byte{198, 18, 2, 1}) {
		t.Errorf("routers %v", r)
	}
	// A relayed NAK goes to the relay with the broadcast bit.
	nak, out := hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), giaddr: gi, viaRelay: true,
		opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.18.2.200"))}}, dhcpv4.MessageTypeNak)
	if out.to.Method != delivery.ToRelay || !nak.IsBroadcast() {
		t.Errorf("relayed NAK %+v broadcast bit %v", out.to, nak.IsBroadcast())
	}
	// The client renews straight to the server id, not through the relay.
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), giaddr: gi, viaRelay: true,
		opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), relayIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}}, dhcpv4.MessageTypeAck)
	renew := pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), ciaddr: offer.yiaddr, xid: 77}
	out, ok := hs.h.handle(context.Background(), &inbound{data: renew.bytes(), dst: relayIP, local: relayIP,
		src: netip.AddrPortFrom(offer.yiaddr, 68)}, hs.sc)
	if !ok || out.to.Method != delivery.UnicastCIAddr || out.to.Dest.Addr() != offer.yiaddr {
		t.Errorf("direct renewal of a relayed client: answered %v, %+v", ok, out.to)
	}
	// A giaddr in no subnet is dropped.
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2), giaddr: netip.MustParseAddr("198.19.0.1"), viaRelay: true})
	// Unrelayed packets on the relay socket are not ours.
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2), viaRelay: true})
}

func TestMalformedPacketsAreCounted(t *testing.T) {
	hs := newHarness(t, nil)
	for _, b := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{0xff}, 300)} {
		if _, ok := hs.h.handle(context.Background(), &inbound{data: b, link: hs.link}, hs.sc); ok {
			t.Errorf("reply to garbage %x", b)
		}
	}
	if got := hs.counter("phoneprov_dhcp_packets_received_total", "type", typeParseFailed); got != 3 {
		t.Errorf("parse_failed %v", got)
	}
	// A BOOTREPLY (another server's offer) is not for us.
	p := pkt{typ: dhcpv4.MessageTypeOffer, mac: mac(1)}.bytes()
	p[0] = byte(dhcpv4.OpcodeBootReply)
	if _, ok := hs.h.handle(context.Background(), &inbound{data: p, link: hs.link}, hs.sc); ok {
		t.Error("answered a BOOTREPLY")
	}
}

type failingStore struct {
	leases.Store
	fail bool
}

func (f *failingStore) Put(ctx context.Context, ls ...leases.Lease) error {
	if f.fail {
		return errors.New("disk full")
	}
	return f.Store.Put(ctx, ls...)
}

func TestNoAckWithoutDurableLease(t *testing.T) {
	fs := &failingStore{Store: leasestest.NewMemory(), fail: true}
	hs := newHarnessWith(t, baseConfig(), fs)
	offer, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1)}, dhcpv4.MessageTypeOffer)
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}})
	if got := hs.counter("phoneprov_dhcp_lease_store_errors_total"); got != 1 {
		t.Errorf("store errors %v", got)
	}
	if ls := hs.al.Snapshot(); len(ls) != 0 {
		t.Errorf("a lease that was not stored is in memory: %+v", ls)
	}
	fs.fail = false
	hs.mustReply(pkt{typ: dhcpv4.MessageTypeRequest, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), offer.yiaddr)}}, dhcpv4.MessageTypeAck)
}

func TestRestartKeepsLeases(t *testing.T) {
	store := leasestest.NewMemory()
	c := baseConfig()
	c.Subnets[0].LeaseTime = time.Hour
	hs := newHarnessWith(t, c, store)
	var addrs []netip.Addr
	for i := byte(1); i <= 5; i++ {
		addrs = append(addrs, hs.dora(mac(i)))
	}
	hs2 := newHarnessWith(t, c, store)
	hs2.clock.t = hs.clock.Now().Add(10 * time.Minute)
	hs2.load()
	if got := len(hs2.al.Snapshot()); got != 5 {
		t.Fatalf("after restart %d leases, want 5", got)
	}
	// A new client does not get an existing lease; the old ones keep theirs.
	if n := hs2.dora(mac(9)); slices.Contains(addrs, n) {
		t.Errorf("new client got %s, which is leased", n)
	}
	for i, a := range addrs {
		if got := hs2.dora(mac(byte(i + 1))); got != a {
			t.Errorf("client %d: %s after restart, had %s", i+1, got, a)
		}
	}
	// Leases that ran out while the server was stopped are marked expired.
	hs3 := newHarnessWith(t, c, store)
	hs3.clock.t = hs.clock.Now().Add(3 * time.Hour)
	hs3.load()
	if l, _ := hs3.stored(addrs[0]); l.State != leases.Expired {
		t.Errorf("lease expired during the stop is %v", l.State)
	}
}

func TestConcurrentClientsNeverShare(t *testing.T) {
	hs := newHarness(t, nil)
	const n = 90
	type result struct {
		a   netip.Addr
		err error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			sc := newScratch()
			m := mac(byte(i + 1))
			send := func(p pkt) (*message, error) {
				p.mac, p.xid = m, uint32(i+1)
				out, ok := hs.h.handle(context.Background(), &inbound{data: p.bytes(), link: hs.link, dst: bcastAddr}, sc)
				if !ok {
					return nil, fmt.Errorf("no reply to %v", p.typ)
				}
				r, err := parseMessage(out.data)
				return &r, err
			}
			o, err := send(pkt{typ: dhcpv4.MessageTypeDiscover})
			if err != nil {
				results <- result{err: err}
				return
			}
			a, err := send(pkt{typ: dhcpv4.MessageTypeRequest, opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), o.yiaddr)}})
			if err == nil && a.typ != dhcpv4.MessageTypeAck {
				err = fmt.Errorf("got %v", a.typ)
			}
			results <- result{o.yiaddr, err}
		}()
	}
	seen := map[netip.Addr]bool{}
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if seen[r.a] {
			t.Fatalf("%s handed out twice", r.a)
		}
		seen[r.a] = true
	}
	if ls := hs.al.Snapshot(); len(ls) != n {
		t.Errorf("%d leases, want %d", len(ls), n)
	}
}

func TestEveryEventIsLoggedOnce(t *testing.T) {
	hs := newHarness(t, nil)
	var buf bytes.Buffer
	hs.h.log = newBufLogger(&buf)
	a := hs.dora(mac(1))
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeRelease, mac: mac(1), ciaddr: a})
	lines := strings.Count(buf.String(), "msg=\"dhcp lease\"")
	if lines != 2 || !strings.Contains(buf.String(), "event=ack ") || !strings.Contains(buf.String(), "event=release ") {
		t.Errorf("log has %d lease lines:\n%s", lines, buf.String())
	}
}

// TestRetransmitDuringCheckWaits: a DISCOVER sent again while its address
// is being checked starts no second check; one offer answers when the
// check ends.
func TestRetransmitDuringCheckWaits(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.100"}}
		c.Subnets[0].LeaseTime = time.Minute
	})
	var checks []checkRequest
	hs.h.check = func(rq checkRequest) bool { checks = append(checks, rq); return true }
	a := hs.dora(mac(1))
	hs.clock.Add(2 * time.Minute)
	hs.h.sweep(context.Background())
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2), xid: 1})
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2), xid: 2})
	if len(checks) != 1 || checks[0].addr != a {
		t.Fatalf("checks %+v, want one for %s", checks, a)
	}
}
