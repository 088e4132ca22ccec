package dhcpd

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// clientFacts are what classes match on, read from one request. The slices
// are the parsed request's and live as long as it does.
type clientFacts struct {
	mac         []byte
	vendorClass []byte
	userClass   []byte
	hostname    []byte
	circuitID   []byte
	remoteID    []byte
	prl         []byte
	subnet      netip.Prefix
}

func factsOf(m *message, s *subnet) clientFacts {
	f := clientFacts{mac: m.ClientHWAddr, subnet: s.prefix}
	f.vendorClass, _ = m.option(dhcpv4.OptionClassIdentifier)
	f.userClass, _ = m.option(dhcpv4.OptionUserClassInformation)
	f.hostname, _ = m.option(dhcpv4.OptionHostName)
	f.prl, _ = m.option(dhcpv4.OptionParameterRequestList)
	if ri := m.RelayAgentInfo(); ri != nil {
		f.circuitID = ri.Get(dhcpv4.AgentCircuitIDSubOption)
		f.remoteID = ri.Get(dhcpv4.AgentRemoteIDSubOption)
	}
	return f
}

// classify returns the first class that matches f, or nil.
func (p *policy) classify(f *clientFacts) *class {
	for _, c := range p.classes {
		if c.matches(f) {
			return c
		}
	}
	return nil
}

// matches applies the class's subnet condition, then its criteria: any one
// of them, or every kind that is set when the class says match = "all".
func (c *class) matches(f *clientFacts) bool {
	if len(c.onlyIn) > 0 {
		in := false
		for _, p := range c.onlyIn {
			if p == f.subnet {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	m := &c.m
	if len(m.notVendorPrefix) > 0 && (hasAnyPrefix(f.vendorClass, m.notVendorPrefix) || hasAnyPrefix(trimNULs(f.vendorClass), m.notVendorPrefix)) {
		return false
	}
	kinds := [...]struct {
		set bool
		hit func() bool
	}{
		{len(m.vendorExact)+len(m.vendorPrefix)+len(m.vendorRe) > 0, func() bool { return m.vendor(f.vendorClass) }},
		{len(m.macPrefix) > 0, func() bool { return m.mac(f.mac) }},
		{len(m.userClass) > 0, func() bool { return m.user(f.userClass) }},
		{len(m.hostPrefix) > 0, func() bool { return hasAnyPrefix(f.hostname, m.hostPrefix) }},
		{len(m.circuitID) > 0, func() bool { return f.circuitID != nil && equalsAny(f.circuitID, m.circuitID) }},
		{len(m.remoteID) > 0, func() bool { return f.remoteID != nil && equalsAny(f.remoteID, m.remoteID) }},
		{len(m.requests) > 0, func() bool { return m.requested(f.prl) }},
	}
	any := false
	for _, k := range kinds {
		if !k.set {
			continue
		}
		hit := k.hit()
		if c.all && !hit {
			return false
		}
		if hit {
			if !c.all {
				return true
			}
			any = true
		}
	}
	return any
}

// vendor matches option 60 as sent and, when it ends in NULs (Cisco's
// "CP-7841-3PCC\x00", wazo cisco.conf), without them.
func (m *matcher) vendor(vc []byte) bool {
	if vc == nil {
		return false
	}
	if m.vendorAsSent(vc) {
		return true
	}
	if t := trimNULs(vc); len(t) < len(vc) {
		return m.vendorAsSent(t)
	}
	return false
}

func (m *matcher) vendorAsSent(vc []byte) bool {
	if equalsAny(vc, m.vendorExact) || hasAnyPrefix(vc, m.vendorPrefix) {
		return true
	}
	for _, re := range m.vendorRe {
		if re.Match(vc) {
			return true
		}
	}
	return false
}

func (m *matcher) mac(mac []byte) bool {
	for _, p := range m.macPrefix {
		if bytes.HasPrefix(mac, p) {
			return true
		}
	}
	return false
}

// user matches option 77 as a whole, or any of its RFC 3004 entries
// (length-prefixed); clients send either form.
func (m *matcher) user(uc []byte) bool {
	if uc == nil {
		return false
	}
	if equalsAny(uc, m.userClass) {
		return true
	}
	for rest := uc; len(rest) > 0; {
		n := int(rest[0])
		if 1+n > len(rest) {
			return false
		}
		if equalsAny(rest[1:1+n], m.userClass) {
			return true
		}
		rest = rest[1+n:]
	}
	return false
}

func (m *matcher) requested(prl []byte) bool {
	for _, code := range m.requests {
		if bytes.IndexByte(prl, code) >= 0 {
			return true
		}
	}
	return false
}

func equalsAny(b []byte, list []string) bool {
	for _, s := range list {
		if string(b) == s {
			return true
		}
	}
	return false
}

func hasAnyPrefix(b []byte, list []string) bool {
	if b == nil {
		return false
	}
	for _, s := range list {
		if len(b) >= len(s) && string(b[:len(s)]) == s {
			return true
		}
	}
	return false
}

// trimNULs drops the NUL bytes some phones end option 60 with
// ("Cisco Systems, Inc. IP Phone CP-7940G\x00", wazo-provd-plugins
// plugins/wazo_cisco_sccp/common/common.py).
func trimNULs(b []byte) []byte { return bytes.TrimRight(b, "\x00") }

// DisplayVendorClass is option 60 as logs, events, leases and "phoneprov
// check" show it: without the trailing NULs some phones send.
func DisplayVendorClass(vc string) string { return strings.TrimRight(vc, "\x00") }
