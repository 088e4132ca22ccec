package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// request builds a raw client message with the given options (already in
// wire form) after the cookie.
func request(opts ...[]byte) []byte {
	b := make([]byte, MinLen)
	b[0], b[1], b[2] = OpRequest, 1, 6
	copy(b[4:8], []byte{0xde, 0xad, 0xbe, 0xef})
	b[10] = 0x80 // broadcast flag
	copy(b[28:34], []byte{0x00, 0x04, 0x0d, 0x12, 0x34, 0x56})
	copy(b[HeaderLen:], magicCookie[:])
	for _, o := range opts {
		b = append(b, o...)
	}
	return append(b, OptEnd)
}

func opt(code uint8, data ...byte) []byte { return append([]byte{code, byte(len(data))}, data...) }

func TestParseHeaderAndOptions(t *testing.T) {
	raw := request(opt(OptMessageType, byte(Discover)), opt(OptRequestedIP, 198, 18, 0, 9), []byte{OptPad, OptPad}, opt(OptVendorClass, []byte("ccp.avaya.com")...))
	var m Message
	if err := m.Parse(raw); err != nil {
		t.Fatal(err)
	}
	if m.Type() != Discover || m.XID != 0xdeadbeef || !m.Broadcast() || !m.IsEthernet() {
		t.Errorf("header: type %v xid %x broadcast %v ethernet %v", m.Type(), m.XID, m.Broadcast(), m.IsEthernet())
	}
	if got := m.HWAddr(); !bytes.Equal(got, []byte{0x00, 0x04, 0x0d, 0x12, 0x34, 0x56}) {
		t.Errorf("chaddr %x", got)
	}
	if a, ok := m.AddrOption(OptRequestedIP); !ok || a != netip.MustParseAddr("198.18.0.9") {
		t.Errorf("option 50 = %v %v", a, ok)
	}
	if v, _ := m.Option(OptVendorClass); string(v) != "ccp.avaya.com" {
		t.Errorf("option 60 = %q", v)
	}
	if m.Has(OptHostname) {
		t.Error("option 12 reported present")
	}
	// Reusing the Message forgets the old options.
	if err := m.Parse(request(opt(OptMessageType, byte(Request)))); err != nil {
		t.Fatal(err)
	}
	if m.Has(OptVendorClass) || m.Type() != Request {
		t.Errorf("stale options after reparse: has60=%v type=%v", m.Has(OptVendorClass), m.Type())
	}
}

func TestParseJoinsRepeatedOptions(t *testing.T) {
	// RFC 3396: two instances of option 43 form one value, in order.
	raw := request(opt(OptMessageType, 1), opt(43, 'a', 'b'), opt(OptHostname, 'x'), opt(43, 'c'))
	var m Message
	if err := m.Parse(raw); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Option(43); string(v) != "abc" {
		t.Errorf("joined option 43 = %q, want abc", v)
	}
	if v, _ := m.Option(OptHostname); string(v) != "x" {
		t.Errorf("option 12 = %q", v)
	}
}

