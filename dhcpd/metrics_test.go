package dhcpd

import (
	"slices"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/internal/metricstest"
)

// The pool's size is its own series, so a sum over the state series is
// the size and never counts it twice (Kea's total-addresses,
// assigned-addresses and declined-addresses, plus free).
func TestPoolStatesAddUpToPoolSize(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.109"}, {Start: "198.18.0.200", End: "198.18.0.204"}}
	})
	hs.dora(mac(1))
	a := hs.dora(mac(2))
	hs.mustSilence(pkt{typ: dhcpv4.MessageTypeDecline, mac: mac(2),
		opts: []opt{addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), a)}})

	mfs, err := hs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ subnet, pool string }
	size, sum := map[key]float64{}, map[key]float64{}
	states := map[key][]string{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			k := key{l["subnet"], l["pool"]}
			switch mf.GetName() {
			case "phoneprov_dhcp_pool_size":
				size[k] = m.GetGauge().GetValue()
			case "phoneprov_dhcp_pool_addresses":
				sum[k] += m.GetGauge().GetValue()
				states[k] = append(states[k], l["state"])
			}
		}
	}
	want := map[key]float64{
		{"198.18.0.0/24", "198.18.0.100-198.18.0.109"}: 10,
		{"198.18.0.0/24", "198.18.0.200-198.18.0.204"}: 5,
		{"198.18.2.0/24", "198.18.2.10-198.18.2.20"}:   11,
	}
	if len(size) != len(want) {
		t.Errorf("pool sizes %v, want %v", size, want)
	}
	for k, n := range want {
		if size[k] != n {
			t.Errorf("phoneprov_dhcp_pool_size%v = %v, want %v", k, size[k], n)
		}
		if sum[k] != n {
			t.Errorf("sum of phoneprov_dhcp_pool_addresses%v over its states = %v, want the pool size %v", k, sum[k], n)
		}
		if slices.Sort(states[k]); !slices.Equal(states[k], []string{"assigned", "declined", "free"}) {
			t.Errorf("states of %v: %v, want assigned, declined, free", k, states[k])
		}
	}
	first := []string{"subnet", "198.18.0.0/24", "pool", "198.18.0.100-198.18.0.109"}
	for state, n := range map[string]float64{"assigned": 1, "declined": 1, "free": 8} {
		if got := hs.counter("phoneprov_dhcp_pool_addresses", append(first, "state", state)...); got != n {
			t.Errorf("%s addresses of the first pool %v, want %v", state, got, n)
		}
	}
}

// The unclassified limit is its own series too, not a state beside the
// addresses held.
func TestUnclassifiedLimitIsItsOwnSeries(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.119"}}
		c.UnclassifiedLimit = "25%"
	})
	hs.dora(mac(1))
	if got := hs.counter("phoneprov_dhcp_unclassified_addresses", "subnet", "198.18.0.0/24"); got != 1 {
		t.Errorf("unclassified addresses %v, want 1", got)
	}
	if got := hs.counter("phoneprov_dhcp_unclassified_limit", "subnet", "198.18.0.0/24"); got != 5 {
		t.Errorf("unclassified limit %v, want 5", got)
	}
	mfs, err := hs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "phoneprov_dhcp_unclassified_addresses" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "subnet" {
				t.Errorf("phoneprov_dhcp_unclassified_addresses has labels %v, want subnet only", m.GetLabel())
			}
		}
	}
}

// Every DHCP series passes Prometheus' lint and names its labels and their
// values in snake_case, as every phoneprov series does; subnet and pool
// values come from the configuration.
func TestDHCPMetricNaming(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.UnclassifiedLimit = "25%" })
	hs.dora(mac(1))
	problems, err := metricstest.NamingProblems(hs.reg, "subnet", "pool")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
