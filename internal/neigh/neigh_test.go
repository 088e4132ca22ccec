package neigh

import (
	"context"
	"fmt"
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

// TestListReadsTheKernel needs root: in a namespace pair on
// 198.18.231.0/24 it adds a permanent, a reachable and an incomplete
// entry and reads back the two that hold a MAC.
func TestListReadsTheKernel(t *testing.T) {
	p := netlabtest.NewPair(t, "a", "b", netip.MustParsePrefix("198.18.231.1/24"), netip.Prefix{})
	var got []Entry
	err := p.A.Do(func() error {
		ifi, err := net.InterfaceByName(p.AIf)
		if err != nil {
			return err
		}
		for _, n := range []netlink.Neigh{
			{IP: net.IPv4(198, 18, 231, 2), HardwareAddr: net.HardwareAddr{0x00, 0x60, 0x1d, 0x0a, 0x0b, 0x0c}, State: netlink.NUD_PERMANENT},
			{IP: net.IPv4(198, 18, 231, 3), HardwareAddr: net.HardwareAddr{0x00, 0x60, 0x1d, 0x0a, 0x0b, 0x0d}, State: netlink.NUD_REACHABLE},
			{IP: net.IPv4(198, 18, 231, 4), State: netlink.NUD_INCOMPLETE},
		} {
			n.LinkIndex, n.Family = ifi.Index, unix.AF_INET
			if err := netlink.NeighAdd(&n); err != nil {
				return fmt.Errorf("add %s: %w", n.IP, err)
			}
		}
		tab, err := Open()
		if err != nil {
			return err
		}
		defer tab.Close()
		got, err = tab.List(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[netip.Addr]Entry{}
	for _, e := range got {
		byAddr[e.Addr] = e
	}
	if len(byAddr) != 2 {
		t.Fatalf("entries = %+v, want the two with a MAC", got)
	}
	if e := byAddr[netip.MustParseAddr("198.18.231.2")]; e.MAC.String() != "00:60:1d:0a:0b:0c" || e.Reachable {
		t.Errorf("permanent entry: %+v", e)
	}
	if e := byAddr[netip.MustParseAddr("198.18.231.3")]; e.MAC.String() != "00:60:1d:0a:0b:0d" || !e.Reachable {
		t.Errorf("reachable entry: %+v", e)
	}
}
