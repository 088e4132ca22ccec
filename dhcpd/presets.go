package dhcpd

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
)

// Preset names a [[dhcp.class]] may use.
const (
	PresetAvaya             = "avaya"
	PresetAvayaDataVLAN     = "avaya-data-vlan"
	PresetAvaya1200         = "avaya-1200"
	PresetAvaya1200DataVLAN = "avaya-1200-data-vlan"
	PresetCisco             = "cisco"
	PresetCiscoMPP          = "cisco-mpp"
	PresetPolycom           = "polycom"
	PresetPolycomDataVLAN   = "polycom-data-vlan"
	PresetYealink           = "yealink"
	PresetMitel             = "mitel"
	PresetMitelSIP          = "mitel-sip"
	PresetSnom              = "snom"
	PresetGrandstream       = "grandstream"
)

// Presets lists the preset names in the order the documentation gives them.
func Presets() []string {
	return []string{PresetAvaya, PresetAvayaDataVLAN, PresetAvaya1200, PresetAvaya1200DataVLAN,
		PresetCisco, PresetCiscoMPP, PresetPolycom, PresetPolycomDataVLAN, PresetYealink,
		PresetMitel, PresetMitelSIP, PresetSnom, PresetGrandstream}
}

// rule is one value a preset matches on, or one fact its options rest on,
// with where it comes from: a vendor manual and page, or a public
// repository and path. A rule with why set rests on an unconfirmed fact;
// why says why it is believed.
type rule struct {
	value  string
	source string
	why    string
}

func sourced(value, source string) rule  { return rule{value: value, source: source} }
func unconfirmed(value, why string) rule { return rule{value: value, why: why} }

func values(rs []rule) []string {
	if len(rs) == 0 {
		return nil
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.value
	}
	return out
}

// Sources the rules cite, written once.
const (
	srcJ100DHCP      = "Avaya J100 R4.1.x admin guide, DHCP options, option 12 host name letters (dev-docs.avaya.com)"
	srcJ100Table     = "Avaya J100 admin guide, DHCP option table p.112 (option 51: offers without it are refused; option 55 is 1,3,6,7,15,42)"
	srcJ169          = "Installing and Administering Avaya J169/J179 IP Phone H.323, May 2018, p.87 (option 242)"
	src4600DHCP      = "4600 Series IP Telephone LAN Administrator Guide issue 2.2, p.51 (site-specific option 176)"
	src9600SSON      = "Avaya 9600 Series IP Deskphones administrator guide, March 2018, p.55 (option 242 is a copy of 176; LLDP beats it)"
	src96x1SIP       = "Administering Avaya 9601/9608/9611G/9621G/9641G IP Deskphones SIP, p.48 (option 51; L2Q/L2QVLAN)"
	src1603SIP       = "Avaya 1603SW-I SIP Deskphones Administrator Guide, p.52 (option 55 lists the SSON)"
	src1200SIP81     = "SIP Software for Avaya 1200 Series IP Deskphones-Administration, Nov 2012, p.81 (option 60 Nortel-SIP-Phone-A; option 55 with site-specific options)"
	src1200SIP82     = "SIP Software for Avaya 1200 Series IP Deskphones-Administration, Nov 2012, p.82 (option 66: an address means TFTP, a URL names protocol and host)"
	src1100SIPVLAN   = "SIP Software for Avaya 1100 Series IP Deskphones-Administration p.112 and IP Phone 1120E SIP 1.1 guide p.62 (VLAN-A:<id>+<id>. in a site-specific option)"
	srcFusionOUI     = "fusionpbx/fusionpbx app/devices/resources/classes/device.php (get_vendor by MAC prefix)"
	srcRecog         = "rapid7/recog xml/dhcp_vendor_class.xml"
	srcRFC2132       = "RFC 2132 section 2 (options 128-254 are site-specific)"
	srcWazoAastra    = "wazo-platform/wazo-provd-plugins dhcp/dhcp/dhcpd_update/aastra.conf"
	srcWazoCisco     = "wazo-platform/wazo-provd-plugins dhcp/dhcp/dhcpd_update/cisco.conf"
	srcWazoSCCP      = "wazo-platform/wazo-provd-plugins plugins/wazo_cisco_sccp/common/common.py"
	srcWazoMPP       = "wazo-platform/wazo-provd-plugins plugins/wazo_cisco_sip/v12_0_1/common.py (_CISCO_VDI_REGEX ^CP-([0-9]{4})-3PCC)"
	srcWazoNortel    = "wazo-platform/wazo-provd-plugins dhcp/dhcp/dhcpd_update/nortel.conf (class Nortel-SIP: tftp-server-name = http-server-uri)"
	srcWazoPolycom   = "wazo-platform/wazo-provd-plugins dhcp/dhcp/dhcpd_update/polycom.conf"
	srcWazoYealink   = "wazo-platform/wazo-provd-plugins dhcp/dhcp/dhcpd_update/yealink.conf"
	srcWazoSnom      = "wazo-platform/wazo-provd-plugins dhcp/dhcp/dhcpd_update/snom.conf"
	srcWazoGS        = "wazo-platform/wazo-provd-plugins dhcp/dhcp/dhcpd_update/grandstream.conf"
	srcPolycomC25    = "SoundPoint IP/SoundStation IP Administrator's Guide SIP 3.1 (1725-11530-310) p.C-25 (binary option 60, sub-option 1 company Polycom)"
	srcPolycomVLAN   = "SoundPoint IP/SoundStation IP Administrator's Guide SIP 2.2.0 p.C-14 (VLAN-A=<id>; in 128, 144, 157, 191 or a custom option)"
	srcRingCentral   = "RingCentral partner support, VLAN configuration guidelines for Polycom phones (option 160)"
	srcMitelEng243   = "Mitel 3300 ICP Engineering Guidelines p.243 (id:ipphone.mitel.com; string in option 43 or 125)"
	srcMitelEng244   = "Mitel 3300 ICP Engineering Guidelines p.244 Table 74 (sw_tftp address list, call_srv, vlan 0-4095, l2p, dscp)"
	srcMiVBOption125 = "MiVoice Business system administration help, Manually creating DHCP options 43 or 125 (at most 250 characters in option 125)"
)

