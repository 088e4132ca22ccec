package inventory

import "net/netip"

// addrIndex maps addresses to the phone that holds them. IPv4 addresses,
// all a DHCP server hands out, are keyed by their four bytes: such an
// entry takes a third of the room of one keyed by a netip.Addr, which
// makes a difference at 50,000 phones. Addresses are unmapped
// (::ffff:a.b.c.d is a.b.c.d) and without zone.
type addrIndex struct {
	v4    map[[4]byte]MAC
	other map[netip.Addr]MAC
}

func newAddrIndex() addrIndex {
	return addrIndex{v4: map[[4]byte]MAC{}, other: map[netip.Addr]MAC{}}
}

// get returns the phone that holds a.
func (x *addrIndex) get(a netip.Addr) (MAC, bool) {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		mac, ok := x.v4[a.As4()]
		return mac, ok
	}
	mac, ok := x.other[a]
	return mac, ok
}

// set records that mac holds a.
func (x *addrIndex) set(a netip.Addr, mac MAC) {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		x.v4[a.As4()] = mac
		return
	}
	x.other[a] = mac
}

// release forgets that mac holds a, when it does.
func (x *addrIndex) release(a netip.Addr, mac MAC) {
	if owner, ok := x.get(a); !ok || owner != mac {
		return
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		delete(x.v4, a.As4())
		return
	}
	delete(x.other, a)
}
