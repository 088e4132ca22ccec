package model

import (
	"net"
	"testing"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestAvayaHostName(t *testing.T) {
	tests := map[string]string{
		"00:04:0d:12:34:56": "AVA123456",
		"00:1b:4f:ab:cd:ef": "AVBABCDEF",
		"00:09:6e:00:00:01": "AVE000001",
		"00:60:1d:0a:0b:0c": "AVL0A0B0C",
		"00:07:3b:ff:ff:ff": "AVTFFFFFF",
		"c8:1f:ea:83:e8:5a": "AVX83E85A",
	}
	for in, want := range tests {
		if got := AvayaHostName(mac(in)); got != want {
			t.Errorf("AvayaHostName(%s) = %q, want %q", in, got, want)
		}
	}
	if got := AvayaHostName(net.HardwareAddr{1, 2, 3}); got != "" {
		t.Errorf("short MAC: %q", got)
	}
}

func TestHostNameByFamily(t *testing.T) {
	cisco, _ := Lookup("7911")
	if got := cisco.HostName(mac("00:1b:d4:58:7c:ff")); got != "SEP001BD4587CFF" {
		t.Errorf("Cisco host name %q", got)
	}
	poly, _ := Lookup("VVX410")
	if got := poly.HostName(mac("00:04:f2:00:00:01")); got != "" {
		t.Errorf("Polycom host name %q, want none", got)
	}
}

func TestUserAgent(t *testing.T) {
	j, _ := Lookup("J179")
	if got, want := j.UserAgent("4.1.3.0.6", mac("c8:1f:ea:83:e8:5a")), "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)"; got != want {
		t.Errorf("J179 UA %q, want %q", got, want)
	}
	n, _ := Lookup("9608")
	if got, want := n.UserAgent("7.1.15.0.4", nil), "AVAYA/96x1-IPT-SIP-R7_1_15_0_4"; got != want {
		t.Errorf("9608 UA %q, want %q", got, want)
	}
	p, _ := Lookup("vvx410")
	if got, want := p.UserAgent("5.9.5.0614", nil), "FileTransport PolycomVVX-VVX_410-UA/5.9.5.0614"; got != want {
		t.Errorf("VVX UA %q, want %q", got, want)
	}
}

func TestFirmwareVersion(t *testing.T) {
	tests := map[string]string{
		"FW_S_J179_R4_1_3_0_6.bin":    "4.1.3.0.6",
		"S96x1_SALBR7_1_15_0_4_r.tar": "7.1.15.0.4",
		"a46xxua2_8_3.bin":            "2.8.3",
		"ha16xxua1_3_12.bin":          "1.3.12",
		"SCCP11.9-4-2SR3-1S":          "SCCP11.9-4-2SR3-1S",
		"sip.ld":                      "sip",
	}
	for in, want := range tests {
		if got := FirmwareVersion(in); got != want {
			t.Errorf("FirmwareVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range All() {
		if seen[m.Key] {
			t.Errorf("duplicate key %s", m.Key)
		}
		seen[m.Key] = true
		if m.VendorClass == "" || len(m.ParamRequest) == 0 || m.Firmware == "" || m.AppName == "" {
			t.Errorf("%s: incomplete entry", m.Key)
		}
		if m.Family.IsAvaya() && (m.UpgradeFile == "" || m.Sig == "" || m.DefaultTLSPort == 0) {
			t.Errorf("%s: Avaya entry without upgrade file, SIG or TLS port", m.Key)
		}
		if m.Family.IsAvaya() {
			site := m.ParamRequest[len(m.ParamRequest)-1]
			if want := byte(242); m.Family == Avaya4600 && site != 176 || m.Family != Avaya4600 && site != want {
				t.Errorf("%s: option 55 asks for %d", m.Key, site)
			}
		}
	}
	for _, want := range []string{"4621", "1608", "9608", "9641", "j179", "7911", "vvx410"} {
		if _, ok := Lookup(want); !ok {
			t.Errorf("model %s missing", want)
		}
	}
	if _, ok := Lookup("CP-7911G"); !ok {
		t.Error("Lookup by name failed")
	}
}