// avayaOUIs are the Avaya MAC prefixes.
func avayaOUIs() []rule {
	return []rule{
		sourced("00:04:0d", srcJ100DHCP), sourced("00:1b:4f", srcJ100DHCP), sourced("00:09:6e", srcJ100DHCP),
		sourced("00:60:1d", srcJ100DHCP), sourced("00:07:3b", srcJ100DHCP),
		sourced("50:cd:22", srcFusionOUI), sourced("b4:b0:17", srcFusionOUI), sourced("c8:1f:ea", srcFusionOUI),
		sourced("24:d9:21", srcFusionOUI), sourced("3c:b1:5b", srcFusionOUI),
	}
}

// avayaClass is the vendor class Avaya H.323/SIP phones send.
func avayaClass() []rule {
	return []rule{unconfirmed("ccp.avaya.com", srcRecog+" lists it for Avaya devices without naming a series")}
}

// nortelSIP starts the class of Avaya 1200 (Nortel heritage) SIP phones,
// which read option 66, not the 176/242 string: the avaya presets leave
// them to avaya-1200 even on an Avaya MAC prefix.
func nortelSIP() []rule {
	return []rule{sourced("Nortel-SIP", srcWazoNortel+"; "+src1200SIP81)}
}

// mitelSIPClasses start the vendor classes of Aastra/Mitel SIP phones:
// AastraIPPhone6731i, AastraIPPhone57i, ... and MitelIPPhone... (the
// substring checked for 14:00:e9).
func mitelSIPClasses() []rule {
	return []rule{sourced("AastraIPPhone", srcWazoAastra), sourced("MitelIPPhone", srcWazoAastra)}
}

// mitelMiNetClass is the class the MiNet preset matches.
func mitelMiNetClass() []rule {
	return []rule{unconfirmed("ipphone.mitel.com", srcRecog+" fingerprints it as a Mitel IP phone without saying MiNet or SIP")}
}

// defaultProvisioningURL is the file server on the receiving interface.
const defaultProvisioningURL = "http://${server}:${http_port}/"

