package dhcpd

import "net/netip"

// AddressCounts are a pool's addresses by state, as the
// phoneprov_dhcp_pool_size and phoneprov_dhcp_pool_addresses metrics show them.
type AddressCounts struct {
	Total    int `json:"total"`    // the pool's addresses less reservations
	Assigned int `json:"assigned"` // held by an active lease
	Declined int `json:"declined"` // on probation: declined, or found in use by the address check
	Free     int `json:"free"`     // neither
}

func (c *AddressCounts) add(o AddressCounts) {
	c.Total += o.Total
	c.Assigned += o.Assigned
	c.Declined += o.Declined
	c.Free += o.Free
}

// PoolUse is one pool's address range and use.
type PoolUse struct {
	First netip.Addr `json:"first"`
	Last  netip.Addr `json:"last"`
	AddressCounts
}

// SubnetUse is one configured subnet's address use: its pools added up,
// and each pool.
type SubnetUse struct {
	Subnet    netip.Prefix `json:"subnet"`
	Interface string       `json:"interface,omitempty"` // empty for a subnet reached through relays
	AddressCounts
	Pools []PoolUse `json:"pools"`
}

// SubnetUse returns the address use of every configured subnet, in
// configuration order, as of now.
func (s *Server) SubnetUse() []SubnetUse {
	counts := s.al.Counts()
	out := make([]SubnetUse, 0, len(counts))
	for i, sc := range counts {
		sn := s.pol.subnets[i]
		su := SubnetUse{Subnet: sn.prefix, Interface: sn.iface, Pools: make([]PoolUse, 0, len(sc.Pools))}
		for j, p := range sc.Pools {
			c := AddressCounts{Total: p.Total, Assigned: p.Assigned, Declined: p.Declined, Free: p.Free()}
			su.Pools = append(su.Pools, PoolUse{First: sn.pools[j].start, Last: sn.pools[j].end, AddressCounts: c})
			su.AddressCounts.add(c)
		}
		out = append(out, su)
	}
	return out
}

// Bound reports whether the server holds its sockets: true from a
// successful Bind until Serve has stopped.
func (s *Server) Bound() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound
}
