package dhcpd

import (
	"bytes"
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

// message is a DHCPv4 message as dhcpv4.FromBytes would read it, with its type
// and header addresses read once, as the handler uses them.
type message struct {
	*dhcpv4.DHCPv4
	typ dhcpv4.MessageType
	// hlen is the hlen field as sent; dhcpv4 cuts ClientHWAddr to 16 bytes.
	hlen                           uint8
	ciaddr, yiaddr, siaddr, giaddr netip.Addr
}

// parseMessage reads a DHCPv4 message as dhcpv4.FromBytes does (decode
// below, which allocates far less). On top of it, it accepts options that
// run to the end of the message without an End option, as old clients send
// them, and reads the options carried in the file and sname fields (option
// 52, overload), joined to the ones before as RFC 3396 says. It never
// panics.
func parseMessage(b []byte) (message, error) {
	p, err := decode(b)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// Every option up to the end of b was read but no End found
		// (io.ErrUnexpectedEOF means nothing else there): give it one. An
		// option cut short at the end still fails, End then being read as
		// its length.
		p, err = decode(append(b[:len(b):len(b)], dhcpv4.OptionEnd.Code()))
	}
	if err != nil {
		return message{}, err
	}
	// Option 52: more options in the file (1), sname (2) or both (3)
	// fields, read after the main area in that order (RFC 2131 §4.1),
	// repeated codes appended to what is there.
	if ov := p.Options.Get(dhcpv4.OptionOptionOverload); len(ov) == 1 {
		if ov[0]&1 != 0 {
			if err := decodeOptions(p.Options, b[offFile:offCookie], false); err != nil {
				return message{}, fmt.Errorf("overloaded file field: %w", err)
			}
		}
		if ov[0]&2 != 0 {
			if err := decodeOptions(p.Options, b[offSName:offFile], false); err != nil {
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

// Offsets in the fixed part of a DHCPv4 message (RFC 2131 §2).
const (
	offCIAddr  = 12
	offCHAddr  = 28
	offSName   = 44
	offFile    = 108
	offCookie  = 236
	headerSize = 240
)

// packet is a decoded message with the header fields' storage beside it,
// so that decoding allocates it, the options map and nothing else.
type packet struct {
	dhcpv4.DHCPv4
	ips    [16]byte // ciaddr, yiaddr, siaddr, giaddr
	chaddr [16]byte
}

// decode reads b into a dhcpv4.DHCPv4 with the same result as
// dhcpv4.FromBytes (the same fields, options and failures, io.ErrUnexpectedEOF
// for options without an End), in three allocations where FromBytes makes
// one or two per option and header address. Option values point into b, which
// the caller must not change while the message is in use (the server reads
// each packet into its own buffer); an option repeated is joined into a new
// slice, as RFC 3396 says.
func decode(b []byte) (*dhcpv4.DHCPv4, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("malformed DHCP packet: %d bytes, the header alone takes %d", len(b), headerSize)
	}
	if [4]byte(b[offCookie:headerSize]) != [4]byte{99, 130, 83, 99} {
		return nil, fmt.Errorf("malformed DHCP packet: got magic cookie %v, want [99 130 83 99]", b[offCookie:headerSize])
	}
	pk := &packet{}
	p := &pk.DHCPv4
	p.OpCode = dhcpv4.OpcodeType(b[0])
	p.HWType = iana.HWType(b[1])
	p.HopCount = b[3]
	p.TransactionID = dhcpv4.TransactionID(b[4:8])
	p.NumSeconds = binary.BigEndian.Uint16(b[8:10])
	p.Flags = binary.BigEndian.Uint16(b[10:12])
	copy(pk.ips[:], b[offCIAddr:offCHAddr])
	p.ClientIPAddr = net.IP(pk.ips[0:4:4])
	p.YourIPAddr = net.IP(pk.ips[4:8:8])
	p.ServerIPAddr = net.IP(pk.ips[8:12:12])
	p.GatewayIPAddr = net.IP(pk.ips[12:16:16])
	copy(pk.chaddr[:], b[offCHAddr:offSName])
	p.ClientHWAddr = net.HardwareAddr(pk.chaddr[:min(int(b[2]), 16)])
	p.ServerHostName = cString(b[offSName:offFile])
	p.BootFileName = cString(b[offFile:offCookie])
	p.Options = make(dhcpv4.Options, 8)
	if err := decodeOptions(p.Options, b[headerSize:], true); err != nil {
		return nil, err
	}
	return p, nil
}

// cString is b up to its first NUL, as a string.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// decodeOptions reads options into o as dhcpv4.Options.FromBytes does:
// pads skipped, repeated codes joined, reading stopped at End; with
// checkEnd a missing End is io.ErrUnexpectedEOF, unless there is nothing
// at all. A code in the very last byte, with no length after it, counts as
// present and empty.
func decodeOptions(o dhcpv4.Options, data []byte, checkEnd bool) error {
	if len(data) == 0 {
		return nil
	}
	end := false
	for i := 0; i < len(data); {
		code := data[i]
		i++
		if code == dhcpv4.OptionPad.Code() {
			continue
		}
		if code == dhcpv4.OptionEnd.Code() {
			end = true
			break
		}
		if i == len(data) {
			if _, ok := o[code]; !ok {
				o[code] = nil
			}
			break
		}
		n := int(data[i])
		i++
		if len(data)-i < n {
			return fmt.Errorf("error collecting options: option %d of %d bytes, %d left", code, n, len(data)-i)
		}
		v := data[i : i+n : i+n]
		i += n
		switch old, ok := o[code]; {
		case len(old) > 0 && n > 0:
			o[code] = append(old, v...) // a new array: old's capacity is its length
		case len(old) == 0 && n > 0:
			o[code] = v
		case !ok:
			o[code] = nil // present and empty
		}
	}
	if !end && checkEnd {
		return io.ErrUnexpectedEOF
	}
	return nil
}
