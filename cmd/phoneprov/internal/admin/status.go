package admin

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/downloads"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
	fwrollout "github.com/phoneprov/phoneprov/provisioning/rollout"
)

// Parts are the running appliance's parts the status page and the JSON
// API read. They are set once when the appliance is built and are safe
// for concurrent use; a reload changes what they do, not which they are.
type Parts struct {
	Files     *fileserve.Server
	Generator *provisioning.Generator
	Firmware  *firmware.Tree // the firmware catalogue the generator and the inventory read
	Inventory *inventory.Inventory
	Rollouts  *fwrollout.Manager // nil when the appliance runs none
	Downloads *downloads.Limiter // nil when the appliance caps no downloads
	DHCP      *dhcpd.Server      // nil when DHCP is off
	Pair      Pair               // nil unless [dhcp.ha] is enabled
	Events    *Events            // nil when the appliance does not record them
	Relay     bool               // the upstream relay is on
	Version   string             // the build, as `phoneprov version` prints it
	Log       *slog.Logger
	// Checks are the readiness checks (/readyz); the page shows those that
	// fail now (a failing lease store, an unreadable file tree) as errors.
	Checks []Check
}

// Site is the admin listener's status page and JSON API (Routes), read
// from the appliance's parts. It only reads.
type Site struct {
	Parts
	host   string
	misses []ExpectedMiss // read-only: for the phone page's file list
}

// NewSite returns the site over p.
func NewSite(p Parts) *Site {
	host, _ := os.Hostname()
	return &Site{Parts: p, host: host, misses: expectedMisses()}
}

//go:embed *.html
var pageFiles embed.FS

// pages are the site's HTML templates (status, phone, leases), parsed
// once; html/template escapes every value by context, which matters
// here: phones choose their User-Agent and host name.
var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"pct":   percent,
	"ago":   ago,
	"clock": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	"dash":  func(s string) string { return cmp.Or(s, "-") },
	"label": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
	"phone": func(mac string) string { return "/phones/" + mac },
}).ParseFS(pageFiles, "*.html"))

// maxPhonesShown bounds the page's phone list; a search narrows it.
const maxPhonesShown = 500

// maxErrorsShown is how many recent errors the page lists.
const maxErrorsShown = 25

// statusView is everything the page shows.
type statusView struct {
	pageTop

	DHCP      bool
	Subnets   []dhcpd.SubnetUse
	Leased    dhcpd.AddressCounts // the subnets added up
	Transfers fileserve.Transfers
	Fleet     fleetSummary
	Rollouts  rolloutsView

	Failing []FailingCheck // readiness checks failing now
	HA      haView         // the DHCP pair (ha.go)

	EventsRecorded bool
	Errors         []Event
	ErrorsSeen     uint64
	Misses         []Event // the latest expected misses: information
	MissesSeen     uint64
	ExpectedMisses []ExpectedMiss

	Search        phoneSearch
	Phones        []phoneRow
	PhonesMatched int
}

// FailingCheck is a readiness check that fails, and why.
type FailingCheck struct {
	Name, Err string
}

// failing runs the checks (each bounded by checkTimeout) and returns those
// that fail.
func failing(ctx context.Context, checks []Check) []FailingCheck {
	var out []FailingCheck
	for _, c := range checks {
		if err := run(ctx, c); err != nil {
			out = append(out, FailingCheck{c.Name, err.Error()})
		}
	}
	return out
}

// phoneSearch is the page's phone filter, from ?q=, ?model= and ?state=.
type phoneSearch struct {
	Query, Model, State string
}

// Active reports whether any filter is set.
func (s phoneSearch) Active() bool { return s.Query != "" || s.Model != "" || s.State != "" }

func (s phoneSearch) filter() inventory.Filter {
	return inventory.Filter{Text: s.Query, Model: s.Model, State: inventory.State(s.State)}
}

// fleetSummary is the phones by model, firmware and state, and the
// roll-out by Avaya series.
type fleetSummary struct {
	Phones, UpToDate int
	Series           []seriesRow
	Models           []modelRow
	States           []stateCount
}

// seriesRow is the roll-out of one Avaya series (the upgrade script its
// phones read): how many run the newest firmware the tree has for them.
type seriesRow struct {
	Series           string // as the inventory names it: "96x1 SIP", "96x1 H.323", "46xx", "16xx", "J100", …
	Phones, UpToDate int
	// Newest is the newest firmware present for the series' phones, when
	// it is one version for all of them; Varies when their models are
	// offered different versions; both empty when the tree has none.
	Newest   string
	Varies   bool
	Firmware []firmwareCount
}

