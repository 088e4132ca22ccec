package appliance

import (
	"testing"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

// recorder is a consumer that keeps what it was handed.
type recorder struct {
	access []string
	leases []dhcpd.LeaseEventKind
}

func (r *recorder) ObserveAccess(ev fileserve.AccessEvent) { r.access = append(r.access, ev.Name) }
func (r *recorder) ObserveLease(ev dhcpd.LeaseEvent)       { r.leases = append(r.leases, ev.Kind) }

// Every consumer gets every event, of both sources, in order: the
// inventory misses nothing for the admin listener's sake.
func TestFanoutDeliversEveryEventToEveryConsumer(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	f := fanout{access: []fileserve.AccessObserver{a, b}, leases: []dhcpd.LeaseObserver{a, b}}
	f.ObserveAccess(fileserve.AccessEvent{Name: "J100Supgrade.txt", Status: 200})
	f.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Offered})
	f.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Acked})
	f.ObserveAccess(fileserve.AccessEvent{Name: "46xxsettings.txt", Status: 200})
	for i, r := range []*recorder{a, b} {
		if len(r.access) != 2 || r.access[0] != "J100Supgrade.txt" || r.access[1] != "46xxsettings.txt" ||
			len(r.leases) != 2 || r.leases[0] != dhcpd.Offered || r.leases[1] != dhcpd.Acked {
			t.Errorf("consumer %d got %v and %v", i, r.access, r.leases)
		}
	}
	fanout{}.ObserveAccess(fileserve.AccessEvent{}) // no consumer: nothing to do, no panic
}
