package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

func TestEventRingKeepsTheNewestInOrder(t *testing.T) {
	r := newEventRing(3)
	if got := r.newestFirst(0); len(got) != 0 {
		t.Fatalf("empty ring: %v", got)
	}
	names := func(es []recentEvent) string {
		var s []string
		for _, e := range es {
			s = append(s, e.Name)
		}
		return strings.Join(s, ",")
	}
	for i, want := range []string{"0", "1,0", "2,1,0", "3,2,1", "4,3,2", "5,4,3", "6,5,4"} {
		r.add(recentEvent{Name: fmt.Sprint(i)})
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
	r := newRecentEvents()
	client := netip.MustParseAddrPort("198.18.0.9:1000")
	r.ObserveAccess(fileserve.AccessEvent{Protocol: "tftp", Name: "missing.bin", Status: 404, Client: client})
	r.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Declined, Addr: netip.MustParseAddr("198.18.0.30")})
	for i := range recentEventsKept * 2 {
		r.ObserveAccess(fileserve.AccessEvent{Protocol: "https", Name: fmt.Sprintf("f%d", i), Status: 200, Client: client})
	}
	all := r.latest(false, 0)
	if all.Seen != uint64(recentEventsKept*2+2) || len(all.Events) != recentEventsKept {
		t.Fatalf("all: seen %d, kept %d", all.Seen, len(all.Events))
	}
	if all.Events[0].Name != fmt.Sprintf("f%d", recentEventsKept*2-1) {
		t.Errorf("newest is %s", all.Events[0].Name)
	}
	problems := r.latest(true, 0)
	if problems.Seen != 2 || len(problems.Events) != 2 {
		t.Fatalf("problems: %+v", problems)
	}
	if e := problems.Events[0]; e.Kind != "lease" || e.Lease != "declined" || e.Address != "198.18.0.30" || !e.Problem {
		t.Errorf("newest problem: %+v", e)
	}
	if e := problems.Events[1]; e.Kind != "access" || e.Status != 404 || e.Client != "198.18.0.9" || e.Summary() != "tftp missing.bin → 404" {
		t.Errorf("older problem: %+v", e)
	}
}

func TestEventsKeepBoundedText(t *testing.T) {
	r := newRecentEvents()
	long := strings.Repeat("é", 300) // two bytes each: the cut must not split one
	r.ObserveAccess(fileserve.AccessEvent{Protocol: "http", Name: long, UserAgent: long, Detail: long, Status: 500})
	r.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Acked, Hostname: long, Class: long,
		MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Addr: netip.MustParseAddr("198.18.0.2")})
	for _, e := range r.latest(false, 0).Events {
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

type accessCount struct{ n int }

func (c *accessCount) ObserveAccess(fileserve.AccessEvent) { c.n++ }

type leaseCount struct{ kinds []dhcpd.LeaseEventKind }

func (c *leaseCount) ObserveLease(ev dhcpd.LeaseEvent) { c.kinds = append(c.kinds, ev.Kind) }

// The wrappers record and pass every event on, so the inventory misses
// nothing for the admin listener's sake.
func TestWatchersPassEventsOn(t *testing.T) {
	r := newRecentEvents()
	acc, lea := &accessCount{}, &leaseCount{}
	ao, lo := r.watchAccess(acc), r.watchLeases(lea)
	ao.ObserveAccess(fileserve.AccessEvent{Status: 200, Time: time.Now()})
	lo.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Offered})
	lo.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Acked})
	if acc.n != 1 || len(lea.kinds) != 2 || lea.kinds[1] != dhcpd.Acked {
		t.Errorf("passed on: %d access, %v leases", acc.n, lea.kinds)
	}
	if got := r.latest(false, 0); got.Seen != 3 {
		t.Errorf("recorded %d", got.Seen)
	}
	r.watchAccess(nil).ObserveAccess(fileserve.AccessEvent{})
	r.watchLeases(nil).ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Released})
	if got := r.latest(false, 0); got.Seen != 5 {
		t.Errorf("with no next observer: recorded %d", got.Seen)
	}
}

func TestRecentEventsUnderConcurrentUse(t *testing.T) {
	r := newRecentEvents()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				r.ObserveAccess(fileserve.AccessEvent{Name: fmt.Sprint(w, i), Status: 200 + 200*(i%2)})
				if i%100 == 0 {
					r.latest(i%200 == 0, 10)
				}
			}
		})
	}
	wg.Wait()
	if all, problems := r.latest(false, 0), r.latest(true, 0); all.Seen != 4000 || problems.Seen != 2000 ||
		len(all.Events) != recentEventsKept || len(problems.Events) != recentProblemKept {
		t.Errorf("seen %d/%d, kept %d/%d", all.Seen, problems.Seen, len(all.Events), len(problems.Events))
	}
}