// NothingOffered reports that the tree has no firmware for the series.
func (r seriesRow) NothingOffered() bool { return r.Newest == "" && !r.Varies }

type modelRow struct {
	Model            string // "" for phones not identified yet
	Phones, UpToDate int
	Newest           string // newest firmware present for the model, if known
	Firmware         []firmwareCount
}

type firmwareCount struct {
	Version string // "" when unknown
	Phones  int
	Newest  bool
}

type stateCount struct {
	State  inventory.State
	Phones int
}

// phoneRow is one line of the phone list.
type phoneRow struct {
	MAC, Address, Model, Firmware, HostName, UserAgent string
	State                                              inventory.State
	StateReason                                        string
	LastSeen                                           time.Time
	LastFile                                           string
}

func (s *Site) statusPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	search := phoneSearch{
		Query: strings.TrimSpace(q.Get("q")), Model: strings.TrimSpace(q.Get("model")), State: strings.TrimSpace(q.Get("state")),
	}
	v := s.overview()
	v.Failing = failing(r.Context(), s.Checks)
	v.pageTop = s.top(r, "")
	s.addPhones(&v, search)
	s.render(w, "status.html", v)
}

// render writes one of the pages, with the headers every page carries.
func (s *Site) render(w http.ResponseWriter, name string, v any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, v); err != nil {
		s.Log.Error("page not rendered", "page", name, "err", err)
		http.Error(w, name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// No script may run, whatever a phone managed to put in the page.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(buf.Bytes())
}

// overview gathers the page's data but the phone list from the
// appliance's parts.
func (s *Site) overview() statusView {
	v := statusView{pageTop: pageTop{Host: s.host, Version: s.Version, Now: time.Now()}}
	if s.DHCP != nil {
		v.DHCP = true
		v.Subnets = s.DHCP.SubnetUse()
		for _, su := range v.Subnets {
			v.Leased.Total += su.Total
			v.Leased.Assigned += su.Assigned
			v.Leased.Declined += su.Declined
			v.Leased.Free += su.Free
		}
	}
	v.HA = s.haView()
	v.Transfers = s.Files.ActiveTransfers()
	v.Fleet = summarize(s.Inventory.List(inventory.Filter{}), s.Firmware.NewestFirmware)
	v.Rollouts = s.rolloutsSection(v.Now)
	if s.Events != nil {
		v.EventsRecorded = true
		ev := s.Events.Latest(Problems, maxErrorsShown)
		v.Errors, v.ErrorsSeen = ev.Events, ev.Seen
		ev = s.Events.Latest(ExpectedMisses, maxErrorsShown)
		v.Misses, v.MissesSeen = ev.Events, ev.Seen
		v.ExpectedMisses = s.Events.ExpectedMisses()
	}
	return v
}

// addPhones fills in the phone list: the phones search matches, at most
// maxPhonesShown of them.
func (s *Site) addPhones(v *statusView, search phoneSearch) {
	v.Search = search
	matched := s.Inventory.List(search.filter())
	v.PhonesMatched = len(matched)
	for _, p := range matched[:min(len(matched), maxPhonesShown)] {
		v.Phones = append(v.Phones, newPhoneRow(p))
	}
}

func newPhoneRow(p inventory.Phone) phoneRow {
	row := phoneRow{
		MAC: p.MAC.String(), Model: p.Model, Firmware: p.Firmware, HostName: p.HostName, UserAgent: p.UserAgent,
		State: p.State, StateReason: p.StateReason, LastSeen: p.LastSeen,
	}
	if len(p.Addrs) > 0 {
		row.Address = p.Addrs[0].Addr.String()
	}
	if n := len(p.Files); n > 0 {
		f := p.Files[n-1]
		row.LastFile = fmt.Sprintf("%s %s %d", f.Protocol, f.Name, f.Status)
	}
	return row
}

// summarize counts phones by model (most phones first), firmware within a
// model (newest present first, then most phones) and state (in the
// inventory's order).
func summarize(phones []inventory.Phone, newest func(model string) (string, bool)) fleetSummary {
	var f fleetSummary
	byModel := map[string]*modelRow{}
	byState := map[inventory.State]int{}
	for _, p := range phones {
		f.Phones++
		byState[p.State]++
		m := byModel[p.Model]
		if m == nil {
			m = &modelRow{Model: p.Model}
			if p.Model != "" && newest != nil {
				m.Newest, _ = newest(p.Model)
			}
			byModel[p.Model] = m
		}
		m.Phones++
		if p.State == inventory.StateUpToDate {
			m.UpToDate++
			f.UpToDate++
		}
		i := slices.IndexFunc(m.Firmware, func(c firmwareCount) bool { return inventory.SameVersion(c.Version, p.Firmware) })
		if i < 0 {
			m.Firmware = append(m.Firmware, firmwareCount{Version: p.Firmware,
				Newest: p.Firmware != "" && m.Newest != "" && inventory.SameVersion(p.Firmware, m.Newest)})
			i = len(m.Firmware) - 1
		}
		m.Firmware[i].Phones++
	}
	for _, m := range byModel {
		sortFirmware(m.Firmware)
		f.Models = append(f.Models, *m)
	}
	f.Series = rollout(phones, byModel)
	slices.SortFunc(f.Models, func(a, b modelRow) int {
		if (a.Model == "") != (b.Model == "") {
			if a.Model == "" {
				return 1
			}
			return -1
		}
		if a.Phones != b.Phones {
			return b.Phones - a.Phones
		}
		return strings.Compare(a.Model, b.Model)
	})
	for _, st := range inventory.AllStates() {
		f.States = append(f.States, stateCount{State: st, Phones: byState[st]})
	}
	return f
}

// sortFirmware orders versions newest present first, then by phones.
func sortFirmware(fw []firmwareCount) {
	slices.SortFunc(fw, func(a, b firmwareCount) int {
		if a.Newest != b.Newest {
			if a.Newest {
				return -1
			}
			return 1
		}
		if a.Phones != b.Phones {
			return b.Phones - a.Phones
		}
		return strings.Compare(a.Version, b.Version)
	})
}

// seriesOf names the Avaya series a phone belongs to, as a model class
// ("96x1 SIP"), from the upgrade script it asked for or else its model;
// "" for a phone of no known series (other vendors' phones).
func seriesOf(p inventory.Phone) string {
	se, ok := firmware.ParseSeries(p.Series)
	if !ok {
		class, ok := firmware.ParseModelClass(p.Model)
		if !ok || class.Series == "" {
			return ""
		}
		se = class.Series
	}
	info, _ := firmware.Lookup(se)
	return info.ModelClass()
}

// rollout counts the phones of each Avaya series present, with the newest
// firmware the tree has for them (from their models' rows), by most
// phones.
func rollout(phones []inventory.Phone, byModel map[string]*modelRow) []seriesRow {
	bySeries := map[string]*seriesRow{}
	newest := map[string]map[string]bool{} // series → the newest versions its phones' models are offered
	for _, p := range phones {
		name := seriesOf(p)
		if name == "" {
			continue
		}
		r := bySeries[name]
		if r == nil {
			r = &seriesRow{Series: name}
			bySeries[name] = r
			newest[name] = map[string]bool{}
		}
		r.Phones++
		if p.State == inventory.StateUpToDate {
			r.UpToDate++
		}
		target := byModel[p.Model].Newest
		if target != "" {
			newest[name][target] = true
		}
		i := slices.IndexFunc(r.Firmware, func(c firmwareCount) bool { return inventory.SameVersion(c.Version, p.Firmware) })
		if i < 0 {
			r.Firmware = append(r.Firmware, firmwareCount{Version: p.Firmware})
			i = len(r.Firmware) - 1
		}
		r.Firmware[i].Phones++
		if p.Firmware != "" && target != "" && inventory.SameVersion(p.Firmware, target) {
			r.Firmware[i].Newest = true
		}
	}
	out := make([]seriesRow, 0, len(bySeries))
	for name, r := range bySeries {
		switch len(newest[name]) {
		case 0:
		case 1:
			for v := range newest[name] {
				r.Newest = v
			}
		default:
			r.Varies = true
		}
		sortFirmware(r.Firmware)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b seriesRow) int {
		if a.Phones != b.Phones {
			return b.Phones - a.Phones
		}
		return strings.Compare(a.Series, b.Series)
	})
	return out
}

// percent is part of whole in whole percent, rounded down so that 99.6 %
// does not show as done; 0 for an empty whole.
func percent(part, whole int) int {
	if whole <= 0 {
		return 0
	}
	return part * 100 / whole
}

// ago is a short relative time: "12s ago", "5m ago", "3h ago", "4d ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
