package inventory

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NeighborTable reads the kernel's IPv4 neighbour (ARP) table over
// netlink, for phones with static addresses: their MAC is known only there.
type NeighborTable struct {
	handle *netlink.Handle
}

// OpenNeighborTable opens a netlink socket in the current network namespace.
func OpenNeighborTable() (*NeighborTable, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("inventory: netlink: %w", err)
	}
	return newNeighborTable(h)
}

func newNeighborTable(h *netlink.Handle) (*NeighborTable, error) {
	if err := h.SetSocketTimeout(2 * time.Second); err != nil {
		h.Close()
		return nil, fmt.Errorf("inventory: netlink: %w", err)
	}
	return &NeighborTable{handle: h}, nil
}

// Close releases the socket.
func (t *NeighborTable) Close() { t.handle.Close() }

// List returns the entries that hold a MAC (incomplete and failed ones
// are left out). It fits Options.Neighbors.
func (t *NeighborTable) List(ctx context.Context) ([]Neighbor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := t.handle.NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("inventory: read neighbour table: %w", err)
	}
	out := make([]Neighbor, 0, len(entries))
	for _, e := range entries {
		if len(e.HardwareAddr) != 6 || e.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED|netlink.NUD_NOARP) != 0 {
			continue
		}
		addr, ok := netip.AddrFromSlice(e.IP)
		if !ok {
			continue
		}
		out = append(out, Neighbor{
			Addr:      addr.Unmap(),
			MAC:       e.HardwareAddr,
			Reachable: e.State&netlink.NUD_REACHABLE != 0,
		})
	}
	return out, nil
}