// presetSpec is what a preset matches on and what its options rest on.
type presetSpec struct {
	vendorExact, vendorPrefix, vendorRegexp []rule
	macPrefix                               []rule
	// notVendorPrefix keeps out clients whose option 60 starts with one
	// of these, whatever else matches.
	notVendorPrefix []rule
	// facts are what the options rest on.
	facts       []rule
	longOptions string
	// askedOnly are option codes the preset sends only to clients that ask
	// for them, even when the class always sends the rest.
	askedOnly []int
	// build makes the options from the class's parameters, with the facts
	// that only some parameters rest on.
	build func(c ClassConfig) ([]OptionConfig, []rule, error)
}

// UnconfirmedPresetFacts lists the unconfirmed facts c's preset rests on,
// with the parameters c gives it, each as "fact (why it is believed)". It
// is nil for a class without a preset, or whose preset or parameters are
// invalid (Validate reports those).
func UnconfirmedPresetFacts(c ClassConfig) []string {
	spec, ok := presetSpecFor(c.Preset)
	if !ok {
		return nil
	}
	_, extra, err := spec.build(c)
	if err != nil {
		return nil
	}
	var out []string
	for _, list := range [][]rule{spec.vendorExact, spec.vendorPrefix, spec.vendorRegexp, spec.macPrefix, spec.notVendorPrefix, spec.facts, extra} {
		for _, r := range list {
			if r.why != "" {
				out = append(out, r.value+" (unconfirmed: "+r.why+")")
			}
		}
	}
	return out
}

// expandPreset turns a class that names a preset into an ordinary class;
// a class without a preset comes back with its defaults filled in.
func expandPreset(c ClassConfig) (ClassConfig, error) {
	if c.Name == "" {
		c.Name = c.Preset
	}
	if c.Match == "" {
		c.Match = "any"
	}
	ownLong := c.LongOptions
	if c.LongOptions == "" {
		c.LongOptions = "split"
	}
	if c.Preset == "" {
		if c.AlwaysSend != nil {
			return ClassConfig{}, fmt.Errorf("always_send at class level is for preset classes; set always_send on each [[dhcp.class.option]]")
		}
		return c, nil
	}
	spec, ok := presetSpecFor(c.Preset)
	if !ok {
		return ClassConfig{}, fmt.Errorf("unknown preset %q (known: %s)", c.Preset, strings.Join(Presets(), ", "))
	}
	presetOpts, _, err := spec.build(c)
	if err != nil {
		return ClassConfig{}, fmt.Errorf("preset %s: %w", c.Preset, err)
	}
	// Kea's always-send: a phone that does not ask for the option its
	// server settings are in still gets them (J100 option 55 lacks 242),
	// unless the class says always_send = false.
	always := c.AlwaysSend == nil || *c.AlwaysSend
	for i := range presetOpts {
		presetOpts[i].AlwaysSend = always && !slices.Contains(spec.askedOnly, presetOpts[i].Code)
	}
	out := c
	out.Preset = ""
	if !c.hasCriteria() {
		out.VendorClass, out.VendorClassPrefix, out.VendorClassRegexp = values(spec.vendorExact), values(spec.vendorPrefix), values(spec.vendorRegexp)
		out.MACPrefix, out.RequestsOption = values(spec.macPrefix), nil
		if len(c.NotVendorClassPrefix) == 0 {
			out.NotVendorClassPrefix = values(spec.notVendorPrefix)
		}
	}
	if ownLong == "" && spec.longOptions != "" {
		out.LongOptions = spec.longOptions
	}
	// The class's own options beat the preset's of the same number.
	opts := slices.Clone(presetOpts)
	for _, o := range c.Options {
		opts = slices.DeleteFunc(opts, func(q OptionConfig) bool { return sameOption(q, o) })
		opts = append(opts, o)
	}
	out.Options = opts
	// Parameters are spent; the expanded class shows what they produced.
	out.CallServers, out.CallServerPort, out.VoiceVLAN, out.VLANTest, out.SiteOption = nil, 0, 0, 0, 0
	out.Settings, out.ProvisioningURL, out.BootFile, out.AlwaysSend = "", "", "", nil
	return out, nil
}

