package dhcpd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/dhcpd/leases/leasestest"
)

// SubnetUse adds each subnet's pools up and keeps every pool's own counts,
// with reservations taken out of the totals, active leases assigned and
// declined addresses on probation.
func TestSubnetUseCountsEachPoolAndSubnet(t *testing.T) {
	c := DefaultConfig()
	c.Enabled = true
	c.LockDir = t.TempDir()
	c.Subnets = []SubnetConfig{
		{
			CIDR: "198.18.0.0/24", Interface: "lab0",
			Pools: []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.109"}, {Start: "198.18.0.200", End: "198.18.0.204"}},
			Reservations: []ReservationConfig{
				{MAC: "00:04:0d:00:00:50", Address: "198.18.0.105"}, // inside the first pool: not dynamic
			},
		},
		{CIDR: "198.18.2.0/24", Pools: []PoolConfig{{Start: "198.18.2.10", End: "198.18.2.13"}}},
	}
	s, err := New(c, Options{Store: leasestest.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mac := func(last byte) net.HardwareAddr { return net.HardwareAddr{0x02, 0xaa, 0, 0, 0, last} }
	lease := func(addr string, st leases.State, hw net.HardwareAddr, until time.Duration) leases.Lease {
		return leases.Lease{Addr: netip.MustParseAddr(addr), HWAddr: hw, State: st, Subnet: netip.MustParsePrefix("198.18.0.0/16"),
			Start: now.Add(-time.Minute), Expiry: now.Add(until)}
	}
	s.al.Load([]leases.Lease{
		lease("198.18.0.100", leases.Active, mac(1), time.Hour),
		lease("198.18.0.101", leases.Active, mac(2), time.Hour),
		lease("198.18.0.102", leases.Declined, nil, time.Hour),
		lease("198.18.0.103", leases.Active, mac(3), -time.Hour), // ran out while the server was down
		lease("198.18.0.200", leases.Released, mac(4), 0),
		lease("198.18.2.10", leases.Active, mac(5), time.Hour),
	}, now)

	got := s.SubnetUse()
	if len(got) != 2 {
		t.Fatalf("got %d subnets, want 2: %+v", len(got), got)
	}
	first := got[0]
	if first.Subnet != netip.MustParsePrefix("198.18.0.0/24") || first.Interface != "lab0" {
		t.Errorf("first subnet = %s on %q", first.Subnet, first.Interface)
	}
	want := AddressCounts{Total: 14, Assigned: 2, Declined: 1, Free: 11}
	if first.AddressCounts != want {
		t.Errorf("198.18.0.0/24 counts = %+v, want %+v", first.AddressCounts, want)
	}
	if len(first.Pools) != 2 {
		t.Fatalf("198.18.0.0/24 has %d pools, want 2", len(first.Pools))
	}
	p0, p1 := first.Pools[0], first.Pools[1]
	if p0.First != netip.MustParseAddr("198.18.0.100") || p0.Last != netip.MustParseAddr("198.18.0.109") ||
		p0.AddressCounts != (AddressCounts{Total: 9, Assigned: 2, Declined: 1, Free: 6}) {
		t.Errorf("first pool = %+v", p0)
	}
	if p1.AddressCounts != (AddressCounts{Total: 5, Free: 5}) {
		t.Errorf("second pool = %+v", p1)
	}
	second := got[1]
	if second.Interface != "" || second.AddressCounts != (AddressCounts{Total: 4, Assigned: 1, Free: 3}) {
		t.Errorf("relayed subnet = %+v", second)
	}
}
