// Package ifaddr puts the simulated phones' leased addresses on the
// interface they share, so each phone's HTTP and TFTP traffic can leave
// from its own address, and takes them all away again at the end.
package ifaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Keeper adds addresses to one interface and remembers them. It is safe
// for concurrent use.
type Keeper struct {
	mu     sync.Mutex
	h      *netlink.Handle
	link   netlink.Link
	added  []netip.Prefix
	owners map[netip.Addr]string
}

// Open returns a Keeper for interface ifname. It needs CAP_NET_ADMIN.
func Open(ifname string) (*Keeper, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	link, err := h.LinkByName(ifname)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("interface %q: %w", ifname, err)
	}
	return &Keeper{h: h, link: link, owners: map[netip.Addr]string{}}, nil
}

// Add puts p on the interface for the phone named owner. It refuses an
// address another phone holds (a server handing one address to two
// phones) and one the interface already had.
func (k *Keeper) Add(p netip.Prefix, owner string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.h == nil {
		return errors.New("address keeper closed")
	}
	addr := p.Addr()
	if other, ok := k.owners[addr]; ok {
		if other == owner {
			return nil // a phone that keeps its address across a restart
		}
		return fmt.Errorf("address %s is already leased to phone %s", addr, other)
	}
	nl := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := k.h.AddrAdd(k.link, nl); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("address %s is already on %s (not put there by phonesim)", addr, k.link.Attrs().Name)
		}
		return fmt.Errorf("add %s to %s: %w", p, k.link.Attrs().Name, err)
	}
	k.owners[addr] = owner
	k.added = append(k.added, p)
	return nil
}

// Remove takes one address away (a phone that got a different address
// after a restart).
func (k *Keeper) Remove(addr netip.Addr) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := slices.IndexFunc(k.added, func(p netip.Prefix) bool { return p.Addr() == addr })
	if i < 0 || k.h == nil {
		return nil
	}
	err := k.del(k.added[i])
	k.added = slices.Delete(k.added, i, i+1)
	delete(k.owners, addr)
	return err
}

// Len is the number of addresses added and not removed.
func (k *Keeper) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.added)
}

func (k *Keeper) del(p netip.Prefix) error {
	nl := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	err := k.h.AddrDel(k.link, nl)
	// Gone already: the interface went down or the kernel dropped it with
	// its primary address.
	if err == nil || errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return fmt.Errorf("remove %s: %w", p, err)
}

// Close removes every address added, newest first (so secondary addresses
// go before the primary one they depend on), and reports the failures.
func (k *Keeper) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.h == nil {
		return nil
	}
	var errs []error
	for i := len(k.added) - 1; i >= 0; i-- {
		if err := k.del(k.added[i]); err != nil {
			errs = append(errs, err)
		}
	}
	k.added, k.owners = nil, nil
	k.h.Close()
	k.h = nil
	return errors.Join(errs...)
}
