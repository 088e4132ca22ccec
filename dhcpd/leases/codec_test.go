package leases

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/internal/durable"
)

func TestStateNames(t *testing.T) {
	for s, name := range map[State]string{Active: "active", Released: "released", Declined: "declined", Expired: "expired", 0: "state(0)", 200: "state(200)"} {
		if got := s.String(); got != name {
			t.Errorf("State(%d).String() = %q, want %q", uint8(s), got, name)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for i, l := range []Lease{fullLease(0), fullLease(77), {Addr: testAddr(1), State: Released}} {
		rec := encodeLease(nil, &l)
		got, err := decodeLease(l.Addr, rec)
		if err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		if !equalLease(got, l) {
			t.Fatalf("case %d:\n got %+v\nwant %+v", i, got, l)
		}
	}
}

func TestCodecDetectsEveryFlippedBitAndTruncation(t *testing.T) {
	l := fullLease(42)
	rec := encodeLease(nil, &l)
	for i := range rec {
		for bit := range 8 {
			bad := append([]byte(nil), rec...)
			bad[i] ^= 1 << bit
			if _, err := decodeLease(l.Addr, bad); err == nil {
				t.Fatalf("flipping bit %d of byte %d went unnoticed", bit, i)
			}
		}
	}
	for n := range len(rec) {
		if _, err := decodeLease(l.Addr, rec[:n]); err == nil {
			t.Fatalf("record truncated to %d bytes decoded", n)
		}
	}
}

func TestCodecRejectsWellFormedButInvalidRecords(t *testing.T) {
	// Records with a correct checksum but bad content, as a buggy or future
	// writer might produce them.
	l := fullLease(3)
	withCRC := func(body []byte) []byte {
		return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, durable.Castagnoli))
	}
	valid := encodeLease(nil, &l)
	body := valid[:len(valid)-4]
	cases := map[string][]byte{
		"future version": withCRC(append([]byte{2}, body[1:]...)),
		"bad state":      withCRC(append([]byte{1, 0}, body[2:]...)),
		"unknown flag":   withCRC(append([]byte{1, 1, 0x80}, body[3:]...)),
		"trailing bytes": withCRC(append(append([]byte(nil), body...), 0)),
	}
	for name, rec := range cases {
		if _, err := decodeLease(l.Addr, rec); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeLease feeds record bodies with a valid checksum appended, so the
// fuzzer explores the field parser instead of bouncing off the CRC.
func FuzzDecodeLease(f *testing.F) {
	body := func(l Lease) []byte {
		rec := encodeLease(nil, &l)
		return rec[:len(rec)-4]
	}
	for _, i := range []int{0, 1, 5} {
		f.Add(body(fullLease(i)))
	}
	f.Add(body(Lease{Addr: testAddr(1), State: Active}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec := binary.BigEndian.AppendUint32(append([]byte(nil), b...), crc32.Checksum(b, durable.Castagnoli))
		l, err := decodeLease(testAddr(9), rec)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same lease.
		again, err := decodeLease(testAddr(9), encodeLease(nil, &l))
		if err != nil || !equalLease(again, l) {
			t.Fatalf("re-encoding %+v: %+v, %v", l, again, err)
		}
	})
}

func TestRecordSizeAgainstJSON(t *testing.T) {
	// The reason for a binary record: a typical phone lease, measured.
	l := fullLease(12345)
	bin := len(encodeLease(nil, &l))
	js, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("typical lease: binary record %d bytes, JSON %d bytes", bin, len(js))
	if bin >= len(js)/2 {
		t.Errorf("binary record (%d bytes) is not much smaller than JSON (%d)", bin, len(js))
	}
}

func TestLeaseValidateMessages(t *testing.T) {
	err := Lease{Addr: netip.MustParseAddr("2001:db8::1"), State: Active}.Validate()
	if err == nil || !strings.Contains(err.Error(), "2001:db8::1 is not an IPv4 address") {
		t.Errorf("IPv6 lease: %v", err)
	}
	err = Lease{Addr: testAddr(1), Start: time.Now()}.Validate()
	if err == nil || !strings.Contains(err.Error(), "invalid state state(0)") {
		t.Errorf("stateless lease: %v", err)
	}
}

func BenchmarkEncodeBinary(b *testing.B) {
	l := fullLease(12345)
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeLease(buf[:0], &l)
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	l := fullLease(12345)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(l); err != nil {
			b.Fatal(err)
		}
	}
}
