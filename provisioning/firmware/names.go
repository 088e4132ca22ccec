package firmware

import (
	"regexp"
	"slices"
	"strings"
)

// Image is one firmware file in the tree and what it is for.
type Image struct {
	File       string     // name in the file tree, as written there
	Series     Series     // the upgrade script that names it
	Signalling Signalling // H323 or SIP
	Models     []string   // $MODEL4 values it is for
	// Variants gives, for models whose firmware depends on the hardware
	// version (see HardwareSplits), the variant the image is for: the
	// suffix of its model token ("A" for FW_S_J189A_…). Models absent here
	// take the image on any hardware, or, for a split model, on its early
	// hardware only.
	Variants map[string]string
	// Setting is the parameter an upgrade script sets to the file name:
	// "APPNAME" for phone firmware, "JEM24_APPNAME" for the J100 expansion
	// module. Empty: recognised (and reported) but not named by generated
	// scripts, such as the 96x1 kernel archive.
	Setting string
	Version Version
	// Rule names the file-name rule that recognised it, or "config" for a
	// [[provisioning.firmware]] entry.
	Rule string
	// Confirmed is false when the rule's pattern has not been seen in a
	// public source (see the rule table).
	Confirmed bool
}

// For reports whether the image is meant for the model.
func (im Image) For(model string) bool { return slices.Contains(im.Models, model) }

// rule recognises one family of Avaya firmware file names.
type rule struct {
	id         string
	re         *regexp.Regexp
	series     Series
	signalling Signalling
	setting    string
	// models turns the submatches into $MODEL4 values.
	models func(m []string) []string
	// variants, when not 0, is the index of the submatch that holds model
	// tokens that may name a hardware variant ("J189A").
	variants int
	// version is the index of the submatch that holds the version.
	version int
	// parse reads the version; nil means ParseVersion.
	parse     func(string) (Version, bool)
	confirmed bool
	// meaning says what the rule takes a name for, in a sentence; source
	// says where that is documented (empty when unconfirmed).
	meaning, source string
}

// RuleInfo describes one file-name rule, for listing what the generator
// relies on (provisioning.UnconfirmedFacts).
type RuleInfo struct {
	ID        string // Image.Rule
	Meaning   string // what the rule takes a name for
	Source    string // where it is documented; empty when unconfirmed
	Confirmed bool
}

// Rules describes the file-name rules, in the order they are tried.
func Rules() []RuleInfo {
	out := make([]RuleInfo, len(rules))
	for i, r := range rules {
		out[i] = RuleInfo{ID: r.id, Meaning: r.meaning, Source: r.source, Confirmed: r.confirmed}
	}
	return out
}

// kernelVersion reads "26r54" as 26.54.
func kernelVersion(s string) (Version, bool) {
	return ParseVersion(strings.ReplaceAll(strings.ToLower(s), "r", "_"))
}

func fixed(models ...string) func([]string) []string {
	return func([]string) []string { return models }
}

// modelList reads "J169_J179_" into [J169 J179].
func modelList(i int) func([]string) []string {
	return func(m []string) []string {
		var out []string
		for _, p := range strings.Split(strings.ToUpper(m[i]), "_") {
			if p != "" {
				model, _ := splitVariant(p)
				out = append(out, model)
			}
		}
		return out
	}
}

// splitVariant reads a model token such as "J189A" as the model J189 and
// its hardware variant "A", for models in HardwareSplits; any other token
// is a model without variant.
func splitVariant(token string) (model, variant string) {
	for _, h := range hardwareSplits {
		if strings.EqualFold(token, h.Model+h.Variant) {
			return h.Model, h.Variant
		}
	}
	return token, ""
}

// variantsOf lists the hardware variants named by the model tokens in
// submatch i ("J189A_" gives J189 → A).
func variantsOf(m []string, i int) map[string]string {
	var out map[string]string
	for _, p := range strings.Split(strings.ToUpper(m[i]), "_") {
		if model, v := splitVariant(p); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[model] = v
		}
	}
	return out
}

// ver matches a version: numbers joined by '_', then an optional tag of
// letters and digits, possibly after '_' ("4_1_4_0_5", "4_0_4_0_3b4033",
// "7_1_15_0_4_r", "6_8_5_04_V474").
const ver = `(\d+(?:_\d+)*(?:_?[A-Za-z][A-Za-z0-9]*)*)`

