package dhcpd

import (
	"context"
	"net/netip"
	"testing"

	"github.com/phoneprov/phoneprov/dhcpd/internal/wire"
)

// FuzzHandler feeds raw bytes to the whole handler, as if they came from a
// served link or from a relay: it must never panic, and any reply must parse
// and fit the size the request allows.
func FuzzHandler(f *testing.F) {
	gi := netip.MustParseAddr("198.18.2.1")
	seeds := []pkt{
		{typ: wire.Discover, mac: mac(1), opts: []opt{strOpt(wire.OptVendorClass, "ccp.avaya.com"), prl(1, 3, 242, 176), maxSize(576)}},
		{typ: wire.Request, mac: mac(1), opts: []opt{addrOpt(wire.OptServerID, serverIP), addrOpt(wire.OptRequestedIP, netip.MustParseAddr("198.18.0.100"))}},
		{typ: wire.Request, mac: mac(2), ciaddr: netip.MustParseAddr("198.18.0.101")},
		{typ: wire.Discover, mac: mac(3), giaddr: gi, viaRelay: true, opts: []opt{{wire.OptRelayAgentInfo, []byte{1, 2, 'a', 'b'}}}},
		{typ: wire.Inform, mac: mac(4), ciaddr: netip.MustParseAddr("198.18.0.9")},
		{typ: wire.Decline, mac: mac(1), opts: []opt{addrOpt(wire.OptRequestedIP, netip.MustParseAddr("198.18.0.100"))}},
		{typ: wire.Release, mac: mac(1), ciaddr: netip.MustParseAddr("198.18.0.100")},
	}
	for _, s := range seeds {
		f.Add(s.bytes(), s.viaRelay)
	}
	f.Fuzz(func(t *testing.T, data []byte, viaRelay bool) {
		hs := newHarness(t, nil)
		hs.h.log = discardLogger()
		hs.h.check = func(rq checkRequest) bool { rq.done(false, nil); return true }
		hs.h.requeue = func(in *inbound) {}
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
			var req, rep wire.Message
			if err := rep.Parse(out.data); err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			if err := req.Parse(data); err != nil {
				t.Fatalf("answered a request that does not parse: %v", err)
			}
			if len(out.data) > req.MaxMessageSize() {
				t.Fatalf("reply of %d bytes, client takes %d", len(out.data), req.MaxMessageSize())
			}
		}
		hs.h.sweep(context.Background())
	})
}
