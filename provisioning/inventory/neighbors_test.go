package inventory

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestNeighborTableReadsTheKernel needs root: it creates a network
// namespace with a veth pair on 198.18.60.0/24, adds neighbour entries
// there, reads them through netlink, and removes the namespace.
func TestNeighborTableReadsTheKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	ipTool, err := exec.LookPath("ip")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ip (iproute2) is required in CI: %v", err)
		}
		t.Skip("ip (iproute2) not installed")
	}
	ns := fmt.Sprintf("ppinv-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipTool, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command(ipTool, "netns", "del", ns).Run() })
	run("-n", ns, "link", "add", "ppv0", "type", "veth", "peer", "name", "ppv1")
	run("-n", ns, "addr", "add", "198.18.60.1/24", "dev", "ppv0")
	run("-n", ns, "link", "set", "ppv0", "up")
	run("-n", ns, "link", "set", "ppv1", "up")
	run("-n", ns, "neigh", "add", "198.18.60.2", "lladdr", "00:60:1d:0a:0b:0c", "dev", "ppv0", "nud", "permanent")
	run("-n", ns, "neigh", "add", "198.18.60.3", "lladdr", "00:60:1d:0a:0b:0d", "dev", "ppv0", "nud", "reachable")
	run("-n", ns, "neigh", "add", "198.18.60.4", "dev", "ppv0", "nud", "incomplete")

	handle, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer handle.Close()
	h, err := netlink.NewHandleAt(handle, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	table, err := newNeighborTable(h)
	if err != nil {
		t.Fatal(err)
	}
	defer table.Close()
	got, err := table.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byAddr := map[netip.Addr]Neighbor{}
	for _, n := range got {
		byAddr[n.Addr] = n
	}
	if len(byAddr) != 2 {
		t.Fatalf("entries = %+v, want the two with a MAC", got)
	}
	if n := byAddr[netip.MustParseAddr("198.18.60.2")]; n.MAC.String() != "00:60:1d:0a:0b:0c" || n.Reachable {
		t.Errorf("permanent entry: %+v", n)
	}
	if n := byAddr[netip.MustParseAddr("198.18.60.3")]; n.MAC.String() != "00:60:1d:0a:0b:0d" || !n.Reachable {
		t.Errorf("reachable entry: %+v", n)
	}

	// Fed to an inventory: a TFTP request from the static address is tied to the phone.
	inv := openTest(t, "", func(c *Config, o *Options) { o.Neighbors = table.List })
	defer inv.Close()
	inv.apply(context.Background(), fact{access: access(0, "198.18.60.2", "tftp", "46xxupgrade.scr", 200, 10, "")})
	if p := stateOf(t, inv, "00:60:1d:0a:0b:0c"); len(p.Files) != 1 || p.Addrs[0].Source != "neighbor" {
		t.Fatalf("phone from the kernel's table: %+v", p)
	}
}
