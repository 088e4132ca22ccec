package inventory

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/phoneprov/phoneprov/dhcpd"
)

func TestParseUserAgent(t *testing.T) {
	for _, c := range []struct {
		ua   string
		want Agent
	}{
		{"Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)",
			Agent{Vendor: "Avaya", Model: "J179", Firmware: "4.1.3.0.6", MAC: MAC{0xc8, 0x1f, 0xea, 0x83, 0xe8, 0x5a}}},
		{"AVAYA/SIP12x0\x17/04.00.04.00", Agent{Vendor: "Avaya", Model: "SIP12x0", Firmware: "04.00.04.00"}},
		{"AVAYA/96x1-IPT-SIP-R7_1_15_0_4", Agent{Vendor: "Avaya", Model: "96x1 SIP", Firmware: "R7_1_15_0_4"}},
		{"AVAYA/46xx-IPT-H323-R2_8_3", Agent{Vendor: "Avaya", Model: "46xx H.323", Firmware: "R2_8_3"}},
		{"AVAYA/9608", Agent{Vendor: "Avaya", Model: "9608"}},
		{"avaya/J139-4.0.7.1.5 (MAC: C8-1F-EA-01-02-03)",
			Agent{Vendor: "Avaya", Model: "J139", Firmware: "4.0.7.1.5", MAC: MAC{0xc8, 0x1f, 0xea, 0x01, 0x02, 0x03}}},
		{"FileTransport PolycomVVX-VVX_410-UA/5.9.0.9373", Agent{Vendor: "Polycom", Model: "VVX_410", Firmware: "5.9.0.9373"}},
		{"Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc",
			Agent{Vendor: "Yealink", Model: "T46S", Firmware: "66.86.0.15", MAC: MAC{0x00, 0x15, 0x65, 0xaa, 0xbb, 0xcc}}},
		{"Grandstream Model HW GXP2160 SW 1.0.11.3 DevId 000b82aabbcc",
			Agent{Vendor: "Grandstream", Model: "GXP2160", Firmware: "1.0.11.3", MAC: MAC{0x00, 0x0b, 0x82, 0xaa, 0xbb, 0xcc}}},
		{"Mozilla/4.0 (compatible; snom360-SIP 8.7.3.25 1.1.3-s)", Agent{Vendor: "snom", Model: "snom360", Firmware: "8.7.3.25"}},
		// wazo-provd-plugins plugins/wazo_avaya/common/common.py
		{"AVAYA/SIP12x0\xff/04.01.13.00", Agent{Vendor: "Avaya", Model: "SIP12x0", Firmware: "04.01.13.00"}},
		{"AVAYA/SIP12x0\x14/04.00.04.00", Agent{Vendor: "Avaya", Model: "SIP12x0", Firmware: "04.00.04.00"}},
		// wazo-provd-plugins plugins/wazo_grandstream/common/common.py
		{"Grandstream Model HW GXP2200 V2.2A SW 1.0.1.33 DevId 000b82462d97",
			Agent{Vendor: "Grandstream", Model: "GXP2200", Firmware: "1.0.1.33", MAC: MAC{0x00, 0x0b, 0x82, 0x46, 0x2d, 0x97}}},
		{"Grandstream Model HW GXV3350  V1.3A SW 1.0.1.8 DevId c074ad150b88",
			Agent{Vendor: "Grandstream", Model: "GXV3350", Firmware: "1.0.1.8", MAC: MAC{0xc0, 0x74, 0xad, 0x15, 0x0b, 0x88}}},
		{"Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8",
			Agent{Vendor: "Grandstream", Model: "GXP2000", Firmware: "1.2.5.3", MAC: MAC{0x00, 0x0b, 0x82, 0x27, 0x26, 0xc8}}},
		// wazo-provd-plugins plugins/wazo_aastra/common/common.py
		{"Aastra6739i MAC:00-08-5D-13-CA-05 V:3.2.1.1013-SIP",
			Agent{Vendor: "Mitel", Model: "6739i", Firmware: "3.2.1.1013", MAC: MAC{0x00, 0x08, 0x5d, 0x13, 0xca, 0x05}}},
		{"Mitel6920 MAC:14-00-E9-1F-03-EA V:6.4.0.140-SIP",
			Agent{Vendor: "Mitel", Model: "6920", Firmware: "6.4.0.140", MAC: MAC{0x14, 0x00, 0xe9, 0x1f, 0x03, 0xea}}},
		// wazo-provd-plugins plugins/wazo_snom/common/common.py
		{"Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)",
			Agent{Vendor: "snom", Model: "snom710", Firmware: "8.7.5.35", MAC: MAC{0x00, 0x04, 0x13, 0x74, 0x17, 0x67}}},
		{"Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)",
			Agent{Vendor: "snom", Model: "snomD785", Firmware: "10.1.33.33", MAC: MAC{0x00, 0x04, 0x13, 0x92, 0x2d, 0x24}}},
		// wazo-provd-plugins plugins/wazo_polycom/common/common.py (the full form)
		{"FileTransport PolycomSoundStationIP-SSIP_6000-UA/5.0.3.1667 Type/Updater",
			Agent{Vendor: "Polycom", Model: "SSIP_6000", Firmware: "5.0.3.1667"}},
		{"FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application",
			Agent{Vendor: "Polycom", Model: "VVX_400", Firmware: "4.1.4.7430"}},
		{"curl/8.5.0", Agent{}},
		{"", Agent{}},
		{"AVAYA/", Agent{}},
		{"AVAYA/\x17\x17", Agent{Vendor: "Avaya"}},
		{"Serial 0123456789ab is not a MAC", Agent{}},
	} {
		if got := ParseUserAgent(c.ua); got != c.want {
			t.Errorf("ParseUserAgent(%q)\n got %+v\nwant %+v", c.ua, got, c.want)
		}
	}
}

