package admin

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

// Events keeps the latest file accesses and lease changes in memory for
// the admin listener (/api/events and the status page's recent errors).
// It holds two bounded rings: every event, and the problems alone
// (requests answered 400 or worse, declined addresses), so a boot storm
// of successful downloads does not push the errors out of sight.
//
// It is one consumer of the appliance's event fan-out, beside the
// inventory. Recording takes a lock and copies a few strings; it never
// blocks on I/O, as the servers' goroutines require.
type Events struct {
	mu       sync.Mutex
	all      eventRing
	problems eventRing
	seen     uint64 // events recorded since start
	troubles uint64 // problems recorded since start
}

// The rings' sizes: enough to see what a boot storm just did, small
// enough (a few hundred bytes an event) to never matter on a small box.
const (
	eventsKept   = 500
	problemsKept = 200
)

// maxEventText bounds each string an event keeps: phones choose their
// User-Agent and host name, and names may be long.
const maxEventText = 200

// Event is one event as the admin listener shows it.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // "access" or "lease"
	// Problem marks a request answered 400 or worse, or a declined address.
	Problem bool `json:"problem,omitempty"`

	// Access events.
	Protocol  string `json:"protocol,omitempty"`
	Client    string `json:"client,omitempty"`
	Name      string `json:"name,omitempty"`
	Status    int    `json:"status,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
	Source    string `json:"source,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Detail    string `json:"detail,omitempty"`

	// Lease events.
	Lease    string `json:"lease,omitempty"` // the lease event: offer, ack, release, decline or expire
	MAC      string `json:"mac,omitempty"`
	Address  string `json:"address,omitempty"`
	Class    string `json:"class,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// Summary is the event in a few words, for the status page.
func (e Event) Summary() string {
	if e.Kind == "lease" {
		s := e.Lease + " " + e.Address
		if e.MAC != "" {
			s += " (" + e.MAC + ")"
		}
		return s
	}
	return e.Protocol + " " + e.Name + " → " + strconv.Itoa(e.Status)
}

// NewEvents returns an empty recorder.
func NewEvents() *Events {
	return &Events{all: newEventRing(eventsKept), problems: newEventRing(problemsKept)}
}

// ObserveAccess records a finished file request.
func (r *Events) ObserveAccess(ev fileserve.AccessEvent) {
	e := Event{
		Time: ev.Time, Kind: "access", Problem: ev.Status >= 400,
		Protocol: ev.Protocol, Name: clip(ev.Name), Status: ev.Status, Bytes: ev.Bytes, Source: string(ev.Source),
		UserAgent: clip(ev.UserAgent), Detail: clip(ev.Detail),
	}
	if ev.Client.IsValid() {
		e.Client = ev.Client.Addr().Unmap().String()
	}
	r.record(e)
}

// ObserveLease records a lease change.
func (r *Events) ObserveLease(ev dhcpd.LeaseEvent) {
	e := Event{
		Time: ev.Time, Kind: "lease", Problem: ev.Kind == dhcpd.Declined,
		Lease: ev.Kind.String(), Class: clip(ev.Class), Hostname: clip(ev.Hostname),
	}
	if len(ev.MAC) > 0 {
		e.MAC = ev.MAC.String()
	}
	if ev.Addr.IsValid() {
		e.Address = ev.Addr.String()
	}
	r.record(e)
}

func (r *Events) record(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	r.all.add(e)
	if e.Problem {
		r.troubles++
		r.problems.add(e)
	}
}

// EventsView is what /api/events returns.
type EventsView struct {
	// Seen counts the events recorded since start; the ring keeps the
	// latest of them.
	Seen   uint64  `json:"seen"`
	Events []Event `json:"events"` // newest first
}

// Latest returns up to limit events (all when limit <= 0), newest first:
// all of them, or only the problems.
func (r *Events) Latest(problemsOnly bool, limit int) EventsView {
	r.mu.Lock()
	defer r.mu.Unlock()
	if problemsOnly {
		return EventsView{Seen: r.troubles, Events: r.problems.newestFirst(limit)}
	}
	return EventsView{Seen: r.seen, Events: r.all.newestFirst(limit)}
}

// eventRing is a fixed-size ring: adding to a full ring overwrites the
// oldest event.
type eventRing struct {
	buf  []Event
	next int // where the next event goes
	full bool
}

func newEventRing(size int) eventRing { return eventRing{buf: make([]Event, size)} }

func (r *eventRing) add(e Event) {
	r.buf[r.next] = e
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

func (r *eventRing) len() int {
	if r.full {
		return len(r.buf)
	}
	return r.next
}

// newestFirst copies up to limit events (all when limit <= 0), newest first.
func (r *eventRing) newestFirst(limit int) []Event {
	n := r.len()
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]Event, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}

// clip shortens s to maxEventText bytes, on a character boundary.
func clip(s string) string {
	if len(s) <= maxEventText {
		return s
	}
	cut := maxEventText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
