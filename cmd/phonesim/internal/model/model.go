// Package model describes the desk phones phonesim can pretend to be: what
// each model sends in DHCP (vendor class, host name, option 55 and 57),
// which file it asks for first, which protocols it may use, which firmware
// it runs out of the box and how its HTTP User-Agent reads.
//
// Facts come from /work/shared/reference/avaya-phones.md unless a comment
// says otherwise; where a fact is not confirmed by a public source the
// comment says so, and the simulator behaves like the documented phones.
package model

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// Family groups models that boot the same way.
type Family int

// The families phonesim knows.
const (
	// Avaya4600 are the 4600/5600 H.323 phones: option 176, TFTP fallback.
	Avaya4600 Family = iota + 1
	// Avaya1600 are the 1600 H.323 phones: option 242, no TFTP, backup file in UTF-16.
	Avaya1600
	// Avaya96x1 are the 9608/9611/9621/9641 phones: option 242, no TFTP.
	Avaya96x1
	// AvayaJ100 are the J100 SIP phones: option 242, no TFTP, fetch <mac>.txt.
	AvayaJ100
	// Cisco are Cisco SCCP/SIP phones: option 150 or 66, TFTP only.
	Cisco
	// Polycom are Polycom VVX phones: option 160 or 66 (a URL), HTTP.
	Polycom
)

// IsAvaya reports whether the family speaks the Avaya script language.
func (f Family) IsAvaya() bool {
	return f == Avaya4600 || f == Avaya1600 || f == Avaya96x1 || f == AvayaJ100
}

// String names the family for reports.
func (f Family) String() string {
	switch f {
	case Avaya4600:
		return "avaya-4600"
	case Avaya1600:
		return "avaya-1600"
	case Avaya96x1:
		return "avaya-96x1"
	case AvayaJ100:
		return "avaya-j100"
	case Cisco:
		return "cisco"
	case Polycom:
		return "polycom"
	}
	return fmt.Sprintf("family(%d)", int(f))
}

// Signalling values of the Avaya SIG setting.
const (
	SigH323 = "1"
	SigSIP  = "2"
)

// Model is one phone model. Models are values in an immutable table; use
// Lookup or All to get them.
type Model struct {
	// Key is what --mix names the model by: "j179", "9608", "7911".
	Key string
	// Name is the model as the phone writes it ($MODEL4 for Avaya):
	// "J179", "9608", "CP-7911G", "VVX410".
	Name string
	// Vendor is "Avaya", "Cisco" or "Polycom".
	Vendor string
	// Family says how the phone boots.
	Family Family
	// OUI is the first three bytes of the phones' MAC addresses.
	OUI [3]byte
	// VendorClass is DHCP option 60.
	VendorClass string
	// ParamRequest is DHCP option 55.
	ParamRequest []byte
	// MaxMessageSize is DHCP option 57; 0 sends none. A reply longer
	// than this (IP datagram) is dropped, as the phone would.
	MaxMessageSize uint16
	// RequireLeaseTime rejects offers without option 51 (J100 does).
	RequireLeaseTime bool
	// Sig is the Avaya signalling ($SIG): SigH323 or SigSIP; "" elsewhere.
	Sig string
	// UpgradeFile is the first file an Avaya phone asks for.
	UpgradeFile string
	// TFTP says the phone falls back to TFTP when HTTPS and HTTP fail
	// (Avaya 4600/5600), or uses TFTP only (Cisco).
	TFTP bool
	// DefaultTLSPort is TLSPORT when the DHCP string names none: 411 for
	// the H.323 phones, 443 for SIP (IP Office's choice).
	DefaultTLSPort int
	// CaseInsensitiveSEQ makes IF … SEQ ignore case (the 1600 does).
	CaseInsensitiveSEQ bool
	// StopOnFailedGET ends the current script when a GET fails (the 4600
	// does); the others carry on in the current file.
	StopOnFailedGET bool
	// BackupFile is the BRURI file name with %s for the extension; "" for
	// phones that back up nothing.
	BackupFile string
	// BackupUTF16 writes the backup in UTF-16LE with a BOM (1600).
	BackupUTF16 bool
	// Firmware is the version the phone runs out of the box.
	Firmware string
	// AppName is the file that firmware came from: an APPNAME (Avaya), a
	// load name (Cisco) or an application file (Polycom). The phone skips
	// a download of the file it already runs.
	AppName string
}

// avayaParams is option 55 of the Avaya phones: the standard fields the
// reference lists for the 1603 and J100 (1, 3, 6, 7, 15, 26, 42) plus the
// site-specific option. The 4600 list is assumed to be the same with 176
// (unconfirmed).
func avayaParams(site byte) []byte { return []byte{1, 3, 6, 7, 15, 26, 42, site} }

