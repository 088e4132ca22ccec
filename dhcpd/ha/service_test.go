package ha

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// memDB is a LeaseDB in memory.
type memDB struct{ ls map[netip.Addr]leases.Lease }

func (m *memDB) Leases() []leases.Lease {
	out := make([]leases.Lease, 0, len(m.ls))
	for _, l := range m.ls {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b leases.Lease) int { return a.Addr.Compare(b.Addr) })
	return out
}
func (m *memDB) ApplyLeases(_ context.Context, ls []leases.Lease) error {
	for _, l := range ls {
		m.ls[l.Addr] = l
	}
	return nil
}
func (m *memDB) SubnetID(netip.Addr) int64 { return 1 }

func testConfig(this string) Config {
	c := DefaultConfig()
	c.Enabled, c.ThisServerName = true, this
	c.Peers = []PeerConfig{
		{Name: "a", URL: "http://198.18.0.1:8001/", Role: RolePrimary},
		{Name: "b", URL: "http://198.18.0.2:8001/", Role: RoleStandby},
	}
	return c
}

func TestConfigValidate(t *testing.T) {
	var got []string
	report := func(k string, err error) { got = append(got, k+": "+err.Error()) }
	testConfig("a").Validate(report)
	if len(got) != 0 {
		t.Fatalf("valid config refused: %v", got)
	}
	c := testConfig("c")
	c.Mode = "load-balancing"
	c.Peers[1].Role = "primary"
	c.Peers[0].URL = "https://198.18.0.1:8001/"
	c.Peers[1].BasicAuthUser = "u"
	c.HeartbeatDelay = 0
	c.Validate(report)
	for _, want := range []string{"mode: ", "this_server_name: ", "peer[0].url: \"https", "peer[1].basic_auth_password: ", "heartbeat_delay: ", "peer: hot-standby needs"} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("no problem %q in %q", want, got)
		}
	}
}

func run(t *testing.T, s *Service, cmd string) Answer {
	t.Helper()
	var c Command
	if err := json.Unmarshal([]byte(cmd), &c); err != nil {
		t.Fatal(err)
	}
	return s.Execute(context.Background(), c)
}