func sameOption(a, b OptionConfig) bool {
	ca, errA := optionCode(a)
	cb, errB := optionCode(b)
	return errA == nil && errB == nil && ca == cb
}

func (c ClassConfig) hasCriteria() bool {
	return len(c.VendorClass)+len(c.VendorClassPrefix)+len(c.VendorClassRegexp)+len(c.MACPrefix)+
		len(c.UserClass)+len(c.HostnamePrefix)+len(c.CircuitID)+len(c.RemoteID)+len(c.RequestsOption) > 0
}

func str(code int, value string) OptionConfig {
	return OptionConfig{Code: code, Type: "string", Value: value}
}

func provisioningURL(c ClassConfig) string {
	if c.ProvisioningURL != "" {
		return c.ProvisioningURL
	}
	return defaultProvisioningURL
}

// presetSpecFor returns the named preset.
func presetSpecFor(name string) (presetSpec, bool) {
	for _, p := range [...]struct {
		name string
		spec func() presetSpec
	}{
		{PresetAvaya, specAvaya}, {PresetAvayaDataVLAN, specAvayaDataVLAN}, {PresetAvaya1200, specAvaya1200},
		{PresetAvaya1200DataVLAN, specAvaya1200DataVLAN}, {PresetCisco, specCisco}, {PresetCiscoMPP, specCiscoMPP},
		{PresetPolycom, func() presetSpec { return specPolycom(PresetPolycom) }},
		{PresetPolycomDataVLAN, func() presetSpec { return specPolycom(PresetPolycomDataVLAN) }},
		{PresetYealink, specYealink}, {PresetMitel, specMitel}, {PresetMitelSIP, specMitelSIP},
		{PresetSnom, specSnom}, {PresetGrandstream, specGrandstream},
	} {
		if p.name == name {
			return p.spec(), true
		}
	}
	return presetSpec{}, false
}

// specAvaya is the PresetAvaya preset.
func specAvaya() presetSpec {
	return presetSpec{
		vendorExact: avayaClass(), macPrefix: avayaOUIs(), notVendorPrefix: nortelSIP(),
		// Whether the firmware joins RFC 3396 split options is not
		// known, so an over-long string is refused at load.
		longOptions: "refuse",
		facts:       avayaStringFacts(),
		askedOnly:   avayaAskedOnly,
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			return avayaOptions(c, avayaString(c))
		},
	}
}

// specAvayaDataVLAN is the PresetAvayaDataVLAN preset.
func specAvayaDataVLAN() presetSpec {
	return presetSpec{
		vendorExact: avayaClass(), macPrefix: avayaOUIs(), notVendorPrefix: nortelSIP(), longOptions: "refuse",
		askedOnly: avayaAskedOnly,
		facts: append(avayaStringFacts(),
			sourced("L2Q=1,L2QVLAN=<id> in the 176/242 string moves the phone to the voice VLAN", src96x1SIP),
			unconfirmed("VLANTEST (default 60) is the seconds the phone waits for an offer on the voice VLAN",
				"named in the project's Avaya reference notes; the manual page was not re-read")),
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			if c.VoiceVLAN < 1 || c.VoiceVLAN > 4094 {
				return nil, nil, fmt.Errorf("needs voice_vlan = 1..4094 (the VLAN phones are sent to), got %d", c.VoiceVLAN)
			}
			test := c.VLANTest
			if test == 0 {
				test = 60
			}
			s := "L2Q=1,L2QVLAN=" + strconv.Itoa(c.VoiceVLAN) + ",VLANTEST=" + strconv.Itoa(test)
			if c.Settings != "" {
				s += "," + c.Settings
			}
			return avayaOptions(c, s)
		},
	}
}

// specAvaya1200 is the PresetAvaya1200 preset.
func specAvaya1200() presetSpec {
	return presetSpec{
		vendorExact:  []rule{sourced("Nortel-SIP-Phone-A", src1200SIP81)},
		vendorPrefix: nortelSIP(),
		facts: []rule{
			sourced("option 66 as a URL names the provisioning server's protocol and host", src1200SIP82),
			unconfirmed("option 43 is read by the 1200 too, but its format was not read: not sent", src1200SIP82+" lists option 43 without its format"),
		},
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			return []OptionConfig{str(66, strings.TrimSuffix(provisioningURL(c), "/"))}, nil, nil
		},
	}
}

