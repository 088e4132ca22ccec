package ha

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// fakePeer is a partner or a backup server on httptest: it records the
// commands it gets and answers them as a hot-standby Kea would.
type fakePeer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	cmds []Command
}

func newFakePeer(t *testing.T) *fakePeer {
	f := &fakePeer{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c Command
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &c)
		f.mu.Lock()
		f.cmds = append(f.cmds, c)
		f.mu.Unlock()
		if c.Command == "ha-heartbeat" {
			writeAnswer(w, http.StatusOK, answer(ResultSuccess, "", heartbeat{State: "hot-standby", DateTime: time.Now().UTC().Format(http.TimeFormat), Scopes: []string{}}))
			return
		}
		if c.Command == "lease4-get-page" {
			writeAnswer(w, http.StatusOK, answer(ResultEmpty, "0 IPv4 lease(s) found.", page{Leases: []Lease4{}}))
			return
		}
		writeAnswer(w, http.StatusOK, answer(ResultSuccess, "", nil))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePeer) url() string { return f.srv.URL + "/" }

// names are the commands received, in order.
func (f *fakePeer) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.cmds))
	for _, c := range f.cmds {
		out = append(out, c.Command)
	}
	return out
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// runService runs s on a loopback listener until the test ends.
func runService(t *testing.T, s *Service, db LeaseDB) {
	t.Helper()
	if err := s.Bind(db); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

func backupConfig(this string, peers ...PeerConfig) Config {
	c := testConfig(this)
	c.Peers = append(c.Peers, peers...)
	return c
}

func TestConfigBackupPeers(t *testing.T) {
	var got []string
	report := func(k string, err error) { got = append(got, k+": "+err.Error()) }
	c := backupConfig("c", PeerConfig{Name: "c", URL: "http://198.18.0.5:8001/", Role: RoleBackup}, PeerConfig{Name: "d", URL: "http://198.18.0.6:8001/", Role: RoleBackup})
	c.Validate(report)
	if len(got) != 0 {
		t.Fatalf("two backups refused: %v", got)
	}
	c.WaitBackupAck = true
	c.Peers[1].Role = RoleBackup // no standby left
	c.Validate(report)
	for _, want := range []string{"wait_backup_ack: must be false in hot-standby", "peer: hot-standby needs one primary and one standby"} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("no problem %q in %q", want, got)
		}
	}
}

// TestBackupServer: a backup server goes from waiting to backup and stays
// there, sends nothing to the active servers (no heartbeat), answers no
// client, takes lease updates and answers ha-heartbeat and status-get as
// Kea's backup does (state "backup", no remote part).
func TestBackupServer(t *testing.T) {
	primary, standby := newFakePeer(t), newFakePeer(t)
	c := DefaultConfig()
	c.Enabled, c.ThisServerName, c.HeartbeatDelay = true, "c", 20*time.Millisecond
	c.Peers = []PeerConfig{
		{Name: "a", URL: primary.url(), Role: RolePrimary},
		{Name: "b", URL: standby.url(), Role: RoleStandby},
		{Name: "c", URL: "http://127.0.0.1:0/", Role: RoleBackup},
	}
	s, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := &memDB{ls: map[netip.Addr]leases.Lease{}}
	runService(t, s, db)
	waitUntil(t, "the backup state", func() bool { return s.State() == Backup })
	time.Sleep(100 * time.Millisecond) // five heartbeat delays
	if s.State() != Backup || s.Admit(60, key("x")) {
		t.Errorf("state %s, admits a client %v: a backup stays in backup and serves nobody", s.State(), s.Admit(60, key("x")))
	}
	if n := len(primary.names()) + len(standby.names()); n != 0 {
		t.Errorf("the backup sent %d commands to the active servers: %v %v", n, primary.names(), standby.names())
	}
	a := run(t, s, `{"command":"lease4-update","service":["dhcp4"],"arguments":{"ip-address":"198.18.0.10","hw-address":"02:00:00:00:00:01","valid-lft":3600,"expire":1800003600,"state":0,"force-create":true}}`)
	if _, ok := db.ls[netip.MustParseAddr("198.18.0.10")]; a.Result != ResultSuccess || !ok {
		t.Errorf("lease4-update on the backup: %+v", a)
	}
	var hb heartbeat
	json.Unmarshal(run(t, s, `{"command":"ha-heartbeat"}`).Arguments, &hb)
	if hb.State != "backup" || len(hb.Scopes) != 0 {
		t.Errorf("heartbeat: %+v", hb)
	}
	st := run(t, s, `{"command":"status-get"}`)
	if raw := string(st.Arguments); !strings.Contains(raw, `"local":{"role":"backup","scopes":[],"server-name":"c","state":"backup"}`) || strings.Contains(raw, "remote") {
		t.Errorf("status-get: %s", raw)
	}
	if got := run(t, s, `{"command":"ha-reset"}`); got.Result != ResultSuccess {
		t.Errorf("ha-reset: %+v", got)
	}
	waitUntil(t, "back in backup after ha-reset", func() bool { return s.State() == Backup })
}

