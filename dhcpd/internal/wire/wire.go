// Package wire reads and writes DHCPv4 messages (RFC 2131, RFC 2132) without
// allocating on the hot path: a Message is a reusable view over a received
// buffer, and a Builder writes a reply into a caller-owned buffer within a
// size limit.
//
// Repeated instances of one option are joined as RFC 3396 says, and options
// carried in the file and sname fields (option 52, overload) are read too.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Sizes and constants of the DHCPv4 message format.
const (
	// HeaderLen is the fixed BOOTP header before the magic cookie.
	HeaderLen = 236
	// MinLen is the shortest valid message: header plus magic cookie.
	MinLen = HeaderLen + 4
	// MinReplyLen is the size replies are padded to, as BOOTP relays and
	// old clients expect (RFC 1542 §2.1).
	MinReplyLen = 300
	// IPUDPOverhead is what IPv4 and UDP headers add to a DHCP message;
	// option 57 counts them (RFC 2131 §2: 576 octets = 548 + 28).
	IPUDPOverhead = 28
	// DefaultMaxMessage is the message size every client must accept when
	// it sends no option 57 (RFC 2131 §2), headers included.
	DefaultMaxMessage = 576
)

// BOOTP op codes.
const (
	OpRequest = 1
	OpReply   = 2
)

// FlagBroadcast is the broadcast bit of the flags field.
const FlagBroadcast = 0x8000

var magicCookie = [4]byte{99, 130, 83, 99}

// Option codes this server reads or writes itself.
const (
	OptPad              = 0
	OptSubnetMask       = 1
	OptRouter           = 3
	OptDNS              = 6
	OptHostname         = 12
	OptDomainName       = 15
	OptBroadcastAddr    = 28
	OptNTP              = 42
	OptVendorSpecific   = 43
	OptRequestedIP      = 50
	OptLeaseTime        = 51
	OptOverload         = 52
	OptMessageType      = 53
	OptServerID         = 54
	OptParamRequestList = 55
	OptMessage          = 56
	OptMaxMessageSize   = 57
	OptRenewalTime      = 58
	OptRebindingTime    = 59
	OptVendorClass      = 60
	OptClientID         = 61
	OptUserClass        = 77
	OptRelayAgentInfo   = 82
	OptEnd              = 255
)

// MessageType is option 53.
type MessageType uint8

// The DHCP message types of RFC 2132 §9.6.
const (
	Discover MessageType = 1
	Offer    MessageType = 2
	Request  MessageType = 3
	Decline  MessageType = 4
	Ack      MessageType = 5
	Nak      MessageType = 6
	Release  MessageType = 7
	Inform   MessageType = 8
)

