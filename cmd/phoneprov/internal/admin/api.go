package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// Routes are the site's handlers by ServeMux pattern, for Bind:
//
//	GET /             the status page (?q= searches the phones, ?model=, ?state= filter them)
//	GET /phones/{mac} one phone: lease, model, firmware, state, files fetched, backups
//	GET /leases       the DHCP leases (?q= searches them; when DHCP is on)
//	GET /api/phones   the inventory (?q=, ?model=, ?firmware=, ?state=, ?class=)
//	GET /api/phones/{mac} one phone, with its lease
//	GET /api/leases   the DHCP leases (?q= searches them; when DHCP is on)
//	GET /api/pools    DHCP address use per subnet and pool (when DHCP is on)
//	GET /api/files    what the file server offers, and from where
//	GET /api/events   recent access and lease events, newest first (?problems=1 or ?misses=1, ?limit=N)
//	GET /api/misses   the expected misses: what phones ask for by design and may not find, with sources
//	GET /api/status   the page's summary: transfers, pools, phones by model and state
//	GET /api/ha       the DHCP pair: this box's and the partner's HA state, last contact (see ha.go)
//	/api/rollouts     firmware roll-outs (see rolloutRoutes; when the appliance runs them)
//
// The pages take ?refresh=N too: seconds between reloads, 0 to pause.
func (s *Site) Routes() map[string]http.Handler {
	routes := map[string]http.Handler{
		"GET /{$}":              http.HandlerFunc(s.statusPage),
		"GET /phones/{mac}":     http.HandlerFunc(s.phonePage),
		"GET /api/phones":       http.HandlerFunc(s.phones),
		"GET /api/phones/{mac}": http.HandlerFunc(s.phoneJSON),
		"GET /api/files":        http.HandlerFunc(s.files),
		"GET /api/events":       http.HandlerFunc(s.recent),
		"GET /api/misses":       http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.misses) }),
		"GET /api/status":       http.HandlerFunc(s.summary),
		"GET /api/ha":           http.HandlerFunc(s.haJSON),
	}
	if s.Rollouts != nil {
		s.rolloutRoutes(routes)
	}
	if s.DHCP != nil {
		routes["GET /leases"] = http.HandlerFunc(s.leasesPage)
		routes["GET /api/leases"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, FilterLeases(ViewLeases(s.DHCP.Leases()), r.URL.Query().Get("q")))
		})
		routes["GET /api/pools"] = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, s.DHCP.SubnetUse())
		})
	}
	return routes
}

func (s *Site) phones(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	writeJSON(w, s.Inventory.List(inventory.Filter{
		Model: q.Get("model"), Firmware: q.Get("firmware"), State: inventory.State(q.Get("state")),
		Class: q.Get("class"), Text: q.Get("q"),
	}))
}

// maxListedFiles bounds /api/files' walk of the operator's tree.
const maxListedFiles = 10000

// fileView is one served name in /api/files.
type fileView struct {
	Name     string           `json:"name"`
	Source   fileserve.Source `json:"source"`            // operator, builtin or generated
	Size     *int64           `json:"size,omitempty"`    // absent for generated files: made per request
	Modified time.Time        `json:"modified,omitzero"` // absent for generated files
}

// filesView is what /api/files returns.
type filesView struct {
	Files []fileView `json:"files"` // by name
	// Complete is false when the operator's tree has more files than are
	// listed (more than maxListedFiles, or the walk's budget ran out).
	Complete bool `json:"complete"`
	// Relay says what the upstream relay adds; its cached files are not
	// listed (the relay has no listing).
	Relay string `json:"relay"`
}

func (s *Site) files(w http.ResponseWriter, r *http.Request) {
	listing, err := s.Files.Files(r.Context(), maxListedFiles)
	if err != nil {
		s.Log.Error("file listing failed", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "listing the file tree: "+err.Error())
		return
	}
	names, err := s.Generator.Names(r.Context())
	if err != nil {
		s.Log.Error("generated file names not listed", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "listing generated files: "+err.Error())
		return
	}
	v := filesView{Files: make([]fileView, 0, len(listing.Files)+len(names)), Complete: listing.Complete, Relay: "off"}
	// A file in the tree is served before a generated one of the same
	// name. The generator learns of a newly placed file a moment after
	// the tree shows it, so its names are checked against the listing
	// too, case-folded as the file server looks names up.
	placed := make(map[string]bool, len(listing.Files))
	for _, f := range listing.Files {
		v.Files = append(v.Files, fileView{Name: f.Name, Source: f.Source, Size: &f.Size, Modified: f.ModTime})
		placed[strings.ToLower(f.Name)] = true
	}
	for _, n := range names {
		if !placed[strings.ToLower(n)] {
			v.Files = append(v.Files, fileView{Name: n, Source: fileserve.SourceGenerated})
		}
	}
	slices.SortFunc(v.Files, func(a, b fileView) int { return strings.Compare(a.Name, b.Name) })
	if s.Relay {
		v.Relay = "on: names found nowhere else are fetched from the upstream and cached; the cache is not listed"
	}
	writeJSON(w, v)
}

