package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// dnsmasqDaemon runs dnsmasq as a DHCP-only server (no DNS).
type dnsmasqDaemon struct {
	bin  string
	plan plan
}

func (dnsmasqDaemon) Name() string { return "dnsmasq" }

func (d dnsmasqDaemon) Version(ctx context.Context) string {
	return benchkit.ToolVersion(ctx, d.bin, "--version")
}

func (d dnsmasqDaemon) Storage() string {
	return "text file `dnsmasq.leases`, rewritten whole (truncate, write every lease, fsync) after each lease change " +
		"and before the reply is sent: durable before the ACK, at a cost that grows with the number of leases"
}

func (d dnsmasqDaemon) Prepare(dir, iface string) (launch, error) {
	cfg := filepath.Join(dir, "dnsmasq.conf")
	leases := filepath.Join(dir, "dnsmasq.leases")
	if err := os.WriteFile(cfg, []byte(renderDnsmasq(d.plan, iface)), 0o644); err != nil {
		return launch{}, fmt.Errorf("dnsmasq: write config: %w", err)
	}
	return launch{
		Argv:       []string{d.bin, "--no-daemon", "--conf-file=" + cfg, "--dhcp-leasefile=" + leases},
		ConfigPath: cfg,
		LeaseFile:  leases,
	}, nil
}

// Leases counts the lines of the lease file, which dnsmasq rewrites whole.
func (d dnsmasqDaemon) Leases(_ context.Context, in *instance) (int, error) {
	f, err := os.Open(in.launch.LeaseFile)
	if err != nil {
		return 0, fmt.Errorf("dnsmasq leases: %w", err)
	}
	defer f.Close()
	return countDnsmasqLeases(f)
}

// renderDnsmasq writes the dnsmasq configuration: DHCP only (port=0), bound
// to the lab link, authoritative, no ping before an offer (phoneprov runs
// with address_check off, Kea has none), no per-packet log lines, a lease
// limit above the pool size (the default is 1,000), and option 242 for
// vendor class ccp.avaya.com. The quotes make 242 a string; in a
// configuration file dnsmasq strips them.
func renderDnsmasq(p plan, iface string) string {
	lines := []string{
		"# dnsmasq under dhcpbench: DHCP only, on the lab link.",
		"port=0",
		"interface=" + iface,
		"bind-interfaces",
		"dhcp-authoritative",
		"no-ping",
		"quiet-dhcp",
		"pid-file=",
		fmt.Sprintf("dhcp-range=%s,%s,%s,%d", p.PoolStart, p.PoolEnd, p.netmask(), int(p.LeaseTime.Seconds())),
		fmt.Sprintf("dhcp-lease-max=%d", p.poolSize()),
		"dhcp-option=option:router," + p.ServerAddr.Addr().String(),
		"dhcp-vendorclass=set:avaya," + p.VendorClass,
		fmt.Sprintf("dhcp-option=tag:avaya,242,%q", p.option242()),
	}
	return strings.Join(lines, "\n") + "\n"
}

// countDnsmasqLeases counts the IPv4 lease lines of a dnsmasq lease file
// ("expiry mac address hostname client-id"); the "duid" line and DHCPv6
// leases after it are skipped.
func countDnsmasqLeases(r io.Reader) (int, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, fmt.Errorf("dnsmasq leases: %w", err)
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "duid" {
			break
		}
		if len(f) >= 3 && strings.Count(f[2], ".") == 3 {
			n++
		}
	}
	return n, nil
}
