package inventory

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
	"unique"
)

// Phone is everything the inventory knows about one device, keyed by MAC.
type Phone struct {
	MAC   MAC       `json:"mac"`
	Addrs []Address `json:"addresses"` // current addresses, most recent first

	// From DHCP.
	Class            string    `json:"class,omitempty"`              // the DHCP server's class for it
	HostName         string    `json:"host_name,omitempty"`          // option 12
	VendorClass      string    `json:"vendor_class,omitempty"`       // option 60
	ParamRequestList string    `json:"param_request_list,omitempty"` // option 55, like "1,3,6,7,15,26,42,242"
	LeaseKind        string    `json:"lease_kind,omitempty"`         // the last lease event (ack, release, …)
	LeaseTime        time.Time `json:"lease_time,omitzero"`

	// Identity, from the User-Agent, the vendor class, the host name and
	// firmware downloads.
	Vendor       string `json:"vendor,omitempty"`
	Model        string `json:"model,omitempty"`
	Firmware     string `json:"firmware,omitempty"`
	FirmwareFrom string `json:"firmware_from,omitempty"` // "user-agent" (what it runs) or "download" (what it fetched)
	UserAgent    string `json:"user_agent,omitempty"`

	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`

	Files        []Fetch `json:"files"`                   // recent requests, oldest first, bounded
	LastScript   *Fetch  `json:"last_script,omitempty"`   // the latest upgrade or settings script request
	LastFirmware *Fetch  `json:"last_firmware,omitempty"` // the latest firmware request

	// State and StateReason are computed when the phone is listed.
	State       State  `json:"state,omitempty"`
	StateReason string `json:"state_reason,omitempty"`
}

// Address is one of a phone's addresses and where it was learnt.
type Address struct {
	Addr   netip.Addr `json:"addr"`
	Source string     `json:"source"` // "dhcp", "neighbor" (static, from the kernel's table) or "user-agent"
	Seen   time.Time  `json:"seen"`
}

// Fetch is one finished file request by the phone.
type Fetch struct {
	Time     time.Time `json:"time"`
	Protocol string    `json:"protocol"`
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`           // "script", "firmware" or "other"
	Status   int       `json:"status"`         // HTTP status; TFTP outcomes use the same numbers
	Bytes    int64     `json:"bytes"`          // body bytes sent
	Size     int64     `json:"size,omitempty"` // size of the file served; 0 when unknown
}

// Kinds of file, for Fetch.Kind.
const (
	KindScript   = "script"
	KindFirmware = "firmware"
	KindOther    = "other"
)

// ok reports a successful transfer (2xx, or 304 for a cached copy) that
// was not cut short.
func (f *Fetch) ok() bool { return f != nil && (f.Status/100 == 2 || f.Status == 304) && !f.cut() }

// cut reports a transfer that began (status 200) but sent less than the
// whole file: the phone hung up or the connection broke mid-body. It is
// incomplete, not failed: the server answered, and the phone retries.
func (f *Fetch) cut() bool { return f != nil && f.Status == 200 && f.Size > 0 && f.Bytes != f.Size }

// complete reports the whole file delivered: status 200 and, when the size
// is known, every byte of it.
func (f *Fetch) complete() bool { return f != nil && f.Status == 200 && !f.cut() }

// failed reports a transfer that tells the phone could not get its file:
// 404, a timeout (408) or a server error (5xx).
func (f *Fetch) failed() bool {
	return f != nil && (f.Status == 404 || f.Status == 408 || f.Status >= 500)
}

// State is where a phone stands. Each is defined precisely on its constant;
// a phone is in the first of stale, failed, up_to_date, fetching, outdated
// and discovered whose definition it meets, at the moment it is listed.
type State string

const (
	// StateStale: not seen (no lease event, file request or reachable
	// neighbour entry) for longer than Config.StaleAfter.
	StateStale State = "stale"
	// StateFailed: its most recent script or firmware request got 404, a
	// server error (5xx) or timed out (408). A transfer cut mid-body (status
	// 200 but fewer bytes than the file) is not a failure: the server
	// answered and the phone retries. It is incomplete: it gives no version
	// credit and does not end a boot sequence cleanly.
	StateFailed State = "failed"
	// StateUpToDate: its firmware version (reported by its User-Agent, or
	// that of the firmware it last downloaded completely, whichever came
	// later) is the newest present for its model. When that cannot be
	// compared (version or newest unknown), it finished a boot sequence
	// cleanly: its last script request succeeded completely, and so did any
	// firmware request after it, and FetchWindow has passed since; as phones
	// download the APPNAME their script names only when it differs from
	// what they run, a clean sequence means it runs that firmware.
	StateUpToDate State = "up_to_date"
	// StateFetching: it requested a script or firmware within the last
	// Config.FetchWindow and is not yet up to date: in its boot sequence.
	// When its model is unknown, or nothing in the tree is for it, the
	// reason says so (its firmware cannot be compared).
	StateFetching State = "fetching"
	// StateOutdated: its sequence is over and its firmware version is known
	// and differs from the newest present for its model.
	StateOutdated State = "outdated"
	// StateDiscovered: known (lease, neighbour table or file request) but
	// nothing yet says whether its firmware is current: it has requested no
	// script or firmware, or its last sequence ended without a verdict
	// (e.g. a transfer the phone itself abandoned, or one cut mid-body).
	StateDiscovered State = "discovered"
)