// rules is the table of file names this package recognises. Every pattern is
// matched without regard to case, against the whole base name.
//
// Where each comes from:
//
//	j100        FW_S_<models>_R<version>.bin. Seen in public sources:
//	            FW_S_J129_R4_1_11_0_10.bin (J100 SIP 4.1.11.0 readme, quoted in a
//	            public Issabel integration), FW_S_J139_R4_1_4_0_5.bin,
//	            FW_S_J169_R4_1_4_0_5.bin, FW_S_J179_R4_1_4_0_5.bin and
//	            FW_S_J189_R4_1_4_0_5.bin (fusionpbx J-series templates),
//	            FW_S_J179_R4_0_4_0_3b4033.bin (a J179 SIP Contact header in a
//	            public project). FW_S_J189A_R<version>.bin is the J189 image
//	            for hardware after version 3, FW_S_J189_… the one for
//	            hardware 1–3 (wazo-provd-plugins,
//	            plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt; see
//	            HardwareSplits). Names listing several models
//	            (FW_S_J169_J179_…) follow Avaya's language files
//	            (Mlf_J169_J179_…) and are accepted but unconfirmed.
//	jem24       FW_JEM24_R<version>.bin, the J100 expansion module, set with
//	            JEM24_APPNAME (fusionpbx templates: FW_JEM24_R1_0_1_0_26.bin).
//	            The module fits J169, J179 and J189.
//	k100        FW_S_K1xx…_R<version>.bin: UNCONFIRMED, assumed to follow the
//	            J100 shape; map real K100 names with [[provisioning.firmware]].
//	96x1        S96x1_SALBR<version>.tar (SIP) and S96x1_HALBR<version>.tar
//	            (H.323): UNCONFIRMED beyond this project's sample tree and task
//	            (S96x1_SALBR7_1_15_0_4_r.tar).
//	96x1-kernel S96x1_UKR_V<a>r<b>_V<a>r<b>.tar: UNCONFIRMED; reported only,
//	            never named by a generated script.
//	9600        h[ab]96xxua<version>.bin (H.323 3.x): UNCONFIRMED (task's
//	            example hb96xxua3_2_x.bin). Avaya's own 96xxupgrade.txt may tell
//	            hardware apart; pin or map when in doubt.
//	1600        h[ab]16xx|1600|1603|1608|1616 ua<version>.bin: UNCONFIRMED (task's
//	            example ha1600ua1_3_x.bin).
//	4600        a46xxua<version>.bin for every 4600 model: UNCONFIRMED (task and
//	            sample tree: a46xxua2_8_3.bin); a<nn>d01<letter><version>.bin
//	            per model (a20d01b2_9_1.bin for 4620/4621): UNCONFIRMED, codes
//	            read as the model number's last two digits.
//
// Names no rule knows are listed as unrecognised; [[provisioning.firmware]]
// entries in the configuration say what they are.
var rules = []rule{
	{id: "j100", meaning: "FW_S_<models>_R<version>.bin is J100 SIP firmware for the models named", source: "fusionpbx resources/templates/provision/avaya (FW_S_J1x9_R4_1_4_0_5.bin); wazo-provd-plugins plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt", re: regexp.MustCompile(`(?i)^FW_S_((?:(?:J1\d\d|J189A)_)+)R` + ver + `\.bin$`),
		series: SeriesJ100, signalling: SIP, setting: "APPNAME", models: modelList(1), variants: 1, version: 2, confirmed: true},
	{id: "jem24", meaning: "FW_JEM24_R<version>.bin is the J100 expansion module firmware, set with JEM24_APPNAME", source: "fusionpbx J-series templates; wazo-provd-plugins plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt", re: regexp.MustCompile(`(?i)^FW_JEM24_R` + ver + `\.bin$`),
		series: SeriesJ100, signalling: SIP, setting: "JEM24_APPNAME", models: fixed("J169", "J179", "J189"), version: 1, confirmed: true},
	{id: "k100", meaning: "FW_S_K1xx…_R<version>.bin is K100 SIP firmware (assumed to follow the J100 shape)", source: "", re: regexp.MustCompile(`(?i)^FW_S_((?:K1\d\d_)+)R` + ver + `\.bin$`),
		series: SeriesK100, signalling: SIP, setting: "APPNAME", models: modelList(1), version: 2},
	{id: "96x1-sip", meaning: "S96x1_SALBR<version>.tar is 96x1 SIP firmware for 9601/9608/9611/9621/9641", source: "", re: regexp.MustCompile(`(?i)^S96x1_SALBR` + ver + `\.tar$`),
		series: Series96x1S, signalling: SIP, setting: "APPNAME", models: fixed("9601", "9608", "9611", "9621", "9641"), version: 1},
	{id: "96x1-h323", meaning: "S96x1_HALBR<version>.tar is 96x1 H.323 firmware for 9608/9611/9621/9641", source: "", re: regexp.MustCompile(`(?i)^S96x1_HALBR` + ver + `\.tar$`),
		series: Series96x1H, signalling: H323, setting: "APPNAME", models: fixed("9608", "9611", "9621", "9641"), version: 1},
	{id: "96x1-kernel", meaning: "S96x1_UKR_V<a>r<b>_V<a>r<b>.tar is the 96x1 kernel archive (reported, never named)", source: "", re: regexp.MustCompile(`(?i)^S96x1_UKR_V(\d+r\d+)_V\d+r\d+\.tar$`),
		series: Series96x1S, signalling: SIP, setting: "", models: fixed("9601", "9608", "9611", "9621", "9641"), version: 1, parse: kernelVersion},
	{id: "9600-h323", meaning: "h[ab]96xxua<version>.bin is 9600 H.323 firmware for 9610–9650", source: "", re: regexp.MustCompile(`(?i)^h[ab]96xxua` + ver + `\.bin$`),
		series: Series96xx, signalling: H323, setting: "APPNAME", models: fixed("9610", "9620", "9630", "9640", "9650"), version: 1},
	{id: "1600-h323", meaning: "h[ab]16xx|1600|1603|1608|1616 ua<version>.bin is 1600 H.323 firmware", source: "", re: regexp.MustCompile(`(?i)^h[ab](16xx|1600|1603|1608|1616)ua` + ver + `\.bin$`),
		series: Series16xx, signalling: H323, setting: "APPNAME", models: models1600, version: 2},
	{id: "4600-h323", meaning: "a46xxua<version>.bin is H.323 firmware for every 4600/5600 model", source: "", re: regexp.MustCompile(`(?i)^a46xxua` + ver + `\.bin$`),
		series: Series46xx, signalling: H323, setting: "APPNAME",
		models: fixed("4601", "4602", "4606", "4610", "4612", "4620", "4621", "4622", "4624", "4625", "5601", "5602", "5610", "5620", "5621"), version: 1},
	{id: "4600-model", meaning: "a<nn>d01<letter><version>.bin is 4600 H.323 firmware for the model ending in <nn>", source: "", re: regexp.MustCompile(`(?i)^a(01|02|10|20|25)d01[a-z]` + ver + `\.bin$`),
		series: Series46xx, signalling: H323, setting: "APPNAME", models: models4600, version: 2},
}

