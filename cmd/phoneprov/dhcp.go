package main

import (
	"net/netip"
	"os"
	"path/filepath"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// leaseFacts turns the DHCP server's lease events into the inventory's facts.
type leaseFacts struct{ inv *inventory.Inventory }

func leaseKind(k dhcpd.LeaseEventKind) string {
	switch k {
	case dhcpd.Offered:
		return inventory.LeaseOffered
	case dhcpd.Acked:
		return inventory.LeaseGranted
	case dhcpd.Released:
		return inventory.LeaseReleased
	case dhcpd.Declined:
		return inventory.LeaseDeclined
	case dhcpd.Expired:
		return inventory.LeaseExpired
	}
	return k.String()
}

func (l leaseFacts) ObserveLease(ev dhcpd.LeaseEvent) {
	l.inv.ObserveLease(inventory.LeaseFact{
		MAC: ev.MAC, Addr: ev.Addr, Class: ev.Class, Hostname: ev.Hostname, VendorClass: ev.VendorClass,
		ParamRequestList: ev.RequestedOptions, Kind: leaseKind(ev.Kind), Time: ev.Time,
	})
}

// dhcpVars tells DHCP option templates where this box's file server
// listens: ${server} is the address of the interface the request came in
// on, and the ports are those the file server is configured with.
func (c Config) dhcpVars() func(netip.Addr) dhcpopts.Vars {
	fs := c.FileServe
	vars := dhcpopts.Vars{HTTPPort: 80, HTTPSPort: 443, TLSPort: 411, TFTPPort: 69}
	if p := firstPort(fs.HTTP.Listen); p > 0 {
		vars.HTTPPort = p
	}
	if p := firstPort(fs.HTTPS.Listen); p > 0 {
		vars.HTTPSPort = p
		vars.TLSPort = p
		if listensOnPort(fs.HTTPS.Listen, 411) {
			vars.TLSPort = 411 // the 96x1 H.323 default TLSPORT
		}
	}
	if p := firstPort(fs.TFTP.Listen); p > 0 {
		vars.TFTPPort = p
	}
	vars.ServerName, _ = os.Hostname()
	return func(server netip.Addr) dhcpopts.Vars {
		v := vars
		v.ServerIP = server
		return v
	}
}

func (c Config) leasesPath() string { return filepath.Join(c.DataDir, "leases.journal") }
