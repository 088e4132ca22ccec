package dhcpd

import (
	"bytes"
	"net/netip"
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
