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
	PresetAvaya         = "avaya"
	PresetAvayaDataVLAN = "avaya-data-vlan"
	PresetCisco         = "cisco"
	PresetPolycom       = "polycom"
	PresetYealink       = "yealink"
	PresetMitel         = "mitel"
	PresetSnom          = "snom"
	PresetGrandstream   = "grandstream"
)

// Presets lists the preset names in the order the documentation gives them.
func Presets() []string {
	return []string{PresetAvaya, PresetAvayaDataVLAN, PresetCisco, PresetPolycom, PresetYealink, PresetMitel, PresetSnom, PresetGrandstream}
}

// avayaOUIs are the Avaya MAC prefixes: the first five are documented by
// Avaya (9600 admin guide); the rest come from fusionpbx and are
// unconfirmed against the IEEE registry, kept because matching a few extra
// Avaya devices only hands them the Avaya options.
var avayaOUIs = []string{
	"00:04:0d", "00:1b:4f", "00:09:6e", "00:60:1d", "00:07:3b",
	"50:cd:22", "b4:b0:17", "c8:1f:ea", "24:d9:21", "3c:b1:5b",
}

// defaultProvisioningURL is the file server on the receiving interface.
const defaultProvisioningURL = "http://${server}:${http_port}/"

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
		return c, nil
	}
	p, err := presetClass(c)
	if err != nil {
		return ClassConfig{}, err
	}
	out := c
	out.Preset = ""
	if !c.hasCriteria() {
		out.VendorClass, out.VendorClassPrefix, out.VendorClassRegexp = p.VendorClass, p.VendorClassPrefix, p.VendorClassRegexp
		out.MACPrefix, out.RequestsOption = p.MACPrefix, p.RequestsOption
	}
	if ownLong == "" && p.LongOptions != "" {
		out.LongOptions = p.LongOptions
	}
	// The class's own options beat the preset's of the same number.
	opts := slices.Clone(p.Options)
	for _, o := range c.Options {
		opts = slices.DeleteFunc(opts, func(q OptionConfig) bool { return sameOption(q, o) })
		opts = append(opts, o)
	}
	out.Options = opts
	// Parameters are spent; the expanded class shows what they produced.
	out.CallServers, out.CallServerPort, out.VoiceVLAN, out.VLANTest = nil, 0, 0, 0
	out.Settings, out.ProvisioningURL, out.BootFile = "", "", ""
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

func str(code int, value string, always bool) OptionConfig {
	return OptionConfig{Code: code, Type: "string", Value: value, AlwaysSend: always}
}

// avayaOpt is option 176 or 242 with the catalogue's Avaya type, which
// checks the NAME=value pairs at load.
func avayaOpt(code int, value string) OptionConfig {
	return OptionConfig{Code: code, Value: value}
}