// TestCommands drives the command side: lease4-update, paged
// lease4-get-page, lease4-del, dhcp-disable and the answer to unknown
// commands.
func TestCommands(t *testing.T) {
	s, err := New(testConfig("b"), Options{Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	db := &memDB{ls: map[netip.Addr]leases.Lease{}}
	s.db = db
	for _, ip := range []string{"198.18.0.12", "198.18.0.10", "198.18.0.11"} {
		a := run(t, s, `{"command":"lease4-update","service":["dhcp4"],"arguments":{"ip-address":"`+ip+`","hw-address":"02:00:00:00:00:01","valid-lft":3600,"expire":1800003600,"fqdn-fwd":false,"fqdn-rev":false,"hostname":"","state":0,"force-create":true}}`)
		if a.Result != ResultSuccess {
			t.Fatalf("lease4-update %s: %+v", ip, a)
		}
	}
	var p page
	a := run(t, s, `{"command":"lease4-get-page","arguments":{"from":"start","limit":2}}`)
	json.Unmarshal(a.Arguments, &p)
	if a.Result != ResultSuccess || p.Count != 2 || p.Leases[0].IPAddress != "198.18.0.10" || p.Leases[1].CLTT != 1800000000 {
		t.Fatalf("first page: %+v %s", a, a.Arguments)
	}
	a = run(t, s, `{"command":"lease4-get-page","arguments":{"from":"198.18.0.11","limit":2}}`)
	json.Unmarshal(a.Arguments, &p)
	if p.Count != 1 || p.Leases[0].IPAddress != "198.18.0.12" {
		t.Fatalf("second page: %s", a.Arguments)
	}
	if a = run(t, s, `{"command":"lease4-get-page","arguments":{"from":"198.18.0.12","limit":2}}`); a.Result != ResultEmpty {
		t.Fatalf("past the end: %+v", a)
	}
	if a = run(t, s, `{"command":"lease4-del","arguments":{"ip-address":"198.18.0.11"}}`); a.Result != ResultSuccess || db.ls[netip.MustParseAddr("198.18.0.11")].State != leases.Released {
		t.Fatalf("lease4-del: %+v", a)
	}
	if a = run(t, s, `{"command":"lease4-del","arguments":{"ip-address":"198.18.0.99"}}`); a.Result != ResultEmpty {
		t.Fatalf("lease4-del of nothing: %+v", a)
	}
	if a = run(t, s, `{"command":"lease4-update","arguments":{"ip-address":"198.18.0.13"}}`); a.Result != ResultError {
		t.Fatalf("lease without hw-address: %+v", a)
	}
	if a = run(t, s, `{"command":"lease4-resize"}`); a.Result != ResultUnsupported {
		t.Fatalf("unknown command: %+v", a)
	}
	if a = run(t, s, `{"command":"ha-heartbeat","service":["dhcp6"]}`); a.Result != ResultError {
		t.Fatalf("dhcp6: %+v", a)
	}
	var hb heartbeat
	json.Unmarshal(run(t, s, `{"command":"ha-heartbeat"}`).Arguments, &hb)
	if hb.State != "waiting" || hb.DateTime != "Fri, 15 Jan 2027 08:00:00 GMT" {
		t.Errorf("heartbeat: %+v", hb)
	}
}

// TestAdmitAndDisable: a hot-standby primary answers, the standby does
// not (and counts clients while the primary is silent), dhcp-disable
// stops either until dhcp-enable.
func TestAdmitAndDisable(t *testing.T) {
	now := epoch
	clock := func() time.Time { return now }
	p, _ := New(testConfig("a"), Options{Now: clock})
	sb, _ := New(testConfig("b"), Options{Now: clock})
	p.state, sb.state = HotStandby, HotStandby
	if !p.Admit(0, key("x")) || sb.Admit(0, key("x")) {
		t.Fatal("primary answers, standby does not")
	}
	now = now.Add(61 * time.Second) // past max-response-delay
	sb.Admit(11, key("x"))
	sb.Admit(11, key("y"))
	if sb.comm.unacked != 2 {
		t.Errorf("standby counted %d unacked clients, want 2", sb.comm.unacked)
	}
	run(t, p, `{"command":"dhcp-disable","arguments":{"origin":"ha-partner","max-period":5}}`)
	if p.Admit(0, key("x")) {
		t.Error("disabled primary answered")
	}
	now = now.Add(6 * time.Second)
	if !p.Admit(0, key("x")) {
		t.Error("max-period over: the primary should answer again")
	}
	run(t, p, `{"command":"dhcp-disable"}`)
	run(t, p, `{"command":"dhcp-enable"}`)
	if !p.Admit(0, key("x")) {
		t.Error("dhcp-enable did not enable")
	}
}

// TestLeasesCommittedNeedsPartner: in hot-standby an unreachable partner
// withholds the ACK; in partner-down the update is counted as unsent.
func TestLeasesCommittedNeedsPartner(t *testing.T) {
	c := testConfig("a")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ln.Close() // nothing listens there now
	c.Peers[1].URL = "http://" + ln.Addr().String() + "/"
	s, _ := New(c, Options{})
	s.db = &memDB{ls: map[netip.Addr]leases.Lease{}}
	s.state = HotStandby
	l := leases.Lease{Addr: netip.MustParseAddr("198.18.0.10"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Start: epoch, Expiry: epoch.Add(time.Hour), State: leases.Active}
	if err := s.LeasesCommitted(context.Background(), []leases.Lease{l}); err == nil {
		t.Fatal("ACK allowed without the partner's acknowledgement")
	}
	s.state = PartnerDown
	if err := s.LeasesCommitted(context.Background(), []leases.Lease{l}); err != nil || s.unsent != 1 {
		t.Fatalf("partner-down: err %v, unsent %d", err, s.unsent)
	}
}

// TestDisabledStandbyTakesOver: a standby whose partner disabled its DHCP
// service (as the primary does while it synchronises) sees no clients to
// judge by, so, as in Kea, an interrupted communication alone makes it
// declare the partner down; a serving standby waits for unanswered
// clients.
func TestDisabledStandbyTakesOver(t *testing.T) {
	now := epoch
	clock := func() time.Time { return now }
	for _, disabled := range []bool{false, true} {
		sb, _ := New(testConfig("b"), Options{Now: clock})
		sb.state = HotStandby
		if disabled {
			run(t, sb, `{"command":"dhcp-disable","arguments":{"origin":"ha-partner","max-period":600}}`)
		}
		now = now.Add(61 * time.Second) // past max-response-delay
		sb.runModel(context.Background())
		want := map[bool]State{false: HotStandby, true: PartnerDown}[disabled]
		if got := sb.State(); got != want {
			t.Errorf("disabled %v: the standby is %s, want %s", disabled, got, want)
		}
	}
}

// TestFailedUpdateRunsStateMachine: a lease update the partner does not
// take runs the state machine at once, as Kea's does, so a primary whose
// partner has been silent past max_response_delay goes partner-down
// without waiting for the next heartbeat (an hour away here).
func TestFailedUpdateRunsStateMachine(t *testing.T) {
	var now atomic.Int64
	now.Store(epoch.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, http.StatusOK, answer(ResultSuccess, "", heartbeat{State: "hot-standby", DateTime: clock().UTC().Format(http.TimeFormat), Scopes: []string{}}))
	}))
	c := testConfig("a")
	c.HeartbeatDelay = time.Hour
	c.Peers[1].URL = partner.URL + "/"
	s, _ := New(c, Options{Now: clock})
	s.db = &memDB{ls: map[netip.Addr]leases.Lease{}}
	s.state = HotStandby
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.loop(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the service is %s", what, s.State())
			}
		}
	}
	waitFor("the first heartbeat is answered", func() bool { return s.Report().InTouch })
	partner.Close() // the partner is gone; the next heartbeat is an hour away
	now.Add(int64(61 * time.Second))
	l := leases.Lease{Addr: netip.MustParseAddr("198.18.0.10"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Start: epoch, Expiry: epoch.Add(time.Hour), State: leases.Active}
	if err := s.LeasesCommitted(context.Background(), []leases.Lease{l}); err == nil {
		t.Fatal("the update reached nobody yet succeeded")
	}
	waitFor("partner-down after the failed update", func() bool { return s.State() == PartnerDown })
}

// key is a client identity for Admit.
func key(k string) func() string { return func() string { return k } }
