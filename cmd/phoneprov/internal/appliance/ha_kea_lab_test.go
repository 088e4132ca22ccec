package appliance

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab"
	"github.com/phoneprov/phoneprov/dhcpd/ha/kealab"
)

// labHA is the [dhcp.ha] settings a lab pair shares, in Kea's terms.
type labHA struct {
	heartbeat, maxResponse, maxAck time.Duration
	maxUnacked                     int
	// user and pass, when set, are the basic authentication of both
	// peers: each box sends them, a phoneprov wants them (Kea 2.2's own
	// listener checks none: src/lib/config/cmd_response_creator.h,
	// http_auth_config_ "currently not used").
	user, pass string
	// tls puts the peer channel on TLS, with certificates both ways.
	tls bool
	// backup adds box-c, a backup server (haAddrC), to every box's peers.
	backup bool
}

// fastHA fails over in about two seconds: the standby declares the
// partner down as soon as the communication is interrupted.
var fastHA = labHA{heartbeat: 500 * time.Millisecond, maxResponse: 2 * time.Second, maxAck: time.Second}

// labBox is one server of a lab pair: a phoneprov or a kea-dhcp4.
type labBox struct {
	name, addr, ifname, role string
	kea                      bool
	ns                       *netlab.Namespace
	bin, cfg, leaseFile      string
	cmd                      *exec.Cmd
}

// box prepares box-a (primary, on A) or box-b (standby, on B).
func (l *haLab) box(t *testing.T, name string, kea bool, bin string, ha labHA) *labBox {
	t.Helper()
	if ha.tls {
		l.useTLS(t)
	}
	b := &labBox{name: name, kea: kea, bin: bin, addr: haAddrA, ifname: l.aIf, ns: l.a, role: "primary"}
	switch name {
	case "box-b":
		b.addr, b.ifname, b.ns, b.role = haAddrB, l.bIf, l.b, "standby"
	case "box-c":
		b.addr, b.ifname, b.ns, b.role = haAddrC, l.cBoxIf, l.c, "backup"
	}
	if kea {
		b.cfg, b.leaseFile = l.keaConfig(t, b, ha)
	} else {
		b.cfg = l.haConfig(t, name, b.addr, b.ifname, ha)
	}
	return b
}

func (b *labBox) kind() string {
	if b.kea {
		return "kea"
	}
	return "phoneprov"
}

// start runs the box's server; it is killed at cleanup.
func (b *labBox) start(t *testing.T) {
	t.Helper()
	if !b.kea {
		b.cmd = startBox(t, b.ns, b.bin, b.cfg, b.name)
		return
	}
	dir := filepath.Dir(b.cfg)
	cmd := b.ns.Command(context.Background(), "kea-dhcp4", "-c", b.cfg)
	cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+dir, "KEA_LOCKFILE_DIR="+dir)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go logLines(t, b.name+" (kea)", out, func(s string) bool {
		return strings.Contains(s, "HA_") || strings.Contains(s, "ERROR") || strings.Contains(s, "WARN")
	})
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	b.cmd = cmd
}

// kill is kill -9.
func (b *labBox) kill() {
	b.cmd.Process.Kill()
	b.cmd.Wait()
}

// leases is the box's lease table, address to hardware address: Kea's
// memfile CSV (the last row of an address wins; valid_lifetime 0 is a
// deleted lease) or phoneprov's answer to lease4-get-page.
func (b *labBox) leases(t *testing.T, l *haLab) map[string]leaseRow {
	t.Helper()
	if !b.kea {
		return l.leaseTable(t, b.addr)
	}
	f, err := os.Open(b.leaseFile)
	if err != nil {
		t.Fatalf("%s: %v", b.name, err)
	}
	defer f.Close()
	out, err := readKeaCSV(f)
	if err != nil {
		t.Fatalf("%s: %v", b.name, err)
	}
	return out
}

// readKeaCSV reads kea-dhcp4's memfile lease file
// (address,hwaddr,client_id,valid_lifetime,expire,subnet_id,...,state,...).
func readKeaCSV(r io.Reader) (map[string]leaseRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true // Kea writes the user context's JSON unquoted (commas escaped as &#x2c)
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("kea lease file: %w", err)
	}
	out := map[string]leaseRow{}
	for i, row := range rows {
		if i == 0 || len(row) < 10 {
			continue
		}
		if row[3] == "0" || row[9] != "0" {
			delete(out, row[0])
			continue
		}
		expire, err := strconv.ParseInt(row[4], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("kea lease file, line %d: expire %q: %w", i+1, row[4], err)
		}
		out[row[0]] = leaseRow{hw: row[1], expire: expire}
	}
	return out, nil
}

