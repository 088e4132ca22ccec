package dhcpd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/insomniacslk/dhcp/dhcpv4"
)

var avayaVC = strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com")

// 176 and 242 carry the same string (9600 guide p.55): a phone asking for
// one gets that one; a phone asking for neither (J100) gets 242 only, the
// one it reads, and not a second copy that could crowd it out of a reply.
func TestAvayaStringAlternatives(t *testing.T) {
	hs := newHarness(t, nil)
	for i, tc := range []struct {
		ask       []uint8
		want, not []uint8
		what      string
	}{
		{[]uint8{1, 3, 6, 7, 15, 42}, []uint8{242}, []uint8{176}, "J100, neither asked"},
		{[]uint8{1, 3, 176, 242}, []uint8{176, 242}, nil, "both asked"},
		{[]uint8{1, 3, 242}, []uint8{242}, []uint8{176}, "96xx asks 242"},
		{[]uint8{1, 3, 176}, []uint8{176}, []uint8{242}, "4600 asks 176"},
	} {
		o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(byte(i + 1)), opts: []opt{avayaVC, prl(tc.ask...)}}, dhcpv4.MessageTypeOffer)
		for _, c := range tc.want {
			if !o.has(c) {
				t.Errorf("%s: no option %d", tc.what, c)
			}
		}
		for _, c := range tc.not {
			if o.has(c) {
				t.Errorf("%s: option %d sent too", tc.what, c)
			}
		}
	}
}

// always_send = false on the class: the preset's options go only to
// clients that ask for them.
func TestPresetAlwaysSendFalse(t *testing.T) {
	off := false
	hs := newHarness(t, func(c *Config) { c.Classes[0].AlwaysSend = &off })
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), opts: []opt{avayaVC, prl(1, 3, 6, 7, 15, 42)}}, dhcpv4.MessageTypeOffer)
	if o.has(242) || o.has(176) {
		t.Error("unrequested Avaya string sent with always_send = false")
	}
	o, _ = hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(2), opts: []opt{avayaVC, prl(1, 242)}}, dhcpv4.MessageTypeOffer)
	if !o.has(242) {
		t.Error("requested 242 not sent")
	}
	// The class-level knob is for presets only.
	c := baseConfig()
	c.Classes = []ClassConfig{{Name: "x", VendorClass: []string{"x"}, AlwaysSend: &off}}
	if p := problems(c); !strings.Contains(p["class[0].preset"], "always_send") {
		t.Errorf("always_send on a class without preset: %v", p)
	}
}

// site_option moves the Avaya string to the phones' SSON.
func TestAvayaSiteOption(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Classes[0].SiteOption = 200 })
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1), opts: []opt{avayaVC, prl(1, 3, 200)}}, dhcpv4.MessageTypeOffer)
	if v, _ := o.get(200); !strings.Contains(string(v), "HTTPSRVR=198.18.0.1") {
		t.Errorf("option 200 = %q", v)
	}
	if o.has(242) || o.has(176) {
		t.Error("242/176 sent with site_option set")
	}
	for _, bad := range []int{100, 255} {
		c := baseConfig()
		c.Classes[0].SiteOption = bad
		if p := problems(c); !strings.Contains(p["class[0].preset"], "128..254") {
			t.Errorf("site_option %d: %v", bad, p)
		}
	}
	facts := UnconfirmedPresetFacts(ClassConfig{Preset: PresetAvaya, SiteOption: 200})
	if !strings.Contains(strings.Join(facts, "\n"), "SSON 200") {
		t.Errorf("the unconfirmed SSON range is not reported: %q", facts)
	}
}

// mitel-sip answers in vendor space Aastra6700: sub-option 2 the URL,
// 3 contact-rcs false (wazo aastra.conf), and option 66.
func TestMitelSIPOptions(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Classes = []ClassConfig{{Preset: PresetMitelSIP}} })
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1),
		opts: []opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "AastraIPPhone6731i"), prl(1, 3)}}, dhcpv4.MessageTypeOffer)
	url := "http://198.18.0.1:80"
	want := append([]byte{2, byte(len(url))}, url...)
	want = append(want, 3, 1, 0)
	if v, _ := o.get(43); !bytes.Equal(v, want) {
		t.Errorf("option 43 = %q, want %q", v, want)
	}
	if v, _ := o.get(66); string(v) != url {
		t.Errorf("option 66 = %q", v)
	}
	if o.has(125) {
		t.Error("MiNet option 125 sent to a SIP phone")
	}
}

