package inventory

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
	"unique"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// The body of each journal frame is one change (codec version 1):
//
//	'P' MAC(6) record   a phone's whole record
//	'T' MAC(6) touch    a phone seen again: its times and lease kind
//	'R' MAC(6)          the phone was forgotten
//
// A touch is the lease kind (a string), the last sighting (a time), then
// the lease time and the first address's time as varints of nanoseconds
// before the last sighting (usually 0: one byte each), applied to the
// record before it.
//
// A record is its fields in the order of appendPhone (the strings in the
// order of Phone.recordStrings): strings as a
// uvarint length and the bytes, integers as varints, times as the varint
// of Unix nanoseconds (0 for the zero time), addresses as a length (0, 4
// or 16) and the bytes, lists as a uvarint count and their elements.
const (
	opPhone  = 'P'
	opTouch  = 'T'
	opRemove = 'R'
	// codecVersion is the version of this body codec in the header.
	codecVersion = 1
	// maxRecord bounds a frame body: a record with Config.FilesPerPhone at
	// its limit of 1000 fetches, each with a long name, stays well below.
	maxRecord = 1 << 20
)

// errBadRecord is the error of a frame body that does not decode.
var errBadRecord = errors.New("unreadable inventory record")

// beginChange begins the frame of one change (op) about mac in dst; the
// caller appends the body and ends it with durable.EndFrame(dst, start).
func beginChange(dst []byte, op byte, mac MAC) (_ []byte, start int) {
	start = len(dst)
	dst = durable.BeginFrame(dst)
	dst = append(dst, op)
	return append(dst, mac[:]...), start
}

// appendPhoneFrame appends the frame holding p's whole record to dst.
func appendPhoneFrame(dst []byte, p *Phone) []byte {
	dst, start := beginChange(dst, opPhone, p.MAC)
	return durable.EndFrame(appendPhone(dst, p), start)
}

// appendRecordFrame appends the frame holding mac's whole record to dst,
// from the record's bytes (appendPhone's, as a frozen phone keeps them).
func appendRecordFrame(dst []byte, mac MAC, rec string) []byte {
	dst, start := beginChange(dst, opPhone, mac)
	return durable.EndFrame(append(dst, rec...), start)
}

// appendTouchFrame appends the frame that moves p's times and lease kind
// to dst: what a DHCP exchange of a known phone changes.
func appendTouchFrame(dst []byte, p *Phone) []byte {
	dst, start := beginChange(dst, opTouch, p.MAC)
	dst = appendString(dst, p.LeaseKind)
	dst = appendTime(dst, p.LastSeen)
	dst = binary.AppendVarint(dst, p.LastSeen.UnixNano()-p.LeaseTime.UnixNano())
	var addrSeen int64
	if len(p.Addrs) > 0 {
		addrSeen = p.LastSeen.UnixNano() - p.Addrs[0].Seen.UnixNano()
	}
	dst = binary.AppendVarint(dst, addrSeen)
	return durable.EndFrame(dst, start)
}

// appendRemovalFrame appends the frame that forgets mac to dst.
func appendRemovalFrame(dst []byte, mac MAC) []byte {
	dst, start := beginChange(dst, opRemove, mac)
	return durable.EndFrame(dst, start)
}

func appendPhone(b []byte, p *Phone) []byte {
	b = binary.AppendUvarint(b, uint64(len(p.Addrs)))
	for _, a := range p.Addrs {
		b = appendAddr(b, a.Addr)
		b = appendString(b, a.Source)
		b = appendTime(b, a.Seen)
	}
	for _, s := range p.recordStrings() {
		b = appendString(b, *s)
	}
	for _, t := range [...]time.Time{p.LeaseTime, p.FirstSeen, p.LastSeen} {
		b = appendTime(b, t)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Files)))
	for i := range p.Files {
		b = appendFetch(b, &p.Files[i])
	}
	for _, f := range [...]*Fetch{p.LastScript, p.LastFirmware, p.Upgraded} {
		if f == nil {
			b = append(b, 0)
			continue
		}
		b = appendFetch(append(b, 1), f)
	}
	return b
}

// recordStrings are p's string fields, in the order of the record.
func (p *Phone) recordStrings() [12]*string {
	return [...]*string{&p.Class, &p.HostName, &p.VendorClass, &p.ParamRequestList, &p.LeaseKind,
		&p.Vendor, &p.Model, &p.ModelFrom, &p.Series, &p.Firmware, &p.FirmwareFrom, &p.UserAgent}
}

func appendFetch(b []byte, f *Fetch) []byte {
	b = appendTime(b, f.Time)
	b = appendString(b, f.Protocol)
	b = appendString(b, f.Name)
	b = appendString(b, f.Kind)
	b = binary.AppendVarint(b, int64(f.Status))
	b = binary.AppendVarint(b, f.Bytes)
	return binary.AppendVarint(b, f.Size)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendTime writes t as Unix nanoseconds, 0 for the zero time; the
// instant 1970-01-01T00:00:00Z itself is written one nanosecond later.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	n := t.UnixNano()
	if n == 0 {
		n = 1
	}
	return binary.AppendVarint(b, n)
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, 0)
	}
	s := a.AsSlice()
	return append(append(b, byte(len(s))), s...)
}