// keaConfig writes kea-dhcp4's configuration for b: the same subnet and
// pool as the phoneprov boxes, memfile leases, the lease_cmds and HA hooks
// with the HA hook's own HTTP listener (multi-threading on in both, which
// Kea 2.2 needs for "http-dedicated-listener": ha_service.cc, HAService).
func (l *haLab) keaConfig(t *testing.T, b *labBox, ha labHA) (cfg, leaseFile string) {
	t.Helper()
	dir := filepath.Join(l.dir, b.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	leaseFile = filepath.Join(dir, "kea-leases4.csv")
	kh := kealab.HA{
		ThisServer: b.name,
		Peers: []kealab.Peer{
			{Name: "box-a", URL: l.url(haAddrA), Role: "primary"},
			{Name: "box-b", URL: l.url(haAddrB), Role: "standby"},
		},
		Heartbeat: ha.heartbeat, MaxResponseDelay: ha.maxResponse, MaxAck: ha.maxAck,
		MaxUnackedClients: ha.maxUnacked, SyncTimeout: 10 * time.Second,
		BasicAuthUser: ha.user, BasicAuthPassword: ha.pass,
	}
	if ha.backup {
		kh.Peers = append(kh.Peers, kealab.Peer{Name: "box-c", URL: l.url(haAddrC), Role: "backup"})
	}
	if l.tls != nil {
		kh.TrustAnchor, kh.CertFile, kh.KeyFile = l.tls.ca, l.tls.files[b.name].Cert, l.tls.files[b.name].Key
	}
	conf := map[string]any{"Dhcp4": map[string]any{
		"interfaces-config": map[string]any{"interfaces": []string{b.ifname}, "dhcp-socket-type": "raw"},
		"lease-database":    map[string]any{"type": "memfile", "persist": true, "name": leaseFile, "lfc-interval": 0},
		"multi-threading":   map[string]any{"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64},
		"valid-lifetime":    3600,
		"subnet4": []any{map[string]any{
			"id": 1, "subnet": "198.18.40.0/24", "interface": b.ifname,
			"pools": []any{map[string]any{"pool": "198.18.40.10 - 198.18.40.249"}},
		}},
		"hooks-libraries": kealab.Hooks(keaHookDir(t), kh),
		"loggers": []any{map[string]any{
			"name": "kea-dhcp4", "severity": "INFO",
			"output_options": []any{map[string]any{"output": "stdout"}},
		}},
	}}
	text, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "kea-dhcp4.json")
	if err := os.WriteFile(cfg, text, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := b.ns.Command(ctx, "kea-dhcp4", "-t", cfg).CombinedOutput(); err != nil {
		t.Fatalf("kea-dhcp4 -t: %v\n%s", err, out)
	}
	return cfg, leaseFile
}

// needKea skips unless kea-dhcp4 and its HA and lease_cmds hooks are here.
func needKea(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"kea-dhcp4", "udhcpc", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "%s not installed (deploy/dev/install-test-packages.sh installs it)", tool)
		}
	}
	if _, err := os.Stat(filepath.Join(keaHookDir(t), "libdhcp_lease_cmds.so")); err != nil {
		missing(t, "Kea hook libdhcp_lease_cmds.so not installed")
	}
}

// keaHookDir is where Kea's hook libraries are.
func keaHookDir(t *testing.T) string {
	t.Helper()
	dir, err := kealab.HookDir()
	if err != nil {
		missing(t, "%v", err)
	}
	return dir
}

// needLabTools skips unless the lab's clients are here, and Kea with its
// hooks when kea is set.
func needLabTools(t *testing.T, kea bool) {
	t.Helper()
	if kea {
		needKea(t)
		return
	}
	for _, tool := range []string{"udhcpc", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "%s not installed (deploy/dev/install-test-packages.sh installs it)", tool)
		}
	}
}

