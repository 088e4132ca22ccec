// Package neigh puts neighbour (ARP) entries in the kernel's table through
// netlink, so a reply can be unicast to a client that does not have its
// address yet and therefore cannot answer ARP (RFC 2131 §4.1).
package neigh

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Table writes neighbour entries in the network namespace it was opened in.
type Table struct {
	h *netlink.Handle
}

// Open opens a netlink handle in the calling thread's network namespace.
func Open() (*Table, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &Table{h: h}, nil
}

// Set maps ip to mac on the interface. The entry is REACHABLE, not
// permanent: the kernel ages it out like any other.
func (t *Table) Set(ifIndex int, ip netip.Addr, mac net.HardwareAddr) error {
	err := t.h.NeighSet(&netlink.Neigh{
		LinkIndex:    ifIndex,
		Family:       unix.AF_INET,
		State:        netlink.NUD_REACHABLE,
		IP:           ip.AsSlice(),
		HardwareAddr: mac,
	})
	if err != nil {
		return fmt.Errorf("neighbour entry %s → %s on interface %d: %w", ip, mac, ifIndex, err)
	}
	return nil
}

// Close releases the netlink socket.
func (t *Table) Close() {
	if t != nil && t.h != nil {
		t.h.Close()
	}
}
