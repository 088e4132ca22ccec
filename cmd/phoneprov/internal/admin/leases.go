package admin

import (
	"slices"
	"strings"
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

// matches reports whether q (trimmed, case-insensitive) is part of the
// lease's MAC (with colons, dashes or none), address, state, class, host
// name, vendor class or subnet; an empty q matches every lease.
func (l LeaseView) matches(q string) bool {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return true
	}
	bare := strings.ReplaceAll(l.MAC, ":", "")
	for _, s := range []string{l.MAC, bare, strings.ReplaceAll(l.MAC, ":", "-"), l.Address, l.State, l.Class, l.Hostname, l.VendorClass, l.Subnet} {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

// FilterLeases keeps the leases q matches (see LeaseView.matches), in order.
func FilterLeases(ls []LeaseView, q string) []LeaseView {
	out := make([]LeaseView, 0, len(ls))
	for _, l := range ls {
		if l.matches(q) {
			out = append(out, l)
		}
	}
	return out
}
