package wire

import (
	"encoding/binary"
	"net/netip"
)

// Reply holds the header fields of a message to send. Options are added
// through a Builder.
type Reply struct {
	Op, HType, HLen, Hops uint8
	XID                   uint32
	Secs, Flags           uint16
	CIAddr, YIAddr        netip.Addr
	SIAddr, GIAddr        netip.Addr
	CHAddr                [16]byte
}

// ReplyTo starts a reply to req: op BOOTREPLY, and the fields RFC 2131
// Table 3 copies from the request (htype, hlen, xid, flags, giaddr, chaddr).
// The caller sets ciaddr, yiaddr, siaddr as the message type needs.
func ReplyTo(req *Message) Reply {
	return Reply{
		Op: OpReply, HType: req.HType, HLen: req.HLen,
		XID: req.XID, Flags: req.Flags, GIAddr: req.GIAddr, CHAddr: req.CHAddr,
	}
}

// Builder writes one message into a caller-owned buffer, never past a limit.
// Options that do not fit are refused whole, so what was written stays valid.
type Builder struct {
	buf     []byte
	limit   int
	reserve int
}

// Start begins a message in buf (its capacity is reused) that will be at most
// limit bytes long, End included. reserve bytes are kept back for options the
// caller adds last (like the option 82 echo) with AddReserved.
func (b *Builder) Start(buf []byte, limit, reserve int, r Reply) {
	if limit > cap(buf) {
		limit = cap(buf)
	}
	b.limit, b.reserve = limit, reserve
	b.buf = buf[:MinLen]
	h := b.buf
	clear(h)
	h[0], h[1], h[2], h[3] = r.Op, r.HType, r.HLen, r.Hops
	binary.BigEndian.PutUint32(h[4:8], r.XID)
	binary.BigEndian.PutUint16(h[8:10], r.Secs)
	binary.BigEndian.PutUint16(h[10:12], r.Flags)
	put4(h[12:16], r.CIAddr)
	put4(h[16:20], r.YIAddr)
	put4(h[20:24], r.SIAddr)
	put4(h[24:28], r.GIAddr)
	copy(h[28:44], r.CHAddr[:])
	copy(h[HeaderLen:MinLen], magicCookie[:])
}

func put4(dst []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(dst, v[:])
	}
}

// room is what optional options may still use: the limit less End and the reserve.
func (b *Builder) room() int { return b.limit - 1 - b.reserve - len(b.buf) }

// EncodedLen is how many bytes option data of length n takes on the wire,
// split into 255-byte instances (RFC 3396). Empty data takes one instance.
func EncodedLen(n int) int {
	if n == 0 {
		return 2
	}
	return n + 2*((n+254)/255)
}

// Add writes option code with data, split into repeated instances when data
// is longer than 255 bytes (RFC 3396). It reports false, writing nothing,
// when the option does not fit.
func (b *Builder) Add(code uint8, data []byte) bool {
	if EncodedLen(len(data)) > b.room() {
		return false
	}
	b.buf = appendOption(b.buf, code, data)
	return true
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
	n := EncodedLen(len(data))
	if n > b.limit-1-len(b.buf) {
		return false
	}
	b.buf = appendOption(b.buf, code, data)
	b.reserve -= n
	if b.reserve < 0 {
		b.reserve = 0
	}
	return true
}

// Add8, Add16, Add32 and AddAddr write small fixed-size options.
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

// Finish writes End, pads to MinReplyLen when the limit allows, and returns
// the message.
func (b *Builder) Finish() []byte {
	b.buf = append(b.buf, OptEnd)
	for len(b.buf) < MinReplyLen && len(b.buf) < b.limit {
		b.buf = append(b.buf, 0)
	}
	return b.buf
}

// Len is the message length so far, without End.
func (b *Builder) Len() int { return len(b.buf) }

// AppendOption appends option code with data in wire form to dst, split into
// 255-byte instances per RFC 3396 (one empty instance for empty data).
func AppendOption(dst []byte, code uint8, data []byte) []byte {
	return appendOption(dst, code, data)
}

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
