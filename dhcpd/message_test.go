package dhcpd

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// rawRequest builds a client message with the given options (already in
// wire form) after the cookie, ended by End unless noEnd.
func rawRequest(noEnd bool, opts ...[]byte) []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = 1, 1, 6
	copy(b[4:8], []byte{0xde, 0xad, 0xbe, 0xef})
	b[10] = 0x80 // broadcast flag
	copy(b[28:34], []byte{0x00, 0x04, 0x0d, 0x12, 0x34, 0x56})
	copy(b[236:], []byte{99, 130, 83, 99})
	for _, o := range opts {
		b = append(b, o...)
	}
	if noEnd {
		return b
	}
	return append(b, 255)
}

func tlv(code uint8, data ...byte) []byte { return append([]byte{code, byte(len(data))}, data...) }

func TestParseMessage(t *testing.T) {
	raw := rawRequest(false, tlv(53, 1), tlv(50, 198, 18, 0, 9), []byte{0, 0}, tlv(60, []byte("ccp.avaya.com")...), tlv(61))
	m, err := parseMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.typ != dhcpv4.MessageTypeDiscover || !m.IsBroadcast() || !m.isEthernet() ||
		!bytes.Equal(m.ClientHWAddr, raw[28:34]) || m.TransactionID != (dhcpv4.TransactionID{0xde, 0xad, 0xbe, 0xef}) {
		t.Errorf("header read wrong:\n%s", m.Summary())
	}
	if a, ok := m.addrOption(dhcpv4.OptionRequestedIPAddress); !ok || a != netip.MustParseAddr("198.18.0.9") {
		t.Errorf("option 50 = %v %v", a, ok)
	}
	if v, _ := m.option(dhcpv4.OptionClassIdentifier); string(v) != "ccp.avaya.com" {
		t.Errorf("option 60 = %q", v)
	}
	if v, ok := m.option(dhcpv4.OptionClientIdentifier); !ok || len(v) != 0 {
		t.Errorf("empty option 61 = %x %v, want present and empty", v, ok)
	}
	if _, ok := m.option(dhcpv4.OptionHostName); ok {
		t.Error("option 12 reported present")
	}
	if m.ciaddr != netip.IPv4Unspecified() || isSet(m.giaddr) {
		t.Errorf("ciaddr %v giaddr %v", m.ciaddr, m.giaddr)
	}
}

func TestParseJoinsRepeatedOptions(t *testing.T) {
	// RFC 3396: two instances of option 43 form one value, in order.
	m, err := parseMessage(rawRequest(false, tlv(53, 1), tlv(43, 'a', 'b'), tlv(12, 'x'), tlv(43, 'c')))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.option(dhcpv4.OptionVendorSpecificInformation); string(v) != "abc" {
		t.Errorf("joined option 43 = %q, want abc", v)
	}
}

func TestParseWithoutEnd(t *testing.T) {
	// Old clients fill the message with options and leave End out.
	m, err := parseMessage(rawRequest(true, tlv(53, 3), tlv(12, 'p', 'h')))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.option(dhcpv4.OptionHostName); m.typ != dhcpv4.MessageTypeRequest || string(v) != "ph" {
		t.Errorf("type %v, option 12 %q", m.typ, v)
	}
}

