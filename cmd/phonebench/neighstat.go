package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// arpTableFulls reads how often the kernel's IPv4 neighbour (ARP) table
// was full, from /proc/net/stat/arp_cache (one line per CPU, hex). The
// table and its limit (net.ipv4.neigh.default.gc_thresh3, 1024 by default)
// are shared by every network namespace of the host: a server on a link
// with more phones than that drops packets to some of them whatever its
// own quality.
func arpTableFulls() (uint64, error) {
	b, err := os.ReadFile("/proc/net/stat/arp_cache")
	if err != nil {
		return 0, fmt.Errorf("arp statistics: %w", err)
	}
	return parseTableFulls(string(b))
}

// parseTableFulls sums the table_fulls column over the CPUs.
func parseTableFulls(s string) (uint64, error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("arp statistics: no data")
	}
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "table_fulls" {
			col = i
		}
	}
	if col < 0 {
		return 0, fmt.Errorf("arp statistics: no table_fulls column")
	}
	var total uint64
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			return 0, fmt.Errorf("arp statistics: short line %q", l)
		}
		n, err := strconv.ParseUint(f[col], 16, 64)
		if err != nil {
			return 0, fmt.Errorf("arp statistics: %w", err)
		}
		total += n
	}
	return total, nil
}

// gcThresh3 is the host's neighbour table limit, 0 if unknown.
func gcThresh3() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