// table is every model phonesim simulates.
//
// OUIs: Avaya's documented 00:04:0D, 00:1B:4F, 00:60:1D and the fusionpbx
// list's C8:1F:EA and 24:D9:21 (unconfirmed against IEEE); Cisco 00:1B:D4
// (seen in "SEP001BD4…" phone names in public DHCP logs); Polycom 00:04:F2.
// Cisco's option 55 is the order Cisco phones are commonly captured
// sending; Polycom's list is unconfirmed. Firmware versions are plausible
// older releases so that the phones have something to upgrade to.
var table = []Model{
	{
		Key: "4621", Name: "4621", Vendor: "Avaya", Family: Avaya4600,
		OUI: [3]byte{0x00, 0x04, 0x0d}, VendorClass: "ccp.avaya.com",
		ParamRequest: avayaParams(176), MaxMessageSize: 576,
		Sig: SigH323, UpgradeFile: "46xxupgrade.scr", TFTP: true, DefaultTLSPort: 411,
		StopOnFailedGET: true, BackupFile: "%s_46xxdata.txt",
		Firmware: "2.8.2", AppName: "a46xxua2_8_2.bin",
	},
	{
		Key: "1608", Name: "1608", Vendor: "Avaya", Family: Avaya1600,
		OUI: [3]byte{0x00, 0x60, 0x1d}, VendorClass: "ccp.avaya.com",
		ParamRequest: avayaParams(242), MaxMessageSize: 1000,
		Sig: SigH323, UpgradeFile: "16xxupgrade.txt", DefaultTLSPort: 411,
		CaseInsensitiveSEQ: true, BackupFile: "%s_16xxdata.txt", BackupUTF16: true,
		Firmware: "1.3.12", AppName: "ha16xxua1_3_12.bin",
	},
	{
		Key: "9608", Name: "9608", Vendor: "Avaya", Family: Avaya96x1,
		OUI: [3]byte{0x00, 0x1b, 0x4f}, VendorClass: "ccp.avaya.com",
		ParamRequest: avayaParams(242), MaxMessageSize: 1000,
		Sig: SigSIP, UpgradeFile: "96x1Supgrade.txt", DefaultTLSPort: 443,
		BackupFile: "%s_96xxdata.txt",
		Firmware:   "7.1.13.0.4", AppName: "S96x1_SALBR7_1_13_0_4_r.tar",
	},
	{
		Key: "9641", Name: "9641", Vendor: "Avaya", Family: Avaya96x1,
		OUI: [3]byte{0x24, 0xd9, 0x21}, VendorClass: "ccp.avaya.com",
		ParamRequest: avayaParams(242), MaxMessageSize: 1000,
		Sig: SigSIP, UpgradeFile: "96x1Supgrade.txt", DefaultTLSPort: 443,
		BackupFile: "%s_96xxdata.txt",
		Firmware:   "7.1.13.0.4", AppName: "S96x1_SALBR7_1_13_0_4_r.tar",
	},
	{
		Key: "j179", Name: "J179", Vendor: "Avaya", Family: AvayaJ100,
		OUI: [3]byte{0xc8, 0x1f, 0xea}, VendorClass: "ccp.avaya.com",
		ParamRequest: avayaParams(242), MaxMessageSize: 1000, RequireLeaseTime: true,
		Sig: SigSIP, UpgradeFile: "J100Supgrade.txt", DefaultTLSPort: 443,
		BackupFile: "%s_96xxdata.txt",
		Firmware:   "4.0.13.0.5", AppName: "FW_S_J179_R4_0_13_0_5.bin",
	},
	{
		Key: "7911", Name: "CP-7911G", Vendor: "Cisco", Family: Cisco,
		OUI: [3]byte{0x00, 0x1b, 0xd4}, VendorClass: "Cisco Systems, Inc. IP Phone CP-7911G",
		ParamRequest: []byte{1, 66, 6, 3, 15, 150, 35}, TFTP: true,
		Firmware: "9.4.2SR3", AppName: "SCCP11.9-4-2SR3-1S",
	},
	{
		Key: "vvx410", Name: "VVX410", Vendor: "Polycom", Family: Polycom,
		OUI: [3]byte{0x00, 0x04, 0xf2}, VendorClass: "Polycom-VVX410",
		ParamRequest: []byte{1, 3, 6, 7, 15, 42, 43, 66, 150, 160},
		Firmware:     "5.9.5.0614", AppName: "sip.ld",
	},
}

// All returns every model, in the table's order.
func All() []Model { return slices.Clone(table) }

// Lookup finds a model by key or name, ignoring case ("J179", "cp-7911g").
func Lookup(name string) (Model, bool) {
	for _, m := range table {
		if strings.EqualFold(m.Key, name) || strings.EqualFold(m.Name, name) {
			return m, true
		}
	}
	return Model{}, false
}

// Keys returns the keys of all models, for messages.
func Keys() []string {
	keys := make([]string, len(table))
	for i, m := range table {
		keys[i] = m.Key
	}
	return keys
}

