package main

import (
	"fmt"
	"net/netip"
	"time"
)

// plan is what every server under test is configured with, so that all of
// them do the same work: one subnet on the lab link, the same pool, lease
// time, router, and the same Avaya option 242 string for vendor class
// ccp.avaya.com. Addresses come only from 198.18.0.0/15 (RFC 2544's
// benchmarking range), which is all netlab allows.
type plan struct {
	Subnet     netip.Prefix // the served network
	ServerAddr netip.Prefix // the server namespace's address on the link
	ClientAddr netip.Prefix // perfdhcp's address: it acts as a relay agent, giaddr = this
	PoolStart  netip.Addr
	PoolEnd    netip.Addr
	LeaseTime  time.Duration
	CallServer netip.Addr // MCIPADD in option 242
	// VendorClass is option 60 of the Avaya phones the class matches.
	VendorClass string
}

// defaultPlan is the lab every run uses: server 198.18.0.1/16, perfdhcp at
// 198.18.0.2/16, a pool of 65,279 addresses, 24 h leases.
func defaultPlan() plan {
	return plan{
		Subnet:      netip.MustParsePrefix("198.18.0.0/16"),
		ServerAddr:  netip.MustParsePrefix("198.18.0.1/16"),
		ClientAddr:  netip.MustParsePrefix("198.18.0.2/16"),
		PoolStart:   netip.MustParseAddr("198.18.1.0"),
		PoolEnd:     netip.MustParseAddr("198.18.255.254"),
		LeaseTime:   24 * time.Hour,
		CallServer:  netip.MustParseAddr("198.18.0.10"),
		VendorClass: "ccp.avaya.com",
	}
}

// option242 is the string phoneprov's avaya preset sends with the file
// server's default ports (HTTP 80, TLS 411, TFTP 69) and the server's own
// address; the other servers are configured with it verbatim. The probe
// checks that each server really sends exactly this.
func (p plan) option242() string {
	s := p.ServerAddr.Addr()
	return fmt.Sprintf("MCIPADD=%s,MCPORT=1719,HTTPSRVR=%s,HTTPPORT=80,TLSSRVR=%s,TLSPORT=411,TFTPSRVR=%s", p.CallServer, s, s, s)
}

// poolSize is the number of addresses from PoolStart to PoolEnd inclusive.
func (p plan) poolSize() int {
	a, b := p.PoolStart.As4(), p.PoolEnd.As4()
	return int(be32(b)-be32(a)) + 1
}

// netmask is the subnet mask in dotted form, for dnsmasq's dhcp-range.
func (p plan) netmask() string {
	var m [4]byte
	bits := p.Subnet.Bits()
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return netip.AddrFrom4(m).String()
}

// validate checks that the plan is self-consistent: everything inside the
// subnet, the pool ordered and clear of the two fixed addresses.
func (p plan) validate() error {
	for _, a := range []netip.Addr{p.ServerAddr.Addr(), p.ClientAddr.Addr(), p.PoolStart, p.PoolEnd} {
		if !p.Subnet.Contains(a) {
			return fmt.Errorf("plan: %s is outside %s", a, p.Subnet)
		}
	}
	if p.PoolEnd.Less(p.PoolStart) {
		return fmt.Errorf("plan: pool %s-%s is reversed", p.PoolStart, p.PoolEnd)
	}
	for _, a := range []netip.Addr{p.ServerAddr.Addr(), p.ClientAddr.Addr()} {
		if !a.Less(p.PoolStart) && !p.PoolEnd.Less(a) {
			return fmt.Errorf("plan: %s lies inside the pool", a)
		}
	}
	return nil
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
