package tlsca

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// normalizeHosts splits hosts into IP addresses and DNS names, canonicalised,
// deduplicated and sorted. IPv6 brackets and zones are stripped and
// IPv4-mapped IPv6 addresses become IPv4; DNS names are lower-cased without a
// trailing dot. A leading "*." wildcard label is allowed.
func normalizeHosts(hosts []string) ([]netip.Addr, []string, error) {
	var ips []netip.Addr
	var names []string
	for _, h := range hosts {
		orig := h
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, nil, fmt.Errorf("tlsca: empty host in Hosts")
		}
		bare := h
		if strings.HasPrefix(bare, "[") && strings.HasSuffix(bare, "]") {
			bare = bare[1 : len(bare)-1]
		}
		if a, err := netip.ParseAddr(bare); err == nil {
			ips = append(ips, a.WithZone("").Unmap())
			continue
		}
		name := strings.TrimSuffix(strings.ToLower(h), ".")
		if err := checkDNSName(name); err != nil {
			return nil, nil, fmt.Errorf("tlsca: host %q: %w", orig, err)
		}
		names = append(names, name)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	ips = slices.Compact(ips)
	slices.Sort(names)
	names = slices.Compact(names)
	return ips, names, nil
}

// checkDNSName accepts lower-case host names (letters, digits, '-', '_'),
// optionally with a leading "*." wildcard label.
func checkDNSName(name string) error {
	if _, _, err := net.SplitHostPort(name); err == nil {
		return fmt.Errorf("must not contain a port")
	}
	if len(name) > 253 {
		return fmt.Errorf("name longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if l == "" || len(l) > 63 {
			return fmt.Errorf("not an IP address or valid DNS name (bad label %q)", l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("not an IP address or valid DNS name (character %q)", c)
			}
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("not an IP address or valid DNS name (label %q starts or ends with '-')", l)
		}
	}
	return nil
}
