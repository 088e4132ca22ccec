package admin

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/ha"
)

type fixedPair ha.Report

func (p fixedPair) Report() ha.Report { return ha.Report(p) }

var standbyReport = ha.Report{
	Mode: "hot-standby", Server: "pi-b", Role: "standby", State: ha.HotStandby, Scopes: []string{},
	Partner: "pi-a", PartnerRole: "primary", PartnerURL: "http://198.18.0.1:8001/", PartnerState: ha.HotStandby,
	PartnerScopes: []string{"pi-a"}, InTouch: true, LastContact: time.Date(2027, 1, 15, 8, 0, 0, 0, time.Local), Age: 4 * time.Second,
	LastSync: time.Date(2027, 1, 15, 7, 59, 0, 0, time.Local), LastSyncLeases: 120, LastSyncApplied: 3,
}

func renderStatus(t *testing.T, v statusView) string {
	t.Helper()
	v.pageTop = pageTop{Host: "box", Version: "test", Now: time.Now()}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, "status.html", v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func text(html string) string {
	return strings.Join(strings.Fields(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(html, " ")), " ")
}

// The status page shows the pair: both servers' roles and states, the
// partner's last contact, and a verdict; a box without a pair shows no
// section.
func TestStatusPageShowsPair(t *testing.T) {
	s := &Site{Parts: Parts{Pair: fixedPair(standbyReport)}}
	page := renderStatus(t, statusView{HA: s.haView()})
	i := strings.Index(page, `id="ha"`)
	if i < 0 {
		t.Fatal("no pair section")
	}
	got := text(page[i:strings.Index(page, `id="rollout"`)])
	for _, want := range []string{
		"paired: this box is the standby and stands by; pi-a is hot-standby",
		"pi-b (this box) standby hot-standby DHCP off none",
		"pi-a http://198.18.0.1:8001/ primary hot-standby pi-a 2027-01-15 08:00:00 (4s ago) 0",
		"Last lease synchronisation from the partner: 2027-01-15 07:59:00, 120 lease(s) pulled, 3 newer than this box's.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("pair section lacks %q:\n%s", want, got)
		}
	}

	down := standbyReport
	down.State, down.PartnerState, down.DHCPEnabled, down.UnsentUpdates = ha.PartnerDown, ha.Unavailable, true, 7
	down.LastSync = time.Time{}
	down.CommunicationInterrupted, down.ConnectingClients, down.UnackedClients, down.UnackedClientsLeft, down.AnalyzedPackets = true, 12, 11, 0, 40
	s.Pair = fixedPair(down)
	got = text(renderStatus(t, statusView{HA: s.haView()}))
	for _, want := range []string{
		"partner down: this box serves alone; 7 lease update(s) to bring pi-a up to date when it returns",
		"Last lease synchronisation from the partner: none since this box started.",
		"12 client(s) seen asking the partner, 11 unacked, 0 more",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("partner-down page lacks %q:\n%s", want, got)
		}
	}

	if page := renderStatus(t, statusView{HA: (&Site{}).haView()}); strings.Contains(page, `id="ha"`) {
		t.Error("a box without a pair shows a pair section")
	}
}

// GET /api/ha answers the pair's state with Kea's names for the partner's
// report; {"enabled":false} without a pair.
func TestAPIHA(t *testing.T) {
	s := &Site{Parts: Parts{Pair: fixedPair(standbyReport)}}
	rec := httptest.NewRecorder()
	s.Routes()["GET /api/ha"].ServeHTTP(rec, httptest.NewRequest("GET", "/api/ha", nil))
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	p, _ := v["partner"].(map[string]any)
	if v["enabled"] != true || v["state"] != "hot-standby" || v["role"] != "standby" || p == nil ||
		p["last_state"] != "hot-standby" || p["in_touch"] != true || p["age"] != 4.0 || p["name"] != "pi-a" || v["level"] != "ok" ||
		v["last_sync_leases"] != 120.0 || v["last_sync_applied"] != 3.0 || v["last_sync"] == nil {
		t.Errorf("/api/ha: %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	(&Site{}).haJSON(rec, httptest.NewRequest("GET", "/api/ha", nil))
	var off map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &off); err != nil || len(off) != 1 || off["enabled"] != false {
		t.Errorf("without a pair: %s", rec.Body)
	}
}
