package appliance

import (
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

// consumer takes the appliance's events: the inventory and the admin
// listener's recent-events recorder. Both return at once, as the servers'
// goroutines that deliver the events require.
type consumer interface {
	fileserve.AccessObserver
	dhcpd.LeaseObserver
}

// fanout delivers every access event of the file server and every lease
// event of the DHCP server, as their sources type them, to each consumer
// in turn.
type fanout []consumer

// ObserveAccess hands ev to every consumer.
func (f fanout) ObserveAccess(ev fileserve.AccessEvent) {
	for _, c := range f {
		c.ObserveAccess(ev)
	}
}

// ObserveLease hands ev to every consumer.
func (f fanout) ObserveLease(ev dhcpd.LeaseEvent) {
	for _, c := range f {
		c.ObserveLease(ev)
	}
}
