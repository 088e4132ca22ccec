package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// The provisioning part's knowledge, as the tests assume it.
var firmwareFiles = map[string][2]string{
	"S96x1_SALBR7_1_15_0_4_r.tar": {"", "7.1.15.0.4-r"}, // as the generator says: several models, the file name's spelling
	"FW_S_J179_R4_1_3_0_6.bin":    {"J179", "4.1.3.0.6"},
	"a46xxua2_8_3.bin":            {"", "2.8.3"},
}

// testCatalogue is the firmware catalogue of a tree holding firmwareFiles.
type testCatalogue struct{}

func (testCatalogue) FirmwareOf(name string) (string, string, bool) {
	f, ok := firmwareFiles[name]
	return f[0], f[1], ok
}

func (testCatalogue) NewestFirmware(model string) (string, bool) {
	v, ok := map[string]string{"J179": "4.1.3.0.6", "96x1 SIP": "7.1.15.0.4", "46xx": "2.8.3"}[model]
	return v, ok
}

// fakeNeighbors is a neighbour table the test edits.
type fakeNeighbors struct {
	mu    sync.Mutex
	table []Neighbor
	reads int
	err   error
}

func (f *fakeNeighbors) List(ctx context.Context) ([]Neighbor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return append([]Neighbor(nil), f.table...), f.err
}

type testInventory struct {
	*Inventory
	clock *fakeClock
	reg   *prometheus.Registry
	path  string
}

func openTest(t *testing.T, path string, mutate func(*Config, *Options)) *testInventory {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "inventory.journal")
	}
	clock := &fakeClock{t: t0}
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	opts := Options{Path: path, Now: clock.Now, Registry: reg, Firmware: testCatalogue{}}
	if mutate != nil {
		mutate(&cfg, &opts)
	}
	inv, err := Open(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testInventory{Inventory: inv, clock: clock, reg: reg, path: path}
}

func mustMAC(s string) net.HardwareAddr {
	hw, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return hw
}

func lease(at time.Duration, mac, addr string, kind dhcpd.LeaseEventKind, host, vc string) dhcpd.LeaseEvent {
	var a netip.Addr
	if addr != "" {
		a = netip.MustParseAddr(addr)
	}
	return dhcpd.LeaseEvent{MAC: mustMAC(mac), Addr: a, Class: "avaya", Hostname: host, VendorClass: vc,
		RequestedOptions: []uint8{1, 3, 6, 7, 15, 26, 42, 242}, Kind: kind, Time: t0.Add(at)}
}

func access(at time.Duration, addr, proto, name string, status int, bytes int64, ua string) fileserve.AccessEvent {
	return fileserve.AccessEvent{Time: t0.Add(at), Protocol: proto, Client: netip.AddrPortFrom(netip.MustParseAddr(addr), 40000),
		Name: "/" + name, Resolved: name, Status: status, Bytes: bytes, UserAgent: ua}
}

const (
	j179UA = "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)"
	s96UA  = "AVAYA/96x1-IPT-SIP-R7_1_13_0_2"
)

// bootMorning is a recorded morning: four phones boot, one of them with a
// static address, and one unknown client asks for a file.
func bootMorning() []fact {
	var fs []fact
	L := func(l dhcpd.LeaseEvent) { fs = append(fs, leaseFactOf(l)) }
	A := func(ev fileserve.AccessEvent) { fs = append(fs, fact{access: ev}) }
	// J179: DHCP, then HTTPS; its User-Agent carries its MAC and version.
	L(lease(0, "c8:1f:ea:83:e8:5a", "198.18.10.21", dhcpd.Acked, "AVX83E85A", "ccp.avaya.com"))
	A(access(2*time.Second, "198.18.10.21", "https", "J100Supgrade.txt", 200, 1800, j179UA))
	A(access(3*time.Second, "198.18.10.21", "https", "46xxsettings.txt", 200, 9000, j179UA))
	A(access(4*time.Second, "198.18.10.21", "https", "c81fea83e85a.txt", 404, 0, j179UA))
	// 9611 SIP on old firmware: HTTP, no MAC in its User-Agent; it upgrades.
	L(lease(time.Second, "00:1b:4f:12:34:56", "198.18.10.22", dhcpd.Acked, "AVB123456", "ccp.avaya.com"))
	A(access(5*time.Second, "198.18.10.22", "http", "96x1Supgrade.txt", 200, 2000, s96UA))
	A(access(6*time.Second, "198.18.10.22", "http", "46xxsettings.txt", 200, 9000, s96UA))
	A(access(40*time.Second, "198.18.10.22", "http", "S96x1_SALBR7_1_15_0_4_r.tar", 200, 52428800, s96UA))
	// 4621 over TFTP: its firmware transfer times out.
	L(lease(2*time.Second, "00:04:0d:aa:bb:cc", "198.18.10.23", dhcpd.Acked, "AVAAABBCC", "ccp.avaya.com"))
	A(access(7*time.Second, "198.18.10.23", "tftp", "46xxupgrade.scr", 200, 1500, ""))
	A(access(30*time.Second, "198.18.10.23", "tftp", "a46xxua2_8_3.bin", 408, 300000, ""))
	// A 4610 with a static address: known through the neighbour table only.
	A(access(8*time.Second, "198.18.10.50", "tftp", "46xxupgrade.scr", 200, 1500, ""))
	A(access(9*time.Second, "198.18.10.50", "tftp", "46xxsettings.txt", 200, 9000, ""))
	// Someone nobody knows.
	A(access(10*time.Second, "198.18.10.99", "http", "46xxsettings.txt", 200, 9000, "curl/8"))
	return fs
}

