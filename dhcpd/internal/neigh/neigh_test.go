package neigh

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/phoneprov/phoneprov/deploy/netlab/netlabtest"
)

func TestSetPutsAnEntryInTheNamespace(t *testing.T) {
	p := netlabtest.NewPair(t, "a", "b", netip.MustParsePrefix("198.18.230.1/24"), netip.Prefix{})
	a, ea := p.A, p.AIf
	var err error
	mac := net.HardwareAddr{0x00, 0x04, 0x0d, 0x01, 0x02, 0x03}
	ip := netip.MustParseAddr("198.18.230.50")
	var found bool
	err = a.Do(func() error {
		ifi, err := net.InterfaceByName(ea)
		if err != nil {
			return err
		}
		tab, err := Open()
		if err != nil {
			return err
		}
		defer tab.Close()
		if err := tab.Set(ifi.Index, ip, mac); err != nil {
			return err
		}
		list, err := netlink.NeighList(ifi.Index, unix.AF_INET)
		if err != nil {
			return err
		}
		for _, n := range list {
			if n.IP.Equal(ip.AsSlice()) && n.HardwareAddr.String() == mac.String() {
				found = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("neighbour entry not in the table")
	}
}
