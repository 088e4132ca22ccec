package dhcpopts

import (
	"fmt"
	"net/netip"
	"strings"
)

// parseIPv4 reads a dotted-quad IPv4 address; IPv6 forms (including
// IPv4-mapped ones) are refused because DHCPv4 options carry four bytes.
func parseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return a, nil
}

// EncodeDomains writes domain names in RFC 1035 wire form (length-prefixed
// labels, a zero byte after each name), compressing repeated suffixes with
// pointers as RFC 3397 asks for option 119 (RFC 3397 §2). Pointers are offsets into the
// returned data, which the client reassembles before decoding even when the
// option is split (RFC 3396). A trailing dot on a name is optional.
func EncodeDomains(names []string) ([]byte, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("empty list of domain names")
	}
	var out []byte
	seen := map[string]int{} // suffix → offset where it was written
	for _, name := range names {
		labels, err := domainLabels(name)
		if err != nil {
			return nil, err
		}
		out = appendName(out, labels, seen)
	}
	return out, nil
}

// appendName writes one name, ending in a pointer to the longest suffix
// already written (compared exactly, so the spelling survives).
func appendName(out []byte, labels []string, seen map[string]int) []byte {
	for i := range labels {
		suffix := strings.Join(labels[i:], ".")
		if off, ok := seen[suffix]; ok {
			return append(out, 0xc0|byte(off>>8), byte(off))
		}
		if len(out) < 0x3fff {
			seen[suffix] = len(out)
		}
		out = append(out, byte(len(labels[i])))
		out = append(out, labels[i]...)
	}
	return append(out, 0)
}

// domainLabels splits and checks a host or domain name: labels of 1..63
// letters, digits, hyphens or underscores, 253 characters in all.
func domainLabels(name string) ([]string, error) {
	n := strings.TrimSuffix(strings.TrimSpace(name), ".")
	if n == "" {
		return nil, fmt.Errorf("domain name %q is empty", name)
	}
	if len(n) > 253 {
		return nil, fmt.Errorf("domain name %q is longer than 253 characters", name)
	}
	labels := strings.Split(n, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return nil, fmt.Errorf("domain name %q has a label of %d characters (1..63)", name, len(l))
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return nil, fmt.Errorf("domain name %q contains %q", name, c)
			}
		}
	}
	return labels, nil
}

// encodeRoutes writes classless static routes (RFC 3442): for each route the
// prefix length, the significant octets of the destination, the router.
// Items read "198.18.0.0/15 198.18.0.1" ("via" between them is allowed).
func encodeRoutes(items []string) ([]byte, error) {
	var out []byte
	for _, item := range items {
		f := strings.Fields(item)
		if len(f) == 3 && strings.EqualFold(f[1], "via") {
			f = []string{f[0], f[2]}
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("route %q: want \"destination/len router\"", item)
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("route %q: %q is not an IPv4 prefix like 198.18.0.0/15", item, f[0])
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("route %q: %v has bits set past /%d (did you mean %v?)", item, p, p.Bits(), p.Masked())
		}
		router, err := parseIPv4(f[1])
		if err != nil {
			return nil, fmt.Errorf("route %q: router %w", item, err)
		}
		dst := p.Addr().As4()
		r := router.As4()
		out = append(out, byte(p.Bits()))
		out = append(out, dst[:(p.Bits()+7)/8]...)
		out = append(out, r[:]...)
	}
	return out, nil
}
