package dhcpd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/deploy/netlab"
	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/dhcpd/leases/leasestest"

	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// The lab tests run the server in-process, its sockets opened inside a
// network namespace, and real clients (busybox udhcpc, ISC dhclient,
// dhcrelay) in other namespaces joined by veth pairs. Addresses come from
// 198.18.0.0/15 only; every namespace is removed when the test ends.

func requireLab(t *testing.T) {
	t.Helper()
	if err := netlab.Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("lab test: %v", err)
		}
		t.Skipf("lab test: %v", err)
	}
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (deploy/dev/install-test-packages.sh installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// phoneLAN is a lab with the server on a bridge (198.18.0.1/24) and client
// ports on it, each the far end of a veth in the client namespace.
type phoneLAN struct {
	lab    *netlab.Lab
	srv    *netlab.Namespace
	cli    *netlab.Namespace
	bridge string
	dir    string
}

func newPhoneLAN(t *testing.T) *phoneLAN {
	t.Helper()
	requireLab(t)
	lab := netlab.New()
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("lab teardown: %v", err)
		}
	})
	l := &phoneLAN{lab: lab, dir: t.TempDir()}
	var err error
	if l.srv, err = lab.Namespace("srv"); err != nil {
		t.Fatal(err)
	}
	if l.cli, err = lab.Namespace("cli"); err != nil {
		t.Fatal(err)
	}
	if l.bridge, err = l.srv.Bridge(); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.AddAddr(l.bridge, netip.MustParsePrefix("198.18.0.1/24")); err != nil {
		t.Fatal(err)
	}
	return l
}

// port adds a client interface on the phone LAN, with the given MAC when set.
func (l *phoneLAN) port(t *testing.T, mac net.HardwareAddr) string {
	t.Helper()
	a, b, err := l.lab.Veth(l.srv, l.cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.srv.Attach(a, l.bridge); err != nil {
		t.Fatal(err)
	}
	if mac != nil {
		if err := l.cli.SetMAC(b, mac); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// labServer is a running server and what the test looks at.
type labServer struct {
	*Server
	store  leases.Store
	reg    *prometheus.Registry
	events *eventRec
	logs   *syncbuf.Buffer
	cancel context.CancelFunc
	done   chan error
}

// labVars are the file server ports the options refer to.
func labVars(a netip.Addr) dhcpopts.Vars {
	return dhcpopts.Vars{ServerIP: a, HTTPPort: 8080, HTTPSPort: 8443, TLSPort: 411, TFTPPort: 69}
}

func startLabServer(t *testing.T, ns *netlab.Namespace, cfg Config, dbPath string) *labServer {
	t.Helper()
	store, err := leases.OpenJournal(dbPath, leases.JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return startLabServerWith(t, ns, cfg, store)
}

func startLabServerWith(t *testing.T, ns *netlab.Namespace, cfg Config, store leases.Store, adjust ...func(*Options)) *labServer {
	t.Helper()
	ls := &labServer{store: store, reg: prometheus.NewRegistry(), events: &eventRec{}, logs: &syncbuf.Buffer{}, done: make(chan error, 1)}
	opts := Options{Store: store, Logger: testLogger(t, ls.logs), Registry: ls.reg, LeaseEvents: ls.events, Vars: labVars}
	for _, a := range adjust {
		a(&opts)
	}
	srv, err := New(cfg, opts)
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := ns.Do(func() error { return srv.Bind(ctx) }); err != nil {
		cancel()
		store.Close()
		t.Fatalf("Bind: %v", err)
	}
	ls.Server, ls.cancel = srv, cancel
	go func() { ls.done <- srv.Serve(ctx) }()
	t.Cleanup(ls.stop)
	return ls
}

// stop ends Serve and closes the store; calling it twice is harmless.
func (ls *labServer) stop() {
	if ls.cancel == nil {
		return
	}
	ls.cancel()
	ls.cancel = nil
	select {
	case <-ls.done:
	case <-time.After(10 * time.Second):
		panic("dhcp server did not stop within 10 s")
	}
	ls.store.Close()
}

// labConfig serves the bridge with a small pool and the avaya preset.
func labConfig(bridge, lockDir string) Config {
	c := DefaultConfig()
	c.Enabled = true
	c.LockDir = lockDir
	c.Subnets = []SubnetConfig{{
		CIDR: "198.18.0.0/24", Interface: bridge,
		Routers: []string{"198.18.0.1"}, DNSServers: []string{"198.18.0.1"}, Domain: "lab.example",
		Pools: []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.150"}},
	}}
	c.Classes = []ClassConfig{{Preset: PresetAvaya, CallServers: []string{"198.18.0.5"}}}
	return c
}

// udhcpcScript records every event with the variables udhcpc passes, and
// configures the address so renewals can be unicast.
const udhcpcScript = `#!/bin/sh
echo "$1 ip=$ip subnet=$subnet router=$router serverid=$serverid lease=$lease opt242=$opt242 hostname=$hostname domain=$domain" >> "$LOG"
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$subnet" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
exit 0
`

type clientEvent map[string]string

func readEvents(t *testing.T, path string) []clientEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []clientEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		ev := clientEvent{"event": fields[0]}
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, "=")
			ev[k] = v
		}
		out = append(out, ev)
	}
	return out
}