func TestDecodeAvayaHostName(t *testing.T) {
	for _, c := range []struct {
		name    string
		ok      bool
		mac     string // whole MAC when the OUI is known
		matches string
	}{
		{"AVA1B2C3D", true, "00:04:0d:1b:2c:3d", "00:04:0d:1b:2c:3d"},
		{"AVB123456", true, "00:1b:4f:12:34:56", "00:1b:4f:12:34:56"},
		{"AVE0A0B0C", true, "00:09:6e:0a:0b:0c", "00:09:6e:0a:0b:0c"},
		{"AVL010203", true, "00:60:1d:01:02:03", "00:60:1d:01:02:03"},
		{"AVT010203", true, "00:07:3b:01:02:03", "00:07:3b:01:02:03"},
		{"avb123456", true, "00:1b:4f:12:34:56", "00:1b:4f:12:34:56"},
		{"AVX83E85A", true, "", "c8:1f:ea:83:e8:5a"},
		{"AVQ123456", false, "", ""},
		{"AVB12345", false, "", ""},
		{"AVB12345G", false, "", ""},
		{"SEP001122334455", false, "", ""},
		{"", false, "", ""},
	} {
		h, ok := DecodeAvayaHostName(c.name)
		if ok != c.ok {
			t.Errorf("%q: ok = %v", c.name, ok)
			continue
		}
		if !ok {
			continue
		}
		m, whole := h.MAC()
		if (c.mac != "") != whole || whole && m.String() != c.mac {
			t.Errorf("%q: MAC() = %s, %v; want %q", c.name, m, whole, c.mac)
		}
		want, _ := ParseMAC(c.matches)
		if !h.Matches(want) {
			t.Errorf("%q does not match %s", c.name, want)
		}
		other := want
		other[5] ^= 1
		if h.Matches(other) {
			t.Errorf("%q matches %s", c.name, other)
		}
		if h.OUIKnown {
			wrongOUI := want
			wrongOUI[0] ^= 0x80
			if h.Matches(wrongOUI) {
				t.Errorf("%q matches a MAC with another OUI", c.name)
			}
		}
	}
}

