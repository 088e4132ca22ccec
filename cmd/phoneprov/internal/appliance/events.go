package appliance

import (
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

// fanout delivers every access event of the file server and every lease
// event of the DHCP server, as their sources type them, to each of their
// consumers in turn: the inventory, the admin listener's recent-events
// recorder and (access events only) the access log. All of them return
// at once, as the servers' goroutines that deliver the events require.
type fanout struct {
	access []fileserve.AccessObserver
	leases []dhcpd.LeaseObserver
}

// ObserveAccess hands ev to every access consumer.
func (f fanout) ObserveAccess(ev fileserve.AccessEvent) {
	for _, c := range f.access {
		c.ObserveAccess(ev)
	}
}

// ObserveLease hands ev to every lease consumer.
func (f fanout) ObserveLease(ev dhcpd.LeaseEvent) {
	for _, c := range f.leases {
		c.ObserveLease(ev)
	}
}