func lastEvent(evs []clientEvent, name string) clientEvent {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i]["event"] == name {
			return evs[i]
		}
	}
	return nil
}

// udhcpc runs busybox udhcpc once (-q: quit when bound) and returns its events.
func (l *phoneLAN) udhcpc(t *testing.T, ns *netlab.Namespace, ifname string, args ...string) ([]clientEvent, error) {
	t.Helper()
	bin := requireTool(t, "udhcpc")
	script := filepath.Join(l.dir, "udhcpc.sh")
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(l.dir, "udhcpc-"+ifname+".log")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmdArgs := append([]string{"-i", ifname, "-f", "-q", "-n", "-t", "4", "-T", "1", "-s", script}, args...)
	cmd := ns.Command(ctx, bin, cmdArgs...)
	cmd.Env = append(os.Environ(), "LOG="+log)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return readEvents(t, log), fmt.Errorf("udhcpc %v: %w\n%s", cmdArgs, err, out)
	}
	return readEvents(t, log), nil
}

func TestLabUdhcpcAvayaAndPlainClients(t *testing.T) {
	l := newPhoneLAN(t)
	avaya := l.port(t, net.HardwareAddr{0x00, 0x1b, 0x4f, 0x00, 0x00, 0x01})
	plain := l.port(t, net.HardwareAddr{0x02, 0x11, 0x00, 0x00, 0x00, 0x02})
	srv := startLabServer(t, l.srv, labConfig(l.bridge, t.TempDir()), filepath.Join(l.dir, "leases.journal"))

	evs, err := l.udhcpc(t, l.cli, avaya, "-V", "ccp.avaya.com", "-O", "242")
	if err != nil {
		t.Fatal(err)
	}
	bound := lastEvent(evs, "bound")
	if bound == nil {
		t.Fatalf("avaya client not bound: %v", evs)
	}
	want := "MCIPADD=198.18.0.5,MCPORT=1719,HTTPSRVR=198.18.0.1,HTTPPORT=8080,TLSSRVR=198.18.0.1,TLSPORT=411,TFTPSRVR=198.18.0.1"
	if got, _ := hex.DecodeString(bound["opt242"]); string(got) != want {
		t.Errorf("option 242 = %q, want %q", got, want)
	}
	if bound["serverid"] != "198.18.0.1" || bound["router"] != "198.18.0.1" || bound["domain"] != "lab.example" || bound["lease"] != "86400" {
		t.Errorf("bound event %v", bound)
	}
	// The plain client asks for 242 too but is not an Avaya phone.
	evs, err = l.udhcpc(t, l.cli, plain, "-O", "242")
	if err != nil {
		t.Fatal(err)
	}
	pb := lastEvent(evs, "bound")
	if pb == nil || pb["opt242"] != "" {
		t.Errorf("plain client: %v (must be bound without option 242)", pb)
	}
	if pb["ip"] == bound["ip"] {
		t.Errorf("both clients got %s", pb["ip"])
	}
	ls := srv.Leases()
	if len(ls) != 2 {
		t.Fatalf("server holds %d leases, want 2: %+v", len(ls), ls)
	}
	for _, le := range ls {
		if le.State != leases.Active {
			t.Errorf("lease %s is %v", le.Addr, le.State)
		}
		if le.Addr.String() == bound["ip"] && (le.Class != "avaya" || le.VendorClass != "ccp.avaya.com") {
			t.Errorf("avaya lease recorded as class %q vendor %q", le.Class, le.VendorClass)
		}
	}
	if got := srv.counter("phoneprov_dhcp_packets_sent_total", "type", "ack"); got != 2 {
		t.Errorf("ACKs sent %v", got)
	}
}