// specAvaya1200DataVLAN is the PresetAvaya1200DataVLAN preset.
func specAvaya1200DataVLAN() presetSpec {
	return presetSpec{
		vendorExact:  []rule{sourced("Nortel-SIP-Phone-A", src1200SIP81)},
		vendorPrefix: nortelSIP(),
		facts: []rule{
			sourced("the 1200 asks for the site-specific options 128, 131, 144, 157, 188, 191, 205, 219, 223, 232, 247, 251 among others", src1200SIP81),
			unconfirmed("VLAN-A:<id>. in a site-specific option moves a 1200 to the voice VLAN",
				"the string is documented for the 1100 series ("+src1100SIPVLAN+"); no 1200 page read describes it"),
		},
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			if c.VoiceVLAN < 1 || c.VoiceVLAN > 4094 {
				return nil, nil, fmt.Errorf("needs voice_vlan = 1..4094 (the VLAN phones are sent to), got %d", c.VoiceVLAN)
			}
			code := c.SiteOption
			if code == 0 {
				code = 232 // one of the three the 1100 guide recommends
			}
			// The options the 1100 guide lists for the VLAN-A string.
			if !slices.Contains([]int{128, 131, 144, 157, 188, 191, 205, 219, 223, 232, 247, 251}, code) {
				return nil, nil, fmt.Errorf("site_option %d is not one the 1100/1200 phones read the VLAN-A string from (128, 131, 144, 157, 188, 191, 205, 219, 223, 232, 247, 251)", code)
			}
			return []OptionConfig{str(code, "VLAN-A:"+strconv.Itoa(c.VoiceVLAN)+".")}, nil, nil
		},
	}
}

// specCisco is the PresetCisco preset.
func specCisco() presetSpec {
	return presetSpec{
		vendorExact: []rule{sourced("Cisco Systems, Inc.", srcWazoCisco+" class CiscoCP-unknown; "+srcWazoSCCP+" (6901)")},
		vendorRegexp: []rule{
			// Also the lower-case "Cisco systems, Inc. IP Phone CP3911" recog shows.
			sourced(`(?i)^Cisco Systems, Inc\. IP Phone`, srcWazoCisco+" (7905, 7912, 7940G, 7960G, 8961, 9951); "+srcRecog),
			sourced(`^Cisco Systems Inc\. Wireless Phone`, srcWazoCisco+" class CiscoCP-7921G"),
			// wazo matches only the end: suffix(…, 9) = "CP-7911G\x00".
			sourced(`CP-[0-9]{4}[A-Z]*(-GE)?$`, srcWazoCisco+" suffix classes CP-7911G\\x00 … CP-7975G\\x00"),
		},
		facts: []rule{
			sourced("option 66 names the TFTP server", srcWazoCisco+" group tftp-server-name"),
			unconfirmed("option 150 lists the TFTP servers", "Cisco's TFTP-server option; wazo sends it only to the 7920"),
		},
		build: func(ClassConfig) ([]OptionConfig, []rule, error) {
			tftp := "${server}"
			return []OptionConfig{{Code: 150, Type: "ips", Value: []any{tftp}}, str(66, tftp)}, nil, nil
		},
	}
}

// specCiscoMPP is the PresetCiscoMPP preset.
func specCiscoMPP() presetSpec {
	return presetSpec{
		vendorRegexp: []rule{
			sourced(`^CP-[0-9]{4}-3PCC`, srcWazoMPP),
			// wazo matches only the end: suffix(…, 13) = "CP-7841-3PCC\x00".
			sourced(`CP-[0-9]{4}-3PCC$`, srcWazoCisco+" suffix classes CP-7821-3PCC\\x00 … CP-6841-3PCC\\x00"),
		},
		macPrefix: []rule{sourced("d0:ec:35", srcWazoCisco+" voip-mac-address-prefix 1:d0:ec:35 (MPP without vendor class)")},
		facts:     []rule{sourced("option 66 is an http URL (the MPP group's tftp-server-name = http-server-uri)", srcWazoCisco)},
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			return []OptionConfig{str(66, strings.TrimSuffix(provisioningURL(c), "/"))}, nil, nil
		},
	}
}

