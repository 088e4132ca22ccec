package dhcpd

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// TestLabPerfdhcp measures the server with Kea's perfdhcp, as the project
// benchmark will. It runs only when PHONEPROV_DHCP_PERF is set (it takes
// about half a minute and needs kea-admin's perfdhcp):
//
//	PHONEPROV_DHCP_PERF=1 go test -run TestLabPerfdhcp -v ./dhcpd/
func TestLabPerfdhcp(t *testing.T) {
	if os.Getenv("PHONEPROV_DHCP_PERF") == "" {
		t.Skip("set PHONEPROV_DHCP_PERF=1 to run the perfdhcp measurement")
	}
	bin := requireTool(t, "perfdhcp")
	l := newPhoneLAN(t)
	port := l.port(t, nil)
	if err := l.cli.AddAddr(port, netip.MustParsePrefix("198.18.0.250/24")); err != nil {
		t.Fatal(err)
	}
	cfg := labConfig(l.bridge, t.TempDir())
	cfg.Subnets[0].CIDR = "198.18.0.0/15"
	cfg.Subnets[0].Pools = []PoolConfig{{Start: "198.18.1.0", End: "198.19.255.250"}}
	cfg.AddressCheck = CheckOff
	if err := l.srv.AddAddr(l.bridge, netip.MustParsePrefix("198.18.0.2/15")); err != nil {
		t.Fatal(err)
	}
	store, err := leases.OpenJournal(filepath.Join(l.dir, "leases.journal"), leases.JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := startLabServerWith(t, l.srv, cfg, store, func(o *Options) { o.Logger, o.LeaseEvents = discardLogger(), nil })
	rate := os.Getenv("PHONEPROV_DHCP_PERF_RATE")
	if rate == "" {
		rate = "20000"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	out, err := l.cli.Command(ctx, bin, "-4", "-l", port, "-r", rate, "-R", "60000", "-p", "20", "-t", "5", "198.18.0.1").CombinedOutput()
	t.Logf("perfdhcp (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil && !strings.Contains(string(out), "Statistics") {
		t.Fatalf("perfdhcp: %v", err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	rss := ""
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS") || strings.HasPrefix(line, "VmHWM") {
			rss += strings.Join(strings.Fields(line), " ") + "; "
		}
	}
	t.Logf("leases held: %d; live Go heap %.1f MiB, from the OS %.1f MiB; test process %s",
		len(srv.Leases()), float64(ms.HeapAlloc)/(1<<20), float64(ms.Sys)/(1<<20), rss)
	t.Logf("server: discovers %v, offers %v, requests %v, acks %v, naks %v, queue drops %v",
		srv.counter("phoneprov_dhcp_packets_received_total", "type", "discover"), srv.counter("phoneprov_dhcp_packets_sent_total", "type", "offer"),
		srv.counter("phoneprov_dhcp_packets_received_total", "type", "request"), srv.counter("phoneprov_dhcp_packets_sent_total", "type", "ack"),
		srv.counter("phoneprov_dhcp_packets_sent_total", "type", "nak"), srv.counter("phoneprov_dhcp_queue_drops_total"))
	for _, ns := range []struct {
		name string
		ns   interface {
			Command(context.Context, string, ...string) *exec.Cmd
		}
	}{{"server", l.srv}, {"client", l.cli}} {
		snmp, _ := ns.ns.Command(context.Background(), "cat", "/proc/net/snmp").Output()
		for _, line := range strings.Split(string(snmp), "\n") {
			if strings.HasPrefix(line, "Udp:") {
				t.Logf("%s %s", ns.name, line)
			}
		}
	}
}
