package dhcpd

import (
	"context"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// FuzzHandler feeds raw bytes to the whole handler, as if they came from a
// served link or from a relay: it must never panic, and any reply must parse
// and fit the size the request allows.
func FuzzHandler(f *testing.F) {
	gi := netip.MustParseAddr("198.18.2.1")
	seeds := []pkt{
		{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), opts: []opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com"), prl(1, 3, 242, 176), maxSize(576)}},
		{typ: dhcpv4.MessageTypeRequest, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.18.0.100"))}},
		{typ: dhcpv4.MessageTypeRequest, mac: mac(2), ciaddr: netip.MustParseAddr("198.18.0.101")},
		{typ: dhcpv4.MessageTypeDiscover, mac: mac(3), giaddr: gi, viaRelay: true, opts: []opt{{dhcpv4.OptionRelayAgentInformation.Code(), []byte{1, 2, 'a', 'b'}}}},
		{typ: dhcpv4.MessageTypeInform, mac: mac(4), ciaddr: netip.MustParseAddr("198.18.0.9")},
		{typ: dhcpv4.MessageTypeDecline, mac: mac(1), opts: []opt{addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), netip.MustParseAddr("198.18.0.100"))}},
		{typ: dhcpv4.MessageTypeRelease, mac: mac(1), ciaddr: netip.MustParseAddr("198.18.0.100")},
	}
	for _, s := range seeds {
		f.Add(s.bytes(), s.viaRelay)
	}
	f.Fuzz(func(t *testing.T, data []byte, viaRelay bool) {
		hs := newHarness(t, nil)
		hs.h.log = discardLogger()
		hs.h.check = func(rq checkRequest) bool { rq.done(false, nil); return true }
		in := &inbound{data: data, link: hs.link, dst: bcastAddr}
		if viaRelay {
			in.link, in.local, in.dst = nil, relayIP, relayIP
		}
		// Twice: the second pass meets the state the first one left.
		for range 2 {
			out, ok := hs.h.handle(context.Background(), in, hs.sc)
			if !ok {
				continue
			}
			if _, err := parseMessage(out.data); err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			req, err := parseMessage(data)
			if err != nil {
				t.Fatalf("answered a request that does not parse: %v", err)
			}
			if len(out.data) > req.maxReply() {
				t.Fatalf("reply of %d bytes, client takes %d", len(out.data), req.maxReply())
			}
		}
		hs.h.sweep(context.Background())
	})
}
