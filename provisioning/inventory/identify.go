package inventory

import (
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// Agent is what a phone's HTTP User-Agent says about it. Fields it does
// not say are empty.
type Agent struct {
	Vendor   string // "Avaya", "Polycom", …
	Model    string // as the phone writes it: "J179", "96x1", "SIP12x0"
	Firmware string // as the phone writes it: "4.1.3.0.6", "R7_1_15_0_4"
	MAC      MAC    // zero when the agent carries none
}

var (
	// macInAgent finds "MAC:c81fea83e85a" (J100) and similar labelled forms,
	// and Grandstream's "DevId 000b82aabbcc".
	macLabelled = regexp.MustCompile(`(?i)(?:\bMAC|\bDevId)\s*[:=]?\s*([0-9a-f]{2}(?:[:-]?[0-9a-f]{2}){5})\b`)
	// macSeparated finds a bare colon- or dash-separated MAC, as Yealink sends.
	macSeparated = regexp.MustCompile(`(?i)\b([0-9a-f]{2}(?:[:-][0-9a-f]{2}){5})\b`)
	// avayaToken is the product token after "AVAYA/".
	avayaToken = regexp.MustCompile(`(?i)\bAVAYA/([^\s()]+)`)
	// versionPart starts a firmware version inside an Avaya token: a digit,
	// or R/S/V followed by a digit.
	versionPart = regexp.MustCompile(`(?i)^[rsv]?\d`)

	// The other vendors' formats. Where a public project lists captured
	// User-Agents, its path is given; the rest are *unconfirmed*: they only
	// fill in what they recognise.
	//
	// Polycom, wazo-provd-plugins plugins/wazo_polycom/common/common.py:
	// "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application",
	// "FileTransport PolycomSoundStationIP-SSIP_6000-UA/5.0.3.1667 Type/Updater".
	polycomAgent = regexp.MustCompile(`(?i)Polycom\w*-(\w+?)-UA/([\w.]+)`)
	// Yealink: unconfirmed.
	yealinkAgent = regexp.MustCompile(`(?i)\bYealink\s+(?:SIP[- ])?(\S+)\s+([\d.]+)`)
	// Grandstream, wazo-provd-plugins plugins/wazo_grandstream/common/common.py:
	// "Grandstream Model HW GXP1405 SW 1.0.4.23 DevId 000b8240d55c", with a
	// hardware revision "Grandstream Model HW GXP2200 V2.2A SW 1.0.1.33 DevId
	// 000b82462d97" (two spaces before it on the GXV3350), and the old
	// "Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId
	// 000b822726c8".
	grandstreamAgent    = regexp.MustCompile(`(?i)\bGrandstream\s+Model\s+HW\s+(\S+)(?:\s+V\d[\w.]*)?\s+SW\s+([\d.]+)`)
	grandstreamOldAgent = regexp.MustCompile(`(?i)\bGrandstream\s+(\w+)\s+\([^:()]*:([\d.]+)`)
	// Snom, wazo-provd-plugins plugins/wazo_snom/common/common.py:
	// "Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)", and with the
	// MAC as twelve bare hex digits: "Mozilla/4.0 (compatible; snom710-SIP
	// 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)".
	snomAgent = regexp.MustCompile(`(?i)\b(snom[\w]+)-SIP[ /]([\d.]+)`)
	snomMAC   = regexp.MustCompile(`(?i)\b([0-9a-f]{12})\b`)
	// Aastra and Mitel SIP, wazo-provd-plugins plugins/wazo_aastra/common/common.py:
	// "Aastra6739i MAC:00-08-5D-13-CA-05 V:3.2.1.1013-SIP",
	// "Mitel6920 MAC:14-00-E9-1F-03-EA V:6.4.0.140-SIP".
	mitelAgent = regexp.MustCompile(`(?i)\b(?:Aastra|Mitel)(\w+)\s+MAC:\S+\s+V:([\d.]+)`)
	// Cisco: unconfirmed.
	ciscoAgent = regexp.MustCompile(`(?i)\bCisco-(CP-?\w+)(?:/([\w.()-]+))?`)
)

// ParseUserAgent reads vendor, model, firmware and MAC from a User-Agent,
// leniently: whatever it cannot read stays empty. Known forms:
//
//	Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)   J100
//	AVAYA/SIP12x0\x17/04.00.04.00                                               1200 (a control byte or \xff)
//	AVAYA/96x1-IPT-SIP-R7_1_15_0_4                                              96x1 SIP (unconfirmed)
//
// The J100 and 1200 forms are listed in wazo-provd-plugins
// plugins/wazo_avaya/common/common.py (the 1200 with \x14, \x16, \x17 or
// \xff between model and version); other vendors' forms are with their
// patterns above.
func ParseUserAgent(ua string) Agent {
	var a Agent
	if m := macLabelled.FindStringSubmatch(ua); m != nil {
		a.MAC, _ = ParseMAC(m[1])
	} else if m := macSeparated.FindStringSubmatch(ua); m != nil {
		a.MAC, _ = ParseMAC(m[1])
	}
	if m := avayaToken.FindStringSubmatch(ua); m != nil {
		a.Vendor = "Avaya"
		a.Model, a.Firmware = splitAvayaToken(m[1])
		return a
	}
	for _, p := range []struct {
		vendor string
		re     *regexp.Regexp
	}{
		{"Polycom", polycomAgent}, {"Yealink", yealinkAgent}, {"Grandstream", grandstreamAgent},
		{"Grandstream", grandstreamOldAgent}, {"snom", snomAgent}, {"Mitel", mitelAgent}, {"Cisco", ciscoAgent},
	} {
		if m := p.re.FindStringSubmatch(ua); m != nil {
			a.Vendor, a.Model, a.Firmware = p.vendor, m[1], m[2]
			if p.re == snomAgent && a.MAC.IsZero() {
				if mm := snomMAC.FindStringSubmatch(ua[strings.Index(ua, m[0])+len(m[0]):]); mm != nil {
					a.MAC, _ = ParseMAC(mm[1])
				}
			}
			return a
		}
	}
	return a
}

// splitAvayaToken splits "J179-4.1.3.0.6", "SIP12x0\x17/04.00.04.00" or
// "96x1-IPT-SIP-R7_1_15_0_4" into model and firmware.
func splitAvayaToken(tok string) (model, firmware string) {
	// Control bytes and bytes past ASCII (the 1200 sends one: \x17, \xff,
	// …) separate like a slash.
	tok = strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f {
			return '/'
		}
		return r
	}, tok)
	parts := strings.FieldsFunc(tok, func(r rune) bool { return r == '/' })
	if len(parts) >= 2 {
		return parts[0], parts[len(parts)-1]
	}
	if len(parts) == 0 {
		return "", ""
	}
	dashed := strings.Split(parts[0], "-")
	model = dashed[0]
	for i := 1; i < len(dashed); i++ {
		if versionPart.MatchString(dashed[i]) {
			return withProtocol(model, dashed[1:i]), strings.Join(dashed[i:], "-")
		}
	}
	return withProtocol(model, dashed[1:]), ""
}