// avaya-1200-data-vlan: VLAN-A:<id>. in site option 232 by default, only
// among the options the 1100 guide lists.
func TestAvaya1200DataVLAN(t *testing.T) {
	hs := newHarness(t, func(c *Config) { c.Classes = []ClassConfig{{Preset: PresetAvaya1200DataVLAN, VoiceVLAN: 30}} })
	o, _ := hs.mustReply(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(1),
		opts: []opt{strOpt(dhcpv4.OptionClassIdentifier.Code(), "Nortel-SIP-Phone-A"), prl(1, 3, 232)}}, dhcpv4.MessageTypeOffer)
	if v, _ := o.get(232); string(v) != "VLAN-A:30." {
		t.Errorf("option 232 = %q", v)
	}
	c := baseConfig()
	c.Classes = []ClassConfig{{Preset: PresetAvaya1200DataVLAN, VoiceVLAN: 30, SiteOption: 200}}
	if p := problems(c); !strings.Contains(p["class[0].preset"], "site_option 200") {
		t.Errorf("site option outside the list: %v", p)
	}
	if f := UnconfirmedPresetFacts(ClassConfig{Preset: PresetAvaya1200DataVLAN, VoiceVLAN: 30}); !strings.Contains(strings.Join(f, "\n"), "VLAN-A:") {
		t.Errorf("unconfirmed VLAN-A for the 1200 not reported: %q", f)
	}
}

// UnconfirmedPresetFacts reports the rules resting on unconfirmed facts,
// and nothing for a class without a preset.
func TestUnconfirmedPresetFacts(t *testing.T) {
	got := strings.Join(UnconfirmedPresetFacts(ClassConfig{Preset: PresetMitel}), "\n")
	for _, want := range []string{"ipphone.mitel.com", "08:00:0f", "00:08:5d"} {
		if !strings.Contains(got, want) {
			t.Errorf("mitel: %q not reported in\n%s", want, got)
		}
	}
	if strings.Contains(got, "AastraIPPhone") {
		t.Errorf("a sourced rule reported as unconfirmed:\n%s", got)
	}
	if f := UnconfirmedPresetFacts(ClassConfig{Preset: PresetYealink}); len(f) != 0 {
		t.Errorf("yealink rests only on sourced facts, got %q", f)
	}
	if f := UnconfirmedPresetFacts(ClassConfig{Name: "x"}); f != nil {
		t.Errorf("class without preset: %q", f)
	}
}

// The expanded new presets print as TOML that reads back to the same
// configuration (phoneprov check shows them).
func TestExpandedNewPresetsRoundTrip(t *testing.T) {
	c := baseConfig()
	c.Classes = []ClassConfig{
		{Preset: PresetAvaya}, {Preset: PresetMitelSIP}, {Preset: PresetMitel}, {Preset: PresetCiscoMPP},
		{Preset: PresetPolycomDataVLAN, VoiceVLAN: 20, Subnets: []string{"198.18.2.0/24"}},
		{Preset: PresetAvaya1200},
	}
	xs, err := c.ExpandedClasses()
	if err != nil {
		t.Fatal(err)
	}
	c.Classes = xs
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	back := DefaultConfig()
	if _, err := toml.Decode(buf.String(), &back); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if p := problems(back); len(p) != 0 {
		t.Fatalf("expanded classes read back with problems %v\n%s", p, buf.String())
	}
	if got := back.Classes[2].NotVendorClassPrefix; len(got) != 2 || got[0] != "AastraIPPhone" {
		t.Errorf("mitel exclusions after round trip: %q", got)
	}
	if got := back.Classes[0].Options[0]; !got.AlwaysSend || len(got.Alternatives) != 1 {
		t.Errorf("avaya option after round trip: %+v", got)
	}
}
