package ha

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/internal/metricstest"
)

// fakePartner answers ha-heartbeat as a primary in hot-standby whose
// clock is 3 s ahead of now.
func fakePartner(t *testing.T, now func() time.Time) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"ha-heartbeat"`) {
			writeAnswer(w, http.StatusOK, answer(ResultUnsupported, "not here", nil))
			return
		}
		writeAnswer(w, http.StatusOK, answer(ResultSuccess, "", heartbeat{
			State: string(HotStandby), DateTime: now().Add(3 * time.Second).UTC().Format(http.TimeFormat),
			Scopes: []string{"a"}, UnsentUpdateCount: 4,
		}))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestMetricsFollowKeaReport: the series follow what the standby knows of
// its partner: in touch after a heartbeat, then, silent past
// max_response_delay, the clients it sees asking counted as Kea's
// status-get counts them.
func TestMetricsFollowKeaReport(t *testing.T) {
	now := epoch
	clock := func() time.Time { return now }
	partner := fakePartner(t, clock)
	c := testConfig("b")
	c.Peers[0].URL = partner.URL + "/"
	s, err := New(c, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(s.Collector()); err != nil {
		t.Fatal(err)
	}
	s.heartbeat(context.Background())
	s.transition(HotStandby)
	now = now.Add(2 * time.Second)
	want := `
# HELP phoneprov_ha_partner_age_seconds Seconds since the partner last answered (Kea's age); 0 before it ever did.
# TYPE phoneprov_ha_partner_age_seconds gauge
phoneprov_ha_partner_age_seconds 2
# HELP phoneprov_ha_partner_in_touch 1 once the partner has answered at least once (Kea's in-touch).
# TYPE phoneprov_ha_partner_in_touch gauge
phoneprov_ha_partner_in_touch 1
# HELP phoneprov_ha_partner_unsent_updates The partner's own unsent-update-count, from its last heartbeat.
# TYPE phoneprov_ha_partner_unsent_updates gauge
phoneprov_ha_partner_unsent_updates 4
# HELP phoneprov_ha_clock_skew_seconds The partner's clock minus ours at the last heartbeat; beyond 60 s either way the pair terminates.
# TYPE phoneprov_ha_clock_skew_seconds gauge
phoneprov_ha_clock_skew_seconds 3
# HELP phoneprov_ha_communication_interrupted 1 when the partner has been silent for longer than max_response_delay (Kea's communication-interrupted).
# TYPE phoneprov_ha_communication_interrupted gauge
phoneprov_ha_communication_interrupted 0
# HELP phoneprov_ha_dhcp_enabled 1 when this server answers DHCP clients now (its state serves and the partner has not disabled it).
# TYPE phoneprov_ha_dhcp_enabled gauge
phoneprov_ha_dhcp_enabled 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "phoneprov_ha_partner_age_seconds", "phoneprov_ha_partner_in_touch",
		"phoneprov_ha_partner_unsent_updates", "phoneprov_ha_clock_skew_seconds", "phoneprov_ha_communication_interrupted", "phoneprov_ha_dhcp_enabled"); err != nil {
		t.Error(err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				if len(labels) == 0 || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == labels[0]) {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no series %s%v", name, labels)
		return 0
	}
	if value("phoneprov_ha_state", "hot_standby") != 1 || value("phoneprov_ha_state", "waiting") != 0 ||
		value("phoneprov_ha_partner_state", "hot_standby") != 1 || value("phoneprov_ha_partner_state", "unavailable") != 0 {
		t.Error("state series do not show hot-standby on both sides")
	}

	// The primary falls silent: past max_response_delay the standby
	// watches the clients asking it. secs 11 is past max_ack_delay (10 s).
	now = now.Add(c.MaxResponseDelay)
	s.Admit(11, key("x"))
	s.Admit(11, key("x")) // a retransmission: one client, two packets
	s.Admit(2, key("y"))  // not waiting long yet
	for name, want := range map[string]float64{
		"phoneprov_ha_communication_interrupted": 1,
		"phoneprov_ha_connecting_clients":        2,
		"phoneprov_ha_unacked_clients":           1,
		"phoneprov_ha_unacked_clients_left":      float64(c.MaxUnackedClients), // max - 1 + 1
		"phoneprov_ha_analyzed_packets":          3,
	} {
		if got := value(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	problems, err := metricstest.NamingProblems(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("naming: %v %v", problems, err)
	}
}