// specPolycom is the PresetPolycom and PresetPolycomDataVLAN presets (name says which).
func specPolycom(name string) presetSpec {
	spec := presetSpec{
		vendorRegexp: []rule{
			// The binary RFC 3925 form carries "Polycom" in sub-option 1,
			// after binary fields: matched anywhere.
			sourced("Polycom", srcPolycomC25+"; "+srcRecog+" Polycom-VVX410, Polycom-SSIP6000"),
			sourced("^Poly-", srcRecog+" Poly-VVX-D230"),
		},
		macPrefix: []rule{
			sourced("00:04:f2", srcWazoPolycom), sourced("64:16:7f", srcWazoPolycom), sourced("48:25:67", srcWazoPolycom),
			sourced("00:90:7a", srcFusionOUI),
		},
	}
	if name == PresetPolycom {
		spec.facts = []rule{
			sourced("option 66 is a URL to the provisioning server", srcWazoPolycom),
			sourced("option 160 names the provisioning server on the voice VLAN", srcRingCentral),
		}
		spec.build = func(c ClassConfig) ([]OptionConfig, []rule, error) {
			url := provisioningURL(c)
			return []OptionConfig{str(66, url), str(160, url)}, nil, nil
		}
		return spec
	}
	spec.facts = []rule{sourced("VLAN-A=<id>; in option 128, 144, 157 or 191 (or the one set as Custom) moves the phone to the voice VLAN; CDP/LLDP win", srcPolycomVLAN)}
	spec.build = func(c ClassConfig) ([]OptionConfig, []rule, error) {
		if c.VoiceVLAN < 1 || c.VoiceVLAN > 4095 {
			return nil, nil, fmt.Errorf("needs voice_vlan = 1..4095 (the VLAN phones are sent to), got %d", c.VoiceVLAN)
		}
		code := c.SiteOption
		if code == 0 {
			code = 128 // the first the phones look in ("Fixed")
		}
		if code < 128 || code > 254 {
			return nil, nil, fmt.Errorf("site_option %d is outside the site-specific options 128..254 (%s)", code, srcRFC2132)
		}
		var extra []rule
		if !slices.Contains([]int{128, 144, 157, 191}, code) {
			extra = append(extra, unconfirmed(fmt.Sprintf("VLAN-A string in option %d", code),
				"read only by phones set to that option (Custom); the range of options allowed there was not read"))
		}
		return []OptionConfig{str(code, "VLAN-A="+strconv.Itoa(c.VoiceVLAN)+";")}, extra, nil
	}
	return spec
}

// specYealink is the PresetYealink preset.
func specYealink() presetSpec {
	return presetSpec{
		vendorRegexp: []rule{sourced("(?i)^yealink", srcRecog+" ^yealink$")},
		macPrefix: []rule{
			sourced("00:15:65", srcWazoYealink), sourced("e4:34:d7", srcWazoYealink), sourced("80:5e:c0", srcWazoYealink),
			sourced("80:5e:0c", srcWazoYealink), sourced("24:9a:d8", srcWazoYealink), sourced("44:db:d2", srcWazoYealink),
			sourced("64:4f:56", srcWazoYealink), sourced("ec:1d:a9", srcWazoYealink), sourced("34:97:d7", srcWazoYealink),
			sourced("b0:61:a9", srcWazoYealink), sourced("c4:fc:22", srcWazoYealink), sourced("f0:16:53", srcWazoYealink),
		},
		facts: []rule{sourced("option 66 is a URL to the provisioning server", srcWazoYealink)},
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			return []OptionConfig{str(66, provisioningURL(c))}, nil, nil
		},
	}
}