// presetClass builds the criteria and options of c's preset from c's parameters.
func presetClass(c ClassConfig) (ClassConfig, error) {
	url := c.ProvisioningURL
	if url == "" {
		url = defaultProvisioningURL
	}
	switch c.Preset {
	case PresetAvaya:
		s := avayaString(c)
		// 9600, 96x1, 1600, J100 and K100 ask for 242 in option 55; 4600 and
		// 5600 ask for 176. Each gets the one it asks for. Whether their
		// firmware joins RFC 3396 split options is unconfirmed, so an
		// over-long string is refused at load.
		return ClassConfig{
			VendorClass: []string{"ccp.avaya.com"},
			MACPrefix:   avayaOUIs,
			LongOptions: "refuse",
			Options:     []OptionConfig{avayaOpt(242, s), avayaOpt(176, s)},
		}, nil
	case PresetAvayaDataVLAN:
		if c.VoiceVLAN < 1 || c.VoiceVLAN > 4094 {
			return ClassConfig{}, fmt.Errorf("preset %s needs voice_vlan = 1..4094 (the VLAN phones are sent to), got %d", c.Preset, c.VoiceVLAN)
		}
		test := c.VLANTest
		if test == 0 {
			test = 60
		}
		s := "L2Q=1,L2QVLAN=" + strconv.Itoa(c.VoiceVLAN) + ",VLANTEST=" + strconv.Itoa(test)
		if c.Settings != "" {
			s += "," + c.Settings
		}
		return ClassConfig{
			VendorClass: []string{"ccp.avaya.com"},
			MACPrefix:   avayaOUIs,
			LongOptions: "refuse",
			Options:     []OptionConfig{avayaOpt(242, s), avayaOpt(176, s)},
		}, nil
	case PresetCisco:
		// Cisco phones ask for 150 (TFTP server addresses), then 66.
		tftp := "${server}"
		return ClassConfig{
			VendorClassPrefix: []string{"Cisco Systems, Inc. IP Phone", "Cisco Systems Inc. Wireless Phone"},
			Options: []OptionConfig{
				{Code: 150, Type: "ips", Value: []any{tftp}},
				str(66, tftp, false),
			},
		}, nil
	case PresetPolycom:
		// Polycom sends its vendor class in RFC 3925 form, so the model name
		// sits after binary fields: match it anywhere. Whether a given
		// firmware asks for 160 is unconfirmed: both are always sent.
		return ClassConfig{
			VendorClassRegexp: []string{"Polycom"},
			MACPrefix:         []string{"00:04:f2", "64:16:7f"},
			Options:           []OptionConfig{str(66, url, true), str(160, url, true)},
		}, nil
	case PresetYealink:
		return ClassConfig{
			VendorClassRegexp: []string{"(?i)^yealink"},
			MACPrefix:         []string{"00:15:65", "80:5e:c0", "80:5e:0c"},
			Options:           []OptionConfig{str(66, url, true)},
		}, nil
	case PresetMitel:
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
			return ClassConfig{}, fmt.Errorf("preset %s: %w", c.Preset, err)
		}
		return ClassConfig{
			VendorClass: []string{"ipphone.mitel.com"},
			MACPrefix:   []string{"08:00:0f", "00:08:5d"},
			Options:     []OptionConfig{str(43, s, true), mitelOption125(s)},
		}, nil
	case PresetSnom:
		boot := c.BootFile
		if boot == "" {
			boot = "snom.htm"
		}
		return ClassConfig{
			VendorClassRegexp: []string{"(?i)^snom"},
			MACPrefix:         []string{"00:04:13"},
			Options:           []OptionConfig{str(66, strings.TrimSuffix(url, "/"), true), str(67, boot, true)},
		}, nil
	case PresetGrandstream:
		return ClassConfig{
			VendorClassRegexp: []string{"(?i)^grandstream"},
			MACPrefix:         []string{"00:0b:82", "c0:74:ad"},
			Options:           []OptionConfig{str(66, strings.TrimSuffix(url, "/"), true)},
		}, nil
	}
	return ClassConfig{}, fmt.Errorf("unknown preset %q (known: %s)", c.Preset, strings.Join(Presets(), ", "))
}

// avayaString is the option 242/176 value: call servers from the
// configuration, file servers pointing at this box.
func avayaString(c ClassConfig) string {
	var parts []string
	if len(c.CallServers) > 0 {
		port := c.CallServerPort
		if port == 0 {
			port = 1719
		}
		parts = append(parts, "MCIPADD="+strings.Join(c.CallServers, ","), "MCPORT="+strconv.Itoa(port))
	}
	parts = append(parts,
		"HTTPSRVR=${server}", "HTTPPORT=${http_port}",
		"TLSSRVR=${server}", "TLSPORT=${tls_port}",
		"TFTPSRVR=${server}")
	if c.VLANTest > 0 {
		parts = append(parts, "VLANTEST="+strconv.Itoa(c.VLANTest))
	}
	if c.Settings != "" {
		parts = append(parts, strings.Trim(c.Settings, ","))
	}
	return strings.Join(parts, ",")
}