func staticNeighbors() *fakeNeighbors {
	return &fakeNeighbors{table: []Neighbor{
		{Addr: netip.MustParseAddr("198.18.10.50"), MAC: mustMAC("00:60:1d:01:02:03"), Reachable: true},
		{Addr: netip.MustParseAddr("198.18.10.1"), MAC: mustMAC("02:00:00:00:00:01"), Reachable: true}, // the router
	}}
}

func feed(inv *Inventory, facts []fact) {
	for _, f := range facts {
		inv.apply(context.Background(), f)
	}
}

func stateOf(t *testing.T, inv *testInventory, mac string) Phone {
	t.Helper()
	m, _ := ParseMAC(mac)
	p, ok := inv.Get(m)
	if !ok {
		t.Fatalf("no record for %s", mac)
	}
	return p
}

func TestBootMorning(t *testing.T) {
	nb := staticNeighbors()
	inv := openTest(t, "", func(c *Config, o *Options) { o.Neighbors = nb.List })
	defer inv.Close()
	feed(inv.Inventory, bootMorning())
	inv.clock.Set(t0.Add(time.Minute))

	j179 := stateOf(t, inv, "c8:1f:ea:83:e8:5a")
	if j179.Vendor != "Avaya" || j179.Model != "J179" || j179.Firmware != "4.1.3.0.6" || j179.FirmwareFrom != "user-agent" ||
		j179.State != StateUpToDate || len(j179.Files) != 3 || j179.ParamRequestList != "1,3,6,7,15,26,42,242" ||
		len(j179.Addrs) != 1 || j179.Addrs[0].Source != "dhcp" {
		t.Errorf("J179: %+v", j179)
	}
	s96 := stateOf(t, inv, "00:1b:4f:12:34:56")
	if s96.Model != "96x1 SIP" || s96.Firmware != "7.1.15.0.4" || s96.FirmwareFrom != "download" || s96.State != StateUpToDate {
		t.Errorf("9611 after its upgrade: %s %s from %s, %s (%s)", s96.Model, s96.Firmware, s96.FirmwareFrom, s96.State, s96.StateReason)
	}
	p4621 := stateOf(t, inv, "00:04:0d:aa:bb:cc")
	if p4621.State != StateFailed || !strings.Contains(p4621.StateReason, "a46xxua2_8_3.bin got 408") {
		t.Errorf("4621: %s (%s)", p4621.State, p4621.StateReason)
	}
	// Its upgrade script names its series; its sequence is over (settings
	// fetched after the script) without the firmware offered.
	static := stateOf(t, inv, "00:60:1d:01:02:03")
	if static.Model != "46xx" || static.State != StateUpToDate || !strings.Contains(static.StateReason, "presumed") ||
		len(static.Addrs) != 1 || static.Addrs[0].Source != "neighbor" {
		t.Errorf("static phone: %s %s (%s) %+v", static.Model, static.State, static.StateReason, static.Addrs)
	}
	if nb.reads != 1 {
		t.Errorf("neighbour table read %d times for two requests within %s", nb.reads, neighborMaxAge)
	}
	if got := len(inv.List(Filter{})); got != 4 {
		t.Errorf("%d phones listed, want 4 (the router and the unknown client are no phones)", got)
	}
	if got := inv.unresolved.Load(); got != 1 {
		t.Errorf("unresolved accesses = %d", got)
	}

	// The static phone's boot sequence ended cleanly: up to date.
	inv.clock.Set(t0.Add(20 * time.Minute))
	if p := stateOf(t, inv, "00:60:1d:01:02:03"); p.State != StateUpToDate {
		t.Errorf("static phone after its sequence: %s (%s)", p.State, p.StateReason)
	}
}