// TestLeaseUpdatesToBackups: an active server sends every lease update
// to each backup server, in hot-standby and in partner-down, without the
// ACK waiting for a backup: a dead backup and one that never answers
// change nothing for the client, and the failures are counted.
func TestLeaseUpdatesToBackups(t *testing.T) {
	partner, backup := newFakePeer(t), newFakePeer(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ln.Close() // nothing listens there: a dead backup
	hang := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hang }))
	t.Cleanup(func() { close(hang); stuck.Close() })
	c := DefaultConfig()
	c.Enabled, c.ThisServerName = true, "a"
	c.Peers = []PeerConfig{
		{Name: "a", URL: "http://127.0.0.1:0/", Role: RolePrimary},
		{Name: "b", URL: partner.url(), Role: RoleStandby},
		{Name: "c", URL: backup.url(), Role: RoleBackup},
		{Name: "dead", URL: "http://" + ln.Addr().String() + "/", Role: RoleBackup},
		{Name: "stuck", URL: stuck.URL + "/", Role: RoleBackup},
	}
	s, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	runService(t, s, &memDB{ls: map[netip.Addr]leases.Lease{}})
	waitUntil(t, "hot-standby", func() bool { return s.State() == HotStandby })
	l := leases.Lease{Addr: netip.MustParseAddr("198.18.0.10"), HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Start: epoch, Expiry: epoch.Add(time.Hour), State: leases.Active}
	rel := l
	rel.State = leases.Released
	for _, ls := range [][]leases.Lease{{l}, {rel}} {
		start := time.Now()
		if err := s.LeasesCommitted(context.Background(), ls); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("the ACK waited %v for the backups", d)
		}
	}
	s.transition(PartnerDown)
	if err := s.LeasesCommitted(context.Background(), []leases.Lease{l}); err != nil {
		t.Fatal(err)
	}
	want := []string{"lease4-update", "lease4-del", "lease4-update"}
	waitUntil(t, "the backup gets every update", func() bool { return slices.Equal(backup.names(), want) })
	updates := slices.DeleteFunc(partner.names(), func(n string) bool { return n != "lease4-update" && n != "lease4-del" })
	if !slices.Equal(updates, want[:2]) {
		t.Errorf("the partner got %v, want %v (none in partner-down)", updates, want[:2])
	}
	// The backup records an update when it arrives; the sender counts it
	// when the answer is back.
	waitUntil(t, "backup c's answers and the dead backup's failures counted", func() bool {
		b := s.Report().Backups
		return b[0].Sent == 3 && b[1].Failed == 3
	})
	r := s.Report()
	if b := r.Backups[0]; b.Name != "c" || b.Sent != 3 || b.Failed != 0 {
		t.Errorf("backup c: %+v", b)
	}
	waitUntil(t, "the stuck backup holds one update in flight and two queued", func() bool {
		b := s.Report().Backups[2]
		return b.Sent == 0 && b.Failed == 0 && b.Queued == 2
	})
	const series = `
# HELP phoneprov_ha_backup_updates_failed_total Lease updates a backup server did not take: refused, unreachable, or dropped when its queue was full.
# TYPE phoneprov_ha_backup_updates_failed_total counter
phoneprov_ha_backup_updates_failed_total{backup="c"} 0
phoneprov_ha_backup_updates_failed_total{backup="dead"} 3
phoneprov_ha_backup_updates_failed_total{backup="stuck"} 0
# HELP phoneprov_ha_backup_updates_sent_total Lease updates a backup server took (lease4-update, lease4-del); the ACK never waits for them.
# TYPE phoneprov_ha_backup_updates_sent_total counter
phoneprov_ha_backup_updates_sent_total{backup="c"} 3
phoneprov_ha_backup_updates_sent_total{backup="dead"} 0
phoneprov_ha_backup_updates_sent_total{backup="stuck"} 0
`
	if err := testutil.CollectAndCompare(s.Collector(), strings.NewReader(series), "phoneprov_ha_backup_updates_sent_total", "phoneprov_ha_backup_updates_failed_total"); err != nil {
		t.Error(err)
	}
}
