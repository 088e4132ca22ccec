package model

import (
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/phoneprov/phoneprov/cmd/phonesim/facts"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// catalog builds the models from the repository's fact table.
func catalog(t *testing.T) Catalog {
	t.Helper()
	dir, err := FindTable(".")
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func lookup(t *testing.T, c Catalog, key string) Model {
	t.Helper()
	m, ok := c.Lookup(key)
	if !ok {
		t.Fatalf("no model %s", key)
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

// Every simulated model's DHCP identity is the table's, byte for byte.
func TestIdentityComesFromTheTable(t *testing.T) {
	c := catalog(t)
	dir, _ := FindTable(".")
	table, err := facts.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	vendors := map[string]bool{}
	for _, m := range c.All() {
		vendors[m.Vendor] = true
		e, ok := table.Find(m.Vendor, m.Name)
		if !ok {
			t.Errorf("%s: %s %s not in the table", m.Key, m.Vendor, m.Name)
			continue
		}
		if len(e.ParamRequest) > 0 {
			var want []byte
			for _, n := range e.ParamRequest[0].Value {
				want = append(want, byte(n))
			}
			if !slices.Equal(m.ParamRequest, want) {
				t.Errorf("%s: option 55 %v, table %v", m.Key, m.ParamRequest, want)
			}
		} else if !slices.ContainsFunc(m.Unconfirmed, func(s string) bool { return strings.HasPrefix(s, "option 55") }) {
			t.Errorf("%s: option 55 %v not marked unconfirmed although the table has none", m.Key, m.ParamRequest)
		}
		for _, vc := range e.VendorClasses {
			if vc.Match == facts.MatchExact && !slices.ContainsFunc(e.VendorClasses, func(x facts.VendorClass) bool { return string(x.Bytes) == string(m.VendorClass) }) {
				t.Errorf("%s: option 60 %q is none of the table's", m.Key, m.VendorClass)
			}
		}
		if len(e.TLSMax) > 0 {
			if want := tlsVersion(e.TLSMax[0].Value); m.TLSMax != want {
				t.Errorf("%s: TLS at most %#x, table %#x", m.Key, m.TLSMax, want)
			}
		} else if m.TLSMax != tls.VersionTLS12 || !slices.ContainsFunc(m.Unconfirmed, func(s string) bool { return strings.HasPrefix(s, "TLS 1.2 at most") }) {
			t.Errorf("%s: TLS at most %#x, not marked unconfirmed although the table has no tls_max", m.Key, m.TLSMax)
		}
		if len(e.VendorClasses) == 0 && m.VendorClass != nil {
			t.Errorf("%s: sends option 60 %q the table does not know", m.Key, m.VendorClass)
		}
		if len(e.UserAgents) == 0 && m.UserAgent("1.2.3", mac("00:00:00:00:00:01")) != "" {
			t.Errorf("%s: sends a User-Agent the table does not know", m.Key)
		}
	}
	for _, v := range []string{"Avaya", "Cisco", "Polycom", "Yealink", "snom", "Grandstream", "Mitel"} {
		if !vendors[v] {
			t.Errorf("no %s model simulated", v)
		}
	}
}

// CORRECTIONS claim 8: the J100 asks for 1, 3, 6, 7, 15, 42 without 242.
// Claim 6c: Cisco classes keep their trailing NUL.
func TestCorrectedFacts(t *testing.T) {
	c := catalog(t)
	j := lookup(t, c, "j179")
	if !slices.Equal(j.ParamRequest, []byte{1, 3, 6, 7, 15, 42}) || !j.RequireLeaseTime || j.AvayaOption() != 242 {
		t.Errorf("J179: option 55 %v, requires 51 %v, reads %d", j.ParamRequest, j.RequireLeaseTime, j.AvayaOption())
	}
	if got := lookup(t, c, "7941").VendorClass; string(got) != "Cisco Systems, Inc. IP Phone CP-7941G\x00" {
		t.Errorf("7941 option 60 %q", got)
	}
	if got := lookup(t, c, "7841").VendorClass; string(got) != "CP-7841-3PCC\x00" {
		t.Errorf("7841 option 60 %q", got)
	}
	a := lookup(t, c, "4621")
	if a.Backup != facts.BackupFTP || a.BackupFile != "%s_4620data.txt" || a.AvayaOption() != 176 {
		t.Errorf("4621: backup %q %q, reads %d", a.Backup, a.BackupFile, a.AvayaOption())
	}
	if g := lookup(t, c, "gxp1628"); g.VendorClass != nil || !slices.Contains(g.Unconfirmed, "no option 60 is sent: the table has none for this model (the server can know it by its MAC prefix only)") {
		t.Errorf("Grandstream: option 60 %q, unconfirmed %q", g.VendorClass, g.Unconfirmed)
	}
}

func TestHostNameAndFiles(t *testing.T) {
	c := catalog(t)
	cisco := lookup(t, c, "7941")
	if got := cisco.HostName(mac("00:21:55:58:7c:ff")); got != "SEP002155587CFF" {
		t.Errorf("Cisco host name %q", got)
	}
	if got := lookup(t, c, "vvx410").HostName(mac("00:04:f2:00:00:01")); got != "" {
		t.Errorf("Polycom host name %q, want none", got)
	}
	if got := FileName("snom710-<MAC>.htm", mac("00:04:13:ab:cd:ef")); got != "snom710-000413ABCDEF.htm" {
		t.Errorf("FileName %q", got)
	}
	if got := FileName("cfg<mac>.xml", mac("00:0b:82:ab:cd:ef")); got != "cfg000b82abcdef.xml" {
		t.Errorf("FileName %q", got)
	}
}

func TestUserAgent(t *testing.T) {
	c := catalog(t)
	tests := []struct{ key, firmware, mac, want string }{
		{"j179", "4.1.3.0.6", "c8:1f:ea:83:e8:5a", "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)"},
		{"j179", "4.0.13.0.5", "c8:1f:ea:00:00:01", "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.0.13.0.5 (MAC:c81fea000001)"},
		{"9608", "7.1.13.0.4", "00:1b:4f:00:00:01", "AVAYA/96x1-IPT-SIP-R7_1_13_0_4"},
		{"t41p", "36.72.0.1", "00:15:65:00:00:0a", "Yealink SIP-T41P 36.72.0.1 00:15:65:00:00:0a"},
		{"6731i", "3.2.0.70", "00:08:5d:00:00:0a", "Aastra6731i MAC:00-08-5D-00-00-0A V:3.2.0.70-SIP"},
		{"gxp1628", "1.0.4.138", "00:0b:82:00:00:0a", "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId 000b8200000a"},
		{"snom710", "8.7.5.35", "00:04:13:00:00:0a", "Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 00041300000a)"},
		{"vvx410", "5.9.5.0614", "00:04:f2:00:00:0a", ""},
	}
	for _, tt := range tests {
		if got := lookup(t, c, tt.key).UserAgent(tt.firmware, mac(tt.mac)); got != tt.want {
			t.Errorf("%s UA %q, want %q", tt.key, got, tt.want)
		}
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

// A model whose entry is missing from the table is a load error, as is an
// out-of-the-box firmware not named like the table's.
func TestLoadRefusesWhatTheTableDoesNotSay(t *testing.T) {
	dir, _ := FindTable(".")
	table, err := facts.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	short := facts.Table{Models: slices.DeleteFunc(slices.Clone(table.Models), func(m facts.Model) bool { return m.Name == "J179" })}
	if _, err := Load(short); err == nil || !strings.Contains(err.Error(), "J179") {
		t.Errorf("Load without J179: %v", err)
	}
	if _, err := build(table, spec{key: "x", vendor: "Avaya", name: "J179", family: AvayaJ100, sig: SigSIP, tlsPort: 443, app: "J179.bin"}); err == nil {
		t.Error("a firmware name unlike the table's was accepted")
	}
}

func TestCatalog(t *testing.T) {
	c := catalog(t)
	seen := map[string]bool{}
	for _, m := range c.All() {
		if seen[m.Key] {
			t.Errorf("duplicate key %s", m.Key)
		}
		seen[m.Key] = true
	}
	if _, ok := c.Lookup("CP-7941G"); !ok {
		t.Error("Lookup by name failed")
	}
}
