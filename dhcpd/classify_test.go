package dhcpd

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestClassification(t *testing.T) {
	c := baseConfig()
	c.Classes = []ClassConfig{
		{Name: "data-vlan", Preset: PresetAvayaDataVLAN, VoiceVLAN: 20, Subnets: []string{"198.18.2.0/24"}},
		{Name: "avaya-4600", VendorClass: []string{"ccp.avaya.com"}, RequestsOption: []int{176}, Match: "all"},
		{Preset: PresetAvaya},
		{Preset: PresetCisco},
		{Preset: PresetPolycom},
		{Preset: PresetYealink},
		{Preset: PresetMitel},
		{Name: "lab-users", UserClass: []string{"lab"}},
		{Name: "by-host", HostnamePrefix: []string{"SEP"}},
		{Name: "port-7", CircuitID: []string{"port-7"}},
		{Name: "by-remote", RemoteID: []string{"hex:0a0b"}},
		{Name: "wants-150", RequestsOption: []int{150}},
	}
	var problems []string
	pol := compile(c, func(k string, err error) { problems = append(problems, k+": "+err.Error()) })
	if pol == nil {
		t.Fatal(problems)
	}
	local, relayed := pol.subnets[0].prefix, pol.subnets[1].prefix
	hw := func(s string) []byte { m, _ := net.ParseMAC(s); return m }
	other := hw("02:00:00:00:00:01")
	tests := []struct {
		name string
		f    clientFacts
		want string
	}{
		{"avaya vendor class", clientFacts{mac: other, vendorClass: []byte("ccp.avaya.com"), prl: []byte{1, 3, 242}, subnet: local}, "avaya"},
		{"avaya on the data vlan subnet", clientFacts{mac: other, vendorClass: []byte("ccp.avaya.com"), subnet: relayed}, "data-vlan"},
		{"4600 asks for 176 (match all)", clientFacts{mac: other, vendorClass: []byte("ccp.avaya.com"), prl: []byte{1, 176}, subnet: local}, "avaya-4600"},
		{"176 alone is not enough for match all", clientFacts{mac: other, prl: []byte{176}, subnet: local}, ""},
		{"avaya OUI without vendor class", clientFacts{mac: hw("00:1b:4f:12:34:56"), subnet: local}, "avaya"},
		{"unconfirmed avaya OUI", clientFacts{mac: hw("c8:1f:ea:83:e8:5a"), subnet: local}, "avaya"},
		{"cisco prefix", clientFacts{mac: other, vendorClass: []byte("Cisco Systems, Inc. IP Phone CP-7911G"), subnet: local}, "cisco"},
		{"polycom RFC 3925 style", clientFacts{mac: other, vendorClass: []byte("\x00\x00\x36\x3d\x0ePolycom-VVX410"), subnet: local}, "polycom"},
		{"polycom plain", clientFacts{mac: other, vendorClass: []byte("Polycom-VVX410"), subnet: local}, "polycom"},
		{"yealink any case", clientFacts{mac: other, vendorClass: []byte("Yealink SIP-T54W"), subnet: local}, "yealink"},
		{"mitel", clientFacts{mac: other, vendorClass: []byte("ipphone.mitel.com"), subnet: local}, "mitel"},
		{"user class raw", clientFacts{mac: other, userClass: []byte("lab"), subnet: local}, "lab-users"},
		{"user class RFC 3004", clientFacts{mac: other, userClass: []byte("\x03abc\x03lab"), subnet: local}, "lab-users"},
		{"host name prefix", clientFacts{mac: other, hostname: []byte("SEP001122334455"), subnet: local}, "by-host"},
		{"circuit id", clientFacts{mac: other, circuitID: []byte("port-7"), subnet: relayed}, "port-7"},
		{"remote id in hex", clientFacts{mac: other, remoteID: []byte{0x0a, 0x0b}, subnet: relayed}, "by-remote"},
		{"requests option 150", clientFacts{mac: other, prl: []byte{1, 150}, subnet: local}, "wants-150"},
		{"nothing matches", clientFacts{mac: other, vendorClass: []byte("udhcp 1.35.0"), prl: []byte{1, 3}, subnet: local}, ""},
		{"vendor class prefix is not a substring", clientFacts{mac: other, vendorClass: []byte("ccp.avaya.com.evil"), subnet: local}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if cl := pol.classify(&tt.f); cl != nil {
				got = cl.name
			}
			if got != tt.want {
				t.Errorf("class %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClassFromPacketOption82(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Classes = append(c.Classes, ClassConfig{Name: "port-7", CircuitID: []string{"port-7"},
			Options: []OptionConfig{{Name: "tftp-server-name", Value: "port7.example"}}})
	})
	agent := opt{dhcpv4.OptionRelayAgentInformation.Code(), []byte{1, 6, 'p', 'o', 'r', 't', '-', '7'}}
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), giaddr: netip.MustParseAddr("198.18.2.1"), viaRelay: true,
		opts: []opt{agent, prl(66)}}, dhcpv4.MessageTypeOffer)
	if v, _ := o.get(66); string(v) != "port7.example" {
		t.Errorf("option 66 = %q", v)
	}
}