func (s *Site) recent(w http.ResponseWriter, r *http.Request) {
	if s.Events == nil {
		writeJSONError(w, http.StatusServiceUnavailable, "this appliance does not record recent events")
		return
	}
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSONError(w, http.StatusBadRequest, "limit: give a whole number of events, 0 for all")
			return
		}
		limit = n
	}
	sel := AllEvents
	if problems, _ := strconv.ParseBool(q.Get("problems")); problems {
		sel = Problems
	}
	if misses, _ := strconv.ParseBool(q.Get("misses")); misses {
		sel = ExpectedMisses
	}
	writeJSON(w, s.Events.Latest(sel, limit))
}

// summaryView is what /api/status returns: the status page without the
// phone list.
type summaryView struct {
	Time      time.Time           `json:"time"`
	Transfers fileserve.Transfers `json:"transfers"`
	Subnets   []dhcpd.SubnetUse   `json:"subnets,omitempty"` // absent when DHCP is off
	Phones    int                 `json:"phones"`
	UpToDate  int                 `json:"up_to_date"`
	Series    []seriesSummary     `json:"series"` // the roll-out by Avaya series
	Models    []modelSummary      `json:"models"`
	States    map[string]int      `json:"states"`
}

type seriesSummary struct {
	Series   string         `json:"series"` // "96x1 SIP", "46xx", "J100", …
	Phones   int            `json:"phones"`
	UpToDate int            `json:"up_to_date"`
	Newest   string         `json:"newest_present,omitempty"` // absent when none, or when it differs by model
	Varies   bool           `json:"newest_differs_by_model,omitempty"`
	Firmware map[string]int `json:"firmware"` // phones by version; "" is unknown
}

type modelSummary struct {
	Model    string         `json:"model"` // "" for phones not identified yet
	Phones   int            `json:"phones"`
	UpToDate int            `json:"up_to_date"`
	Newest   string         `json:"newest_present,omitempty"`
	Firmware map[string]int `json:"firmware"` // phones by version; "" is unknown
}

func (s *Site) summary(w http.ResponseWriter, _ *http.Request) {
	v := s.overview()
	out := summaryView{
		Time: v.Now, Transfers: v.Transfers, Subnets: v.Subnets,
		Phones: v.Fleet.Phones, UpToDate: v.Fleet.UpToDate, States: map[string]int{},
	}
	out.Series = []seriesSummary{}
	for _, r := range v.Fleet.Series {
		ss := seriesSummary{Series: r.Series, Phones: r.Phones, UpToDate: r.UpToDate, Newest: r.Newest, Varies: r.Varies, Firmware: map[string]int{}}
		for _, f := range r.Firmware {
			ss.Firmware[f.Version] += f.Phones
		}
		out.Series = append(out.Series, ss)
	}
	for _, m := range v.Fleet.Models {
		ms := modelSummary{Model: m.Model, Phones: m.Phones, UpToDate: m.UpToDate, Newest: m.Newest, Firmware: map[string]int{}}
		for _, f := range m.Firmware {
			ms.Firmware[f.Version] += f.Phones
		}
		out.Models = append(out.Models, ms)
	}
	for _, st := range v.Fleet.States {
		out.States[string(st.State)] = st.Phones
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	EncodeJSON(w, v)
}

// EncodeJSON writes v as indented JSON, for people and for scripts alike:
// the API's format, which the command line's --json output shares.
func EncodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// leasesView is the leases page.
type leasesView struct {
	pageTop
	Query  string
	Leases []LeaseView
	Total  int
	Phones map[string]bool // MACs the inventory knows: their rows link to the phone page
}

func (s *Site) leasesPage(w http.ResponseWriter, r *http.Request) {
	all := ViewLeases(s.DHCP.Leases())
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := leasesView{pageTop: s.top(r, "leases"), Query: q, Leases: FilterLeases(all, q), Total: len(all), Phones: map[string]bool{}}
	for _, l := range v.Leases {
		if m, err := inventory.ParseMAC(l.MAC); err == nil {
			if _, ok := s.Inventory.Get(m); ok {
				v.Phones[l.MAC] = true
			}
		}
	}
	s.render(w, "leases.html", v)
}