// withProtocol adds the protocol a series-level token names ("96x1-IPT-SIP"
// gives "96x1 SIP", "46xx-IPT-H323" gives "46xx H.323"), so the model reads
// as a firmware.ModelClass: such a phone does not reveal its $MODEL4, and
// its series and protocol are what decide its firmware. The token form is
// unconfirmed (project reference: "a 96x1 SIP test uses
// AVAYA/96x1-IPT-SIP-R7_1_15_0_4").
func withProtocol(model string, words []string) string {
	if !strings.Contains(strings.ToLower(model), "x") {
		return model // a $MODEL4 value such as J179 needs none
	}
	for _, w := range words {
		switch strings.ToUpper(w) {
		case "SIP":
			return model + " SIP"
		case "H323", "H.323":
			return model + " H.323"
		}
	}
	return model
}

// HostNameMAC is what an Avaya host name (DHCP option 12, "AVohhhhhh")
// says about the phone's MAC: o encodes the OUI, hhhhhh are the last six
// hex digits (9600 admin guide p.26).
type HostNameMAC struct {
	OUI      [3]byte // zero when the letter is X ("other")
	OUIKnown bool
	Low      [3]byte // the last three bytes
}

// avayaHostOUI is the prefix the OUI letter of an Avaya host name (upper
// case) stands for; ok is false for a letter that names none.
func avayaHostOUI(letter byte) (oui [3]byte, ok bool) {
	switch letter {
	case 'A':
		return [3]byte{0x00, 0x04, 0x0D}, true
	case 'B':
		return [3]byte{0x00, 0x1B, 0x4F}, true
	case 'E':
		return [3]byte{0x00, 0x09, 0x6E}, true
	case 'L':
		return [3]byte{0x00, 0x60, 0x1D}, true
	case 'T':
		return [3]byte{0x00, 0x07, 0x3B}, true
	}
	return oui, false
}