// MAC builds a phone's hardware address from the model's OUI and three
// low bytes.
func (m Model) MAC(low [3]byte) net.HardwareAddr {
	return net.HardwareAddr{m.OUI[0], m.OUI[1], m.OUI[2], low[0], low[1], low[2]}
}

// avayaOUILetters encodes the OUI in an Avaya host name (9600 admin guide
// p.26); any other OUI is X.
var avayaOUILetters = []struct {
	oui    [3]byte
	letter byte
}{
	{[3]byte{0x00, 0x04, 0x0d}, 'A'},
	{[3]byte{0x00, 0x1b, 0x4f}, 'B'},
	{[3]byte{0x00, 0x09, 0x6e}, 'E'},
	{[3]byte{0x00, 0x60, 0x1d}, 'L'},
	{[3]byte{0x00, 0x07, 0x3b}, 'T'},
}

// AvayaHostName is the DHCP host name (option 12) an Avaya phone sends:
// "AV", a letter for the OUI, and the last six hex digits of the MAC in
// upper case, like "AVA123456" for 00:04:0d:12:34:56.
func AvayaHostName(mac net.HardwareAddr) string {
	if len(mac) != 6 {
		return ""
	}
	letter := byte('X')
	for _, o := range avayaOUILetters {
		if [3]byte(mac[:3]) == o.oui {
			letter = o.letter
		}
	}
	return fmt.Sprintf("AV%c%02X%02X%02X", letter, mac[3], mac[4], mac[5])
}

// HostName is option 12 for a phone of model m with this MAC: AVohhhhhh
// for Avaya, SEP<MAC> for Cisco, none for Polycom.
func (m Model) HostName(mac net.HardwareAddr) string {
	switch {
	case m.Family.IsAvaya():
		return AvayaHostName(mac)
	case m.Family == Cisco:
		return "SEP" + strings.ToUpper(MACHex(mac))
	}
	return ""
}

// MACHex is the MAC as twelve lower-case hex digits, as $MACADDR and the
// Polycom and Cisco file names use it.
func MACHex(mac net.HardwareAddr) string {
	return strings.ReplaceAll(mac.String(), ":", "")
}

// UserAgent is the HTTP User-Agent of a phone of model m running firmware.
//
//   - J100: "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)" (reference).
//   - 96x1 SIP: "AVAYA/96x1-IPT-SIP-R7_1_15_0_4" (reference, unconfirmed).
//   - 1600 and 4600 H.323: the 96x1 pattern with H323 and the model's
//     series; invented, unconfirmed.
//   - Polycom: "FileTransport PolycomVVX-VVX_410-UA/5.9.5.0614" (field
//     captures, unconfirmed).
//   - Cisco phones use TFTP and send none.
func (m Model) UserAgent(firmware string, mac net.HardwareAddr) string {
	underscored := strings.ReplaceAll(firmware, ".", "_")
	switch m.Family {
	case AvayaJ100:
		return fmt.Sprintf("Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/%s-%s (MAC:%s)", m.Name, firmware, MACHex(mac))
	case Avaya96x1:
		return "AVAYA/96x1-IPT-SIP-R" + underscored
	case Avaya1600:
		return "AVAYA/16xx-IPT-H323-R" + underscored
	case Avaya4600:
		return "AVAYA/46xx-IPT-H323-R" + underscored
	case Polycom:
		return fmt.Sprintf("FileTransport PolycomVVX-VVX_%s-UA/%s", strings.TrimPrefix(m.Name, "VVX"), firmware)
	}
	return ""
}

// FirmwareVersion reads the version out of a firmware file name the way
// the phone would report it after installing it: "FW_S_J179_R4_1_3_0_6.bin"
// → "4.1.3.0.6", "S96x1_SALBR7_1_15_0_4_r.tar" → "7.1.15.0.4",
// "a46xxua2_8_3.bin" → "2.8.3". A name without a recognisable version
// comes back whole, without its extension.
func FirmwareVersion(appName string) string {
	base := appName
	if i := strings.LastIndexByte(base, '.'); i > 0 && !strings.ContainsAny(base[i+1:], "_-") && len(base)-i <= 5 {
		base = base[:i]
	}
	// The version is the last run of digit groups joined by '_'.
	fields := strings.FieldsFunc(base, func(r rune) bool { return r == '_' })
	end := len(fields)
	for end > 0 && !isDigits(fields[end-1]) {
		end--
	}
	start := end
	for start > 0 && isDigits(fields[start-1]) {
		start--
	}
	if end == start {
		return base
	}
	// The first group may carry a letter prefix: R4, SALBR7, ua2.
	if start > 0 {
		prev := fields[start-1]
		i := len(prev)
		for i > 0 && prev[i-1] >= '0' && prev[i-1] <= '9' {
			i--
		}
		if i < len(prev) {
			return prev[i:] + "." + strings.Join(fields[start:end], ".")
		}
	}
	return strings.Join(fields[start:end], ".")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
