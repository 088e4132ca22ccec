package admin

import (
	"net/http"
	"slices"

	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// phoneDetail is what /api/phones/{mac} returns: the inventory's record
// with the phone's DHCP lease, when DHCP is on and it has one.
type phoneDetail struct {
	inventory.Phone
	Lease *LeaseView `json:"lease,omitempty"`
}

// phoneView is the phone page.
type phoneView struct {
	pageTop
	phoneDetail
	MACText string
	Newest  string // the newest firmware the tree has for its model
	Files   []fetchRow
	Backups []fetchRow
	DHCP    bool
}

// fetchRow is one file request on the phone page, newest first.
type fetchRow struct {
	inventory.Fetch
	Note    string // what the outcome means: an expected miss, a backup stored
	Problem bool
}

// lookupPhone finds the phone the path's {mac} names; it answers the
// request itself (400, 404) when there is none.
func (s *Site) lookupPhone(w http.ResponseWriter, r *http.Request, answer func(http.ResponseWriter, int, string)) (phoneDetail, bool) {
	mac, err := inventory.ParseMAC(r.PathValue("mac"))
	if err != nil {
		answer(w, http.StatusBadRequest, err.Error()+": give it as c8:1f:ea:83:e8:5a, c8-1f-ea-83-e8-5a or c81fea83e85a")
		return phoneDetail{}, false
	}
	p, ok := s.Inventory.Get(mac)
	if !ok {
		answer(w, http.StatusNotFound, "no phone "+mac.String()+" in the inventory")
		return phoneDetail{}, false
	}
	d := phoneDetail{Phone: p}
	if s.DHCP != nil {
		for _, l := range ViewLeases(s.DHCP.Leases()) {
			if l.MAC == mac.String() {
				d.Lease = &l
				break
			}
		}
	}
	return d, true
}

func (s *Site) phoneJSON(w http.ResponseWriter, r *http.Request) {
	if d, ok := s.lookupPhone(w, r, writeJSONError); ok {
		writeJSON(w, d)
	}
}

func (s *Site) phonePage(w http.ResponseWriter, r *http.Request) {
	d, ok := s.lookupPhone(w, r, func(w http.ResponseWriter, code int, msg string) { http.Error(w, msg, code) })
	if !ok {
		return
	}
	v := phoneView{pageTop: s.top(r, d.MAC.String()), phoneDetail: d, MACText: d.MAC.String(), DHCP: s.DHCP != nil}
	if d.Model != "" {
		v.Newest, _ = s.Firmware.NewestFirmware(d.Model)
	}
	for _, f := range slices.Backward(d.Files) {
		row := s.fetchRow(f)
		if s.isBackup(f) {
			v.Backups = append(v.Backups, row)
		}
		v.Files = append(v.Files, row)
	}
	s.render(w, "phone.html", v)
}

// isBackup reports whether f was a request for the phone's settings
// backup: a name the avaya-backup expected miss describes.
func (s *Site) isBackup(f inventory.Fetch) bool {
	return missNamed(s.misses, "avaya-backup").matches(f.Name)
}

// fetchRow says what a request's outcome means, as the recent-events
// recorder judges it.
func (s *Site) fetchRow(f inventory.Fetch) fetchRow {
	row := fetchRow{Fetch: f}
	expected, problem := classify(s.misses, f.Name, f.Status, f.Bytes, f.Size)
	row.Problem = problem
	switch {
	case expected != "":
		row.Note = "expected miss: " + missNamed(s.misses, expected).What
	case s.isBackup(f) && f.Status == http.StatusCreated:
		row.Note = "backup stored (first)"
	case s.isBackup(f) && f.Status == http.StatusNoContent:
		row.Note = "backup stored"
	case s.isBackup(f) && f.Status == http.StatusOK:
		row.Note = "backup restored"
	case problem && f.Status < 400:
		row.Note = "transfer cut short"
	case problem:
		row.Note = http.StatusText(f.Status)
	}
	return row
}
