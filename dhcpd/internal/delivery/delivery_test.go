package delivery

import (
	"net/netip"
	"testing"
)

func TestDecide(t *testing.T) {
	var (
		none   = netip.Addr{}
		zero   = netip.IPv4Unspecified()
		relay  = netip.MustParseAddr("198.18.5.1")
		client = netip.MustParseAddr("198.18.0.20")
		offer  = netip.MustParseAddr("198.18.0.21")
		bcast  = netip.AddrPortFrom(netip.MustParseAddr("255.255.255.255"), ClientPort)
	)
	tests := []struct {
		name string
		in   Request
		want Decision
	}{
		{"relayed offer goes to the relay on 67",
			Request{GIAddr: relay, YIAddr: offer, CanUnicast: true},
			Decision{Method: ToRelay, Dest: netip.AddrPortFrom(relay, 67)}},
		{"relayed nak goes to the relay with the broadcast bit",
			Request{GIAddr: relay, NAK: true},
			Decision{Method: ToRelay, Dest: netip.AddrPortFrom(relay, 67), SetBroadcastFlag: true}},
		{"relayed ack with ciaddr still goes to the relay",
			Request{GIAddr: relay, CIAddr: client, YIAddr: client},
			Decision{Method: ToRelay, Dest: netip.AddrPortFrom(relay, 67)}},
		{"nak is broadcast even when ciaddr is set",
			Request{CIAddr: client, NAK: true, CanUnicast: true},
			Decision{Method: Broadcast, Dest: bcast}},
		{"nak is broadcast with zero addresses",
			Request{GIAddr: zero, CIAddr: zero, NAK: true},
			Decision{Method: Broadcast, Dest: bcast}},
		{"renewing client gets unicast to ciaddr",
			Request{GIAddr: zero, CIAddr: client, YIAddr: client, BroadcastFlag: true},
			Decision{Method: UnicastCIAddr, Dest: netip.AddrPortFrom(client, 68)}},
		{"inform reply goes to ciaddr",
			Request{CIAddr: client},
			Decision{Method: UnicastCIAddr, Dest: netip.AddrPortFrom(client, 68)}},
		{"broadcast bit wins over unicast",
			Request{GIAddr: zero, CIAddr: zero, YIAddr: offer, BroadcastFlag: true, CanUnicast: true},
			Decision{Method: Broadcast, Dest: bcast}},
		{"unicast to yiaddr at chaddr",
			Request{GIAddr: zero, CIAddr: zero, YIAddr: offer, CanUnicast: true},
			Decision{Method: UnicastYIAddr, Dest: netip.AddrPortFrom(offer, 68)}},
		{"no link-layer address: broadcast",
			Request{YIAddr: offer, CanUnicast: false},
			Decision{Method: Broadcast, Dest: bcast}},
		{"no yiaddr: broadcast",
			Request{YIAddr: none, CanUnicast: true},
			Decision{Method: Broadcast, Dest: bcast}},
		{"unspecified yiaddr: broadcast",
			Request{YIAddr: zero, CanUnicast: true},
			Decision{Method: Broadcast, Dest: bcast}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.in); got != tt.want {
				t.Errorf("Decide(%+v) = %+v (%s), want %+v (%s)", tt.in, got, got.Method, tt.want, tt.want.Method)
			}
		})
	}
}
