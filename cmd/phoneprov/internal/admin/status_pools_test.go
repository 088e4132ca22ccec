package admin

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
)

// The pool table shows each subnet's counts and, for a subnet with more
// than one pool, each pool's; the DHCP card adds the subnets up.
func TestStatusPageShowsPoolUse(t *testing.T) {
	counts := func(total, assigned, declined int) dhcpd.AddressCounts {
		return dhcpd.AddressCounts{Total: total, Assigned: assigned, Declined: declined, Free: total - assigned - declined}
	}
	v := statusView{
		pageTop: pageTop{Host: "box", Version: "test", Now: time.Now()}, DHCP: true, EventsRecorded: true,
		Subnets: []dhcpd.SubnetUse{
			{Subnet: netip.MustParsePrefix("198.18.0.0/24"), Interface: "eth1", AddressCounts: counts(150, 120, 3), Pools: []dhcpd.PoolUse{
				{First: netip.MustParseAddr("198.18.0.100"), Last: netip.MustParseAddr("198.18.0.199"), AddressCounts: counts(100, 90, 3)},
				{First: netip.MustParseAddr("198.18.0.200"), Last: netip.MustParseAddr("198.18.0.249"), AddressCounts: counts(50, 30, 0)},
			}},
			{Subnet: netip.MustParsePrefix("198.18.2.0/24"), AddressCounts: counts(11, 1, 0), Pools: []dhcpd.PoolUse{
				{First: netip.MustParseAddr("198.18.2.10"), Last: netip.MustParseAddr("198.18.2.20"), AddressCounts: counts(11, 1, 0)},
			}},
		},
		Leased: counts(161, 121, 3),
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "status.html", v); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	section := page[strings.Index(page, `id="pools"`):strings.Index(page, `id="fleet"`)]
	cells := func(s string) string {
		s = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(s, " ")
		return strings.Join(strings.Fields(s), " ")
	}
	text := cells(section)
	for _, want := range []string{
		"198.18.0.0/24 eth1 150 120 3 27",
		"198.18.0.100 – 198.18.0.199 100 90 3 7",
		"198.18.0.200 – 198.18.0.249 50 30 0 20",
		"198.18.2.0/24 relayed 11 1 0 10",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("pool table lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "198.18.2.10 – 198.18.2.20") {
		t.Error("a subnet's only pool is listed again under it")
	}
	if !strings.Contains(section, `style="width:80%"`) {
		t.Error("198.18.0.0/24's bar is not 80 % assigned")
	}
	if card := cells(page[strings.Index(page, ">DHCP<"):strings.Index(page, ">Recent errors<")]); !strings.Contains(card, "121 of 161") {
		t.Errorf("DHCP card: %s", card)
	}
}

// A readiness check that fails now (the lease store stopped, say) is shown
// at the top of the status page as an error; when all pass, nothing is.
func TestStatusPageShowsFailingChecks(t *testing.T) {
	site := NewSite(Parts{Checks: []Check{
		{Name: "files", Run: func(context.Context) error { return nil }},
		{Name: "leases", Run: func(context.Context) error { return errors.New("lease journal failed: no space left on device") }},
	}})
	got := failing(context.Background(), site.Checks)
	if len(got) != 1 || got[0].Name != "leases" || !strings.Contains(got[0].Err, "no space left") {
		t.Fatalf("failing = %+v, want only the lease store", got)
	}
	render := func(v statusView) string {
		var buf bytes.Buffer
		if err := pages.ExecuteTemplate(&buf, "status.html", v); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	page := render(statusView{pageTop: pageTop{Host: "box", Now: time.Now()}, Failing: got})
	if !strings.Contains(page, `id="failing"`) || !strings.Contains(page, "lease journal failed: no space left on device") {
		t.Errorf("the page does not show the failing lease store:\n%s", page)
	}
	if page := render(statusView{pageTop: pageTop{Host: "box", Now: time.Now()}}); strings.Contains(page, `id="failing"`) {
		t.Error("a failing section with every check passing")
	}
}