func TestOptionPrecedence(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Options = []OptionConfig{{Code: 66, Type: "string", Value: "global"}, {Code: 67, Type: "string", Value: "global-67"}}
		c.Subnets[0].Options = []OptionConfig{{Code: 66, Type: "string", Value: "subnet"}}
		c.Subnets[1].Options = []OptionConfig{{Code: 66, Type: "string", Value: "subnet-2"}}
		c.Classes[0].Options = []OptionConfig{{Code: 66, Type: "string", Value: "class"}}
		c.Classes[0].Subnet = []ClassSubnetConfig{{CIDR: "198.18.2.0/24", Options: []OptionConfig{{Code: 66, Type: "string", Value: "class-in-subnet"}}}}
	})
	ask := []opt{prl(66, 67)}
	avaya := append([]opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com")}, ask...)
	gi := netip.MustParseAddr("198.18.2.1")
	for _, tt := range []struct {
		name string
		p    pkt
		want string
	}{
		{"no class, local subnet", pkt{mac: mac(1), opts: ask}, "subnet"},
		{"class, local subnet", pkt{mac: mac(2), opts: avaya}, "class"},
		{"class in its subnet", pkt{mac: mac(3), opts: avaya, giaddr: gi, viaRelay: true}, "class-in-subnet"},
		{"no class, relayed subnet", pkt{mac: mac(4), opts: ask, giaddr: gi, viaRelay: true}, "subnet-2"},
	} {
		tt.p.typ = dhcpv4.MessageTypeDiscover
		o, _ := hs.mustReply(tt.p, dhcpv4.MessageTypeOffer)
		if v, _ := o.get(66); string(v) != tt.want {
			t.Errorf("%s: option 66 = %q, want %q", tt.name, v, tt.want)
		}
		if v, _ := o.get(67); string(v) != "global-67" {
			t.Errorf("%s: option 67 = %q, want the global value", tt.name, v)
		}
	}
}

func TestOptionsFollowTheRequestList(t *testing.T) {
	hs := newHarness(t, func(c *Config) {
		c.Classes[0].CallServers = []string{"198.18.0.5"}
		c.Options = []OptionConfig{{Code: 100, Type: "string", Value: "EST5EDT"}, {Code: 101, Type: "string", Value: "Europe/Berlin", AlwaysSend: true}}
	})
	avaya := strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com")
	o96, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), opts: []opt{avaya, prl(1, 3, 6, 15, 242)}}, dhcpv4.MessageTypeOffer)
	want := "MCIPADD=198.18.0.5,MCPORT=1719,HTTPSRVR=198.18.0.1,HTTPPORT=80,TLSSRVR=198.18.0.1,TLSPORT=411,TFTPSRVR=198.18.0.1"
	if v, _ := o96.get(242); string(v) != want {
		t.Errorf("9600 option 242 = %q\nwant %q", v, want)
	}
	if o96.has(176) || o96.has(100) {
		t.Errorf("unrequested options sent: 176 %v, 100 %v", o96.has(176), o96.has(100))
	}
	if v, _ := o96.get(101); string(v) != "Europe/Berlin" {
		t.Errorf("always-send option 101 = %q", v)
	}
	o46, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2), opts: []opt{avaya, prl(1, 3, 176)}}, dhcpv4.MessageTypeOffer)
	if v, _ := o46.get(176); string(v) != want || o46.has(242) {
		t.Errorf("4600: 176 = %q, has 242 %v", v, o46.has(242))
	}
	// Not an Avaya phone: no Avaya option even when asked for.
	plain, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(3), opts: []opt{prl(242, 176)}}, dhcpv4.MessageTypeOffer)
	if plain.has(242) || plain.has(176) {
		t.Error("a client outside the class got the class's options")
	}
	// J100: option 51 in every offer, asked for or not.
	if !plain.has(dhcpv4.OptionIPAddressLeaseTime.Code()) || !o96.has(dhcpv4.OptionIPAddressLeaseTime.Code()) {
		t.Error("offer without option 51")
	}
	// Client identifier echoed (RFC 6842).
	cid := opt{dhcpv4.OptionClientIdentifier.Code(), []byte{1, 2, 3, 4, 5, 6, 7}}
	e, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(4), opts: []opt{cid}}, dhcpv4.MessageTypeOffer)
	if v, _ := e.get(dhcpv4.OptionClientIdentifier.Code()); !bytes.Equal(v, cid.data) {
		t.Errorf("client id echo %x", v)
	}
}