func models1600(m []string) []string {
	switch strings.ToLower(m[1]) {
	case "16xx", "1600":
		return []string{"1603", "1608", "1616"}
	}
	return []string{m[1]}
}

func models4600(m []string) []string {
	switch m[1] {
	case "01":
		return []string{"4601"}
	case "02":
		return []string{"4602"}
	case "10":
		return []string{"4610"}
	case "20":
		return []string{"4620", "4621"}
	}
	return []string{"4625"}
}

// Recognise says what a firmware file is from its base name.
func Recognise(name string) (Image, bool) {
	for _, r := range rules {
		m := r.re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		parse := r.parse
		if parse == nil {
			parse = ParseVersion
		}
		v, _ := parse(m[r.version])
		im := Image{
			File: name, Series: r.series, Signalling: r.signalling, Models: r.models(m),
			Setting: r.setting, Version: v, Rule: r.id, Confirmed: r.confirmed,
		}
		if r.variants > 0 {
			im.Variants = variantsOf(m, r.variants)
		}
		return im, true
	}
	return Image{}, false
}

// LooksLikeFirmware reports whether a name has the extension of phone
// firmware (.bin, .tar), so an unrecognised one is worth reporting.
func LooksLikeFirmware(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".bin") || strings.HasSuffix(n, ".tar")
}
