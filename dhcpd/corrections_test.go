package dhcpd

// One test per correction of testdata/phones/CORRECTIONS.md that the
// server's presets had wrong. They use only names that existed before the
// corrections (new presets by their string names), so they can be run
// against the old code to see them fail.

import (
	"encoding/hex"
	"net"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// classOf compiles a configuration with the given classes and returns the
// class name a client gets ("" for none) with the problems, if any.
func classOfClient(t *testing.T, classes []ClassConfig, macText string, vendorClass []byte) string {
	t.Helper()
	c := baseConfig()
	c.Classes = classes
	var problems []string
	pol := compile(c, func(k string, err error) { problems = append(problems, k+": "+err.Error()) })
	if pol == nil {
		t.Fatalf("configuration refused: %v", problems)
	}
	hw, err := net.ParseMAC(macText)
	if err != nil {
		t.Fatal(err)
	}
	f := clientFacts{mac: hw, vendorClass: vendorClass, subnet: pol.subnets[0].prefix}
	if cl := pol.classify(&f); cl != nil {
		return cl.name
	}
	return ""
}

// 5a: Aastra/Mitel SIP phones share the MiNet phones' prefixes; the mitel
// preset (MiNet string) must not take them by prefix when their class says
// SIP, and mitel-sip must (wazo aastra.conf).
func TestCorrectionMitelSIPNotCapturedByMiNetPreset(t *testing.T) {
	for _, tc := range []struct{ mac, class string }{
		{"00:08:5d:23:74:29", "AastraIPPhone6731i"},
		{"08:00:0f:01:02:03", "AastraIPPhone57i"},
		{"14:00:e9:1f:03:ea", "MitelIPPhone6920"},
	} {
		if got := classOfClient(t, []ClassConfig{{Preset: "mitel"}}, tc.mac, []byte(tc.class)); got != "" {
			t.Errorf("mitel preset took SIP phone %s %s", tc.class, tc.mac)
		}
		if got := classOfClient(t, []ClassConfig{{Preset: "mitel-sip"}}, tc.mac, []byte(tc.class)); got != "mitel-sip" {
			t.Errorf("mitel-sip: %s %s got class %q", tc.class, tc.mac, got)
		}
	}
	// A MiNet phone that sends no class is still served by prefix.
	if got := classOfClient(t, []ClassConfig{{Preset: "mitel"}}, "08:00:0f:01:02:03", nil); got != "mitel" {
		t.Errorf("class-less MiNet phone: %q", got)
	}
}

// 5b: sw_tftp is an address list and the VLAN may be 0-4095 (Mitel 3300
// ICP Engineering Guidelines p.244 Table 74).
func TestCorrectionMitelListAndVLAN(t *testing.T) {
	c := baseConfig()
	c.Classes = []ClassConfig{{Preset: PresetMitel, VoiceVLAN: 4095, Settings: "sw_tftp=${server},198.18.0.9"}}
	if p := problems(c); len(p) != 0 {
		t.Fatalf("refused: %v", p)
	}
}

// 6a: Cisco MPP phones (CP-7841-3PCC\x00) get option 66 as an http URL.
func TestCorrectionCiscoMPP(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Classes = []ClassConfig{{Preset: "cisco-mpp"}} })
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1),
		opts: []opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "CP-7841-3PCC\x00"), prl(1, 3, 66)}}, dhcpv4.MessageTypeOffer)
	if v, _ := o.get(66); string(v) != "http://198.18.0.1:80" {
		t.Errorf("option 66 = %q, want this box's http URL", v)
	}
	if ev := hs.events.last(); ev.Class != "cisco-mpp" {
		t.Errorf("class %q", ev.Class)
	}
}

// 6b, 6c: the short class and the suffix-only forms wazo matches.
func TestCorrectionCiscoClasses(t *testing.T) {
	for _, vc := range []string{
		"Cisco Systems, Inc.",                       // 6901 (wazo SCCP common.py)
		"Cisco Systems, Inc. IP Phone 7912",         // no NUL (wazo cisco.conf)
		"Cisco systems, Inc. IP Phone CP3911",       // recog's lower-case form
		"Cisco Systems, Inc. IP Phone CP-7941G\x00", // NUL-terminated
		"CP-7961G\x00",                              // the part wazo matches, suffix(…, 9)
	} {
		if got := classOfClient(t, []ClassConfig{{Preset: PresetCisco}}, "02:00:00:00:00:01", []byte(vc)); got != "cisco" {
			t.Errorf("%q: class %q", vc, got)
		}
	}
}

// 6c: trailing NULs are not shown in events, logs or the lease table.
func TestCorrectionVendorClassShownWithoutNUL(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Classes = []ClassConfig{{Preset: PresetCisco}} })
	const vc = "Cisco Systems, Inc. IP Phone CP-7940G\x00"
	addr := hs.dora(mac(7), strOpt(dhcpv4.OptionClassIdentifier.Code(), vc))
	if ev := hs.events.last(); ev.VendorClass != "Cisco Systems, Inc. IP Phone CP-7940G" {
		t.Errorf("event vendor class %q", ev.VendorClass)
	}
	l, ok := hs.stored(addr)
	if !ok || l.VendorClass != "Cisco Systems, Inc. IP Phone CP-7940G" {
		t.Errorf("stored lease vendor class %q (found %v)", l.VendorClass, ok)
	}
}