func TestParseOverloadedFields(t *testing.T) {
	raw := request(opt(OptMessageType, 3), opt(OptOverload, 3))
	// file field (108..236) holds option 12, sname (44..108) holds option 60.
	copy(raw[108:], append(opt(OptHostname, []byte("AVB12345")...), OptEnd))
	copy(raw[44:], append(opt(OptVendorClass, []byte("ccp.avaya.com")...), OptEnd))
	var m Message
	if err := m.Parse(raw); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Option(OptHostname); string(v) != "AVB12345" {
		t.Errorf("option 12 from file field = %q", v)
	}
	if v, _ := m.Option(OptVendorClass); string(v) != "ccp.avaya.com" {
		t.Errorf("option 60 from sname field = %q", v)
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	good := request(opt(OptMessageType, 1))
	badCookie := append([]byte(nil), good...)
	badCookie[HeaderLen] = 0
	trunc := request()
	trunc = append(trunc[:len(trunc)-1], OptHostname, 10, 'a')
	lenOnly := request()
	lenOnly = append(lenOnly[:len(lenOnly)-1], OptHostname)
	for name, tc := range map[string]struct {
		raw  []byte
		want error
	}{
		"empty":            {nil, ErrShort},
		"header only":      {good[:HeaderLen], ErrShort},
		"bad cookie":       {badCookie, ErrCookie},
		"option too long":  {trunc, ErrOptionTrunc},
		"code with no len": {lenOnly, ErrOptionTrunc},
	} {
		var m Message
		if err := m.Parse(tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

func TestMaxMessageSize(t *testing.T) {
	for _, tc := range []struct {
		opt  []byte
		want int
	}{
		{nil, 548},
		{opt(OptMaxMessageSize, 0x03, 0xe8), 1000 - 28}, // Avaya 1000
		{opt(OptMaxMessageSize, 0x01, 0x00), 548},       // below the minimum: ignored
		{opt(OptMaxMessageSize, 0x05), 548},             // malformed
	} {
		var opts [][]byte
		if tc.opt != nil {
			opts = append(opts, tc.opt)
		}
		var m Message
		if err := m.Parse(request(opts...)); err != nil {
			t.Fatal(err)
		}
		if got := m.MaxMessageSize(); got != tc.want {
			t.Errorf("option %x: MaxMessageSize = %d, want %d", tc.opt, got, tc.want)
		}
	}
}

func TestBuilderSplitsAndRespectsLimit(t *testing.T) {
	var req Message
	if err := req.Parse(request(opt(OptMessageType, 1))); err != nil {
		t.Fatal(err)
	}
	r := ReplyTo(&req)
	r.YIAddr = netip.MustParseAddr("198.18.0.10")
	var b Builder
	b.Start(make([]byte, 0, 1500), 600, 0, r)
	long := bytes.Repeat([]byte("x"), 300)
	if !b.Add(242, long) {
		t.Fatal("300-byte option did not fit in 600")
	}
	if b.Add(243, bytes.Repeat([]byte("y"), 60)) {
		t.Error("option past the limit was accepted")
	}
	if !b.Add8(OptMessageType, byte(Offer)) {
		t.Error("small option refused")
	}
	out := b.Finish()
	if len(out) > 600 {
		t.Fatalf("reply is %d bytes, limit 600", len(out))
	}
	var back Message
	if err := back.Parse(out); err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Option(242); !bytes.Equal(v, long) {
		t.Errorf("option 242 read back %d bytes, want 300", len(v))
	}
	if back.Op != OpReply || back.YIAddr != r.YIAddr || back.XID != req.XID || back.Type() != Offer {
		t.Errorf("header read back wrong: op %d yiaddr %v xid %x type %v", back.Op, back.YIAddr, back.XID, back.Type())
	}
	// Split on the wire: 255 + 45 with their own headers.
	i := bytes.Index(out, []byte{242, 255})
	if i < 0 || out[i+2+255] != 242 || out[i+2+255+1] != 45 {
		t.Errorf("option 242 not split into 255 + 45")
	}
}

func TestBuilderReserveKeepsRoomForRelayInfo(t *testing.T) {
	var req Message
	if err := req.Parse(request(opt(OptMessageType, 1))); err != nil {
		t.Fatal(err)
	}
	agent := opt(1, []byte("port-7")...)
	var b Builder
	b.Start(make([]byte, 0, 1500), 300, EncodedLen(len(agent)), ReplyTo(&req))
	for code := uint8(200); b.Add(code, []byte("abcdefgh")); code++ {
	}
	if !b.AddReserved(OptRelayAgentInfo, agent) {
		t.Fatal("reserved option 82 did not fit")
	}
	out := b.Finish()
	if len(out) > 300 {
		t.Fatalf("reply %d bytes > 300", len(out))
	}
	var back Message
	if err := back.Parse(out); err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Option(OptRelayAgentInfo); !bytes.Equal(v, agent) {
		t.Errorf("option 82 = %x", v)
	}
}

func TestEncodedLen(t *testing.T) {
	for n, want := range map[int]int{0: 2, 1: 3, 255: 257, 256: 260, 510: 514, 511: 517} {
		if got := EncodedLen(n); got != want {
			t.Errorf("EncodedLen(%d) = %d, want %d", n, got, want)
		}
		if got := len(AppendOption(nil, 1, make([]byte, n))); got != want {
			t.Errorf("AppendOption of %d bytes is %d long, want %d", n, got, want)
		}
	}
}

func TestSubOption(t *testing.T) {
	data := []byte{1, 3, 'a', 'b', 'c', 2, 2, 'x', 'y'}
	if v, ok := SubOption(data, 2); !ok || string(v) != "xy" {
		t.Errorf("sub-option 2 = %q %v", v, ok)
	}
	if _, ok := SubOption(data[:6], 2); ok {
		t.Error("truncated data gave a sub-option")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(request(opt(OptMessageType, 1), opt(OptOverload, 3)))
	f.Add(request(opt(43, 1, 2), opt(43, 3)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if m.Parse(b) != nil {
			return
		}
		for c := 0; c < 256; c++ {
			m.Option(uint8(c))
		}
		m.MaxMessageSize()
		m.HWAddr()
	})
}
