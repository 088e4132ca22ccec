package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/internal/phoneprovconf"
	"github.com/phoneprov/phoneprov/dhcpd"
)

// phoneprovAdmin is where phoneprov's admin listener (metrics, pprof) binds
// inside the server namespace.
const phoneprovAdmin = "127.0.0.1:9167"

// phoneprovDaemon runs `phoneprov serve` with DHCP on the lab link and the
// file servers off.
type phoneprovDaemon struct {
	name string // "phoneprov", or "phoneprov-base" for the -baseline build
	bin  string
	plan plan
}

func (d phoneprovDaemon) Name() string { return d.name }

func (d phoneprovDaemon) Version(ctx context.Context) string {
	return benchkit.ToolVersion(ctx, d.bin, "version")
}

func (d phoneprovDaemon) Storage() string {
	return "append-only journal `leases.journal`; each lease is appended and fdatasync'd before its ACK is sent " +
		"(group commit: the leases that arrive during one fdatasync share the next; rewritten when it doubles)"
}

func (d phoneprovDaemon) Prepare(dir, iface string) (launch, error) {
	cfg := filepath.Join(dir, "phoneprov.toml")
	for _, sub := range []string{"data", "locks"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return launch{}, fmt.Errorf("phoneprov: %w", err)
		}
	}
	if _, err := phoneprovconf.Write(phoneprovConfig(d.plan, iface, dir), cfg, "phoneprov under dhcpbench: DHCP only, on the lab link"); err != nil {
		return launch{}, err
	}
	return launch{
		Argv:       []string{d.bin, "serve", "-c", cfg},
		ConfigPath: cfg,
		LeaseFile:  filepath.Join(dir, "data", "leases.journal"),
	}, nil
}

// Leases reads the assigned-address gauge from the admin listener.
func (d phoneprovDaemon) Leases(ctx context.Context, in *instance) (int, error) {
	body, err := phoneprovMetrics(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("phoneprov leases: %w", err)
	}
	return assignedFromMetrics(string(body))
}

// Diagnostics returns phoneprov's DHCP counters (packets by type, drops
// by reason, queue drops) from the admin listener.
func (d phoneprovDaemon) Diagnostics(ctx context.Context, in *instance) (string, error) {
	body, err := phoneprovMetrics(ctx, in)
	if err != nil {
		return "", fmt.Errorf("phoneprov metrics: %w", err)
	}
	var out strings.Builder
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "phoneprov_dhcp_") || strings.HasPrefix(line, "phoneprov_lease_store_") ||
			strings.HasPrefix(line, "go_gc_duration_seconds") || strings.HasPrefix(line, "phoneprov_inventory_") {
			out.WriteString(line)
		}
	}
	return out.String(), nil
}

// Drops names phoneprov's nonzero drop counters in its diagnostics:
// packets by reason, packets the full queue dropped, and lease and access
// facts the inventory's full queue dropped.
func (d phoneprovDaemon) Drops(diagnostics string) string {
	var parts []string
	for line := range strings.Lines(diagnostics) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		var what string
		switch {
		case strings.HasPrefix(name, "phoneprov_dhcp_packets_dropped_total{reason=\""):
			what = strings.TrimSuffix(strings.TrimPrefix(name, "phoneprov_dhcp_packets_dropped_total{reason=\""), "\"}")
		case name == "phoneprov_dhcp_queue_drops_total":
			what = "queue full"
		case name == "phoneprov_inventory_dropped_facts_total":
			what = "inventory facts"
		default:
			continue
		}
		if n, err := strconv.ParseFloat(value, 64); err == nil && n > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", what, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// phoneprovMetrics reads the admin listener's /metrics page.
func phoneprovMetrics(ctx context.Context, in *instance) ([]byte, error) {
	return nsGet(ctx, in.ns, "http://"+phoneprovAdmin+"/metrics", 10*time.Second)
}

// phoneprovConfig is the phoneprov configuration: DHCP on iface with the
// plan's pool and lease time, the avaya preset, address checks off (like
// Kea, which has none, and dnsmasq with no-ping), logging at warn (the
// peers log no per-packet lines either), HTTP, HTTPS and TFTP off.
func phoneprovConfig(p plan, iface, dir string) config.Config {
	cfg := phoneprovconf.New(filepath.Join(dir, "data"), phoneprovAdmin, "")
	d := dhcpd.DefaultConfig()
	d.Enabled = true
	d.LockDir = filepath.Join(dir, "locks")
	d.LeaseTime = p.LeaseTime
	d.AddressCheck = dhcpd.CheckOff
	d.Subnets = []dhcpd.SubnetConfig{{
		CIDR: p.Subnet.String(), Interface: iface, Routers: []string{p.ServerAddr.Addr().String()},
		Pools: []dhcpd.PoolConfig{{Start: p.PoolStart.String(), End: p.PoolEnd.String()}},
	}}
	d.Classes = []dhcpd.ClassConfig{{Preset: "avaya", CallServers: []string{p.CallServer.String()}}}
	cfg.DHCP = d
	return cfg
}

// assignedFromMetrics sums phoneprov_dhcp_pool_addresses{state="assigned"}
// over all pools in a Prometheus text exposition.
func assignedFromMetrics(text string) (int, error) {
	const metric = "phoneprov_dhcp_pool_addresses{"
	total, found := 0, false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) || !strings.Contains(line, `state="assigned"`) {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return 0, fmt.Errorf("metrics: %q: %w", line, err)
		}
		total += int(v)
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	if !found {
		return 0, fmt.Errorf("metrics: no %sstate=\"assigned\"} sample", metric)
	}
	return total, nil
}