// 7a: MAC prefixes the presets lacked (wazo polycom/grandstream/yealink/
// snom.conf, fusionpbx device.php for 00:90:7a).
func TestCorrectionMissingOUIs(t *testing.T) {
	for preset, ouis := range map[string][]string{
		PresetPolycom:     {"48:25:67", "00:90:7a"},
		PresetGrandstream: {"ec:74:d7"},
		PresetYealink:     {"e4:34:d7", "24:9a:d8", "44:db:d2", "64:4f:56", "ec:1d:a9", "34:97:d7", "b0:61:a9", "c4:fc:22", "f0:16:53"},
		PresetSnom:        {"00:08:7b"},
	} {
		for _, o := range ouis {
			if got := classOfClient(t, []ClassConfig{{Preset: preset}}, o+":12:34:56", nil); got != preset {
				t.Errorf("%s from %s: class %q", preset, o, got)
			}
		}
	}
}

// 7c: Polycom's binary option 60 (SoundPoint IP admin guide SIP 3.1
// p.C-25, the bytes of testdata/phones/polycom.toml) and the newer Poly- form.
func TestCorrectionPolycomClasses(t *testing.T) {
	bin, err := hex.DecodeString("0000363d6f0107506f6c79636f6d0215536f756e64506f696e7449502d535049505f3630310310323334352d31313630352d3030312c32041c5349502f5469702e585858582f30382d4a756e2d30372031303a3434051d42522f332e312e302e585858582f32382d4170722d30352031333a3330ff")
	if err != nil {
		t.Fatal(err)
	}
	for _, vc := range [][]byte{bin, []byte("Poly-VVX-D230")} {
		if got := classOfClient(t, []ClassConfig{{Preset: PresetPolycom}}, "02:00:00:00:00:01", vc); got != "polycom" {
			t.Errorf("%q: class %q", vc, got)
		}
	}
}

// 7d: J100 and 96x1 SIP refuse offers without option 51; every offer and
// ACK to an Avaya class carries it, asked for or not.
func TestCorrectionAvayaGetsLeaseTime(t *testing.T) {
	hs := newHarness(t, nil)
	avaya := strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com")
	for i, ask := range [][]uint8{{1, 3, 6, 7, 15, 42}, {1, 3, 242}, {1, 176}} {
		o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(byte(10 + i)), opts: []opt{avaya, prl(ask...)}}, dhcpv4.MessageTypeOffer)
		if v, ok := o.get(dhcpv4.OptionIPAddressLeaseTime.Code()); !ok || len(v) != 4 {
			t.Errorf("option 55 %v: offer without option 51", ask)
		}
		a := hs.dora(mac(byte(20+i)), avaya, prl(ask...))
		if !a.IsValid() {
			t.Errorf("option 55 %v: no ACK", ask)
		}
	}
}

// 8: the J100 asks for 1,3,6,7,15,42 without 242 (J100 admin guide p.112):
// it still gets the Avaya string.
func TestCorrectionJ100GetsAvayaStringUnasked(t *testing.T) {
	hs := newHarness(t, nil)
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), opts: []opt{
		strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com"), prl(1, 3, 6, 7, 15, 42)}}, dhcpv4.MessageTypeOffer)
	v, _ := o.get(242)
	if !strings.Contains(string(v), "HTTPSRVR=198.18.0.1") {
		t.Errorf("option 242 = %q", v)
	}
}

// 9: Avaya 1200 SIP phones send Nortel-SIP-Phone-A and read option 66
// (SIP Software for 1200 Series p.81-82); they are not the avaya preset's.
func TestCorrectionAvaya1200(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Classes = []ClassConfig{{Preset: PresetAvaya}, {Preset: "avaya-1200"}}
	})
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: net.HardwareAddr{0x00, 0x04, 0x0d, 1, 2, 3},
		opts: []opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "Nortel-SIP-Phone-A"), prl(1, 3, 6, 15, 28, 43, 58, 59, 66)}}, dhcpv4.MessageTypeOffer)
	if ev := hs.events.last(); ev.Class != "avaya-1200" {
		t.Errorf("class %q", ev.Class)
	}
	if v, _ := o.get(66); string(v) != "http://198.18.0.1:80" {
		t.Errorf("option 66 = %q", v)
	}
	if o.has(242) || o.has(176) {
		t.Error("a 1200 got the H.323/J100 string")
	}
}

// Voice VLAN by DHCP: Polycom's VLAN-A=<id>; in option 128 (SoundPoint IP
// admin guide SIP 2.2.0 p.C-14).
func TestCorrectionPolycomVoiceVLAN(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Classes = []ClassConfig{{Preset: "polycom-data-vlan", VoiceVLAN: 20}}
	})
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: net.HardwareAddr{0x00, 0x04, 0xf2, 1, 2, 3},
		opts: []opt{prl(1, 3, 6)}}, dhcpv4.MessageTypeOffer)
	if v, _ := o.get(128); string(v) != "VLAN-A=20;" {
		t.Errorf("option 128 = %q", v)
	}
}
