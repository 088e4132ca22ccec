package dhcpd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/phoneprov/phoneprov/dhcpd/internal/wire"
)

// message is a DHCPv4 message as dhcpv4.FromBytes reads it, with its type
// and header addresses read once, as the handler uses them.
type message struct {
	*dhcpv4.DHCPv4
	typ dhcpv4.MessageType
	// hlen is the hlen field as sent; dhcpv4 cuts ClientHWAddr to 16 bytes.
	hlen                           uint8
	ciaddr, yiaddr, siaddr, giaddr netip.Addr
}

// parseMessage reads a DHCPv4 message with dhcpv4.FromBytes. On top of it,
// it accepts options that run to the end of the message without an End
// option, as old clients send them, and reads the options carried in the
// file and sname fields (option 52, overload), joined to the ones before as
// RFC 3396 says. It never panics.
func parseMessage(b []byte) (message, error) {
	p, err := dhcpv4.FromBytes(b)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// dhcpv4 read every option up to the end of b but found no End
		// (io.ErrUnexpectedEOF means nothing else there): give it one. An
		// option cut short at the end still fails, End then being read as
		// its length.
		p, err = dhcpv4.FromBytes(append(b[:len(b):len(b)], dhcpv4.OptionEnd.Code()))
	}
	if err != nil {
		return message{}, err
	}
	// Option 52: more options in the file (1), sname (2) or both (3)
	// fields, read after the main area in that order (RFC 2131 §4.1).
	// Options.FromBytes appends repeated codes to what is there.
	if ov := p.Options.Get(dhcpv4.OptionOptionOverload); len(ov) == 1 {
		if ov[0]&1 != 0 {
			if err := p.Options.FromBytes(b[108:236]); err != nil {
				return message{}, fmt.Errorf("overloaded file field: %w", err)
			}
		}
		if ov[0]&2 != 0 {
			if err := p.Options.FromBytes(b[44:108]); err != nil {
				return message{}, fmt.Errorf("overloaded sname field: %w", err)
			}
		}
	}
	m := message{
		DHCPv4: p, hlen: b[2],
		ciaddr: addrOf(p.ClientIPAddr), yiaddr: addrOf(p.YourIPAddr),
		siaddr: addrOf(p.ServerIPAddr), giaddr: addrOf(p.GatewayIPAddr),
	}
	// What p.MessageType() returns, without the allocations of its decoder.
	if v := p.Options.Get(dhcpv4.OptionDHCPMessageType); len(v) == 1 {
		m.typ = dhcpv4.MessageType(v[0])
	}
	return m, nil
}

// addrOf converts a 4-byte address; anything else is the zero Addr.
func addrOf(ip net.IP) netip.Addr {
	if ip = ip.To4(); ip == nil {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(ip))
}

// option returns the data of an option (joined if repeated) and whether it
// is present; empty options are present with no data.
func (m *message) option(code dhcpv4.OptionCode) ([]byte, bool) {
	v, ok := m.Options[code.Code()]
	return v, ok
}

// addrOption returns an address option; ok is false if it is missing or not
// 4 bytes long.
func (m *message) addrOption(code dhcpv4.OptionCode) (netip.Addr, bool) {
	v := m.Options.Get(code)
	if len(v) != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v)), true
}

// maxReply is the largest reply the client accepts, in DHCP payload bytes
// (option 57 less IP and UDP headers), never below the 548 every client must
// take (RFC 2131 §2).
func (m *message) maxReply() int {
	limit := dhcpv4.MaxMessageSize
	if v := m.Options.Get(dhcpv4.OptionMaximumDHCPMessageSize); len(v) == 2 {
		limit = max(limit, int(binary.BigEndian.Uint16(v)))
	}
	return limit - wire.IPUDPOverhead
}

// isEthernet reports whether chaddr is a 6-byte Ethernet address.
func (m *message) isEthernet() bool {
	return m.HWType == iana.HWTypeEthernet && m.hlen == 6
}