// specMitel is the PresetMitel preset.
func specMitel() presetSpec {
	return presetSpec{
		vendorExact: mitelMiNetClass(),
		// MiNet phones that send no class are known by MAC prefix, which
		// they share with Aastra/Mitel SIP phones: the SIP phones' own
		// classes keep them out.
		macPrefix: []rule{
			unconfirmed("08:00:0f", "Mitel's prefix; "+srcWazoAastra+" lists it for SIP phones, no MiNet source read"),
			unconfirmed("00:08:5d", "Aastra's prefix; "+srcWazoAastra+" lists it for SIP phones, no MiNet source read"),
		},
		notVendorPrefix: mitelSIPClasses(),
		facts: []rule{
			sourced("MiNet phones read id:ipphone.mitel.com;sw_tftp=…;call_srv=…;vlan=… from option 43 or 125", srcMitelEng243),
			sourced("sw_tftp is an address list; vlan 0-4095", srcMitelEng244),
			sourced("option 125 holds at most 250 characters", srcMiVBOption125),
		},
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			s := "id:ipphone.mitel.com;sw_tftp=${server}"
			if len(c.CallServers) > 0 {
				s += ";call_srv=" + strings.Join(c.CallServers, ",")
			}
			if c.VoiceVLAN > 0 {
				s += ";vlan=" + strconv.Itoa(c.VoiceVLAN)
			}
			if c.Settings != "" {
				s += ";" + strings.TrimPrefix(c.Settings, ";")
			}
			// Check the pairs as the phones will read them, with a sample
			// address for this box.
			if _, err := dhcpopts.ParseMitel(strings.ReplaceAll(s, "${server}", "198.18.0.1")); err != nil {
				return nil, nil, err
			}
			return []OptionConfig{str(43, s), mitelOption125(s)}, nil, nil
		},
	}
}

// specMitelSIP is the PresetMitelSIP preset.
func specMitelSIP() presetSpec {
	return presetSpec{
		vendorPrefix: mitelSIPClasses(),
		macPrefix: []rule{
			sourced("00:08:5d", srcWazoAastra), sourced("08:00:0f", srcWazoAastra), sourced("14:00:e9", srcWazoAastra),
		},
		// A MiNet phone that says so is not a SIP phone.
		notVendorPrefix: mitelMiNetClass(),
		facts: []rule{
			sourced("option 43 in vendor space Aastra6700: sub-option 2 cfg-server-name (a URL), 3 contact-rcs (false)", srcWazoAastra),
			sourced("option 66 (a URL) for phones on the Aastra/Mitel prefixes without the class", srcWazoAastra),
		},
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			url := strings.TrimSuffix(provisioningURL(c), "/")
			return []OptionConfig{
				{Code: 43, Type: "suboptions", Value: []any{
					map[string]any{"code": int64(2), "value": url},
					map[string]any{"code": int64(3), "type": "bool", "value": false},
				}},
				str(66, url),
			}, nil, nil
		},
	}
}

// specSnom is the PresetSnom preset.
func specSnom() presetSpec {
	return presetSpec{
		vendorRegexp: []rule{sourced("(?i)^snom", srcWazoSnom+" classes snom320, snom710, snomD785, …")},
		macPrefix:    []rule{sourced("00:04:13", srcWazoSnom), sourced("00:08:7b", srcWazoSnom)},
		facts: []rule{
			sourced("option 66 is a URL to the provisioning server", srcWazoSnom),
			unconfirmed("option 67 names the first file (snom.htm)", "no source read says snom phones read option 67"),
		},
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			boot := c.BootFile
			if boot == "" {
				boot = "snom.htm"
			}
			return []OptionConfig{str(66, strings.TrimSuffix(provisioningURL(c), "/")), str(67, boot)}, nil, nil
		},
	}
}

// specGrandstream is the PresetGrandstream preset.
func specGrandstream() presetSpec {
	return presetSpec{
		vendorRegexp: []rule{unconfirmed("(?i)^grandstream", "no Grandstream vendor class was read in a source; matched by MAC prefix in "+srcWazoGS)},
		macPrefix:    []rule{sourced("00:0b:82", srcWazoGS), sourced("c0:74:ad", srcWazoGS), sourced("ec:74:d7", srcWazoGS)},
		facts:        []rule{sourced("option 66 is a URL to the provisioning server", srcWazoGS)},
		build: func(c ClassConfig) ([]OptionConfig, []rule, error) {
			return []OptionConfig{str(66, strings.TrimSuffix(provisioningURL(c), "/"))}, nil, nil
		},
	}
}

