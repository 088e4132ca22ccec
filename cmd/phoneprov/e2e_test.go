package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab/netlabtest"
)

// TestPhoneBootsEndToEnd runs the appliance in a network namespace with
// DHCP on, and boots one Avaya J179 in another namespace the way the phone
// does it: DHCP with its vendor class (udhcpc), the 242 string, the CA over
// HTTP, the upgrade script over HTTPS, the settings, the firmware it names,
// a settings backup to BRURI. Then the inventory and the lease list must
// know the phone. Every step is logged: `go test -v -run EndToEnd` prints
// what a phone sees.
func TestPhoneBootsEndToEnd(t *testing.T) {
	udhcpc := requireTestTool(t, "udhcpc")
	curl := requireTestTool(t, "curl")
	bin := buildBinary(t)

	lab := netlabtest.NewPair(t, "appliance", "phone", netip.MustParsePrefix("198.18.0.1/24"), netip.Prefix{})
	srv, phone, srvIf, phoneIf := lab.A, lab.B, lab.AIf, lab.BIf
	mac, _ := net.ParseMAC("c8:1f:ea:83:e8:5a")
	if err := phone.SetMAC(phoneIf, mac); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	firmware := filepath.Join(dir, "data", "files", "FW_S_J179_R4_1_3_0_6.bin")
	os.MkdirAll(filepath.Dir(firmware), 0o755)
	os.WriteFile(firmware, make([]byte, 300_000), 0o644)
	cfgPath := filepath.Join(dir, "phoneprov.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir = "data"
[admin]
listen = "127.0.0.1:9167"
[fileserve.http]
listen = ["198.18.0.1:80"]
[fileserve.https]
listen = ["198.18.0.1:443", "198.18.0.1:411"]
[fileserve.tftp]
listen = ["198.18.0.1:69"]
[dhcp]
enabled = true
lock_dir = %q
lease_time = "1008h"
[[dhcp.subnet]]
cidr = "198.18.0.0/24"
interface = %q
[[dhcp.subnet.pool]]
start = "198.18.0.100"
end = "198.18.0.150"
[[dhcp.class]]
preset = "avaya"
call_servers = ["198.18.0.10"]
[provisioning.settings]
SNTPSRVR = "198.18.0.1"
`, filepath.Join(dir, "locks"), srvIf)), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	server := srv.Command(ctx, bin, "serve", "-c", cfgPath)
	stderr, _ := server.StderrPipe()
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Signal(os.Interrupt); server.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			if testing.Verbose() {
				t.Logf("appliance: %s", sc.Text())
			}
			if !signalled && strings.Contains(sc.Text(), "file server ready") {
				close(ready)
				signalled = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("appliance did not start")
	}

	// 1. DHCP, as the J179 sends it.
	events := filepath.Join(dir, "udhcpc.log")
	script := filepath.Join(dir, "udhcpc.sh")
	os.WriteFile(script, []byte(`#!/bin/sh
echo "$1 ip=$ip subnet=$subnet lease=$lease opt242=$opt242" >> "`+events+`"
case "$1" in bound|renew) ip addr add "$ip/$subnet" dev "$interface" ;; esac
exit 0
`), 0o755)
	out, err := phone.Command(ctx, udhcpc, "-i", phoneIf, "-f", "-q", "-n", "-t", "10", "-T", "2", "-s", script,
		"-V", "ccp.avaya.com", "-x", "hostname:AVX83E85A", "-O", "242").CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	logged, _ := os.ReadFile(events)
	bound := regexp.MustCompile(`bound ip=(\S+) subnet=\S+ lease=(\d+) opt242=(\S+)`).FindStringSubmatch(string(logged))
	if bound == nil {
		t.Fatalf("no bound event with option 242:\n%s", logged)
	}
	opt242, err := hex.DecodeString(bound[3])
	if err != nil {
		t.Fatalf("option 242 %q: %v", bound[3], err)
	}
	want242 := "MCIPADD=198.18.0.10,MCPORT=1719,HTTPSRVR=198.18.0.1,HTTPPORT=80,TLSSRVR=198.18.0.1,TLSPORT=411,TFTPSRVR=198.18.0.1"
	if string(opt242) != want242 {
		t.Fatalf("option 242 = %q, want %q", opt242, want242)
	}
	t.Logf("DHCP: address %s, lease %s s, option 242 %q", bound[1], bound[2], opt242)

	// 2. Files, as the phone asks for them.
	ua := "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.0.0.1 (MAC:c81fea83e85a)"
	fetch := func(args ...string) string {
		t.Helper()
		full := append([]string{"-sS", "--fail", "--max-time", "20", "-A", ua}, args...)
		out, err := phone.Command(ctx, curl, full...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		return string(out)
	}
	ca := fetch("http://198.18.0.1/phoneprov-ca.pem")
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, []byte(ca), 0o644)
	t.Logf("HTTP GET /phoneprov-ca.pem: %d bytes", len(ca))
	upgrade := fetch("--cacert", caFile, "https://198.18.0.1:411/J100Supgrade.txt")
	t.Logf("HTTPS GET /J100Supgrade.txt:\n%s", upgrade)
	appname := regexp.MustCompile(`(?m)^SET APPNAME (\S+)`).FindStringSubmatch(upgrade)
	if appname == nil || appname[1] != "FW_S_J179_R4_1_3_0_6.bin" || !strings.Contains(upgrade, "GET 46xxsettings.txt") {
		t.Fatalf("upgrade script does not name the firmware present")
	}
	settings := fetch("--cacert", caFile, "https://198.18.0.1:411/46xxsettings.txt")
	t.Logf("HTTPS GET /46xxsettings.txt:\n%s", settings)
	bruri := regexp.MustCompile(`(?m)^SET BRURI (\S+)`).FindStringSubmatch(settings)
	for _, want := range []string{"SET HTTPSRVR 198.18.0.1", "SET TLSSRVR 198.18.0.1", "SET TRUSTCERTS phoneprov-ca.pem", "SET SNTPSRVR 198.18.0.1"} {
		if !strings.Contains(settings, want) {
			t.Errorf("settings lack %q", want)
		}
	}
	if bruri == nil {
		t.Fatal("settings have no BRURI")
	}
	fw := fetch("--cacert", caFile, "-o", filepath.Join(dir, "fw.bin"), "-w", "%{size_download}", "https://198.18.0.1:411/"+appname[1])
	t.Logf("HTTPS GET /%s: %s bytes", appname[1], fw)
	if fw != "300000" {
		t.Fatalf("firmware: %s bytes", fw)
	}
	backup := filepath.Join(dir, "2001_J179data.txt")
	os.WriteFile(backup, []byte("SPEAKERSTAT=2\n"), 0o644)
	fetch("--cacert", caFile, "-T", backup, bruri[1]+"2001_J179data.txt")
	if got := fetch("--cacert", caFile, bruri[1]+"2001_J179data.txt"); got != "SPEAKERSTAT=2\n" {
		t.Fatalf("backup read back as %q", got)
	}
	t.Logf("HTTPS PUT+GET %s2001_J179data.txt: ok", bruri[1])

	// The phone reboots into the new firmware and checks the server again.
	ua = "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)"
	fetch("--cacert", caFile, "https://198.18.0.1:411/J100Supgrade.txt")
	fetch("--cacert", caFile, "https://198.18.0.1:411/46xxsettings.txt")
	t.Logf("after the reboot, as AVAYA/J179-4.1.3.0.6: HTTPS GET /J100Supgrade.txt, /46xxsettings.txt")

	// 3. The appliance knows the phone.
	var phones []struct {
		MAC      string `json:"mac"`
		Model    string `json:"model"`
		Firmware string `json:"firmware"`
		Class    string `json:"class"`
		State    string `json:"state"`
		Lease    string `json:"lease_kind"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := srv.Command(ctx, bin, "phones", "--json", "-c", cfgPath).Output()
		if err != nil {
			t.Fatalf("phones: %v", err)
		}
		json.Unmarshal(out, &phones)
		if len(phones) == 1 && phones[0].State == "up_to_date" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(phones) != 1 || phones[0].MAC != "c8:1f:ea:83:e8:5a" || phones[0].Model != "J179" || phones[0].Class != "avaya" || phones[0].Firmware != "4.1.3.0.6" || phones[0].State != "up_to_date" {
		t.Fatalf("inventory: %+v", phones)
	}
	// One vocabulary: the lease the phone was granted is the same event,
	// by the same name, in the inventory and in the admin listener's
	// recent events.
	recent, err := srv.Command(ctx, curl, "-sS", "--fail", "http://127.0.0.1:9167/api/events").Output()
	if err != nil {
		t.Fatalf("api/events: %v", err)
	}
	var recorded struct {
		Events []struct {
			Lease string `json:"lease"`
			MAC   string `json:"mac"`
		} `json:"events"`
	}
	if err := json.Unmarshal(recent, &recorded); err != nil {
		t.Fatalf("api/events: %v\n%s", err, recent)
	}
	var granted []string
	for _, e := range recorded.Events {
		if e.MAC == phones[0].MAC && e.Lease != "offer" {
			granted = append(granted, e.Lease)
		}
	}
	if phones[0].Lease != "ack" || len(granted) != 1 || granted[0] != phones[0].Lease {
		t.Errorf("the lease event is %q in the inventory and %q in /api/events; want \"ack\" in both", phones[0].Lease, granted)
	}
	list, err := srv.Command(ctx, bin, "phones", "-c", cfgPath).Output()
	if err != nil {
		t.Fatalf("phones: %v", err)
	}
	t.Logf("phoneprov phones:\n%s", list)
	table, err := srv.Command(ctx, bin, "leases", "-c", cfgPath).Output()
	if err != nil {
		t.Fatalf("leases: %v", err)
	}
	t.Logf("phoneprov leases:\n%s", table)
	readyz, err := srv.Command(ctx, curl, "-sS", "--fail", "http://127.0.0.1:9167/readyz").Output()
	if err != nil || !regexp.MustCompile(`ok\s+dhcp`).Match(readyz) || !regexp.MustCompile(`ok\s+leases`).Match(readyz) {
		t.Fatalf("readyz: %v %s", err, readyz)
	}
	pools, err := srv.Command(ctx, curl, "-sS", "--fail", "http://127.0.0.1:9167/api/pools").Output()
	if err != nil || !strings.Contains(string(pools), "198.18.0.0/24") {
		t.Fatalf("api/pools: %v %s", err, pools)
	}
	t.Logf("admin /readyz:\n%s", readyz)
	if !strings.Contains(string(table), bound[1]) || !strings.Contains(string(table), "c8:1f:ea:83:e8:5a") || !strings.Contains(string(table), "AVX83E85A") {
		t.Fatalf("lease list lacks the phone")
	}
}

func requireTestTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}