// dhclient runs ISC dhclient as mac until it is bound (at most 30 s) and
// returns its lease.
func (l *haLab) dhclient(t *testing.T, mac string) binding {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	if err := l.cli.SetMAC(l.cIf, hw); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(l.dir, "dhclient-"+strings.ReplaceAll(mac, ":", ""))
	script := fmt.Sprintf("#!/bin/sh\ncase \"$reason\" in BOUND) echo \"bound ip=$new_ip_address serverid=$new_dhcp_server_identifier at=$(date +%%s.%%N)\" >> %q;; esac\nexit 0\n", base+".log")
	if err := os.WriteFile(base+".sh", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".conf", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := l.cli.Command(ctx, "dhclient", "-4", "-d", "-1", "-cf", base+".conf", "-sf", base+".sh",
		"-lf", base+".leases", "-pf", base+".pid", l.cIf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	for ctx.Err() == nil {
		if b, err := readBinding(mac, base+".log"); err == nil {
			return b
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatalf("dhclient as %s got no lease:\n%s", mac, out.String())
	return binding{}
}

// clientLoop is clients asking one after another, each with a new MAC,
// until stopped.
type clientLoop struct {
	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
	got  []binding
	errs []error
	// restarts counts clients that had to start again.
	restarts int
}

// startClients runs udhcpc clients 02:00:00:40:<n>:<i> one after another
// (at most 200) until stop.
func (l *haLab) startClients(n int) *clientLoop {
	c := &clientLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for i := range 200 {
			select {
			case <-c.stop:
				return
			default:
			}
			// A client whose REQUEST named the server just killed gets
			// no answer (the survivor ignores a REQUEST for another
			// server) and starts again, as udhcpc would after -n.
			mac := fmt.Sprintf("02:00:00:40:%02x:%02x", n, i)
			var err error
			for range 3 {
				var b binding
				if b, err = l.tryDHCP(mac, 20); err == nil {
					c.mu.Lock()
					c.got = append(c.got, b)
					c.mu.Unlock()
					break
				}
				c.mu.Lock()
				c.restarts++
				c.mu.Unlock()
			}
			if err != nil {
				c.mu.Lock()
				c.errs = append(c.errs, err)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// lastServer is the server of the last lease taken, "" before any.
func (c *clientLoop) lastServer() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) == 0 {
		return ""
	}
	return c.got[len(c.got)-1].server
}

// finish stops the loop after its current client and returns the leases
// the clients took and the errors of the clients that got none.
func (c *clientLoop) finish(t *testing.T) ([]binding, []error) {
	t.Helper()
	close(c.stop)
	select {
	case <-c.done:
	case <-time.After(90 * time.Second):
		t.Fatal("the client loop did not stop")
	}
	return c.got, c.errs
}

// checkPairTables checks that both boxes hold every lease the clients
// took, for the client that took it, and that no address went to two
// clients: among the clients' leases nor across the two tables. With
// sameEnds the two tables must also agree on when each lease the clients
// took ends.
func (l *haLab) checkPairTables(t *testing.T, got []binding, sameEnds bool, boxes ...*labBox) {
	t.Helper()
	byIP := map[string]string{}
	dups := 0
	for _, b := range got {
		if other, ok := byIP[b.ip]; ok && other != b.mac {
			t.Errorf("%s was handed to %s and to %s", b.ip, other, b.mac)
			dups++
		}
		byIP[b.ip] = b.mac
	}
	tables := map[string]map[string]leaseRow{}
	for _, box := range boxes {
		tables[box.name] = box.leases(t, l)
		for _, b := range got {
			if hw := tables[box.name][b.ip].hw; hw != b.mac {
				t.Errorf("%s (%s): lease of %s is held by %q, want %s", box.name, box.kind(), b.ip, hw, b.mac)
			}
		}
	}
	for ip, ra := range tables[boxes[0].name] {
		rb, ok := tables[boxes[1].name][ip]
		if !ok {
			continue
		}
		if ra.hw != rb.hw {
			t.Errorf("%s: %s holds it for %s, %s for %s", ip, boxes[0].name, ra.hw, boxes[1].name, rb.hw)
			dups++
		}
		// The lease's end crosses the wire as expire - valid-lft (update)
		// or cltt (page); for a lease a client got both tables agree to
		// the second. After a split they may not: an update for an
		// earlier REQUEST that hung while the link was down can land
		// after the resynchronisation, and lease4-update overwrites
		// (lease_cmds.cc, Kea and phoneprov alike).
		if d := ra.expire - rb.expire; d < -1 || d > 1 {
			if _, acked := byIP[ip]; acked && sameEnds {
				t.Errorf("%s: the lease ends at %d on %s, at %d on %s", ip, ra.expire, boxes[0].name, rb.expire, boxes[1].name)
			} else {
				t.Logf("%s: the lease ends at %d on %s, at %d on %s (a late update of the split)", ip, ra.expire, boxes[0].name, rb.expire, boxes[1].name)
			}
		}
	}
	t.Logf("%d client leases; %s holds %d leases, %s holds %d; %d duplicate addresses",
		len(got), boxes[0].name, len(tables[boxes[0].name]), boxes[1].name, len(tables[boxes[1].name]), dups)
}

// checkRelease has a client take a lease and release it: the primary
// tells the standby (lease4-del) and neither table holds the lease after.
func (l *haLab) checkRelease(t *testing.T, boxes ...*labBox) {
	t.Helper()
	b := l.leaseAndRelease(t, "02:00:00:40:00:30")
	for _, box := range boxes {
		held := true
		for deadline := time.Now().Add(5 * time.Second); held && time.Now().Before(deadline); {
			if _, held = box.leases(t, l)[b.ip]; held {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if held {
			t.Errorf("%s (%s) still holds %s after the client released it", box.name, box.kind(), b.ip)
		}
	}
}

// runMixedPair pairs box-a (primary) and box-b (standby), one of them a
// Kea: both reach hot-standby; udhcpc and dhclient get leases from the
// primary that both tables hold; the primary is killed while clients keep
// asking, the standby goes partner-down and serves; the primary restarts,
// synchronises from the standby and takes its role back.
func runMixedPair(t *testing.T, aKea, bKea bool, ha labHA) {
	needKea(t)
	l := newHALab(t)
	bin := phoneprovBinary(t)
	ha.user, ha.pass = "pair", "s3cret pair"
	l.user, l.pass = ha.user, ha.pass
	a := l.box(t, "box-a", aKea, bin, ha)
	b := l.box(t, "box-b", bKea, bin, ha)
	a.start(t)
	b.start(t)
	l.waitState(t, haAddrA, "hot-standby", 30*time.Second)
	l.waitState(t, haAddrB, "hot-standby", 30*time.Second)
	t.Logf("%s (%s) and %s (%s) in hot-standby", a.name, a.kind(), b.name, b.kind())
	// Kea reached hot-standby with the phoneprov, which refuses a command
	// without the pair's credentials: Kea sent them.
	pp := map[bool]string{false: haAddrA, true: haAddrB}[aKea]
	anon := *l
	anon.user = ""
	if ans := anon.command(t, pp, `{"command":"ha-heartbeat","service":["dhcp4"]}`); ans == nil || ans["text"] != "Unauthorized" {
		t.Errorf("the phoneprov at %s answered a command without credentials: %v", pp, ans)
	}

	var got []binding
	for i := 1; i <= 3; i++ {
		ip, server := l.dhcp(t, fmt.Sprintf("02:00:00:40:00:%02x", i))
		got = append(got, binding{mac: fmt.Sprintf("02:00:00:40:00:%02x", i), ip: ip, server: server})
	}
	if _, err := exec.LookPath("dhclient"); err == nil {
		got = append(got, l.dhclient(t, "02:00:00:40:00:10"))
	}
	for _, g := range got {
		if g.server != haAddrA {
			t.Errorf("%s answered by %s, want the primary %s", g.mac, g.server, haAddrA)
		}
	}
	l.checkPairTables(t, got, true, a, b)
	l.checkRelease(t, a, b)

	loop := l.startClients(1)
	time.Sleep(time.Second)
	killed := time.Now()
	a.kill()
	l.waitState(t, haAddrB, "partner-down", 20*time.Second)
	t.Logf("%s in partner-down %v after the kill", b.name, time.Since(killed).Round(100*time.Millisecond))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if loop.lastServer() == haAddrB {
			break
		}
	}
	during, errs := loop.finish(t)
	for _, err := range errs {
		t.Errorf("client: %v", err)
	}
	first := time.Time{}
	for _, g := range during {
		if g.server == haAddrB && first.IsZero() {
			first = g.at
		}
	}
	if first.IsZero() {
		t.Fatalf("%s (%s) answered no client after the kill", b.name, b.kind())
	}
	t.Logf("failover: kill -9 of %s (%s) to the first ACK from %s (%s): %v; %d clients served during the run, %d restarted their exchange",
		a.name, a.kind(), b.name, b.kind(), first.Sub(killed).Round(10*time.Millisecond), len(during), loop.restarts)
	got = append(got, during...)

	a.start(t)
	l.waitState(t, haAddrA, "hot-standby", 30*time.Second)
	l.waitState(t, haAddrB, "hot-standby", 30*time.Second)
	t.Logf("%s (%s) back in hot-standby %v after the kill", a.name, a.kind(), time.Since(killed).Round(100*time.Millisecond))
	ip, server := l.dhcp(t, "02:00:00:40:00:20")
	if server != haAddrA {
		t.Errorf("after the restart a client was answered by %s, want the primary %s", server, haAddrA)
	}
	got = append(got, binding{mac: "02:00:00:40:00:20", ip: ip, server: server})
	l.checkPairTables(t, got, true, a, b)
}

// TestHAKeaStandbyLab pairs a phoneprov primary with a Kea 2.2 standby.
func TestHAKeaStandbyLab(t *testing.T) {
	t.Parallel()
	runMixedPair(t, false, true, fastHA)
}

// TestHAKeaPrimaryLab pairs a Kea 2.2 primary with a phoneprov standby.
// Its peer channel runs over TLS, with certificates both ways.
func TestHAKeaPrimaryLab(t *testing.T) {
	t.Parallel()
	ha := fastHA
	ha.tls = true
	runMixedPair(t, true, false, ha)
}

// splitHA is fastHA with failure detection by clients: the standby takes
// over only when more than two clients have waited longer than
// max-ack-delay, as Kea decides it (communication_state.cc,
// failureDetectedInternal), so a split link alone does not make it serve.
var splitHA = labHA{heartbeat: 500 * time.Millisecond, maxResponse: 2 * time.Second, maxAck: 2 * time.Second, maxUnacked: 2}

// split drops in ns every packet from addr (nftables on input), or lets
// them through again.
func split(t *testing.T, ns *netlab.Namespace, addr string, on bool) {
	t.Helper()
	rules := fmt.Sprintf("table ip halab_split {\n chain input {\n  type filter hook input priority 0; policy accept;\n  ip saddr %s drop\n }\n}\n", addr)
	args := []string{"-f", "-"}
	if !on {
		rules, args = "", []string{"delete", "table", "ip", "halab_split"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := ns.Command(ctx, "nft", args...)
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft %v: %v\n%s", args, err, out)
	}
}

// runSplit splits the link between box-a (primary) and box-b (standby)
// while clients keep asking: the primary goes on alone in partner-down,
// the standby, seeing every client answered, keeps out of the way; no
// address goes to two clients. When the link is back the standby
// synchronises and both hold every lease.
func runSplit(t *testing.T, aKea, bKea bool) {
	needLabTools(t, aKea || bKea)
	if _, err := exec.LookPath("nft"); err != nil {
		missing(t, "nft not installed")
	}
	l := newHALab(t)
	bin := phoneprovBinary(t)
	a := l.box(t, "box-a", aKea, bin, splitHA)
	b := l.box(t, "box-b", bKea, bin, splitHA)
	a.start(t)
	b.start(t)
	l.waitState(t, haAddrA, "hot-standby", 30*time.Second)
	l.waitState(t, haAddrB, "hot-standby", 30*time.Second)

	loop := l.startClients(2)
	split(t, l.a, haAddrB, true)
	split(t, l.b, haAddrA, true)
	cut := time.Now()
	states := map[string][]string{}
	seen := func(box, st string) {
		if s := states[box]; len(s) == 0 || s[len(s)-1] != st {
			states[box] = append(states[box], st)
			t.Logf("%v after the split: %s is %s", time.Since(cut).Round(100*time.Millisecond), box, st)
		}
	}
	// Watch until the primary has served alone for two seconds (it
	// notices the split when a lease update or a heartbeat times out,
	// after Kea's 10 s request timeout), for at most 25 s.
	var alone time.Time
	for time.Since(cut) < 25*time.Second && (alone.IsZero() || time.Since(alone) < 2*time.Second) {
		st := l.state(t, haAddrA)
		if st == "partner-down" && alone.IsZero() {
			alone = time.Now()
		}
		seen(a.name, st)
		seen(b.name, l.state(t, haAddrB))
		time.Sleep(250 * time.Millisecond)
	}
	healed := time.Now()
	split(t, l.a, haAddrB, false)
	split(t, l.b, haAddrA, false)
	got, errs := loop.finish(t)
	for _, err := range errs {
		// Before the primary decides the partner is down it cannot have
		// a lease acknowledged and withholds the ACK (Kea does the same).
		t.Logf("client without a lease during the split: %v", err)
	}
	served := map[string]int{}
	for _, g := range got {
		served[g.server]++
	}
	t.Logf("during the split %d clients were served: %d by %s (%s), %d by %s (%s); %d restarted their exchange, %d got nothing",
		len(got), served[haAddrA], a.name, a.kind(), served[haAddrB], b.name, b.kind(), loop.restarts, len(errs))
	if served[haAddrB] > 0 {
		t.Errorf("the standby answered %d clients while the primary served them", served[haAddrB])
	}
	if alone.IsZero() {
		t.Errorf("the primary went through %v, not on to partner-down", states[a.name])
	}
	if st := states[b.name]; len(st) != 1 || st[0] != "hot-standby" {
		t.Errorf("the standby went through %v during the split, want hot-standby only", st)
	}
	l.waitState(t, haAddrA, "hot-standby", 40*time.Second)
	l.waitState(t, haAddrB, "hot-standby", 40*time.Second)
	t.Logf("both in hot-standby %v after the link came back", time.Since(healed).Round(100*time.Millisecond))
	l.checkPairTables(t, got, false, a, b)
}

// TestHAKeaSplitLab splits both mixed pairs and the phoneprov pair.
func TestHAKeaSplitLab(t *testing.T) {
	t.Parallel()
	t.Run("phoneprov-pair", func(t *testing.T) { t.Parallel(); runSplit(t, false, false) })
	t.Run("phoneprov-primary", func(t *testing.T) { t.Parallel(); runSplit(t, false, true) })
	t.Run("kea-primary", func(t *testing.T) { t.Parallel(); runSplit(t, true, false) })
}

// unackedHA takes over only on unanswered clients: more than two that
// have waited over four seconds (their secs field), per Kea's
// CommunicationState4::analyzeMessage and failureDetectedInternal.
var unackedHA = labHA{heartbeat: 500 * time.Millisecond, maxResponse: 2 * time.Second, maxAck: 4 * time.Second, maxUnacked: 2}

// runUnackedFailover kills the primary of a pair whose standby needs
// unanswered clients to take over: with nobody asking the standby stays
// in hot-standby; three clients asking at once on three links make it
// declare the partner down once they have waited past max-ack-delay, and
// it serves them.
func runUnackedFailover(t *testing.T, aKea, bKea bool) {
	needKea(t)
	l := newHALab(t)
	bin := phoneprovBinary(t)
	links := l.clientLinks(t, 3)
	a := l.box(t, "box-a", aKea, bin, unackedHA)
	b := l.box(t, "box-b", bKea, bin, unackedHA)
	a.start(t)
	b.start(t)
	l.waitState(t, haAddrA, "hot-standby", 30*time.Second)
	l.waitState(t, haAddrB, "hot-standby", 30*time.Second)

	killed := time.Now()
	a.kill()
	time.Sleep(unackedHA.maxResponse + 2*time.Second)
	if st := l.state(t, haAddrB); st != "hot-standby" {
		t.Fatalf("with no client asking, %s (%s) went %q %v after the kill, want hot-standby", b.name, b.kind(), st, time.Since(killed).Round(100*time.Millisecond))
	}
	asked := time.Now()
	type result struct {
		b   binding
		err error
	}
	results := make(chan result, len(links))
	for i, link := range links {
		go func() {
			bd, err := l.tryDHCPOn(link, fmt.Sprintf("02:00:00:40:03:%02x", i), 30)
			results <- result{bd, err}
		}()
	}
	var first time.Time
	for range links {
		r := <-results
		if r.err != nil {
			t.Errorf("client: %v", r.err)
			continue
		}
		if r.b.server != haAddrB {
			t.Errorf("%s answered by %s, want the standby %s", r.b.mac, r.b.server, haAddrB)
		}
		if first.IsZero() || r.b.at.Before(first) {
			first = r.b.at
		}
	}
	if first.IsZero() {
		t.Fatal("no client was answered")
	}
	if waited := first.Sub(asked); waited <= unackedHA.maxAck {
		t.Errorf("the standby answered %v after the clients began, before any had waited max-ack-delay (%v)", waited, unackedHA.maxAck)
	}
	t.Logf("%s (%s) stayed in hot-standby with nobody asking; three clients asking at once were answered %v after they began (%v after the kill)",
		b.name, b.kind(), first.Sub(asked).Round(10*time.Millisecond), first.Sub(killed).Round(10*time.Millisecond))
}

// TestHAKeaUnackedLab checks the takeover on unanswered clients for a
// Kea standby and a phoneprov standby.
func TestHAKeaUnackedLab(t *testing.T) {
	t.Parallel()
	t.Run("kea-standby", func(t *testing.T) { t.Parallel(); runUnackedFailover(t, false, true) })
	t.Run("phoneprov-standby", func(t *testing.T) { t.Parallel(); runUnackedFailover(t, true, false) })
}
