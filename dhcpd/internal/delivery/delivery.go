// Package delivery decides where a DHCP reply goes, following RFC 2131 §4.1
// (and §4.3.2 for NAKs). It is a pure function so every case can be tested
// from a table; the server carries the decision out.
package delivery

import "net/netip"

// Ports of the DHCP service.
const (
	ServerPort = 67
	ClientPort = 68
)

// Method says how a reply is sent.
type Method uint8

// The ways a reply can leave.
const (
	// ToRelay: unicast to the relay agent (giaddr) on the server port.
	ToRelay Method = iota + 1
	// Broadcast: to 255.255.255.255 on the client port, out of the
	// receiving interface.
	Broadcast
	// UnicastCIAddr: to the client's own address (ciaddr), which it can
	// already receive on.
	UnicastCIAddr
	// UnicastYIAddr: to the offered address at chaddr; the sender must
	// first put a neighbour (ARP) entry for yiaddr → chaddr in place.
	UnicastYIAddr
)

var methodNames = [...]string{"", "relay", "broadcast", "unicast-ciaddr", "unicast-yiaddr"}

// String names the method for logs.
func (m Method) String() string {
	if int(m) < len(methodNames) && m != 0 {
		return methodNames[m]
	}
	return "unknown"
}

// Request is what the decision depends on.
type Request struct {
	GIAddr, CIAddr, YIAddr netip.Addr
	// BroadcastFlag is the client's broadcast bit.
	BroadcastFlag bool
	// NAK is true for a DHCPNAK reply.
	NAK bool
	// CanUnicast says the server can reach a client that has no address yet
	// at its hardware address: the client is on a directly attached
	// Ethernet-like link and chaddr is a usable link-layer address.
	CanUnicast bool
}

// Decision is where to send the reply.
type Decision struct {
	Method Method
	// Dest is the destination address and port.
	Dest netip.AddrPort
	// SetBroadcastFlag asks the sender to set the broadcast bit in the
	// reply (a NAK through a relay, RFC 2131 §4.3.2).
	SetBroadcastFlag bool
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

func isSet(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

// Decide returns where a reply to r goes.
//
//   - giaddr set: to the relay on port 67 (a NAK with the broadcast bit set);
//   - a NAK otherwise: broadcast;
//   - ciaddr set: unicast to ciaddr;
//   - broadcast bit: broadcast;
//   - otherwise unicast to yiaddr at chaddr, or broadcast when that is not
//     possible (no yiaddr, or no link-layer address to put in the ARP table).
func Decide(r Request) Decision {
	switch {
	case isSet(r.GIAddr):
		return Decision{Method: ToRelay, Dest: netip.AddrPortFrom(r.GIAddr, ServerPort), SetBroadcastFlag: r.NAK}
	case r.NAK:
		return Decision{Method: Broadcast, Dest: netip.AddrPortFrom(limitedBroadcast, ClientPort)}
	case isSet(r.CIAddr):
		return Decision{Method: UnicastCIAddr, Dest: netip.AddrPortFrom(r.CIAddr, ClientPort)}
	case r.BroadcastFlag:
		return Decision{Method: Broadcast, Dest: netip.AddrPortFrom(limitedBroadcast, ClientPort)}
	case isSet(r.YIAddr) && r.CanUnicast:
		return Decision{Method: UnicastYIAddr, Dest: netip.AddrPortFrom(r.YIAddr, ClientPort)}
	default:
		return Decision{Method: Broadcast, Dest: netip.AddrPortFrom(limitedBroadcast, ClientPort)}
	}
}