// DecodeAvayaHostName decodes "AVohhhhhh"; ok is false for any other name.
// Case is ignored.
func DecodeAvayaHostName(name string) (HostNameMAC, bool) {
	var h HostNameMAC
	if len(name) != 9 || !strings.EqualFold(name[:2], "AV") {
		return h, false
	}
	letter := name[2] &^ 0x20 // upper case
	if oui, ok := avayaHostOUI(letter); ok {
		h.OUI, h.OUIKnown = oui, true
	} else if letter != 'X' {
		return h, false
	}
	if _, err := hex.Decode(h.Low[:], []byte(name[3:])); err != nil {
		return h, false
	}
	return h, true
}

// Matches reports whether m fits the host name.
func (h HostNameMAC) Matches(m MAC) bool {
	if h.OUIKnown && m.OUI() != h.OUI {
		return false
	}
	return [3]byte{m[3], m[4], m[5]} == h.Low
}

// vendorFromClass reads vendor and, when present, model from a DHCP vendor
// class (option 60). Strings from rapid7/recog and vendor guides.
//
// Cisco classes may end in NUL bytes, which are not part of the model
// (wazo-provd-plugins plugins/wazo_cisco_sccp/common/common.py:
// "Cisco Systems, Inc. IP Phone CP-7940G\x00"); MPP phones send the bare
// model, "CP-7841-3PCC" (wazo-provd-plugins dhcp/dhcp/dhcpd_update/cisco.conf);
// Aastra/Mitel SIP phones "AastraIPPhone6731i" or a class containing
// "MitelIPPhone" (wazo-provd-plugins dhcp/dhcp/dhcpd_update/aastra.conf);
// newer Polycom phones "Poly-VVX-D230" (rapid7/recog xml/dhcp_vendor_class.xml).
func vendorFromClass(vc string) (vendor, model string) {
	vc = strings.TrimSpace(strings.TrimRight(vc, "\x00"))
	low := strings.ToLower(vc)
	switch {
	case low == "":
		return "", ""
	case low == "ccp.avaya.com" || strings.HasPrefix(low, "nortel-sip-phone") || strings.HasPrefix(low, "nortel-i2004"):
		return "Avaya", ""
	case strings.HasPrefix(low, "cisco systems, inc. ip phone "):
		return "Cisco", strings.TrimSpace(vc[len("cisco systems, inc. ip phone "):])
	case low == "cisco systems, inc.":
		return "Cisco", ""
	case strings.HasPrefix(low, "cp-") && strings.HasSuffix(low, "-3pcc"):
		return "Cisco", vc
	case strings.HasPrefix(low, "aastraipphone"):
		return "Mitel", vc[len("aastraipphone"):]
	case strings.Contains(low, "mitelipphone"):
		return "Mitel", ""
	case strings.HasPrefix(low, "polycom-"):
		return "Polycom", strings.TrimSpace(vc[len("polycom-"):])
	case strings.HasPrefix(low, "poly-"):
		return "Polycom", strings.TrimSpace(vc[len("poly-"):])
	case strings.HasPrefix(low, "yealink"):
		return "Yealink", ""
	case strings.Contains(low, "ipphone.mitel.com"):
		return "Mitel", ""
	case strings.HasPrefix(low, "grandstream"):
		return "Grandstream", ""
	case strings.HasPrefix(low, "snom"):
		return "snom", ""
	}
	return "", ""
}

// SameVersion compares firmware versions written differently by the phone,
// the file name and the upgrade script, in their firmware.Canonical form:
// "R7_1_15_0_4" equals "7.1.15.0.4" and "7_1_15_0_4_r", and "04.00.04.00"
// equals "4.0.4.0".
func SameVersion(a, b string) bool {
	na, nb := firmware.Canonical(a), firmware.Canonical(b)
	return na != "" && strings.EqualFold(na, nb)
}