func TestParseOverloadedFields(t *testing.T) {
	raw := rawRequest(false, tlv(53, 3), tlv(52, 3), tlv(60, 'a'))
	// file field (108..236) holds option 12 and more of 60, sname (44..108)
	// the rest of 60: joined main area, file, sname.
	copy(raw[108:], append(append(tlv(12, []byte("AVB12345")...), tlv(60, 'b')...), 255))
	copy(raw[44:], append(tlv(60, 'c'), 255))
	m, err := parseMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.option(dhcpv4.OptionHostName); string(v) != "AVB12345" {
		t.Errorf("option 12 from file field = %q", v)
	}
	if v, _ := m.option(dhcpv4.OptionClassIdentifier); string(v) != "abc" {
		t.Errorf("option 60 joined from main, file and sname = %q, want abc", v)
	}
	// Without option 52 the fields are not options.
	raw = rawRequest(false, tlv(53, 3))
	copy(raw[108:], append(tlv(12, 'x'), 255))
	if m, err := parseMessage(raw); err != nil || m.Options.Has(dhcpv4.OptionHostName) {
		t.Errorf("file field read without option 52: %v", err)
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	good := rawRequest(false, tlv(53, 1))
	badCookie := bytes.Clone(good)
	badCookie[236] = 0
	trunc := rawRequest(true, tlv(53, 1), []byte{12, 10, 'a'})
	lenOnly := rawRequest(true, tlv(53, 1), []byte{12})
	truncEnd := rawRequest(false, tlv(53, 1), []byte{12, 10, 'a'})
	badFile := rawRequest(false, tlv(53, 1), tlv(52, 1))
	copy(badFile[108:], []byte{12, 200})
	for name, raw := range map[string][]byte{
		"empty": nil, "header only": good[:236], "bad cookie": badCookie,
		"option too long": trunc, "option too long, then End": truncEnd,
		"code with no len": lenOnly, "overloaded file field cut short": badFile,
	} {
		if _, err := parseMessage(raw); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestMaxReply(t *testing.T) {
	for _, tc := range []struct {
		opt  []byte
		want int
	}{
		{nil, 548},
		{tlv(57, 0x03, 0xe8), 1000 - 28}, // Avaya 1000
		{tlv(57, 0x01, 0x00), 548},       // below the minimum: ignored
		{tlv(57, 0x05), 548},             // malformed
	} {
		opts := [][]byte{tlv(53, 1)}
		if tc.opt != nil {
			opts = append(opts, tc.opt)
		}
		m, err := parseMessage(rawRequest(false, opts...))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.maxReply(); got != tc.want {
			t.Errorf("option %x: maxReply = %d, want %d", tc.opt, got, tc.want)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add(rawRequest(false, tlv(53, 1), tlv(52, 3)))
	f.Add(rawRequest(true, tlv(43, 1, 2), tlv(43, 3)))
	f.Add(rawRequest(false, tlv(53, 1), tlv(82, 1, 2, 'a', 'b', 2, 1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessage(b)
		if err != nil {
			return
		}
		m.maxReply()
		m.isEthernet()
		m.RelayAgentInfo()
		for c := range 256 {
			m.addrOption(dhcpv4.GenericOptionCode(c))
		}
	})
}

// decode must read every packet exactly as dhcpv4.FromBytes does, good or
// bad: the seeds below and thousands of random mutations of them (cut
// short, bytes changed, options added), compared field by field.
func TestDecodeMatchesDhcpv4(t *testing.T) {
	seeds := [][]byte{
		rawRequest(false, tlv(53, 1), tlv(50, 198, 18, 0, 9), []byte{0, 0}, tlv(60, []byte("ccp.avaya.com")...), tlv(61)),
		rawRequest(true, tlv(53, 3), tlv(12, 'p', 'h')),
		rawRequest(false, tlv(53, 1), tlv(43, 1, 2), tlv(43, 3), tlv(43), tlv(61), tlv(61, 9)),
		rawRequest(false, tlv(53, 1), tlv(52, 3)),
		rawRequest(true, tlv(53, 1), []byte{60}),
		pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), opts: []opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com"), prl(1, 3, 242, 176), maxSize(576)}}.bytes(),
	}
	withSname := rawRequest(false, tlv(53, 1))
	copy(withSname[44:], "server\x00junk")
	copy(withSname[108:], "file.bin")
	seeds = append(seeds, withSname)
	rng := rand.New(rand.NewPCG(14, 3))
	cases := 0
	for _, s := range seeds {
		check(t, s)
		for range 4000 {
			b := bytes.Clone(s)
			switch rng.IntN(4) {
			case 0:
				b = b[:rng.IntN(len(b)+1)]
			case 1:
				for range 1 + rng.IntN(4) {
					b[rng.IntN(len(b))] = byte(rng.IntN(256))
				}
			case 2:
				i := 240 + rng.IntN(len(b)-239)
				extra := make([]byte, rng.IntN(12))
				for k := range extra {
					extra[k] = byte(rng.IntN(256))
				}
				b = append(b[:i:i], append(extra, b[i:]...)...)
			case 3:
				b = append(b, byte(rng.IntN(256)))
			}
			check(t, b)
			cases++
		}
	}
	t.Logf("%d packets compared", cases+len(seeds))
}

// check compares decode with dhcpv4.FromBytes on b.
func check(t *testing.T, b []byte) {
	t.Helper()
	if len(b) > 240 {
		// The overloaded sname and file fields are read without an End.
		wo, go_ := dhcpv4.Options{}, dhcpv4.Options{}
		werr, gerr := wo.FromBytes(bytes.Clone(b[240:])), decodeOptions(go_, b[240:], false)
		if (werr == nil) != (gerr == nil) || (werr == nil && !reflect.DeepEqual(normal(wo), normal(go_))) {
			t.Fatalf("% x:\noptions %v (%v), FromBytes %v (%v)", b[240:], go_, gerr, wo, werr)
		}
	}
	want, werr := dhcpv4.FromBytes(bytes.Clone(b))
	got, gerr := decode(b)
	if (werr == nil) != (gerr == nil) || errors.Is(werr, io.ErrUnexpectedEOF) != errors.Is(gerr, io.ErrUnexpectedEOF) {
		t.Fatalf("% x:\ndecode error %v, FromBytes error %v", b, gerr, werr)
	}
	if werr != nil {
		return
	}
	wo, gv := want.Options, *got
	gv.Options = nil
	wh := *want
	wh.Options = nil
	if !reflect.DeepEqual(wh, gv) {
		t.Fatalf("% x:\nheader %+v, FromBytes %+v", b, gv, wh)
	}
	if len(wo) != len(got.Options) {
		t.Fatalf("% x:\noptions %v, FromBytes %v", b, got.Options, wo)
	}
	for code, v := range wo {
		g, ok := got.Options[code]
		if !ok || !bytes.Equal(g, v) {
			t.Fatalf("% x:\noption %d = %x (present %v), FromBytes %x", b, code, g, ok, v)
		}
	}
}

// normal is o with every empty value nil, for comparing.
func normal(o dhcpv4.Options) map[uint8]string {
	out := map[uint8]string{}
	for k, v := range o {
		out[k] = string(v)
	}
	return out
}
