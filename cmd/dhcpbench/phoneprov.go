package main

import (
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
	samples, err := metricSamples(diagnostics)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	const byReason = `phoneprov_dhcp_packets_dropped_total{reason="`
	var parts []string
	for _, m := range samples {
		var what string
		switch {
		case strings.HasPrefix(m.series, byReason):
			what = strings.TrimSuffix(strings.TrimPrefix(m.series, byReason), `"}`)
		case m.series == "phoneprov_dhcp_queue_drops_total":
			what = "queue full"
		case m.series == "phoneprov_inventory_dropped_facts_total":
			what = "inventory facts"
		default:
			continue
		}
		if m.value > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", what, m.value))
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
	samples, err := metricSamples(text)
	if err != nil {
		return 0, err
	}
	total, found := 0, false
	for _, m := range samples {
		if strings.HasPrefix(m.series, metric) && strings.Contains(m.series, `state="assigned"`) {
			total += int(m.value)
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("metrics: no %sstate=\"assigned\"} sample", metric)
	}
	return total, nil
}

// metricSample is one sample line of a Prometheus text exposition: the
// series (the name with its labels) and its value.
type metricSample struct {
	series string
	value  float64
}

// metricSamples returns the sample lines of a Prometheus text exposition
// (client_golang's: no timestamps), skipping comments and blank lines.
func metricSamples(text string) ([]metricSample, error) {
	var out []metricSample
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if cut < 0 || err != nil {
			return nil, fmt.Errorf("metrics: %q: not a sample line", line)
		}
		out = append(out, metricSample{series: line[:cut], value: v})
	}
	return out, nil
}