func (ls *labServer) counter(name string, labels ...string) float64 {
	return gatherValue(ls.reg, name, labels...)
}

// background starts a long-running client and stops it when the test ends.
func background(t *testing.T, cmd *exec.Cmd) (wait func() error) {
	t.Helper()
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	var werr error
	wait = func() error {
		once.Do(func() {
			select {
			case werr = <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				werr = fmt.Errorf("%s did not stop: %s", cmd.Path, out.String())
				<-done
			}
		})
		return werr
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Args[len(cmd.Args)-1]), out.String())
		}
	})
	return wait
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func shortLeases(c *Config) {
	c.Subnets[0].LeaseTime = time.Minute
	c.Subnets[0].RenewTime = 2 * time.Second
	c.Subnets[0].RebindTime = 50 * time.Second
}

func TestLabUdhcpcRenewAndRelease(t *testing.T) {
	l := newPhoneLAN(t)
	port := l.port(t, nil)
	cfg := labConfig(l.bridge, t.TempDir())
	shortLeases(&cfg)
	srv := startLabServer(t, l.srv, cfg, filepath.Join(l.dir, "leases.journal"))
	bin := requireTool(t, "udhcpc")
	script := filepath.Join(l.dir, "udhcpc.sh")
	if err := os.WriteFile(script, []byte(udhcpcScript), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(l.dir, "renew.log")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := l.cli.Command(ctx, bin, "-i", port, "-f", "-R", "-t", "4", "-T", "1", "-s", script)
	cmd.Env = append(os.Environ(), "LOG="+log)
	wait := background(t, cmd)
	waitFor(t, 10*time.Second, "a lease", func() bool { return lastEvent(readEvents(t, log), "bound") != nil })
	// udhcpc renews at half the lease whatever T1 says; SIGUSR1 renews now.
	cmd.Process.Signal(syscallUSR1)
	waitFor(t, 10*time.Second, "a renewal", func() bool { return lastEvent(readEvents(t, log), "renew") != nil })
	evs := readEvents(t, log)
	ip := lastEvent(evs, "bound")["ip"]
	if renewed := lastEvent(evs, "renew")["ip"]; renewed != ip || ip == "" {
		t.Fatalf("bound %q, renewed %q", ip, renewed)
	}
	// The renewal came unicast from the client's address: a REQUEST in the
	// renewing state, answered with an ACK.
	if got := srv.counter("phoneprov_dhcp_packets_sent_total", "type", "ack"); got < 2 {
		t.Errorf("ACKs %v, want the first and a renewal", got)
	}
	// SIGTERM with -R: udhcpc releases.
	cmd.Process.Signal(syscallTERM)
	wait()
	addr := netip.MustParseAddr(ip)
	// The table changes first; the event follows once the release is on
	// disk, so wait for both.
	waitFor(t, 5*time.Second, "the release", func() bool {
		if ev := srv.events.last(); ev.Kind != Released || ev.Addr != addr {
			return false
		}
		for _, le := range srv.Leases() {
			if le.Addr == addr {
				return le.State == leases.Released
			}
		}
		return false
	})
}

// dhclientScript records dhclient's events and configures the address.
const dhclientScript = `#!/bin/sh
echo "$reason ip=$new_ip_address mask=$new_subnet_mask serverid=$new_dhcp_server_identifier avaya=$new_avaya_242 lease=$new_dhcp_lease_time" >> "$LOG"
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT) ip addr flush dev "$interface"; ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
  RELEASE|EXPIRE|STOP|FAIL) ip addr flush dev "$interface" ;;
esac
exit 0
`

func TestLabDhclientObtainRenewRelease(t *testing.T) {
	t.Parallel()
	l := newPhoneLAN(t)
	port := l.port(t, net.HardwareAddr{0x00, 0x04, 0x0d, 0x00, 0x00, 0x07})
	cfg := labConfig(l.bridge, t.TempDir())
	shortLeases(&cfg)
	srv := startLabServer(t, l.srv, cfg, filepath.Join(l.dir, "leases.journal"))
	bin := requireTool(t, "dhclient")
	files := map[string]string{
		"dhclient.sh": dhclientScript,
		"dhclient.conf": `send vendor-class-identifier "ccp.avaya.com";
option avaya-242 code 242 = string;
request subnet-mask, routers, domain-name-servers, dhcp-lease-time, avaya-242;
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(l.dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(l.dir, "dhclient.log")
	args := []string{"-4", "-v", "-lf", filepath.Join(l.dir, "dhclient.leases"), "-pf", filepath.Join(l.dir, "dhclient.pid"),
		"-cf", filepath.Join(l.dir, "dhclient.conf"), "-sf", filepath.Join(l.dir, "dhclient.sh"), "-e", "LOG=" + log}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	wait := background(t, l.cli.Command(ctx, bin, append(append([]string{"-d"}, args...), port)...))
	waitFor(t, 20*time.Second, "dhclient to renew", func() bool { return lastEvent(readEvents(t, log), "RENEW") != nil })
	bound := lastEvent(readEvents(t, log), "BOUND")
	if bound == nil {
		t.Fatalf("dhclient events: %v", readEvents(t, log))
	}
	if !strings.HasPrefix(bound["avaya"], "MCIPADD=198.18.0.5,") || !strings.Contains(bound["avaya"], "HTTPSRVR=198.18.0.1") {
		t.Errorf("dhclient got option 242 %q", bound["avaya"])
	}
	if bound["serverid"] != "198.18.0.1" || bound["lease"] != "60" {
		t.Errorf("bound %v", bound)
	}
	// dhclient -r releases through the running instance's pid file.
	rctx, rcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer rcancel()
	if out, err := l.cli.Command(rctx, bin, append(append([]string{"-r"}, args...), port)...).CombinedOutput(); err != nil {
		t.Fatalf("dhclient -r: %v\n%s", err, out)
	}
	wait()
	addr := netip.MustParseAddr(bound["ip"])
	waitFor(t, 5*time.Second, "the release", func() bool {
		for _, le := range srv.Leases() {
			if le.Addr == addr {
				return le.State == leases.Released
			}
		}
		return false
	})
}

func TestLabRelayedClient(t *testing.T) {
	l := newPhoneLAN(t)
	relayBin := requireTool(t, "dhcrelay")
	// server ─198.18.1.0/30─ relay ─198.18.2.0/24─ phones
	rly, err := l.lab.Namespace("rly")
	if err != nil {
		t.Fatal(err)
	}
	far, err := l.lab.Namespace("far")
	if err != nil {
		t.Fatal(err)
	}
	srvUp, rlyUp, err := l.lab.Veth(l.srv, rly)
	if err != nil {
		t.Fatal(err)
	}
	rlyDown, phone, err := l.lab.Veth(rly, far)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{
		l.srv.AddAddr(srvUp, netip.MustParsePrefix("198.18.1.1/30")),
		rly.AddAddr(rlyUp, netip.MustParsePrefix("198.18.1.2/30")),
		rly.AddAddr(rlyDown, netip.MustParsePrefix("198.18.2.1/24")),
		l.srv.AddRoute(netip.MustParsePrefix("198.18.2.0/24"), netip.MustParseAddr("198.18.1.2")),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	cfg := labConfig(l.bridge, t.TempDir())
	cfg.RelayListen = []string{"198.18.1.1"}
	cfg.Subnets = append(cfg.Subnets, SubnetConfig{
		CIDR: "198.18.2.0/24", Routers: []string{"198.18.2.1"},
		Pools: []PoolConfig{{Start: "198.18.2.10", End: "198.18.2.20"}},
	})
	srv := startLabServer(t, l.srv, cfg, filepath.Join(l.dir, "leases.journal"))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	relayCtx, stopRelay := context.WithCancel(ctx)
	relayDone := background(t, rly.Command(relayCtx, relayBin, "-4", "-d", "-id", rlyDown, "-iu", rlyUp, "198.18.1.1"))
	time.Sleep(300 * time.Millisecond) // dhcrelay opens its sockets

	evs, err := l.udhcpc(t, far, phone, "-V", "ccp.avaya.com", "-O", "242")
	if err != nil {
		t.Fatal(err)
	}
	bound := lastEvent(evs, "bound")
	if bound == nil {
		t.Fatalf("relayed client not bound: %v", evs)
	}
	ip := netip.MustParseAddr(bound["ip"])
	if !netip.MustParsePrefix("198.18.2.0/24").Contains(ip) || bound["router"] != "198.18.2.1" || bound["serverid"] != "198.18.1.1" {
		t.Errorf("relayed client bound %v", bound)
	}
	// Templates use the address the relay reached us on.
	if got, _ := hex.DecodeString(bound["opt242"]); !strings.Contains(string(got), "HTTPSRVR=198.18.1.1,") {
		t.Errorf("relayed avaya client got option 242 %q", got)
	}
	found := false
	for _, le := range srv.Leases() {
		found = found || (le.Addr == ip && le.State == leases.Active && le.Subnet == netip.MustParsePrefix("198.18.2.0/24"))
	}
	if !found {
		t.Errorf("no active lease for %s in %+v", ip, srv.Leases())
	}

	// Renewing: the client unicasts to the server id (198.18.1.1), routed
	// through the relay box but not relayed; then it releases the same way.
	if err := rly.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
		t.Fatal(err)
	}
	bin := requireTool(t, "udhcpc")
	log := filepath.Join(l.dir, "far-renew.log")
	cmd := far.Command(ctx, bin, "-i", phone, "-f", "-R", "-t", "4", "-T", "1", "-s", filepath.Join(l.dir, "udhcpc.sh"))
	cmd.Env = append(os.Environ(), "LOG="+log)
	wait := background(t, cmd)
	waitFor(t, 10*time.Second, "a lease", func() bool { return lastEvent(readEvents(t, log), "bound") != nil })
	// Without dhcrelay, only the direct unicast path is left.
	stopRelay()
	relayDone()
	acks := srv.counter("phoneprov_dhcp_packets_sent_total", "type", "ack")
	cmd.Process.Signal(syscallUSR1)
	waitFor(t, 10*time.Second, "a renewal", func() bool { return lastEvent(readEvents(t, log), "renew") != nil })
	if got := srv.counter("phoneprov_dhcp_packets_sent_total", "type", "ack"); got != acks+1 {
		t.Errorf("ACKs %v after the renewal, want %v", got, acks+1)
	}
	cmd.Process.Signal(syscallTERM)
	wait()
	waitFor(t, 5*time.Second, "the relayed client's release", func() bool {
		for _, le := range srv.Leases() {
			if le.Addr == ip {
				return le.State == leases.Released
			}
		}
		return false
	})
}

func TestLabReservationExhaustionAndRestart(t *testing.T) {
	t.Parallel()
	l := newPhoneLAN(t)
	reserved := net.HardwareAddr{0x00, 0x04, 0x0d, 0xaa, 0xbb, 0x01}
	ports := []string{l.port(t, reserved), l.port(t, nil), l.port(t, nil), l.port(t, nil)}
	cfg := labConfig(l.bridge, t.TempDir())
	cfg.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.101"}}
	cfg.Subnets[0].Reservations = []ReservationConfig{{MAC: reserved.String(), Address: "198.18.0.60", Hostname: "desk-60"}}
	db := filepath.Join(l.dir, "leases.journal")
	srv := startLabServer(t, l.srv, cfg, db)

	got := map[string]string{}
	for _, p := range ports[:3] {
		evs, err := l.udhcpc(t, l.cli, p)
		if err != nil {
			t.Fatal(err)
		}
		b := lastEvent(evs, "bound")
		if b == nil {
			t.Fatalf("%s not bound: %v", p, evs)
		}
		if other, dup := got[b["ip"]]; dup {
			t.Fatalf("%s and %s share %s", other, p, b["ip"])
		}
		got[b["ip"]] = p
		if p == ports[0] && (b["ip"] != "198.18.0.60" || b["hostname"] != "desk-60") {
			t.Errorf("reserved client bound %v", b)
		}
	}
	// The pool (two addresses) is used up: the fourth client gets nothing.
	if evs, err := l.udhcpc(t, l.cli, ports[3]); err == nil {
		t.Fatalf("fourth client bound with a full pool: %v", evs)
	}
	if n := srv.counter("phoneprov_dhcp_allocation_failures_total", "subnet", "198.18.0.0/24"); n < 1 {
		t.Errorf("allocation failures %v", n)
	}
	if !strings.Contains(srv.logs.String(), "pool exhausted") {
		t.Errorf("no log line about the exhausted pool")
	}
	before := srv.Leases()

	// Restart on the same lease file: every lease is back, and each client
	// gets its own address again.
	srv.stop()
	srv2 := startLabServer(t, l.srv, cfg, db)
	after := srv2.Leases()
	if len(after) != len(before) || len(after) != 3 {
		t.Fatalf("before restart %d leases, after %d", len(before), len(after))
	}
	for i := range before {
		if before[i].Addr != after[i].Addr || !bytes.Equal(before[i].HWAddr, after[i].HWAddr) || !before[i].Expiry.Equal(after[i].Expiry) {
			t.Errorf("lease %d: %+v before, %+v after", i, before[i], after[i])
		}
	}
	for ip, p := range got {
		evs, err := l.udhcpc(t, l.cli, p)
		if err != nil {
			t.Fatal(err)
		}
		if b := lastEvent(evs, "bound"); b["ip"] != ip {
			t.Errorf("after restart %s got %s, had %s", p, b["ip"], ip)
		}
	}
}

func TestLabBindRefusals(t *testing.T) {
	l := newPhoneLAN(t)
	lockDir := t.TempDir()
	cfg := labConfig(l.bridge, lockDir)
	startLabServer(t, l.srv, cfg, filepath.Join(l.dir, "a.db"))

	// A second server on the same interface.
	store := leasestest.NewMemory()
	second, err := New(cfg, Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	err = l.srv.Do(func() error { return second.Bind(context.Background()) })
	if err == nil || !strings.Contains(err.Error(), "served by another phoneprov") {
		t.Errorf("second server on %s: %v", l.bridge, err)
	}
	// An interface without an address in its subnet.
	bad := labConfig(l.bridge, t.TempDir())
	bad.Subnets[0].CIDR = "198.18.5.0/24"
	bad.Subnets[0].Routers = nil
	bad.Subnets[0].DNSServers = nil
	bad.Subnets[0].Pools = []PoolConfig{{Start: "198.18.5.10", End: "198.18.5.20"}}
	third, err := New(bad, Options{Store: leasestest.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	err = l.srv.Do(func() error { return third.Bind(context.Background()) })
	if err == nil || !strings.Contains(err.Error(), "holds no address inside 198.18.5.0/24") || !strings.Contains(err.Error(), "198.18.0.1/24") {
		t.Errorf("subnet not on its interface: %v", err)
	}
	// A missing interface.
	bad.Subnets[0].Interface = "nosuchif0"
	fourth, _ := New(bad, Options{Store: leasestest.NewMemory()})
	err = l.srv.Do(func() error { return fourth.Bind(context.Background()) })
	if err == nil || !strings.Contains(err.Error(), "nosuchif0") {
		t.Errorf("missing interface: %v", err)
	}
}

func TestLabAddressCheckFindsSquatter(t *testing.T) {
	t.Parallel()
	l := newPhoneLAN(t)
	squat := l.port(t, nil)
	client := l.port(t, nil)
	// A phone keeps using 198.18.0.100 after its lease ran out.
	if err := l.cli.AddAddr(squat, netip.MustParsePrefix("198.18.0.100/24")); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(l.dir, "leases.journal")
	seed, err := leases.OpenJournal(db, leases.JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	err = seed.Put(context.Background(), leases.Lease{
		Addr: netip.MustParseAddr("198.18.0.100"), HWAddr: net.HardwareAddr{0x00, 0x04, 0x0d, 0x46, 0x00, 0x01},
		Subnet: netip.MustParsePrefix("198.18.0.0/24"), Start: old, Expiry: old.Add(time.Hour), State: leases.Active,
	})
	seed.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := labConfig(l.bridge, t.TempDir())
	cfg.Subnets[0].Pools = []PoolConfig{{Start: "198.18.0.100", End: "198.18.0.101"}}
	srv := startLabServer(t, l.srv, cfg, db)
	// Use up the never-used address first, so the expired one is next.
	evs, err := l.udhcpc(t, l.cli, client)
	if err != nil {
		t.Fatal(err)
	}
	if ip := lastEvent(evs, "bound")["ip"]; ip != "198.18.0.101" {
		t.Fatalf("first client got %s, want the never-used 198.18.0.101", ip)
	}
	// Now only 198.18.0.100 is left: the check finds it in use, so no offer.
	other := l.port(t, nil)
	if evs, err := l.udhcpc(t, l.cli, other); err == nil {
		t.Fatalf("client bound to an address in use: %v", evs)
	}
	if n := srv.counter("phoneprov_dhcp_address_conflicts_total"); n != 1 {
		t.Errorf("conflicts %v, want 1", n)
	}
	if n := srv.counter("phoneprov_dhcp_pool_addresses", "state", "declined"); n != 1 {
		t.Errorf("declined gauge %v, want 1", n)
	}
}

// gatedStore holds every Put until the gate opens.
type gatedStore struct {
	leases.Store
	gate chan struct{}
}

func (g *gatedStore) Put(ctx context.Context, ls ...leases.Lease) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Store.Put(ctx, ls...)
}

func TestLabQueueDropsAndMalformedPackets(t *testing.T) {
	l := newPhoneLAN(t)
	port := l.port(t, nil)
	if err := l.cli.AddAddr(port, netip.MustParsePrefix("198.18.0.200/24")); err != nil {
		t.Fatal(err)
	}
	cfg := labConfig(l.bridge, t.TempDir())
	cfg.Workers, cfg.QueueSize = 1, 2
	store := &gatedStore{Store: leasestest.NewMemory(), gate: make(chan struct{})}
	srv := startLabServerWith(t, l.srv, cfg, store)
	var conn *net.UDPConn
	err := l.cli.Do(func() (err error) {
		conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(198, 18, 0, 1), Port: 67})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Garbage first: counted, dropped, the server carries on.
	for _, g := range [][]byte{[]byte("not dhcp"), make([]byte, 400)} {
		conn.Write(g)
	}
	waitFor(t, 5*time.Second, "parse failures to be counted", func() bool {
		return srv.counter("phoneprov_dhcp_packets_received_total", "type", typeParseFailed) == 2
	})
	// A burst of REQUESTs while the one worker waits on the store.
	for i := range 40 {
		p := pkt{typ: 3, mac: mac(byte(i + 1)), xid: uint32(i + 1),
			opts: []opt{addrOpt(50, netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + i)}))}}
		if _, err := conn.Write(p.bytes()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "queue drops", func() bool {
		return srv.counter("phoneprov_dhcp_queue_drops_total") >= 30
	})
	close(store.gate)
	// The worker and the queue drain: the first request and the queued
	// ones are answered.
	waitFor(t, 5*time.Second, "ACKs after the store opens", func() bool {
		return srv.counter("phoneprov_dhcp_packets_sent_total", "type", "ack") >= 1
	})
	// Every request is either handled or counted as dropped.
	waitFor(t, 5*time.Second, "40 requests handled or dropped", func() bool {
		handled := srv.counter("phoneprov_dhcp_packets_received_total", "type", "request")
		return handled+srv.counter("phoneprov_dhcp_queue_drops_total") == 40
	})
	// And a real client still gets served.
	other := l.port(t, nil)
	if _, err := l.udhcpc(t, l.cli, other); err != nil {
		t.Fatal(err)
	}
}

// slowStore takes delay over every Put: a disk that is slow but moving.
type slowStore struct {
	leases.Store
	delay time.Duration
}

func (s *slowStore) Put(ctx context.Context, ls ...leases.Lease) error {
	time.Sleep(s.delay)
	return s.Store.Put(ctx, ls...)
}

// A burst many times the queue's size, against a worker that is slow but
// making progress, waits in the socket's buffer for its turn instead of
// being dropped (the old reader dropped whatever found the queue full at
// once: a whole site rebooting lost most of its first DISCOVERs).
func TestLabBurstWaitsForSlowWorkers(t *testing.T) {
	l := newPhoneLAN(t)
	port := l.port(t, nil)
	if err := l.cli.AddAddr(port, netip.MustParsePrefix("198.18.0.200/24")); err != nil {
		t.Fatal(err)
	}
	cfg := labConfig(l.bridge, t.TempDir())
	cfg.Workers, cfg.QueueSize = 1, 2
	srv := startLabServerWith(t, l.srv, cfg, &slowStore{Store: leasestest.NewMemory(), delay: 2 * time.Millisecond})
	var conn *net.UDPConn
	err := l.cli.Do(func() (err error) {
		conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(198, 18, 0, 1), Port: 67})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const burst = 40
	for i := range burst {
		p := pkt{typ: 3, mac: mac(byte(i + 1)), xid: uint32(i + 1),
			opts: []opt{addrOpt(50, netip.AddrFrom4([4]byte{198, 18, 0, byte(100 + i)}))}}
		if _, err := conn.Write(p.bytes()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the burst handled or dropped", func() bool {
		return srv.counter("phoneprov_dhcp_packets_received_total", "type", "request")+
			srv.counter("phoneprov_dhcp_queue_drops_total") == burst
	})
	if d := srv.counter("phoneprov_dhcp_queue_drops_total"); d != 0 {
		t.Errorf("%v of %d REQUESTs dropped at the queue while the worker kept going", d, burst)
	}
	if acks := srv.counter("phoneprov_dhcp_packets_sent_total", "type", "ack"); acks != burst {
		t.Errorf("%v ACKs, want %d", acks, burst)
	}
}

// TestLabServeEndsWhenItsSocketDies closes the server's socket under it, as
// a failing interface or a stray close would: Serve must return the cause
// instead of staying up with no socket, so the process stops and its
// service manager restarts it.
func TestLabServeEndsWhenItsSocketDies(t *testing.T) {
	lan := newPhoneLAN(t)
	ls := startLabServer(t, lan.srv, labConfig(lan.bridge, lan.dir), filepath.Join(lan.dir, "leases.journal"))
	ls.mu.Lock()
	conns := slices.Clone(ls.conns)
	ls.mu.Unlock()
	if len(conns) == 0 {
		t.Fatal("the server bound no socket")
	}
	if err := conns[0].Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ls.done:
		if err == nil || !strings.Contains(err.Error(), "closed while serving") || !strings.Contains(err.Error(), lan.bridge) {
			t.Fatalf("Serve returned %v, want the closed socket named", err)
		}
		ls.done <- err // let the cleanup's stop see Serve has returned
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running 10 s after its socket was closed")
	}
}
