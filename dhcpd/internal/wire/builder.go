// Package wire writes the replies the server sends.
//
// Messages are parsed by github.com/insomniacslk/dhcp/dhcpv4 (FromBytes),
// and a reply's header is a dhcpv4.DHCPv4. dhcpv4's ToBytes cannot write a
// reply as this server must, so a Builder does:
//
//   - Order. dhcpv4.Options is a map, and ToBytes writes it sorted by code,
//     with only option 82 moved last. Replies here start with option 53
//     (some embedded clients read the message type first) and give the
//     options a client listed in option 55 in its order, as RFC 2132 §9.8
//     asks of servers.
//   - Size. ToBytes writes whatever it holds, then pads to 300 bytes. A reply
//     must fit the client's option 57 and the link MTU: a Builder refuses an
//     option that does not fit, keeping room reserved for the option 82 echo
//     (written last, RFC 3046 §2.1), and pads only within the limit.
//   - Cost. ToBytes allocates a new buffer on every call (four allocations
//     for a header alone), and dhcpv4's option values (Duration, IP, ...)
//     allocate once or twice each on the way to bytes; a Builder writes into
//     a worker's reused buffer, and options already in wire form (a subnet's
//     configured options, encoded once) are copied as they are.
//
// Option data longer than 255 bytes is split into repeated instances
// (RFC 3396), as dhcpv4 does too.
package wire

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
)

// Sizes of the DHCPv4 message format.
const (
	// MinLen is the fixed header with the magic cookie: where options start.
	MinLen = 240
	// MinReplyLen is the size replies are padded to, as BOOTP relays and
	// old clients expect (RFC 1542 §2.1).
	MinReplyLen = 300
	// IPUDPOverhead is what IPv4 and UDP headers add to a DHCP message;
	// option 57 counts them (RFC 2131 §2: 576 octets = 548 + 28).
	IPUDPOverhead = 28
)

const optEnd = 255

var magicCookie = [4]byte{99, 130, 83, 99}

// HasCookie reports whether p holds the fixed header and the DHCP magic
// cookie after it, where options start.
func HasCookie(p []byte) bool { return len(p) >= MinLen && [4]byte(p[MinLen-4:MinLen]) == magicCookie }

// Builder writes one message into a caller-owned buffer, never past a limit.
// Options that do not fit are refused whole, so what was written stays valid.
type Builder struct {
	buf     []byte
	limit   int
	reserve int
}

// Start begins a message in buf (its capacity is reused) that will be at most
// limit bytes long, End included, with hdr's header fields laid out as
// dhcpv4's ToBytes does; hdr's Options are not written. reserve bytes are
// kept back for options the caller adds last (like the option 82 echo) with
// AddReserved.
func (b *Builder) Start(buf []byte, limit, reserve int, hdr *dhcpv4.DHCPv4) {
	if limit > cap(buf) {
		limit = cap(buf)
	}
	b.limit, b.reserve = limit, reserve
	b.buf = append(buf[:0], make([]byte, MinLen)...)
	h := b.buf
	h[0], h[1], h[3] = byte(hdr.OpCode), byte(hdr.HWType), hdr.HopCount
	h[2] = byte(copy(h[28:44], hdr.ClientHWAddr))
	copy(h[4:8], hdr.TransactionID[:])
	binary.BigEndian.PutUint16(h[8:10], hdr.NumSeconds)
	binary.BigEndian.PutUint16(h[10:12], hdr.Flags)
	put4(h[12:16], hdr.ClientIPAddr)
	put4(h[16:20], hdr.YourIPAddr)
	put4(h[20:24], hdr.ServerIPAddr)
	put4(h[24:28], hdr.GatewayIPAddr)
	copy(h[44:107], hdr.ServerHostName)
	copy(h[108:235], hdr.BootFileName)
	copy(h[236:240], magicCookie[:])
}

// put4 writes an IPv4 address; anything else stays 0.0.0.0.
func put4(dst []byte, ip net.IP) {
	if ip4 := ip.To4(); ip4 != nil {
		copy(dst, ip4)
	}
}

// room is what optional options may still use: the limit less End and the reserve.
func (b *Builder) room() int { return b.limit - 1 - b.reserve - len(b.buf) }

// Add writes option code with data, split into repeated instances when data
// is longer than 255 bytes (RFC 3396). It reports false, writing nothing,
// when the option does not fit.
func (b *Builder) Add(code uint8, data []byte) bool {
	if dhcpopts.WireLen(len(data)) > b.room() {
		return false
	}
	b.buf = appendOption(b.buf, code, data)
	return true
}

// Add8 writes a 1-byte option.
func (b *Builder) Add8(code, v uint8) bool { return b.Add(code, []byte{v}) }

// Add32 writes a 4-byte big-endian option.
func (b *Builder) Add32(code uint8, v uint32) bool {
	var d [4]byte
	binary.BigEndian.PutUint32(d[:], v)
	return b.Add(code, d[:])
}

// AddAddr writes a 4-byte address option.
func (b *Builder) AddAddr(code uint8, a netip.Addr) bool {
	v := a.As4()
	return b.Add(code, v[:])
}

// AddEncoded writes bytes already in wire form (one or more whole
// code/length/value instances). It reports false, writing nothing, when they
// do not fit.
func (b *Builder) AddEncoded(tlv []byte) bool {
	if len(tlv) > b.room() {
		return false
	}
	b.buf = append(b.buf, tlv...)
	return true
}

// AddReserved writes an option into the space kept back by Start, then
// shrinks the reserve by what it used. It reports false when it does not fit.
func (b *Builder) AddReserved(code uint8, data []byte) bool {
	n := dhcpopts.WireLen(len(data))
	if n > b.limit-1-len(b.buf) {
		return false
	}
	b.buf = appendOption(b.buf, code, data)
	b.reserve = max(b.reserve-n, 0)
	return true
}

// appendOption is dhcpopts.AppendOption without its [][]byte, through
// which data would escape (and Add8, Add32, AddAddr allocate).
func appendOption(dst []byte, code uint8, data []byte) []byte {
	if len(data) == 0 {
		return append(dst, code, 0)
	}
	for len(data) > 0 {
		n := min(len(data), 255)
		dst = append(dst, code, byte(n))
		dst = append(dst, data[:n]...)
		data = data[n:]
	}
	return dst
}

// Finish writes End, pads to MinReplyLen when the limit allows, and returns
// the message.
func (b *Builder) Finish() []byte {
	b.buf = append(b.buf, optEnd)
	for len(b.buf) < MinReplyLen && len(b.buf) < b.limit {
		b.buf = append(b.buf, 0)
	}
	return b.buf
}
