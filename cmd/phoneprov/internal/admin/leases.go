package admin

import (
	"slices"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// LeaseView is a lease as /api/leases and `phoneprov leases --json` show it.
type LeaseView struct {
	MAC         string    `json:"mac"`
	Address     string    `json:"address"`
	State       string    `json:"state"`
	Class       string    `json:"class,omitempty"`
	Hostname    string    `json:"hostname,omitempty"`
	VendorClass string    `json:"vendor_class,omitempty"`
	Subnet      string    `json:"subnet"`
	Start       time.Time `json:"start"`
	Expiry      time.Time `json:"expiry"`
}

// ViewLeases shows leases by address.
func ViewLeases(ls []leases.Lease) []LeaseView {
	ls = slices.Clone(ls)
	slices.SortFunc(ls, func(a, b leases.Lease) int { return a.Addr.Compare(b.Addr) })
	out := make([]LeaseView, 0, len(ls))
	for _, l := range ls {
		out = append(out, LeaseView{
			MAC: l.HWAddr.String(), Address: l.Addr.String(), State: l.State.String(), Class: l.Class,
			Hostname: l.Hostname, VendorClass: l.VendorClass, Subnet: l.Subnet.String(), Start: l.Start, Expiry: l.Expiry,
		})
	}
	return out
}
