package appliance

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab"
	"github.com/phoneprov/phoneprov/dhcpd/ha/hatest"
	"github.com/phoneprov/phoneprov/internal/syncbuf"
)

// haLab is three namespaces on a bridge: box A, box B and a client.
type haLab struct {
	a, b, cli     *netlab.Namespace
	aIf, bIf, cIf string
	// c and cBoxIf are box-c, a backup server, once addBackupBox made it.
	c      *netlab.Namespace
	cBoxIf string
	// mIf is the client namespace's link for the test's commands
	// (198.18.40.250, a MAC of its own).
	mIf string
	dir string
	// lab, sw and br make more client links (clientLinks).
	lab *netlab.Lab
	sw  *netlab.Namespace
	br  string
	// user and pass, when set, are sent with every command the test
	// posts (the pair's basic authentication).
	user, pass string
	// tls, when set, is the pair's TLS material: the peer channel and the
	// test's commands use https.
	tls *labTLS
}

// labTLS is a CA and both boxes' certificates.
type labTLS struct {
	ca    string
	files map[string]hatest.PeerFiles
}

// useTLS writes the pair's TLS material (once) and turns https on.
func (l *haLab) useTLS(t *testing.T) {
	t.Helper()
	if l.tls != nil {
		return
	}
	ca, files, err := hatest.WriteCerts(l.dir, map[string]netip.Addr{
		"box-a": netip.MustParseAddr(haAddrA), "box-b": netip.MustParseAddr(haAddrB),
	})
	if err != nil {
		t.Fatal(err)
	}
	l.tls = &labTLS{ca: ca, files: files}
}

// url is a box's HA listener.
func (l *haLab) url(addr string) string {
	if l.tls != nil {
		return "https://" + addr + ":8001/"
	}
	return "http://" + addr + ":8001/"
}

const (
	haAddrA = "198.18.40.1"
	haAddrB = "198.18.40.2"
	haAddrC = "198.18.40.3"
)

func newHALab(t *testing.T) *haLab {
	t.Helper()
	if err := netlab.Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err) // CI runs as root with ip installed: a lab that cannot be built is a failure
		}
		t.Skip(err)
	}
	lab := netlab.New()
	t.Cleanup(func() { lab.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	sw, err := lab.Namespace("sw")
	must(err)
	br, err := sw.Bridge()
	must(err)
	l := &haLab{dir: t.TempDir(), lab: lab, sw: sw, br: br}
	join := func(role string, addr string) (*netlab.Namespace, string) {
		ns, err := lab.Namespace(role)
		must(err)
		swEnd, nsEnd, err := lab.Veth(sw, ns)
		must(err)
		must(sw.Attach(swEnd, br))
		if addr != "" {
			must(ns.AddAddr(nsEnd, netip.MustParsePrefix(addr+"/24")))
		}
		return ns, nsEnd
	}
	l.a, l.aIf = join("boxa", haAddrA)
	l.b, l.bIf = join("boxb", haAddrB)
	// The clients' link changes its MAC for every client, so the test's
	// commands go out on a second link of their own: a box answering the
	// old MAC of a shared link would be heard by nobody.
	l.cli, l.cIf = join("client", "")
	swEnd, cmdEnd, err := lab.Veth(sw, l.cli)
	must(err)
	must(sw.Attach(swEnd, br))
	must(l.cli.AddAddr(cmdEnd, netip.MustParsePrefix("198.18.40.250/24")))
	l.mIf = cmdEnd
	return l
}

// clientLinks adds n more links from the client namespace to the
// bridge, for clients asking at the same time.
func (l *haLab) clientLinks(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		swEnd, cEnd, err := l.lab.Veth(l.sw, l.cli)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.sw.Attach(swEnd, l.br); err != nil {
			t.Fatal(err)
		}
		out = append(out, cEnd)
	}
	return out
}

// phoneprovBinary returns phoneprov built for the lab tests: built once
// per test run (every lab starts the same program) into binaries.dir,
// which TestMain removes.
func phoneprovBinary(t *testing.T) string {
	t.Helper()
	return buildOnce(t, "phoneprov")
}