// AllStates lists every state, in the order they are evaluated.
func AllStates() []State {
	return []State{StateStale, StateFailed, StateUpToDate, StateFetching, StateOutdated, StateDiscovered}
}

// judge computes p's state at now; newest returns the newest firmware
// version present for a model.
func judge(p *Phone, now time.Time, cfg Config, newest func(model string) (string, bool)) (State, string) {
	if since := now.Sub(p.LastSeen); since > cfg.StaleAfter {
		return StateStale, fmt.Sprintf("not seen for %s", since.Round(time.Second))
	}
	last := latest(p.LastScript, p.LastFirmware)
	if last.failed() {
		return StateFailed, fmt.Sprintf("%s of %s got %d", last.Protocol, last.Name, last.Status)
	}
	target, haveTarget := "", false
	if newest != nil && p.Model != "" {
		target, haveTarget = newest(p.Model)
	}
	if haveTarget && p.Firmware != "" {
		if SameVersion(p.Firmware, target) {
			return StateUpToDate, fmt.Sprintf("%s %s is the newest present", p.FirmwareFrom, p.Firmware)
		}
	}
	inSequence := last != nil && now.Sub(last.Time) <= cfg.FetchWindow
	if !(haveTarget && p.Firmware != "") && !inSequence && p.LastScript.ok() &&
		(p.LastFirmware == nil || p.LastFirmware.Time.Before(p.LastScript.Time) || p.LastFirmware.ok()) {
		return StateUpToDate, fmt.Sprintf("boot sequence after %s ended cleanly", p.LastScript.Name)
	}
	// Why the firmware cannot be compared, when it cannot.
	why := ""
	switch {
	case haveTarget:
	case p.Model == "":
		why = "; model unknown (nothing it sent names it), so its firmware cannot be compared"
	case newest != nil:
		why = fmt.Sprintf("; no firmware for %s in the tree to compare with", p.Model)
	}
	if inSequence {
		return StateFetching, fmt.Sprintf("requested %s %s ago%s", last.Name, now.Sub(last.Time).Round(time.Second), why)
	}
	if haveTarget && p.Firmware != "" {
		return StateOutdated, fmt.Sprintf("runs %s, newest present is %s", p.Firmware, target)
	}
	if last != nil {
		if last.cut() {
			return StateDiscovered, fmt.Sprintf("last sequence (%s, cut after %d of %d bytes) ended without a verdict%s", last.Name, last.Bytes, last.Size, why)
		}
		return StateDiscovered, fmt.Sprintf("last sequence (%s, status %d) ended without a verdict%s", last.Name, last.Status, why)
	}
	return StateDiscovered, "no script or firmware requested yet" + why
}

// latest returns the later of two fetches (either may be nil).
func latest(a, b *Fetch) *Fetch {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.Time.After(a.Time):
		return b
	}
	return a
}

// clone deep-copies p for handing out.
// intern replaces p's fields that repeat across the fleet with shared
// copies, so a large inventory holds each value once.
func (p *Phone) intern() {
	for _, s := range []*string{&p.Class, &p.VendorClass, &p.ParamRequestList, &p.LeaseKind,
		&p.Vendor, &p.Model, &p.Firmware, &p.FirmwareFrom, &p.UserAgent} {
		if *s != "" {
			*s = unique.Make(*s).Value()
		}
	}
	for i := range p.Addrs {
		p.Addrs[i].Source = unique.Make(p.Addrs[i].Source).Value()
	}
}

func (p *Phone) clone() Phone {
	c := *p
	c.Addrs = slices.Clone(p.Addrs)
	c.Files = slices.Clone(p.Files)
	if p.LastScript != nil {
		f := *p.LastScript
		c.LastScript = &f
	}
	if p.LastFirmware != nil {
		f := *p.LastFirmware
		c.LastFirmware = &f
	}
	return c
}
