package downloads

import (
	"net/netip"
	"slices"
	"sync"
)

// links counts firmware downloads in flight by link, for Config.MaxPerLink.
// A link is a configured subnet (the DHCP subnets: segments phoneprov
// serves directly or through a relay) or, for an address in none, its
// /24 or /64. Only links with a download in flight are kept, so the map
// is bounded by the downloads in flight.
type links struct {
	mu      sync.Mutex
	subnets []netip.Prefix // longest prefix first
	active  map[netip.Prefix]int
}

// setSubnets replaces the configured subnets (a reload); downloads in
// flight stay counted under the link they started on.
func (ls *links) setSubnets(subnets []netip.Prefix) {
	s := make([]netip.Prefix, 0, len(subnets))
	for _, p := range subnets {
		if p.IsValid() {
			s = append(s, p.Masked())
		}
	}
	slices.SortStableFunc(s, func(a, b netip.Prefix) int { return b.Bits() - a.Bits() })
	ls.mu.Lock()
	ls.subnets = s
	ls.mu.Unlock()
}

// linkOfLocked returns the link of addr.
func (ls *links) linkOfLocked(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	for _, p := range ls.subnets {
		if p.Contains(addr) {
			return p
		}
	}
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // no address: one link for all such clients
	}
	return p
}

// LinkUse is the firmware downloads in flight on one link.
type LinkUse struct {
	Link   netip.Prefix
	Active int
}

// busiest returns up to n links with the most downloads in flight.
func (ls *links) busiest(n int) []LinkUse {
	ls.mu.Lock()
	out := make([]LinkUse, 0, len(ls.active))
	for l, a := range ls.active {
		out = append(out, LinkUse{Link: l, Active: a})
	}
	ls.mu.Unlock()
	slices.SortFunc(out, func(a, b LinkUse) int {
		if a.Active != b.Active {
			return b.Active - a.Active
		}
		return a.Link.Addr().Compare(b.Link.Addr())
	})
	return out[:min(n, len(out))]
}