func TestParseMAC(t *testing.T) {
	want := MAC{0xc8, 0x1f, 0xea, 0x83, 0xe8, 0x5a}
	for _, s := range []string{"c8:1f:ea:83:e8:5a", "C8-1F-EA-83-E8-5A", "c81f.ea83.e85a", "c81fea83e85a", " C81FEA83E85A "} {
		if m, err := ParseMAC(s); err != nil || m != want {
			t.Errorf("ParseMAC(%q) = %s, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "c8:1f:ea:83:e8", "c8:1f:ea:83:e8:5a:00", "zz1fea83e85a"} {
		if _, err := ParseMAC(s); err == nil {
			t.Errorf("ParseMAC(%q) accepted", s)
		}
	}
	if _, ok := MACFrom(net.HardwareAddr{1, 2, 3}); ok {
		t.Error("MACFrom accepted 3 bytes")
	}
}

func TestSameVersion(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"R7_1_15_0_4", "7.1.15.0.4", true},
		{"04.00.04.00", "4.0.4.0", true},
		{"4.1.3.0.6", "4.1.3.0.6", true},
		{"S7_1_15_0_4", "7.1.15.0.4", true},
		{"4.1.3.0.6", "4.1.3.0.7", false},
		{"4.1.3", "4.1.3.0", false},
		{"", "", false},
		{"R", "r", true},
	} {
		if got := SameVersion(c.a, c.b); got != c.same {
			t.Errorf("SameVersion(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestVendorFromClass(t *testing.T) {
	for vc, want := range map[string][2]string{
		"ccp.avaya.com":                           {"Avaya", ""},
		"Nortel-SIP-Phone-A":                      {"Avaya", ""},
		"Cisco Systems, Inc. IP Phone CP-7911G":   {"Cisco", "CP-7911G"},
		"Polycom-VVX410":                          {"Polycom", "VVX410"},
		"yealink":                                 {"Yealink", ""},
		"id:ipphone.mitel.com;sw_tftp=198.18.0.1": {"Mitel", ""},
		"MSFT 5.0":                                {"", ""},
		// testdata/phones/cisco.toml, mitel.toml, polycom.toml
		"Cisco Systems, Inc. IP Phone CP-7941G\x00": {"Cisco", "CP-7941G"},
		"Cisco Systems, Inc.":                       {"Cisco", ""},
		"CP-7841-3PCC\x00":                          {"Cisco", "CP-7841-3PCC"},
		"AastraIPPhone6731i":                        {"Mitel", "6731i"},
		"MitelIPPhone6920":                          {"Mitel", ""},
		"Poly-VVX-D230":                             {"Polycom", "VVX-D230"},
	} {
		if v, m := vendorFromClass(vc); v != want[0] || m != want[1] {
			t.Errorf("vendorFromClass(%q) = %q, %q", vc, v, m)
		}
	}
}

// MAC returns the whole address when the OUI letter names one.
func (h HostNameMAC) MAC() (MAC, bool) {
	if !h.OUIKnown {
		return MAC{}, false
	}
	return MAC{h.OUI[0], h.OUI[1], h.OUI[2], h.Low[0], h.Low[1], h.Low[2]}, true
}

// A lease of a MAC with an Avaya prefix, documented or listed, says the
// vendor when nothing else does; another prefix says nothing.
func TestAvayaPrefixSuggestsTheVendor(t *testing.T) {
	inv := openTest(t, "", nil)
	defer inv.Close()
	for i, c := range []struct {
		mac, vendor string
	}{
		{"00:04:0d:00:00:01", "Avaya"}, {"00:07:3b:00:00:02", "Avaya"}, {"50:cd:22:00:00:03", "Avaya"},
		{"3c:b1:5b:00:00:04", "Avaya"}, {"00:04:0e:00:00:05", ""}, {"02:42:00:00:00:06", ""},
	} {
		inv.apply(context.Background(), leaseFactOf(lease(0, c.mac, fmt.Sprintf("198.18.70.%d", i+1), dhcpd.Acked, "", "")))
		if p := stateOf(t, inv, c.mac); p.Vendor != c.vendor {
			t.Errorf("%s: vendor %q, want %q", c.mac, p.Vendor, c.vendor)
		}
	}
}