func TestLongOptionSplitInReply(t *testing.T) {
	long := strings.Repeat("A", 400)
	hs := newHarness(t, func(c *Config) {
		c.Classes = []ClassConfig{{Name: "big", VendorClass: []string{"big"}, Options: []OptionConfig{{Code: 224, Type: "string", Value: long}}}}
	})
	o, out := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), opts: []opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "big"), prl(224), maxSize(1500)}}, dhcpv4.MessageTypeOffer)
	if v, _ := o.get(224); string(v) != long {
		t.Fatalf("option 224 read back %d bytes", len(v))
	}
	// On the wire: two instances, 255 then 145 bytes.
	i := bytes.Index(out.data, []byte{224, 255, 'A'})
	if i < 0 || out.data[i+257] != 224 || out.data[i+258] != 145 {
		t.Errorf("option 224 not split 255 + 145 on the wire")
	}
}

func TestReplyFitsMaxMessageSize(t *testing.T) {
	big := strings.Repeat("B", 250)
	hs := newHarness(t, func(c *Config) {
		c.Classes = []ClassConfig{{Name: "big", VendorClass: []string{"big"}, Options: []OptionConfig{
			{Code: 224, Type: "string", Value: big},
			{Code: 225, Type: "string", Value: big},
			{Code: 226, Type: "string", Value: "small"},
		}}}
	})
	vc := strOpt(dhcpv4.OptionClassIdentifier.Code(), "big")
	i := byte(0)
	for _, tt := range []struct {
		size      int // option 57; 0 for none
		limit     int // DHCP payload bytes
		want, not []uint8
	}{
		{0, 548, []uint8{224, 226}, []uint8{225}},   // default 576 - 28: one big option fits
		{576, 548, []uint8{224, 226}, []uint8{225}}, // same, announced
		{1000, 972, []uint8{224, 225, 226}, nil},    // Avaya's 1000
		{300, 548, []uint8{224, 226}, []uint8{225}}, // below the minimum: 576 assumed
	} {
		i++
		opts := []opt{vc, prl(1, 3, 224, 225, 226)}
		if tt.size > 0 {
			opts = append(opts, maxSize(tt.size))
		}
		o, out := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(i), opts: opts}, dhcpv4.MessageTypeOffer)
		if len(out.data) > tt.limit {
			t.Errorf("option 57 = %d: reply is %d bytes, limit %d", tt.size, len(out.data), tt.limit)
		}
		for _, c := range tt.want {
			if !o.has(c) {
				t.Errorf("option 57 = %d: option %d missing", tt.size, c)
			}
		}
		for _, c := range tt.not {
			if o.has(c) {
				t.Errorf("option 57 = %d: option %d should not fit", tt.size, c)
			}
		}
		for _, c := range []uint8{dhcpv4.OptionDHCPMessageType.Code(), dhcpv4.OptionServerIdentifier.Code(), dhcpv4.OptionIPAddressLeaseTime.Code(), dhcpv4.OptionSubnetMask.Code()} {
			if !o.has(c) {
				t.Errorf("option 57 = %d: mandatory option %d dropped", tt.size, c)
			}
		}
	}
}