func TestListFilters(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { o.Neighbors = staticNeighbors().List })
	defer inv.Close()
	feed(inv.Inventory, bootMorning())
	inv.clock.Set(t0.Add(time.Minute))
	macs := func(f Filter) string {
		var out []string
		for _, p := range inv.List(f) {
			out = append(out, p.MAC.String())
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		f    Filter
		want string
	}{
		{Filter{Model: "j179"}, "c8:1f:ea:83:e8:5a"},
		{Filter{Firmware: "R7_1_15_0_4"}, "00:1b:4f:12:34:56"},
		{Filter{State: StateFailed}, "00:04:0d:aa:bb:cc"},
		{Filter{State: StateUpToDate}, "00:1b:4f:12:34:56 00:60:1d:01:02:03 c8:1f:ea:83:e8:5a"},
		{Filter{Model: "46xx"}, "00:04:0d:aa:bb:cc 00:60:1d:01:02:03"},
		{Filter{Text: "C81FEA"}, "c8:1f:ea:83:e8:5a"},
		{Filter{Text: "1f-ea-83"}, "c8:1f:ea:83:e8:5a"},
		{Filter{Text: "198.18.10.50"}, "00:60:1d:01:02:03"},
		// Address digits are not read as part of a MAC (00601d010203 holds "102").
		{Filter{Text: "10.2"}, "00:04:0d:aa:bb:cc 00:1b:4f:12:34:56 c8:1f:ea:83:e8:5a"},
		{Filter{Text: "1d:01"}, "00:60:1d:01:02:03"},
		{Filter{Text: "avb123"}, "00:1b:4f:12:34:56"},
		{Filter{Text: "nothing like it"}, ""},
		{Filter{}, "00:04:0d:aa:bb:cc 00:1b:4f:12:34:56 00:60:1d:01:02:03 c8:1f:ea:83:e8:5a"},
	} {
		if got := macs(c.f); got != c.want {
			t.Errorf("List(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestStateTransitions(t *testing.T) {
	inv := openTest(t, "", nil)
	defer inv.Close()
	const mac, ip = "00:1b:4f:00:00:01", "198.18.20.1"
	step := func(at time.Duration, f fact, want State) {
		t.Helper()
		if f.lease.kind != 0 || f.access.Protocol != "" {
			inv.apply(context.Background(), f)
		}
		inv.clock.Set(t0.Add(at))
		if p := stateOf(t, inv, mac); p.State != want {
			t.Fatalf("at +%s: %s (%s), want %s", at, p.State, p.StateReason, want)
		}
	}
	L := func(l dhcpd.LeaseEvent) fact { return leaseFactOf(l) }
	A := func(ev fileserve.AccessEvent) fact { return fact{access: ev} }

	step(0, L(lease(0, mac, ip, dhcpd.Acked, "AVB000001", "ccp.avaya.com")), StateDiscovered)
	step(time.Minute, A(access(time.Minute, ip, "http", "96x1Supgrade.txt", 200, 100, s96UA)), StateFetching)
	// The sequence ends without a firmware download, but the User-Agent
	// says 7.1.13.0.2 and 7.1.15.0.4 is present: outdated, not up to date.
	step(15*time.Minute, fact{}, StateOutdated)
	// Next boot: the firmware fails, then succeeds.
	step(20*time.Minute, A(access(20*time.Minute, ip, "http", "96x1Supgrade.txt", 200, 100, s96UA)), StateFetching)
	step(21*time.Minute, A(access(21*time.Minute, ip, "http", "S96x1_SALBR7_1_15_0_4_r.tar", 503, 0, s96UA)), StateFailed)
	step(40*time.Minute, fact{}, StateFailed) // failed stays until a later fetch
	step(41*time.Minute, A(access(41*time.Minute, ip, "http", "S96x1_SALBR7_1_15_0_4_r.tar", 200, 5e7, s96UA)), StateUpToDate)
	// After the restart its User-Agent reports the new version.
	step(45*time.Minute, A(access(45*time.Minute, ip, "http", "96x1Supgrade.txt", 200, 100, "AVAYA/96x1-IPT-SIP-R7_1_15_0_4")), StateUpToDate)
	// A missing settings file is a failure too.
	step(46*time.Minute, A(access(46*time.Minute, ip, "http", "46xxsettings.txt", 404, 0, "AVAYA/96x1-IPT-SIP-R7_1_15_0_4")), StateFailed)
	step(47*time.Minute, A(access(47*time.Minute, ip, "http", "46xxsettings.txt", 200, 900, "AVAYA/96x1-IPT-SIP-R7_1_15_0_4")), StateUpToDate)
	// Non-script files do not change the verdict, even when missing.
	step(48*time.Minute, A(access(48*time.Minute, ip, "http", "001b4f000001.txt", 404, 0, "AVAYA/96x1-IPT-SIP-R7_1_15_0_4")), StateUpToDate)
	// An expiry is not a sighting.
	step(8*24*time.Hour, L(lease(8*24*time.Hour, mac, ip, dhcpd.Expired, "", "")), StateStale)
	if p := stateOf(t, inv, mac); len(p.Addrs) != 0 || p.LastSeen != t0.Add(48*time.Minute) {
		t.Errorf("after expiry: addrs %+v, last seen %s", p.Addrs, p.LastSeen)
	}
	step(8*24*time.Hour+time.Minute, L(lease(8*24*time.Hour+time.Minute, mac, ip, dhcpd.Acked, "", "")), StateUpToDate)
}

func TestStatesWithoutVersionKnowledge(t *testing.T) {
	// Firmware known, but not what is newest: verdicts come from the boot
	// sequence only, as without a catalogue.
	inv := openTest(t, "", nil)
	inv.newest = nil
	defer inv.Close()
	const mac, ip = "00:04:0d:00:00:02", "198.18.20.2"
	inv.apply(context.Background(), leaseFactOf(lease(0, mac, ip, dhcpd.Acked, "", "")))
	inv.apply(context.Background(), fact{access: access(time.Second, ip, "tftp", "46xxupgrade.scr", 200, 100, "")})
	inv.apply(context.Background(), fact{access: access(2*time.Second, ip, "tftp", "a46xxua2_8_3.bin", 499, 512, "")})
	inv.clock.Set(t0.Add(time.Minute))
	if p := stateOf(t, inv, mac); p.State != StateFetching {
		t.Fatalf("%s (%s)", p.State, p.StateReason)
	}
	inv.clock.Set(t0.Add(time.Hour))
	if p := stateOf(t, inv, mac); p.State != StateDiscovered || !strings.Contains(p.StateReason, "without a verdict") {
		t.Fatalf("after an abandoned transfer: %s (%s)", p.State, p.StateReason)
	}
	inv.apply(context.Background(), fact{access: access(2*time.Hour, ip, "tftp", "a46xxua2_8_3.bin", 200, 300000, "")})
	inv.clock.Set(t0.Add(3 * time.Hour))
	if p := stateOf(t, inv, mac); p.State != StateUpToDate || p.Firmware != "2.8.3" {
		t.Fatalf("after a complete download: %s %s (%s)", p.State, p.Firmware, p.StateReason)
	}
}

// sized is an access event that tells the size of the file served.
func sized(ev fileserve.AccessEvent, size int64) fileserve.AccessEvent {
	ev.Size = size
	return ev
}

func TestCutFirmwareTransferIsIncomplete(t *testing.T) {
	const image = 52428800
	t.Run("version known", func(t *testing.T) {
		inv := openTest(t, "", nil)
		defer inv.Close()
		const mac, ip = "00:1b:4f:00:00:03", "198.18.20.3"
		ctx := context.Background()
		inv.apply(ctx, leaseFactOf(lease(0, mac, ip, dhcpd.Acked, "", "")))
		inv.apply(ctx, fact{access: sized(access(time.Second, ip, "http", "96x1Supgrade.txt", 200, 2000, s96UA), 2000)})
		// The phone hangs up 1 MB into the 50 MB image: status 200, but cut.
		inv.apply(ctx, fact{access: sized(access(40*time.Second, ip, "http", "S96x1_SALBR7_1_15_0_4_r.tar", 200, 1<<20, s96UA), image)})
		inv.clock.Set(t0.Add(time.Minute))
		p := stateOf(t, inv, mac)
		if p.Firmware != "7.1.13.0.2" || p.FirmwareFrom != "user-agent" {
			t.Errorf("a cut download gave version credit: %s from %s", p.Firmware, p.FirmwareFrom)
		}
		if p.State != StateFetching || p.LastFirmware == nil || p.LastFirmware.Size != image || p.LastFirmware.Bytes != 1<<20 {
			t.Errorf("after a cut transfer: %s (%s), last firmware %+v", p.State, p.StateReason, p.LastFirmware)
		}
		inv.clock.Set(t0.Add(time.Hour))
		if p := stateOf(t, inv, mac); p.State != StateOutdated {
			t.Errorf("sequence over after a cut transfer: %s (%s), want outdated (not failed)", p.State, p.StateReason)
		}
		// The retry goes through: every byte of the image.
		inv.apply(ctx, fact{access: sized(access(time.Hour, ip, "http", "S96x1_SALBR7_1_15_0_4_r.tar", 200, image, s96UA), image)})
		inv.clock.Set(t0.Add(time.Hour + time.Minute))
		if p := stateOf(t, inv, mac); p.Firmware != "7.1.15.0.4" || p.FirmwareFrom != "download" || p.State != StateUpToDate {
			t.Errorf("after a complete download: %s from %s, %s (%s)", p.Firmware, p.FirmwareFrom, p.State, p.StateReason)
		}
	})
	t.Run("version unknown", func(t *testing.T) {
		// Not knowing what is newest: a cut transfer must not pass for a clean sequence.
		inv := openTest(t, "", nil)
		inv.newest = nil
		defer inv.Close()
		const mac, ip = "00:1b:4f:00:00:04", "198.18.20.4"
		ctx := context.Background()
		inv.apply(ctx, leaseFactOf(lease(0, mac, ip, dhcpd.Acked, "", "")))
		inv.apply(ctx, fact{access: sized(access(time.Second, ip, "http", "96x1Supgrade.txt", 200, 2000, ""), 2000)})
		inv.apply(ctx, fact{access: sized(access(2*time.Second, ip, "http", "S96x1_SALBR7_1_15_0_4_r.tar", 200, image-1, ""), image)})
		inv.clock.Set(t0.Add(time.Hour))
		p := stateOf(t, inv, mac)
		if p.Firmware != "" || p.State != StateDiscovered || !strings.Contains(p.StateReason, "cut after 52428799 of 52428800 bytes") {
			t.Errorf("after a cut transfer: firmware %q, %s (%s)", p.Firmware, p.State, p.StateReason)
		}
		inv.apply(ctx, fact{access: sized(access(2*time.Hour, ip, "http", "S96x1_SALBR7_1_15_0_4_r.tar", 200, image, ""), image)})
		inv.clock.Set(t0.Add(3 * time.Hour))
		if p := stateOf(t, inv, mac); p.Firmware != "7.1.15.0.4" || p.State != StateUpToDate {
			t.Errorf("after a complete download: %q, %s (%s)", p.Firmware, p.State, p.StateReason)
		}
	})
}

func TestLeaseBindingsMoveAddresses(t *testing.T) {
	inv := openTest(t, "", nil)
	defer inv.Close()
	a, b := "00:04:0d:00:00:0a", "00:04:0d:00:00:0b"
	feed(inv.Inventory, []fact{
		leaseFactOf(lease(0, a, "198.18.30.1", dhcpd.Acked, "", "")),
		leaseFactOf(lease(time.Second, a, "198.18.30.1", dhcpd.Released, "", "")),
		leaseFactOf(lease(2*time.Second, b, "198.18.30.1", dhcpd.Acked, "", "")),
		{access: access(3*time.Second, "198.18.30.1", "tftp", "46xxupgrade.scr", 200, 10, "")},
	})
	if p := stateOf(t, inv, a); len(p.Addrs) != 0 || len(p.Files) != 0 {
		t.Errorf("released phone: %+v %+v", p.Addrs, p.Files)
	}
	if p := stateOf(t, inv, b); len(p.Files) != 1 || p.Addrs[0].Addr.String() != "198.18.30.1" {
		t.Errorf("new holder: %+v %+v", p.Addrs, p.Files)
	}
}

func TestBoundedMemory(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { c.FilesPerPhone = 5; c.MaxPhones = 3 })
	defer inv.Close()
	for i := range 50 {
		inv.apply(context.Background(), fact{access: access(time.Duration(i)*time.Second, "198.18.40.1", "https",
			"file.txt", 200, int64(i), j179UA)})
	}
	p := stateOf(t, inv, "c8:1f:ea:83:e8:5a")
	if len(p.Files) != 5 || p.Files[0].Bytes != 45 || p.Files[4].Bytes != 49 {
		t.Fatalf("files kept: %+v", p.Files)
	}
	for i := range 10 {
		inv.apply(context.Background(), leaseFactOf(lease(time.Hour+time.Duration(i)*time.Second,
			"00:04:0d:00:01:"+string("0123456789"[i])+"0", "", dhcpd.Offered, "", "")))
	}
	if got := len(inv.List(Filter{})); got != 3 {
		t.Fatalf("%d phones kept, want 3", got)
	}
	if _, ok := inv.Get(MAC{0x00, 0x04, 0x0d, 0x00, 0x01, 0x90}); !ok {
		t.Error("the newest phone was evicted")
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "inventory.journal")
	first := openTest(t, path, func(c *Config, o *Options) { o.Neighbors = staticNeighbors().List })
	feed(first.Inventory, bootMorning())
	first.clock.Set(t0.Add(time.Minute))
	before := first.List(Filter{})
	m, _ := ParseMAC("00:04:0d:aa:bb:cc")
	if !first.Forget(m) {
		t.Fatal("Forget found nothing")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := openTest(t, path, nil)
	defer second.Close()
	second.clock.Set(t0.Add(time.Minute))
	after := second.List(Filter{})
	var want []Phone
	for _, p := range before {
		if p.MAC != m {
			want = append(want, p)
		}
	}
	wb, _ := json.Marshal(want)
	ab, _ := json.Marshal(after)
	if string(wb) != string(ab) {
		t.Fatalf("after reopen:\n%s\nwant\n%s", ab, wb)
	}
	// The address index is rebuilt: a TFTP request from a leased address
	// is still tied to its phone.
	second.apply(context.Background(), fact{access: access(time.Hour, "198.18.10.22", "tftp", "x.txt", 200, 1, "")})
	if p := stateOf(t, second, "00:1b:4f:12:34:56"); p.Files[len(p.Files)-1].Name != "x.txt" {
		t.Fatalf("address index lost: %+v", p.Files)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.journal")
	first := openTest(t, path, nil)
	defer first.Close()
	start := time.Now()
	_, err := Open(DefaultConfig(), Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v", err)
	}
	// The error names the process holding the journal (Linux: /proc/locks).
	if runtime.GOOS == "linux" && !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("second open: %v does not name the holder, pid %d", err, os.Getpid())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("second open took %s", d)
	}
}

func TestObserversQueueAndDrop(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { c.QueueLength = 16; c.FlushInterval = 20 * time.Millisecond })
	for i := range 20 {
		inv.ObserveAccess(access(time.Duration(i)*time.Second, "198.18.50.1", "https", "J100Supgrade.txt", 200, 1, j179UA))
	}
	if got := inv.Dropped(); got != 4 {
		t.Fatalf("dropped %d, want 4", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inv.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for inv.queue.len() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	inv.ObserveLease(lease(time.Minute, "00:1b:4f:00:00:09", "198.18.50.2", dhcpd.Acked, "", ""))
	for len(inv.List(Filter{})) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := len(inv.List(Filter{})); got != 2 {
		t.Fatalf("%d phones after Run", got)
	}
	if err := inv.Run(ctx); err == nil {
		t.Error("a second Run was accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := gather(t, inv.reg, "phoneprov_inventory_dropped_facts_total", nil); got != 4 {
		t.Errorf("dropped metric = %v", got)
	}
	reopened := openTest(t, inv.path, nil)
	defer reopened.Close()
	if p := stateOf(t, reopened, "c8:1f:ea:83:e8:5a"); len(p.Files) != 16 {
		t.Errorf("after Run and Close, %d files saved, want 16", len(p.Files))
	}
}

// TestFoldingGoesOnWhileAFlushWaits holds the flush lock, as a flush
// waiting for a slow disk does, and queues eight times the queue's length
// in batches: every fact is folded in meanwhile and none is dropped. When
// the flush ran on the folding goroutine, the folding stopped for as long
// as the disk took, and past the queue's length the facts were dropped
// (0 folded in, 448 dropped here).
func TestFoldingGoesOnWhileAFlushWaits(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { c.QueueLength = 64; c.FlushInterval = 10 * time.Millisecond })
	inv.flushMu.Lock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inv.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // several flush ticks: a flush is waiting
	const phones = 512
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < phones; i += 32 {
		for j := i; j < i+32; j++ {
			mac := fmt.Sprintf("00:1b:4f:00:%02x:%02x", j>>8, j&0xff)
			inv.ObserveLease(lease(time.Duration(j)*time.Millisecond, mac, fmt.Sprintf("198.18.%d.%d", 60+j>>8, j&0xff), dhcpd.Acked, "", ""))
		}
		for inv.queue.len() > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	// An empty queue can mean the last batch is taken and still being
	// folded in: wait for the phones themselves.
	for len(inv.List(Filter{})) < phones && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got, dropped := len(inv.List(Filter{})), inv.Dropped()
	inv.flushMu.Unlock()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got != phones || dropped != 0 {
		t.Fatalf("while a flush waited: %d phones folded in, %d facts dropped; want %d and 0", got, dropped, phones)
	}
	if err := inv.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openTest(t, inv.path, nil)
	defer reopened.Close()
	if n := len(reopened.List(Filter{})); n != phones {
		t.Errorf("after the flush went through and Close: %d phones saved, want %d", n, phones)
	}
}

func TestObserversDoNotBlock(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { c.QueueLength = 16 })
	defer inv.Close()
	ev := access(0, "198.18.50.1", "https", "J100Supgrade.txt", 200, 1, j179UA)
	start := time.Now()
	for range 100000 {
		inv.ObserveAccess(ev)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("100000 observations with nobody reading took %s", d)
	}
}

func TestPeriodicNeighborScan(t *testing.T) {
	nb := staticNeighbors()
	inv := openTest(t, "", func(c *Config, o *Options) { o.Neighbors = nb.List })
	defer inv.Close()
	feed(inv.Inventory, bootMorning())
	// Days later, the static phone is still on the wire and the kernel says so.
	later := t0.Add(10 * 24 * time.Hour)
	inv.clock.Set(later)
	if p := stateOf(t, inv, "00:60:1d:01:02:03"); p.State != StateStale {
		t.Fatalf("static phone before the scan: %s", p.State)
	}
	nb.mu.Lock()
	nb.table = append(nb.table, Neighbor{Addr: netip.MustParseAddr("198.18.10.51"), MAC: mustMAC("00:60:1d:01:02:03")})
	nb.mu.Unlock()
	inv.scanNeighbors(context.Background())
	p := stateOf(t, inv, "00:60:1d:01:02:03")
	if p.State == StateStale || !p.LastSeen.Equal(later) || len(p.Addrs) != 2 {
		t.Fatalf("after the scan: %s, last seen %s, addrs %+v", p.State, p.LastSeen, p.Addrs)
	}
	// Unknown devices in the table are not added.
	if _, ok := inv.Get(MAC{0x02, 0, 0, 0, 0, 1}); ok {
		t.Error("the router became a phone")
	}
	// A failing table is counted, not fatal.
	nb.mu.Lock()
	nb.err = errors.New("netlink: permission denied")
	nb.mu.Unlock()
	inv.scanNeighbors(context.Background())
	if got := gather(t, inv.reg, "phoneprov_inventory_neighbor_read_errors_total", nil); got != 1 {
		t.Errorf("neighbour errors = %v", got)
	}
}

func TestPhonesGauge(t *testing.T) {
	inv := openTest(t, "", func(c *Config, o *Options) { o.Neighbors = staticNeighbors().List })
	defer inv.Close()
	feed(inv.Inventory, bootMorning())
	inv.clock.Set(t0.Add(time.Minute))
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"model": "J179", "firmware": "4.1.3.0.6", "state": "up_to_date"}, 1},
		{map[string]string{"model": "96x1 SIP", "firmware": "7.1.15.0.4", "state": "up_to_date"}, 1},
		{map[string]string{"model": "46xx", "firmware": "", "state": "failed"}, 1},
		{map[string]string{"model": "46xx", "firmware": "", "state": "up_to_date"}, 1},
	} {
		if got := gather(t, inv.reg, "phoneprov_inventory_phones", c.labels); got != c.want {
			t.Errorf("phones%v = %v, want %v", c.labels, got, c.want)
		}
	}
	inv.clock.Set(t0.Add(30 * 24 * time.Hour))
	if got := gather(t, inv.reg, "phoneprov_inventory_phones", map[string]string{"model": "J179", "state": "stale"}); got != 1 {
		t.Errorf("a month later the J179 is not counted stale: %v", got)
	}
}

func TestValidate(t *testing.T) {
	DefaultConfig().Validate(func(key string, err error) { t.Errorf("default: %s: %v", key, err) })
	c := Config{StaleAfter: 0, FetchWindow: -1, FilesPerPhone: 0, MaxPhones: -1, FlushInterval: time.Hour, NeighborInterval: -1, QueueLength: 1}
	got := map[string]bool{}
	c.Validate(func(key string, err error) { got[key] = true })
	for _, k := range []string{"stale_after", "fetch_window", "files_per_phone", "max_phones", "flush_interval", "neighbor_interval", "queue_length"} {
		if !got[k] {
			t.Errorf("no problem reported for %s", k)
		}
	}
}

// gather reads the value of the first series of name whose labels include labels.
func gather(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metric
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

// A phone that names only its series and protocol (the 96x1 SIP User-Agent
// says "96x1" and "SIP") is judged on its version at once, and its version
// has one spelling whether it came from the User-Agent or a download.
func TestSeriesLevelAgentIsJudgedByVersion(t *testing.T) {
	inv := openTest(t, "", nil)
	defer inv.Close()
	const mac, ip = "00:1b:4f:00:00:09", "198.18.20.9"
	ctx := context.Background()
	inv.apply(ctx, leaseFactOf(lease(0, mac, ip, dhcpd.Acked, "", "")))
	inv.apply(ctx, fact{access: sized(access(time.Second, ip, "http", "96x1Supgrade.txt", 200, 2000, "AVAYA/96x1-IPT-SIP-R7_1_15_0_4"), 2000)})
	inv.clock.Set(t0.Add(2 * time.Second))
	p := stateOf(t, inv, mac)
	if p.Model != "96x1 SIP" || p.Firmware != "7.1.15.0.4" || p.State != StateUpToDate {
		t.Errorf("96x1 SIP phone: model %q firmware %q, %s (%s)", p.Model, p.Firmware, p.State, p.StateReason)
	}
	// A phone whose model nothing names says so, rather than only "fetching".
	const mac2, ip2 = "00:1b:4f:00:00:0a", "198.18.20.10"
	inv.apply(ctx, leaseFactOf(lease(0, mac2, ip2, dhcpd.Acked, "", "")))
	inv.apply(ctx, fact{access: sized(access(time.Second, ip2, "http", "46xxsettings.txt", 200, 2000, ""), 2000)})
	p = stateOf(t, inv, mac2)
	if p.Model != "" || p.State != StateModelUnknown || !strings.Contains(p.StateReason, "names its model") {
		t.Errorf("phone of unknown model: model %q, %s (%s)", p.Model, p.State, p.StateReason)
	}
}

// TestLeaseExchangeAllocatesNothing: the two facts of a DHCP exchange of a
// known phone are queued, folded in and flushed without an allocation (the
// inventory runs beside a DHCP server answering thousands a second).
func TestLeaseExchangeAllocatesNothing(t *testing.T) {
	inv := openTest(t, "", nil)
	defer inv.Close()
	ctx := context.Background()
	offer := lease(0, "00:04:0d:00:00:01", "198.18.0.10", dhcpd.Offered, "AVA000001", "ccp.avaya.com")
	ack := lease(0, "00:04:0d:00:00:01", "198.18.0.10", dhcpd.Acked, "AVA000001", "ccp.avaya.com")
	exchange := func() {
		offer.Time, ack.Time = offer.Time.Add(time.Second), ack.Time.Add(time.Second)
		inv.ObserveLease(offer)
		inv.ObserveLease(ack)
		inv.foldQueued(ctx)
		if err := inv.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	exchange() // learn the phone
	if allocs := testing.AllocsPerRun(100, exchange); allocs > 0 {
		t.Errorf("an exchange allocates %v times", allocs)
	}
	if p := stateOf(t, inv, "00:04:0d:00:00:01"); p.LeaseKind != "ack" || len(p.Addrs) != 1 || p.ParamRequestList != "1,3,6,7,15,26,42,242" {
		t.Errorf("after the exchanges: %+v", p)
	}
}

// TestAccessOfKnownPhoneAllocatesNothing: a file request of a known phone
// is queued, folded in and flushed without an allocation: the event is
// copied into the queue, its User-Agent is read once (the parser's regular
// expressions allocate) and the phone's fetch records are reused.
func TestAccessOfKnownPhoneAllocatesNothing(t *testing.T) {
	inv := openTest(t, "", nil)
	defer inv.Close()
	ctx := context.Background()
	ev := access(0, "198.18.0.11", "https", "46xxsettings.txt", 200, 2000, j179UA)
	request := func() {
		ev.Time = ev.Time.Add(time.Second)
		inv.ObserveAccess(ev)
		inv.foldQueued(ctx)
		if err := inv.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	request() // learn the phone
	if allocs := testing.AllocsPerRun(100, request); allocs > 0 && !raceDetector {
		t.Errorf("a request allocates %v times", allocs)
	}
	if p := stateOf(t, inv, "c8:1f:ea:83:e8:5a"); p.Model != "J179" || p.LastScript == nil || len(p.Files) != 20 {
		t.Errorf("after the requests: model %q, last script %+v, %d files", p.Model, p.LastScript, len(p.Files))
	}
}

// TestUnresolvedAccessAllocatesNothing: a request from a client no lease,
// neighbour or User-Agent ties to a phone (a browser, a load generator)
// is counted without an allocation when the log is not at debug level.
func TestUnresolvedAccessAllocatesNothing(t *testing.T) {
	inv := openTest(t, "", nil)
	defer inv.Close()
	ctx := context.Background()
	ev := access(0, "198.18.0.99", "https", "46xxsettings.txt", 200, 2000, "")
	request := func() {
		inv.ObserveAccess(ev)
		inv.foldQueued(ctx)
	}
	request()
	if allocs := testing.AllocsPerRun(100, request); allocs > 0 && !raceDetector {
		t.Errorf("an unresolved request allocates %v times", allocs)
	}
	// One request, AllocsPerRun's warm-up run, and its 100.
	if got := gather(t, inv.reg, "phoneprov_inventory_unresolved_accesses_total", nil); got != 102 {
		t.Errorf("unresolved metric = %v, want 102", got)
	}
}
