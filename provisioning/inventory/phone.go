package inventory

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unique"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
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
	Model        string `json:"model,omitempty"`      // a $MODEL4 value ("J179"), or a series class ("96x1 H.323", "16xx") when that is all that is known
	ModelFrom    string `json:"model_from,omitempty"` // where Model was learnt: one of the ModelFrom constants
	Series       string `json:"series,omitempty"`     // the Avaya series (firmware.Series) of the upgrade script it asked for, or of its firmware
	Firmware     string `json:"firmware,omitempty"`
	FirmwareFrom string `json:"firmware_from,omitempty"` // "user-agent" (what it runs) or "download" (what it fetched)
	UserAgent    string `json:"user_agent,omitempty"`

	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`

	Files        []Fetch `json:"files"`                   // recent requests, oldest first, bounded
	LastScript   *Fetch  `json:"last_script,omitempty"`   // the latest upgrade or settings script request
	LastFirmware *Fetch  `json:"last_firmware,omitempty"` // the latest firmware request
	Upgraded     *Fetch  `json:"upgraded,omitempty"`      // the latest firmware downloaded completely: what it runs since

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
// a phone is in the first of stale, failed, up_to_date, fetching, outdated,
// no_firmware, model_unknown and discovered whose definition it meets, at
// the moment it is listed.
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
	// later) is the newest present for its model: it was upgraded, or the
	// script offered what it runs. When its version is not known, it is
	// presumed up to date once its boot sequence is over (see ended) without
	// a request for the firmware offered: Avaya's admin guides say a phone
	// that already runs the file its script names does not download it again
	// (firmware.SeriesInfo.SkipsCurrentApp; the reason says "unconfirmed"
	// for a series no source covers).
	StateUpToDate State = "up_to_date"
	// StateFetching: it requested a script or firmware within the last
	// Config.FetchWindow and its boot sequence is not over yet.
	StateFetching State = "fetching"
	// StateOutdated: its sequence is over and its firmware version is known
	// and differs from the newest present for its model.
	StateOutdated State = "outdated"
	// StateNoFirmware: its sequence is over and the tree has no firmware for
	// its model or series: nothing was offered, nothing to compare with.
	StateNoFirmware State = "no_firmware"
	// StateModelUnknown: its sequence is over but nothing it sent (User-
	// Agent, upgrade script, firmware or backup name, vendor class) names
	// its model or series, so its firmware cannot be compared.
	StateModelUnknown State = "model_unknown"
	// StateDiscovered: known (lease, neighbour table or file request) but
	// nothing yet says whether its firmware is current: it has requested no
	// script or firmware, or its last sequence ended without a verdict
	// (e.g. a transfer the phone itself abandoned, or one cut mid-body).
	StateDiscovered State = "discovered"
)

// AllStates lists every state, in the order they are evaluated.
func AllStates() []State {
	return []State{StateStale, StateFailed, StateUpToDate, StateFetching, StateOutdated, StateNoFirmware, StateModelUnknown, StateDiscovered}
}

// ended reports whether p's latest boot sequence is over by what it
// fetched: since its latest upgrade script, a settings file (a script that
// is not an upgrade script) came completely, and its latest firmware
// request since then, if any, completed. settings is that settings file.
// Only the recent requests kept in p.Files are read.
func (p *Phone) ended() (settings *Fetch, ok bool) {
	var fw *Fetch
	for i := len(p.Files) - 1; i >= 0; i-- {
		f := &p.Files[i]
		if _, upgrade := upgradeScript(f.Name); upgrade {
			break
		}
		switch {
		case f.Kind == KindFirmware && fw == nil:
			fw = f
		case f.Kind == KindScript && settings == nil && f.ok():
			settings = f
		}
	}
	return settings, settings != nil && (fw == nil || fw.complete())
}

// judge computes p's state at now, asking the catalogue, when there is
// one, for the newest firmware present for p's model.
func (inv *Inventory) judge(p *Phone, now time.Time) (State, string) {
	return judgeWith(p, now, inv.cfg, inv.newest)
}

// judgeWith computes p's state at now; newest, when not nil, returns the
// newest firmware version present for a model.
func judgeWith(p *Phone, now time.Time, cfg Config, newest func(model string) (string, bool)) (State, string) {
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
	if haveTarget && p.Firmware != "" && SameVersion(p.Firmware, target) {
		if p.Upgraded != nil && p.FirmwareFrom == "download" {
			return StateUpToDate, fmt.Sprintf("upgraded: downloaded %s completely; %s is the newest present", p.Upgraded.Name, p.Firmware)
		}
		return StateUpToDate, fmt.Sprintf("%s %s is the newest present", p.FirmwareFrom, p.Firmware)
	}
	inSequence := last != nil && now.Sub(last.Time) <= cfg.FetchWindow
	settings, over := p.ended()
	if !over && !inSequence && p.LastScript.ok() &&
		(p.LastFirmware == nil || p.LastFirmware.Time.Before(p.LastScript.Time) || p.LastFirmware.ok()) {
		over = true // quiet for FetchWindow after a clean last request
	}
	end := "boot sequence ended cleanly"
	if settings != nil {
		end = "boot sequence over (" + settings.Name + " fetched after the upgrade script)"
	}
	if over {
		switch {
		case newest == nil:
			return StateUpToDate, end
		case haveTarget && p.Firmware != "":
			return StateOutdated, fmt.Sprintf("runs %s, newest present is %s", p.Firmware, target)
		case p.Model == "":
			return StateModelUnknown, end + "; nothing it sent names its model or series, so its firmware cannot be compared"
		case !haveTarget:
			return StateNoFirmware, fmt.Sprintf("%s; no firmware for %s in the tree: none offered", end, p.Model)
		}
		return StateUpToDate, presumedReason(p, end, target)
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

// presumedReason explains an up-to-date verdict drawn from a sequence that
// ended without the offered firmware being fetched, and says where the
// rule behind it is documented for the phone's series, or that it is not.
func presumedReason(p *Phone, end, target string) string {
	info, known := firmware.SeriesInfo{}, false
	if se, ok := firmware.ParseSeries(p.Series); ok {
		info, known = firmware.Lookup(se)
	} else if class, ok := firmware.ParseModelClass(p.Model); ok && class.Series != "" {
		info, known = firmware.Lookup(class.Series)
	}
	basis := "unconfirmed: no source read says its series skips the firmware it already runs"
	if known && info.SkipsCurrentApp != "" {
		basis = info.SkipsCurrentApp
	}
	return fmt.Sprintf("presumed up to date: %s without fetching the firmware offered (%s), so it runs it (%s)", end, target, basis)
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

// intern replaces p's fields that repeat across the fleet with shared
// copies, so a large inventory holds each value once, and copies the host
// name: none of p's strings is then a part of the record it was decoded
// from (see decoder).
func (p *Phone) intern() {
	p.HostName = strings.Clone(p.HostName)
	for _, s := range []*string{&p.Class, &p.VendorClass, &p.ParamRequestList, &p.LeaseKind,
		&p.Vendor, &p.Model, &p.ModelFrom, &p.Series, &p.Firmware, &p.FirmwareFrom, &p.UserAgent} {
		if *s != "" {
			*s = unique.Make(*s).Value()
		}
	}
	for i := range p.Addrs {
		p.Addrs[i].Source = unique.Make(p.Addrs[i].Source).Value()
	}
	for i := range p.Files {
		internFetch(&p.Files[i])
	}
	for _, f := range []*Fetch{p.LastScript, p.LastFirmware, p.Upgraded} {
		if f != nil {
			internFetch(f)
		}
	}
}

// clone deep-copies p for handing out. Its lists are never nil, so that
// the API and --json give [] rather than null; an empty one allocates
// nothing.
func (p *Phone) clone() Phone {
	c := *p
	c.Addrs = append([]Address{}, p.Addrs...)
	c.Files = append([]Fetch{}, p.Files...)
	if p.LastScript != nil {
		f := *p.LastScript
		c.LastScript = &f
	}
	if p.LastFirmware != nil {
		f := *p.LastFirmware
		c.LastFirmware = &f
	}
	if p.Upgraded != nil {
		f := *p.Upgraded
		c.Upgraded = &f
	}
	return c
}
