// Package neigh reads and writes the kernel's IPv4 neighbour (ARP) table
// through netlink. The DHCP server puts entries in it, so a reply can be
// unicast to a client that does not have its address yet and therefore
// cannot answer ARP (RFC 2131 §4.1); the inventory reads it, to learn the
// MAC of a phone with a static address.
package neigh

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Table reads and writes neighbour entries in the network namespace it was
// opened in.
type Table struct {
	h *netlink.Handle
}

// Entry is one entry of the neighbour table that holds a MAC.
type Entry struct {
	Addr      netip.Addr
	MAC       net.HardwareAddr
	Reachable bool // the kernel confirmed two-way traffic recently (NUD_REACHABLE)
}

// Open opens a netlink handle in the calling thread's network namespace.
// Each request waits at most two seconds for the kernel's answer.
func Open() (*Table, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	if err := h.SetSocketTimeout(2 * time.Second); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &Table{h: h}, nil
}

// List returns the IPv4 entries that hold a MAC (incomplete, failed and
// no-ARP ones are left out).
func (t *Table) List(ctx context.Context) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := t.h.NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("read neighbour table: %w", err)
	}
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		if len(e.HardwareAddr) != 6 || e.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED|netlink.NUD_NOARP) != 0 {
			continue
		}
		addr, ok := netip.AddrFromSlice(e.IP)
		if !ok {
			continue
		}
		out = append(out, Entry{Addr: addr.Unmap(), MAC: e.HardwareAddr, Reachable: e.State&netlink.NUD_REACHABLE != 0})
	}
	return out, nil
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