// haConfig is one box's configuration: the same subnet and pool on both.
func (l *haLab) haConfig(t *testing.T, name, addr, ifname string, ha labHA) string {
	dir := filepath.Join(l.dir, name)
	auth := ""
	if ha.user != "" {
		auth = fmt.Sprintf("basic_auth_user = %q\nbasic_auth_password = %q", ha.user, ha.pass)
	}
	backupPeer := ""
	if ha.backup {
		backupPeer = fmt.Sprintf("[[dhcp.ha.peer]]\nname = \"box-c\"\nurl = %q\nrole = \"backup\"\n%s\n", l.url(haAddrC), auth)
	}
	tlsLines := ""
	if l.tls != nil {
		tlsLines = fmt.Sprintf("trust_anchor = %q\ncert_file = %q\nkey_file = %q", l.tls.ca, l.tls.files[name].Cert, l.tls.files[name].Key)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data", "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`data_dir = "data"
[fileserve.http]
listen = ["%[1]s:80"]
[fileserve.https]
enabled = false
[fileserve.tftp]
enabled = false
[dhcp]
enabled = true
lock_dir = %[2]q
lease_time = "1h"
[[dhcp.subnet]]
cidr = "198.18.40.0/24"
interface = %[3]q
[[dhcp.subnet.pool]]
start = "198.18.40.10"
end = "198.18.40.249"
[dhcp.ha]
enabled = true
this_server_name = %[4]q
heartbeat_delay = %[7]q
max_response_delay = %[8]q
max_ack_delay = %[9]q
max_unacked_clients = %[10]d
%[12]s
[[dhcp.ha.peer]]
name = "box-a"
url = %[5]q
role = "primary"
%[11]s
[[dhcp.ha.peer]]
name = "box-b"
url = %[6]q
role = "standby"
%[11]s
%[13]s`, addr, filepath.Join(dir, "locks"), ifname, name, l.url(haAddrA), l.url(haAddrB),
		ha.heartbeat.String(), ha.maxResponse.String(), ha.maxAck.String(), ha.maxUnacked, auth, tlsLines, backupPeer)
	p := filepath.Join(dir, "phoneprov.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs phoneprov in ns and returns it; it is killed at cleanup.
func startBox(t *testing.T, ns *netlab.Namespace, bin, cfg, name string) *exec.Cmd {
	t.Helper()
	cmd := ns.Command(context.Background(), bin, "serve", "-c", cfg)
	cmd.Dir = filepath.Dir(cfg)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go logLines(t, name, stderr, func(s string) bool { return strings.Contains(s, "ha:") || strings.Contains(s, "HA partner") })
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// logLines logs a server's output lines that keep selects (all of them
// with -v) until r ends.
func logLines(t *testing.T, name string, r io.Reader, keep func(string) bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if testing.Verbose() || keep(sc.Text()) {
			t.Logf("%s: %s", name, sc.Text())
		}
	}
}

// command posts a Kea command to a box's HA listener from the client
// namespace and returns the first answer.
func (l *haLab) command(t *testing.T, addr, body string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	args := []string{"-s", "-m", "3", "-X", "POST", "-H", "Content-Type: application/json", "-d", body}
	if l.user != "" {
		args = append(args, "-u", l.user+":"+l.pass)
	}
	if l.tls != nil {
		f := l.tls.files["box-a"]
		args = append(args, "--cacert", l.tls.ca, "--cert", f.Cert, "--key", f.Key)
	}
	out, err := l.cli.Command(ctx, "curl", append(args, l.url(addr))...).Output()
	if err != nil {
		return nil
	}
	var list []map[string]any
	if json.Unmarshal(out, &list) != nil || len(list) == 0 {
		return nil
	}
	return list[0]
}

func (l *haLab) state(t *testing.T, addr string) string {
	a := l.command(t, addr, `{"command":"ha-heartbeat","service":["dhcp4"]}`)
	if a == nil {
		return ""
	}
	args, _ := a["arguments"].(map[string]any)
	s, _ := args["state"].(string)
	return s
}

// waitState polls a box until it reports want, for at most limit.
func (l *haLab) waitState(t *testing.T, addr, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		if last = l.state(t, addr); last == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s is %q after %v, not %q", addr, last, limit, want)
}

// leaseRow is one lease of a box's table: the client's hardware address
// and when the lease ends (Unix seconds).
type leaseRow struct {
	hw     string
	expire int64
}

// leaseTable is every lease a box returns to lease4-get-page, page by
// page, by address; what it has so far when the box stops answering (a
// killed box gives an empty table).
func (l *haLab) leaseTable(t *testing.T, addr string) map[string]leaseRow {
	t.Helper()
	out := map[string]leaseRow{}
	from := "start"
	for range 100 {
		a := l.command(t, addr, fmt.Sprintf(`{"command":"lease4-get-page","service":["dhcp4"],"arguments":{"from":%q,"limit":500}}`, from))
		if a == nil {
			return out
		}
		args, _ := a["arguments"].(map[string]any)
		ls, _ := args["leases"].([]any)
		for _, x := range ls {
			m, _ := x.(map[string]any)
			ip, _ := m["ip-address"].(string)
			hw, _ := m["hw-address"].(string)
			cltt, _ := m["cltt"].(float64)
			valid, _ := m["valid-lft"].(float64)
			out[ip] = leaseRow{hw: hw, expire: int64(cltt + valid)}
			from = ip
		}
		if len(ls) < 500 {
			return out
		}
	}
	t.Fatalf("%s: more than 100 pages of leases", addr)
	return nil
}

// dhcp runs udhcpc as mac and returns the address and the server id.
func (l *haLab) dhcp(t *testing.T, mac string) (ip, server string) {
	t.Helper()
	b, err := l.tryDHCP(mac, 15)
	if err != nil {
		t.Fatal(err)
	}
	return b.ip, b.server
}

// binding is a lease a client got: its address, the server id of the
// ACK and when the client took it.
type binding struct {
	mac, ip, server string
	at              time.Time
}

// tryDHCP runs udhcpc as mac, sending up to tries DISCOVERs a second
// apart, and returns its lease.
func (l *haLab) tryDHCP(mac string, tries int) (binding, error) {
	return l.tryDHCPOn(l.cIf, mac, tries)
}

// tryDHCPOn is tryDHCP on the client namespace's link ifname.
func (l *haLab) tryDHCPOn(ifname, mac string, tries int) (binding, error) {
	script, events, err := l.clientScript(ifname, mac, "")
	if err != nil {
		return binding{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(tries+10)*time.Second)
	defer cancel()
	cmd := l.cli.Command(ctx, "udhcpc", "-i", ifname, "-f", "-q", "-n", "-t", fmt.Sprint(tries), "-T", "1", "-A", "1", "-s", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return binding{}, fmt.Errorf("udhcpc as %s: %w\n%s", mac, err, out)
	}
	return readBinding(mac, events)
}

// clientScript sets the MAC of the client link ifname and writes a
// udhcpc script that logs the lease to events and then runs more.
func (l *haLab) clientScript(ifname, mac, more string) (script, events string, err error) {
	hw, _ := net.ParseMAC(mac)
	if err := l.cli.SetMAC(ifname, hw); err != nil {
		return "", "", err
	}
	events = filepath.Join(l.dir, "udhcpc-"+strings.ReplaceAll(mac, ":", "")+".log")
	script = filepath.Join(l.dir, "udhcpc-"+strings.ReplaceAll(mac, ":", "")+".sh")
	text := fmt.Sprintf("#!/bin/sh\necho \"$1 ip=$ip serverid=$serverid at=$(date +%%s.%%N)\" >> %q\n%sexit 0\n", events, more)
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		return "", "", err
	}
	return script, events, nil
}

// leaseAndRelease has udhcpc take a lease as mac, put the address on its
// link and release the lease (SIGUSR2: udhcpc unicasts the RELEASE from
// that address); the address is removed after.
func (l *haLab) leaseAndRelease(t *testing.T, mac string) binding {
	t.Helper()
	script, events, err := l.clientScript(l.cIf, mac, "[ \"$1\" = bound ] && ip addr add \"$ip/$mask\" dev \"$interface\"\n")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := l.cli.Command(ctx, "udhcpc", "-i", l.cIf, "-f", "-t", "15", "-T", "1", "-A", "1", "-s", script)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		l.cli.Command(ctx, "ip", "addr", "flush", "dev", l.cIf).Run()
	}()
	var b binding
	for b, err = readBinding(mac, events); err != nil && ctx.Err() == nil; b, err = readBinding(mac, events) {
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	cmd.Process.Signal(syscall.SIGUSR2)
	for !strings.Contains(out.String(), "releas") && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	t.Logf("%s released %s: %s", mac, b.ip, strings.TrimSpace(out.String()[strings.LastIndex(out.String(), "udhcpc: "):]))
	return b
}

// readBinding reads the bound line a client script logged.
func readBinding(mac, events string) (binding, error) {
	logged, _ := os.ReadFile(events)
	m := regexp.MustCompile(`bound ip=(\S+) serverid=(\S+) at=(\d+)\.(\d+)`).FindStringSubmatch(string(logged))
	if m == nil {
		return binding{}, fmt.Errorf("no lease for %s:\n%s", mac, logged)
	}
	sec, _ := strconv.ParseInt(m[3], 10, 64)
	nsec, _ := strconv.ParseInt(m[4], 10, 64)
	return binding{mac: mac, ip: m[1], server: m[2], at: time.Unix(sec, nsec)}, nil
}

// TestHAPairLab runs two phoneprovs as a hot-standby pair: they reach
// hot-standby, the primary answers a client and the standby holds the
// lease too; the primary is killed, the standby goes partner-down and
// answers a new client. The pair talks over TLS with basic
// authentication.
func TestHAPairLab(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"udhcpc", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "%s not installed", tool)
		}
	}
	l := newHALab(t)
	bin := phoneprovBinary(t)
	l.useTLS(t)
	ha := fastHA
	ha.user, ha.pass = "pair", "s3cret pair"
	l.user, l.pass = ha.user, ha.pass
	boxA := startBox(t, l.a, bin, l.haConfig(t, "box-a", haAddrA, l.aIf, ha), "box-a")
	startBox(t, l.b, bin, l.haConfig(t, "box-b", haAddrB, l.bIf, ha), "box-b")

	l.waitState(t, haAddrA, "hot-standby", 30*time.Second)
	l.waitState(t, haAddrB, "hot-standby", 30*time.Second)

	ip1, server1 := l.dhcp(t, "02:00:00:40:00:01")
	if server1 != haAddrA {
		t.Errorf("first client answered by %s, want the primary %s", server1, haAddrA)
	}
	for _, box := range []string{haAddrA, haAddrB} {
		if got := l.leaseTable(t, box)[ip1].hw; got != "02:00:00:40:00:01" {
			t.Errorf("%s: lease of %s is held by %q, want 02:00:00:40:00:01 (leases %v)", box, ip1, got, l.leaseTable(t, box))
		}
	}
	t.Logf("primary gave %s; both tables hold it", ip1)

	killed := time.Now()
	boxA.Process.Kill()
	boxA.Wait()
	l.waitState(t, haAddrB, "partner-down", 30*time.Second)
	t.Logf("standby in partner-down %v after the kill", time.Since(killed).Round(100*time.Millisecond))

	ip2, server2 := l.dhcp(t, "02:00:00:40:00:02")
	if server2 != haAddrB {
		t.Errorf("second client answered by %s, want the standby %s", server2, haAddrB)
	}
	if ip2 == ip1 {
		t.Errorf("second client got %s, the first client's address", ip2)
	}
	if got := l.leaseTable(t, haAddrB)[ip2].hw; got != "02:00:00:40:00:02" {
		t.Errorf("standby: lease of %s held by %q", ip2, got)
	}
	t.Logf("standby gave %s after the failover, %v after the kill", ip2, time.Since(killed).Round(100*time.Millisecond))
}

// missing skips a lab test whose tool is not installed, or fails it under
// CI, where deploy/dev/install-test-packages.sh installs every tool.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
