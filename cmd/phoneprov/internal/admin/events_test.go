package admin

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

func TestEventRingKeepsTheNewestInOrder(t *testing.T) {
	r := newEventRing(3)
	if got := r.newestFirst(0); len(got) != 0 {
		t.Fatalf("empty ring: %v", got)
	}
	names := func(es []Event) string {
		var s []string
		for _, e := range es {
			s = append(s, e.Name)
		}
		return strings.Join(s, ",")
	}
	for i, want := range []string{"0", "1,0", "2,1,0", "3,2,1", "4,3,2", "5,4,3", "6,5,4"} {
		r.add(Event{Name: fmt.Sprint(i)})
		if got := names(r.newestFirst(0)); got != want {
			t.Errorf("after %d adds: %s, want %s", i+1, got, want)
		}
	}
	if got := names(r.newestFirst(2)); got != "6,5" {
		t.Errorf("limit 2: %s", got)
	}
	if got := names(r.newestFirst(10)); got != "6,5,4" {
		t.Errorf("limit past the size: %s", got)
	}
}

// A storm of successful downloads pushes old events out of the ring, but
// not the errors, which have a ring of their own.
func TestProblemsOutliveAStormOfSuccesses(t *testing.T) {
	r := NewEvents()
	client := netip.MustParseAddrPort("198.18.0.9:1000")
	r.ObserveAccess(fileserve.AccessEvent{Protocol: "tftp", Name: "missing.bin", Status: 404, Client: client})
	r.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Declined, Addr: netip.MustParseAddr("198.18.0.30")})
	for i := range eventsKept * 2 {
		r.ObserveAccess(fileserve.AccessEvent{Protocol: "https", Name: fmt.Sprintf("f%d", i), Status: 200, Client: client})
	}
	all := r.Latest(AllEvents, 0)
	if all.Seen != uint64(eventsKept*2+2) || len(all.Events) != eventsKept {
		t.Fatalf("all: seen %d, kept %d", all.Seen, len(all.Events))
	}
	if all.Events[0].Name != fmt.Sprintf("f%d", eventsKept*2-1) {
		t.Errorf("newest is %s", all.Events[0].Name)
	}
	problems := r.Latest(Problems, 0)
	if problems.Seen != 2 || len(problems.Events) != 2 {
		t.Fatalf("problems: %+v", problems)
	}
	if e := problems.Events[0]; e.Kind != "lease" || e.Lease != "decline" || e.Address != "198.18.0.30" || !e.Problem {
		t.Errorf("newest problem: %+v", e)
	}
	if e := problems.Events[1]; e.Kind != "access" || e.Status != 404 || e.Client != "198.18.0.9" || e.Summary() != "tftp missing.bin → 404" {
		t.Errorf("older problem: %+v", e)
	}
}

func TestEventsKeepBoundedText(t *testing.T) {
	r := NewEvents()
	long := strings.Repeat("é", 300) // two bytes each: the cut must not split one
	r.ObserveAccess(fileserve.AccessEvent{Protocol: "http", Name: long, UserAgent: long, Detail: long, Status: 500})
	r.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Acked, Hostname: long, Class: long,
		MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Addr: netip.MustParseAddr("198.18.0.2")})
	for _, e := range r.Latest(AllEvents, 0).Events {
		for _, s := range []string{e.Name, e.UserAgent, e.Detail, e.Hostname, e.Class} {
			if len(s) > maxEventText+len("…") || !utf8.ValidString(s) {
				t.Errorf("kept %d bytes (valid UTF-8: %v)", len(s), utf8.ValidString(s))
			}
		}
		if e.Time.IsZero() {
			t.Error("an event without a time")
		}
	}
}

func TestRecentEventsUnderConcurrentUse(t *testing.T) {
	r := NewEvents()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				r.ObserveAccess(fileserve.AccessEvent{Name: fmt.Sprint(w, i), Status: 200 + 200*(i%2)})
				if i%100 == 0 {
					r.Latest(Selection(i%3), 10)
				}
			}
		})
	}
	wg.Wait()
	if all, problems := r.Latest(AllEvents, 0), r.Latest(Problems, 0); all.Seen != 4000 || problems.Seen != 2000 ||
		len(all.Events) != eventsKept || len(problems.Events) != problemsKept {
		t.Errorf("seen %d/%d, kept %d/%d", all.Seen, problems.Seen, len(all.Events), len(problems.Events))
	}
}
