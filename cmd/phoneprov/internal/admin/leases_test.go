package admin

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testLeases() []LeaseView {
	now := time.Now()
	return []LeaseView{
		{MAC: "c8:1f:ea:83:e8:5a", Address: "198.18.0.20", State: "active", Class: "avaya", Hostname: "AV83e85a", VendorClass: "ccp.avaya.com", Subnet: "198.18.0.0/24", Start: now, Expiry: now.Add(time.Hour)},
		{MAC: "00:04:f2:aa:bb:cc", Address: "198.18.0.21", State: "active", Class: "polycom", Hostname: "SEP-desk", Subnet: "198.18.0.0/24", Start: now, Expiry: now.Add(time.Hour)},
		{MAC: "02:00:00:00:00:01", Address: "198.18.0.99", State: "declined", Subnet: "198.18.0.0/24"},
	}
}

// The leases search matches a part of the MAC written any way, the
// address, the host name, class, vendor class and state.
func TestFilterLeases(t *testing.T) {
	ls := testLeases()
	for q, want := range map[string]string{
		"":              "198.18.0.20 198.18.0.21 198.18.0.99",
		"  83E85A ":     "198.18.0.20",
		"c8-1f-ea":      "198.18.0.20",
		"04:f2":         "198.18.0.21",
		"198.18.0.9":    "198.18.0.99",
		"declined":      "198.18.0.99",
		"polycom":       "198.18.0.21",
		"ccp.avaya":     "198.18.0.20",
		"sep-desk":      "198.18.0.21",
		"no-such-lease": "",
	} {
		var got []string
		for _, l := range FilterLeases(ls, q) {
			got = append(got, l.Address)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("q=%q: %v, want %s", q, got, want)
		}
	}
}

// The leases page shows the matching leases, keeps the search in its box
// and its reload, and links known phones to their page.
func TestLeasesPageRenders(t *testing.T) {
	s := &Site{host: "box"}
	r := httptest.NewRequest("GET", "/leases?q=avaya&refresh=5", nil)
	v := leasesView{pageTop: s.top(r, "leases"), Query: "avaya", Leases: FilterLeases(testLeases(), "avaya"), Total: 3,
		Phones: map[string]bool{"c8:1f:ea:83:e8:5a": true}}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "leases.html", v); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`value="avaya"`, `<a href="/phones/c8:1f:ea:83:e8:5a">c8:1f:ea:83:e8:5a</a>`, "1 of 3", `<meta http-equiv="refresh" content="5">`,
		`<input type="hidden" name="refresh" value="5">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the leases page lacks %q", want)
		}
	}
	if strings.Contains(page, "198.18.0.21") {
		t.Error("the leases page lists a lease the search does not match")
	}
}

// ?refresh= chooses the reload period within bounds, 0 pauses, and the
// pause and resume links keep the rest of the query.
func TestRefreshParameter(t *testing.T) {
	s := &Site{}
	for q, want := range map[string]int{"": defaultRefresh, "refresh=0": 0, "refresh=1": minRefresh, "refresh=30": 30, "refresh=99999": maxRefresh, "refresh=x": defaultRefresh, "refresh=-1": defaultRefresh} {
		top := s.top(httptest.NewRequest("GET", "/?q=83e85a&"+q, nil), "")
		if top.Refresh != want {
			t.Errorf("%s: refresh %d, want %d", q, top.Refresh, want)
		}
		if top.Pause != "/?q=83e85a&refresh=0" || top.Resume != "/?q=83e85a" {
			t.Errorf("%s: pause %q, resume %q", q, top.Pause, top.Resume)
		}
	}
}