var typeNames = [...]string{"", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform"}

// String returns the lower-case name, like "discover", or "type(N)".
func (t MessageType) String() string {
	if int(t) < len(typeNames) && t != 0 {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Parse errors; a malformed packet is counted and dropped by the caller.
var (
	ErrShort       = errors.New("shorter than a DHCP header")
	ErrCookie      = errors.New("no DHCP magic cookie")
	ErrOptionTrunc = errors.New("option runs past the end of the message")
)

// span locates one option's data: in the packet (inConcat false) or in the
// Message's scratch buffer where repeated instances were joined.
type span struct {
	off, len uint16
	inConcat bool
	count    uint8 // instances seen; >1 means joined per RFC 3396
}

// Message is a parsed view over a received packet. Its slices point into the
// buffer given to Parse (or into its own scratch space) and are valid until
// the next Parse. The zero value is ready to use.
type Message struct {
	raw []byte

	Op, HType, HLen, Hops uint8
	XID                   uint32
	Secs, Flags           uint16
	CIAddr, YIAddr        netip.Addr
	SIAddr, GIAddr        netip.Addr
	CHAddr                [16]byte

	opts   [256]span
	seen   [256]uint8 // codes present, in first-seen order
	nseen  int
	concat []byte
}

// Parse reads b into m, replacing what m held. b must stay unchanged while m
// is in use. It fails on anything that is not a well-formed BOOTP/DHCP
// message; it never panics.
func (m *Message) Parse(b []byte) error {
	for i := 0; i < m.nseen; i++ {
		m.opts[m.seen[i]] = span{}
	}
	m.nseen = 0
	m.concat = m.concat[:0]
	m.raw = nil
	if len(b) < MinLen {
		return ErrShort
	}
	if [4]byte(b[HeaderLen:MinLen]) != magicCookie {
		return ErrCookie
	}
	if len(b) > 0xffff {
		return fmt.Errorf("message of %d bytes is larger than UDP allows", len(b))
	}
	m.raw = b
	m.Op, m.HType, m.HLen, m.Hops = b[0], b[1], b[2], b[3]
	m.XID = binary.BigEndian.Uint32(b[4:8])
	m.Secs = binary.BigEndian.Uint16(b[8:10])
	m.Flags = binary.BigEndian.Uint16(b[10:12])
	m.CIAddr = netip.AddrFrom4([4]byte(b[12:16]))
	m.YIAddr = netip.AddrFrom4([4]byte(b[16:20]))
	m.SIAddr = netip.AddrFrom4([4]byte(b[20:24]))
	m.GIAddr = netip.AddrFrom4([4]byte(b[24:28]))
	copy(m.CHAddr[:], b[28:44])

	overload, err := m.scan(MinLen, len(b), true)
	if err != nil {
		return err
	}
	// Option 52: more options in the file (1), sname (2) or both (3) fields,
	// read after the main area (RFC 2131 §4.1).
	if overload&1 != 0 {
		if _, err := m.scan(108, 236, false); err != nil {
			return fmt.Errorf("overloaded file field: %w", err)
		}
	}
	if overload&2 != 0 {
		if _, err := m.scan(44, 108, false); err != nil {
			return fmt.Errorf("overloaded sname field: %w", err)
		}
	}
	return m.joinRepeated()
}

// scan indexes the options in raw[from:to]. Options may end at the area's end
// without an End option; old clients do that.
func (m *Message) scan(from, to int, main bool) (overload uint8, err error) {
	b := m.raw
	for i := from; i < to; {
		code := b[i]
		if code == OptPad {
			i++
			continue
		}
		if code == OptEnd {
			break
		}
		if i+1 >= to {
			return 0, ErrOptionTrunc
		}
		n := int(b[i+1])
		start := i + 2
		if start+n > to {
			return 0, ErrOptionTrunc
		}
		if code == OptOverload && main && n == 1 {
			overload = b[start] & 3
		}
		s := &m.opts[code]
		if s.count == 0 {
			m.seen[m.nseen] = code
			m.nseen++
			*s = span{off: uint16(start), len: uint16(n), count: 1}
		} else if s.count < 255 {
			s.count++
		}
		i = start + n
	}
	return overload, nil
}

// joinRepeated concatenates options that appeared more than once (RFC 3396),
// in packet order: main area, then file, then sname.
func (m *Message) joinRepeated() error {
	for k := 0; k < m.nseen; k++ {
		code := m.seen[k]
		s := &m.opts[code]
		if s.count < 2 {
			continue
		}
		start := len(m.concat)
		m.concat = m.appendInstances(m.concat, code, MinLen, len(m.raw))
		if m.opts[OptOverload].count > 0 {
			ov := m.raw[m.opts[OptOverload].off] & 3
			if ov&1 != 0 {
				m.concat = m.appendInstances(m.concat, code, 108, 236)
			}
			if ov&2 != 0 {
				m.concat = m.appendInstances(m.concat, code, 44, 108)
			}
		}
		n := len(m.concat) - start
		if n > 0xffff {
			return fmt.Errorf("option %d joins to %d bytes", code, n)
		}
		*s = span{off: uint16(start), len: uint16(n), inConcat: true, count: s.count}
	}
	return nil
}

func (m *Message) appendInstances(dst []byte, code uint8, from, to int) []byte {
	b := m.raw
	for i := from; i < to; {
		c := b[i]
		if c == OptPad {
			i++
			continue
		}
		if c == OptEnd || i+1 >= to {
			break
		}
		n := int(b[i+1])
		if i+2+n > to {
			break
		}
		if c == code {
			dst = append(dst, b[i+2:i+2+n]...)
		}
		i += 2 + n
	}
	return dst
}

// Option returns the data of option code (joined if repeated) and whether it
// was present. The slice must not be kept past the next Parse.
func (m *Message) Option(code uint8) ([]byte, bool) {
	s := m.opts[code]
	if s.count == 0 {
		return nil, false
	}
	if s.inConcat {
		return m.concat[s.off : s.off+s.len], true
	}
	return m.raw[s.off : s.off+s.len], true
}

// Has reports whether option code is present.
func (m *Message) Has(code uint8) bool { return m.opts[code].count > 0 }

// Raw returns the packet bytes m was parsed from.
func (m *Message) Raw() []byte { return m.raw }

// Type returns option 53, or 0 when it is missing or malformed (a BOOTP
// request).
func (m *Message) Type() MessageType {
	v, ok := m.Option(OptMessageType)
	if !ok || len(v) != 1 {
		return 0
	}
	return MessageType(v[0])
}

// HWAddr returns chaddr cut to hlen (at most 16 bytes).
func (m *Message) HWAddr() []byte {
	n := int(m.HLen)
	if n > 16 {
		n = 16
	}
	return m.CHAddr[:n]
}

// IsEthernet reports whether chaddr is a 6-byte Ethernet address.
func (m *Message) IsEthernet() bool { return m.HType == 1 && m.HLen == 6 }

// Broadcast reports whether the client set the broadcast flag.
func (m *Message) Broadcast() bool { return m.Flags&FlagBroadcast != 0 }

// AddrOption returns a 4-byte option as an address; ok is false if it is
// missing or not 4 bytes long.
func (m *Message) AddrOption(code uint8) (netip.Addr, bool) {
	v, ok := m.Option(code)
	if !ok || len(v) != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v)), true
}

// MaxMessageSize returns the largest reply the client accepts, in DHCP
// payload bytes (option 57 less IP and UDP headers), never below the 548
// every client must take.
func (m *Message) MaxMessageSize() int {
	limit := DefaultMaxMessage
	if v, ok := m.Option(OptMaxMessageSize); ok && len(v) == 2 {
		if n := int(binary.BigEndian.Uint16(v)); n > limit {
			limit = n
		}
	}
	return limit - IPUDPOverhead
}

// SubOption returns sub-option code of an option whose data is a sequence
// of code/length/value triples (options 43, 82).
func SubOption(data []byte, code uint8) ([]byte, bool) {
	for i := 0; i+1 < len(data); {
		c, n := data[i], int(data[i+1])
		if i+2+n > len(data) {
			return nil, false
		}
		if c == code {
			return data[i+2 : i+2+n], true
		}
		i += 2 + n
	}
	return nil, false
}
