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
// It holds three bounded rings: every event, the problems alone
// (requests answered 400 or worse, transfers cut short, declined
// addresses), and the expected misses (404s on names phones ask for by
// design, see ExpectedMiss), so a boot storm of successful downloads and
// normal misses does not push the errors out of sight.
//
// It is one consumer of the appliance's event fan-out, beside the
// inventory. Recording takes a lock and copies a few strings; it never
// blocks on I/O, as the servers' goroutines require.
type Events struct {
	mu       sync.Mutex
	all      eventRing
	problems eventRing
	misses   eventRing
	seen     uint64 // events recorded since start
	troubles uint64 // problems recorded since start
	missed   uint64 // expected misses recorded since start

	expected []ExpectedMiss // read-only after NewEvents
}

// The rings' sizes: enough to see what a boot storm just did, small
// enough (a few hundred bytes an event) to never matter on a small box.
const (
	eventsKept   = 500
	problemsKept = 200
	missesKept   = 100
)

// maxEventText bounds each string an event keeps: phones choose their
// User-Agent and host name, and names may be long.
const maxEventText = 200

// Event is one event as the admin listener shows it.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // "access" or "lease"
	// Problem marks what needs the operator: a request answered 400 or
	// worse that is not an expected miss, a transfer cut short, a declined
	// address.
	Problem bool `json:"problem,omitempty"`
	// Expected is the ExpectedMiss a 404 is (its ID): information, not a
	// problem.
	Expected string `json:"expected_miss,omitempty"`

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
	return &Events{
		all: newEventRing(eventsKept), problems: newEventRing(problemsKept), misses: newEventRing(missesKept),
		expected: expectedMisses(),
	}
}

// ExpectedMisses is the documented list of names phones ask for by design
// that the recorder counts as information when answered 404.
func (r *Events) ExpectedMisses() []ExpectedMiss { return r.expected }

// ObserveAccess records a finished file request.
func (r *Events) ObserveAccess(ev fileserve.AccessEvent) {
	e := Event{
		Time: ev.Time, Kind: "access",
		Protocol: ev.Protocol, Name: clip(ev.Name), Status: ev.Status, Bytes: ev.Bytes, Source: string(ev.Source),
		UserAgent: clip(ev.UserAgent), Detail: clip(ev.Detail),
	}
	e.Expected, e.Problem = classify(r.expected, ev.Name, ev.Status, ev.Bytes, ev.Size)
	if e.Problem && ev.Status < 400 && e.Detail == "" {
		e.Detail = "transfer cut short: " + strconv.FormatInt(ev.Bytes, 10) + " of " + strconv.FormatInt(ev.Size, 10) + " bytes sent"
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
	switch {
	case e.Problem:
		r.troubles++
		r.problems.add(e)
	case e.Expected != "":
		r.missed++
		r.misses.add(e)
	}
}

// EventsView is what /api/events returns.
type EventsView struct {
	// Seen counts the events recorded since start; the ring keeps the
	// latest of them.
	Seen   uint64  `json:"seen"`
	Events []Event `json:"events"` // newest first
}

// Selection is which events Latest returns.
type Selection int

// The selections: every event, the problems, the expected misses.
const (
	AllEvents Selection = iota
	Problems
	ExpectedMisses
)

// Latest returns up to limit events (all when limit <= 0) of the
// selection, newest first, with how many of them were seen since start.
func (r *Events) Latest(sel Selection, limit int) EventsView {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch sel {
	case Problems:
		return EventsView{Seen: r.troubles, Events: r.problems.newestFirst(limit)}
	case ExpectedMisses:
		return EventsView{Seen: r.missed, Events: r.misses.newestFirst(limit)}
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