// avayaStringFacts are what the Avaya 176/242 string rests on.
func avayaStringFacts() []rule {
	return []rule{
		sourced("4600 phones read option 176", src4600DHCP),
		sourced("J169/J179 read option 242", srcJ169),
		sourced("242 carries the same string as 176", src9600SSON),
		sourced("J100 option 55 is 1,3,6,7,15,42: the string is sent unasked, in 242 and 176 unless the phone asks for one of them", srcJ100Table),
		unconfirmed("the other J100 models read option 242", "documented for the J169/J179 only"),
		sourced("J100 and 96x1 SIP refuse offers without option 51 (every reply carries it)", srcJ100Table+"; "+src96x1SIP),
	}
}

// avayaAskedOnly keeps 176 for the phones that ask for it (the 4600 and
// 5600, 4600 guide p.51): a phone that asks for neither 176 nor 242 is a
// J100 (option 55 1,3,6,7,15,42, J100 guide p.112), which reads 242 (J169/
// J179 guide p.87), so it gets the string once, in 242, and the reply
// keeps its room for the other options.
var avayaAskedOnly = []int{176}

// avayaOptions puts the Avaya string s in 242 and 176, each left out when
// the phone asks for the other only (176 also when it asks for neither, see
// avayaAskedOnly); or, when site_option is set, in that one option.
func avayaOptions(c ClassConfig, s string) ([]OptionConfig, []rule, error) {
	if c.SiteOption != 0 {
		if c.SiteOption < 128 || c.SiteOption > 254 {
			return nil, nil, fmt.Errorf("site_option %d is outside the site-specific options 128..254 (%s)", c.SiteOption, srcRFC2132)
		}
		// Partly confirmed: the SSON is a phone setting (1603SW-I guide
		// p.52 lists it in option 55), but which numbers Avaya phones
		// accept was not read.
		return []OptionConfig{{Code: c.SiteOption, Type: "avaya", Value: s}},
			[]rule{
				sourced("the site-specific option number (SSON) is a phone setting", src1603SIP),
				unconfirmed(fmt.Sprintf("Avaya phones accept SSON %d", c.SiteOption), "the 128-254 range is RFC 2132's; Avaya's own range was not read"),
			}, nil
	}
	return []OptionConfig{
		{Code: 242, Value: s, Alternatives: []int{176}},
		{Code: 176, Value: s, Alternatives: []int{242}},
	}, nil, nil
}

// avayaString is the option 242/176 value: call servers from the
// configuration, file servers pointing at this box (and its partner).
func avayaString(c ClassConfig) string {
	var parts []string
	if len(c.CallServers) > 0 {
		port := c.CallServerPort
		if port == 0 {
			port = 1719
		}
		parts = append(parts, "MCIPADD="+strings.Join(c.CallServers, ","), "MCPORT="+strconv.Itoa(port))
	}
	// The file servers are lists (${servers}: this box, then its DHCP
	// partner's address when it has one), so a phone whose box is down
	// fetches from the other. HTTPSRVR takes "zero or more IP addresses
	// … separated by commas" in the DHCP site-specific option (Avaya,
	// 96x1 H.323 Software IP Interface Requirements, 96x1H-IPI.2.1.800;
	// 9600 Series IP Telephones Administrator Guide, Issue 2, December
	// 2007, p.55 table 9: "IP Address(es) … of HTTP file server(s)");
	// TFTPSRVR "one or more IP addresses" (4600 Series IP Telephone LAN
	// Administrator's Guide, p.4-8). TLSSRVR as a list in DHCP:
	// unconfirmed (not read in a manual; the issue states it).
	parts = append(parts,
		"HTTPSRVR=${servers}", "HTTPPORT=${http_port}",
		"TLSSRVR=${servers}", "TLSPORT=${tls_port}",
		"TFTPSRVR=${servers}")
	if c.VLANTest > 0 {
		parts = append(parts, "VLANTEST="+strconv.Itoa(c.VLANTest))
	}
	if c.Settings != "" {
		parts = append(parts, strings.Trim(c.Settings, ","))
	}
	return strings.Join(parts, ",")
}