// applyChange applies one frame body to phones and returns the MAC it is
// about and its op. A touch of a phone not in phones (forgotten since) is
// ignored.
func applyChange(phones map[MAC]*Phone, body []byte) (MAC, byte, error) {
	var mac MAC
	if len(body) < 1+len(mac) {
		return mac, 0, errBadRecord
	}
	op := body[0]
	copy(mac[:], body[1:])
	d := decoder{b: string(body[1+len(mac):])}
	switch op {
	case opRemove:
		if len(d.b) != 0 {
			return mac, op, errBadRecord
		}
		delete(phones, mac)
	case opPhone:
		p := &Phone{}
		if decodeRecord(d.b, p) != nil || mac.IsZero() {
			return mac, op, errBadRecord
		}
		p.MAC = mac
		p.intern()
		phones[mac] = p
	case opTouch:
		kind, last, leaseAgo, addrAgo := d.str(), d.time(), d.varint(), d.varint()
		if d.err != nil || len(d.b) != 0 || last.IsZero() {
			return mac, op, errBadRecord
		}
		if p := phones[mac]; p != nil {
			p.LeaseKind = unique.Make(kind).Value()
			p.LastSeen, p.LeaseTime = last, last.Add(-time.Duration(leaseAgo))
			if len(p.Addrs) > 0 {
				p.Addrs[0].Seen = last.Add(-time.Duration(addrAgo))
			}
		}
	default:
		return mac, op, errBadRecord
	}
	return mac, op, nil
}

// decoder reads a record; the first error sticks and reads after it
// return zero values. The strings it returns are parts of b, so reading
// a frozen record allocates nothing; Phone.intern copies them out of a
// record that is not kept.
type decoder struct {
	b   string
	err error
}

// decodeRecord decodes a whole record (appendPhone's bytes) into p, all
// of whose fields it sets but MAC, reusing the room of its lists and
// fetches. Its strings are parts of rec.
func decodeRecord(rec string, p *Phone) error {
	d := decoder{b: rec}
	if d.phone(p); d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}

// phone reads a record into p, reusing the room of its lists and fetches.
func (d *decoder) phone(p *Phone) {
	kept := [...]*Fetch{p.LastScript, p.LastFirmware, p.Upgraded}
	*p = Phone{MAC: p.MAC, Addrs: p.Addrs[:0], Files: p.Files[:0]}
	for range d.count() {
		p.Addrs = append(p.Addrs, Address{Addr: d.addr(), Source: d.str(), Seen: d.time()})
	}
	for _, s := range p.recordStrings() {
		*s = d.str()
	}
	p.LeaseTime, p.FirstSeen, p.LastSeen = d.time(), d.time(), d.time()
	for range d.count() {
		p.Files = append(p.Files, d.fetch())
	}
	for i, f := range [...]**Fetch{&p.LastScript, &p.LastFirmware, &p.Upgraded} {
		if d.byte() != 1 {
			continue
		}
		if *f = kept[i]; *f == nil {
			*f = new(Fetch)
		}
		**f = d.fetch()
	}
}

func (d *decoder) fetch() Fetch {
	return Fetch{Time: d.time(), Protocol: d.str(), Name: d.str(), Kind: d.str(),
		Status: int(d.varint()), Bytes: d.varint(), Size: d.varint()}
}

func (d *decoder) fail() { d.err, d.b = errBadRecord, "" }

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// uvarint and varint read a varint; the conversion of its few bytes to a
// slice is done on the stack.
func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint([]byte(d.b[:min(len(d.b), binary.MaxVarintLen64)]))
	d.advance(n)
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint([]byte(d.b[:min(len(d.b), binary.MaxVarintLen64)]))
	d.advance(n)
	return v
}

// advance skips the n bytes a value took; 0 or fewer means it could not
// be read.
func (d *decoder) advance(n int) {
	if n <= 0 {
		d.fail()
		return
	}
	d.b = d.b[n:]
}

// count reads a list's length, which cannot exceed the bytes left.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

// str reads a string, a part of the record ("" is not: an empty part
// would still point into it).
func (d *decoder) str() string {
	n := d.count()
	if n == 0 {
		return ""
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	n := d.varint()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *decoder) addr() netip.Addr {
	n := int(d.byte())
	if n != 0 && n != 4 && n != 16 || n > len(d.b) {
		d.fail()
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice([]byte(d.b[:n]))
	d.b = d.b[n:]
	return a
}

// internFetch shares the strings of f that repeat across the fleet.
func internFetch(f *Fetch) {
	for _, s := range []*string{&f.Protocol, &f.Kind, &f.Name} {
		if *s != "" {
			*s = unique.Make(*s).Value()
		}
	}
}
