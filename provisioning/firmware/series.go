package firmware

import (
	"slices"
	"strings"
)

// Series is a family of phones that reads one upgrade script.
type Series string

// The series, named after the upgrade script each reads first (project
// reference, "Download sequence").
const (
	Series46xx  Series = "46xx"  // 4600 and 5600 (H.323): 46xxupgrade.scr
	Series16xx  Series = "16xx"  // 1600 (H.323): 16xxupgrade.txt
	Series96xx  Series = "96xx"  // 9600 (H.323 and SIP): 96xxupgrade.txt
	Series96x1H Series = "96x1H" // 9601/9608/9611/9621/9641 H.323: 96x1Hupgrade.txt
	Series96x1S Series = "96x1S" // 96x1 SIP: 96x1Supgrade.txt
	SeriesJ100  Series = "J100"  // J100 SIP: J100Supgrade.txt
	SeriesK100  Series = "K100"  // K100 (Vantage) SIP: K1xxSupgrade.txt
)

// Signalling is the call protocol a firmware speaks.
type Signalling string

// Signalling protocols; SIG is 1 for H.323 and 2 for SIP on the phones.
const (
	H323 Signalling = "h323"
	SIP  Signalling = "sip"
)

// SeriesInfo describes one series.
type SeriesInfo struct {
	Series Series
	// Script is the upgrade script the phones ask for first.
	Script string
	// Aliases are other names phones of the series may ask for the same
	// script by (4600 accepts .txt from R1.7).
	Aliases []string
	// Models are the $MODEL4 values of the series' phones.
	Models []string
	// Default is the protocol of firmware that does not say.
	Default Signalling
	// Dual means the series runs H.323 or SIP firmware under one script, so
	// the script must branch on $SIG.
	Dual bool
	// FoldCase means the phones compare IF … SEQ without regard to case:
	// 4600, 1600 and 9600 per their admin guides; 96x1 and J100 compare
	// exactly (project reference, "Script language"). K100: unconfirmed,
	// taken as exact like the J100.
	FoldCase bool
	// SkipsCurrentApp names where it is documented that the phones download
	// the APPNAME their script names only when they do not run it already;
	// empty where no source says so (then it is presumed, unconfirmed).
	SkipsCurrentApp string
}

// Where the admin guides say a phone that already has the application file
// its script names goes on without downloading it again.
const (
	skips4600 = "4600 Series IP Telephone LAN Administrator Guide R2.7, Step 3: Telephone and File Server (support.avaya.com/elmodocs2/ip_phones/r2_7/output/233507_5/lanad0225.html)"
	skips1600 = "Avaya 1603 IP Telephone administrator guide, Issue 1 June 2007, p.55 General Download Process (manualsbrain.com/pt/manuals/1444531/?page=55); 1603SW-I SIP guide June 2010 p.63"
	skips9600 = "9600 Series IP Telephones administrator guide, Chapter 6 General Download Process (read in a stored copy whose address was not given: \"If the telephone determines it already has the proper file, the telephone proceeds to the next step without downloading the application file again\")"
)

// series is the immutable table behind AllSeries. Model lists: 4600/5600
// from the 4600 LAN admin guide's model names; 9600 (9610–9650) and 96x1
// (9601–9641) from their admin guides; J100 and K100 from the public
// provisioning templates of fusionpbx and wazo (J129–J189) and Avaya's
// Vantage K155/K165/K175 naming (K100 list unconfirmed).
var series = []SeriesInfo{
	{Series: Series46xx, Script: "46xxupgrade.scr", Aliases: []string{"46xxupgrade.txt"}, Default: H323, Dual: true, FoldCase: true,
		SkipsCurrentApp: skips4600,
		Models:          []string{"4601", "4602", "4606", "4610", "4612", "4620", "4621", "4622", "4624", "4625", "5601", "5602", "5610", "5620", "5621"}},
	{Series: Series16xx, Script: "16xxupgrade.txt", Default: H323, FoldCase: true,
		SkipsCurrentApp: skips1600,
		Models:          []string{"1603", "1608", "1616"}},
	{Series: Series96xx, Script: "96xxupgrade.txt", Default: H323, Dual: true, FoldCase: true,
		SkipsCurrentApp: skips9600,
		Models:          []string{"9610", "9620", "9630", "9640", "9650"}},
	{Series: Series96x1H, Script: "96x1Hupgrade.txt", Default: H323,
		Models: []string{"9608", "9611", "9621", "9641"}},
	{Series: Series96x1S, Script: "96x1Supgrade.txt", Default: SIP,
		Models: []string{"9601", "9608", "9611", "9621", "9641"}},
	{Series: SeriesJ100, Script: "J100Supgrade.txt", Default: SIP,
		Models: []string{"J129", "J139", "J159", "J169", "J179", "J189"}},
	{Series: SeriesK100, Script: "K1xxSupgrade.txt", Default: SIP,
		Models: []string{"K155", "K165", "K175"}},
}

// ModelClass is the name the inventory records for a phone known only by
// its series: "96x1 SIP" and "96x1 H.323" for the two 96x1 scripts, the
// series name otherwise ("46xx", "16xx", "J100"). ParseModelClass reads it
// back to the same series.
func (info SeriesInfo) ModelClass() string {
	switch info.Series {
	case Series96x1S:
		return "96x1 SIP"
	case Series96x1H:
		return "96x1 H.323"
	}
	return string(info.Series)
}

// ModelClass is the name the inventory records for a phone that downloaded
// this image and names no model itself: the one model the image is for,
// else its series' class (see SeriesInfo.ModelClass).
func (im Image) ModelClass() string {
	if len(im.Models) == 1 {
		return im.Models[0]
	}
	info, ok := Lookup(im.Series)
	if !ok {
		return ""
	}
	return info.ModelClass()
}

// AllSeries returns every series, in a fixed order.
func AllSeries() []SeriesInfo {
	out := make([]SeriesInfo, len(series))
	for i, s := range series {
		out[i] = s.clone()
	}
	return out
}

// clone copies info with its own slices, so a caller cannot change the
// table.
func (info SeriesInfo) clone() SeriesInfo {
	info.Aliases = slices.Clone(info.Aliases)
	info.Models = slices.Clone(info.Models)
	return info
}

// Lookup returns the description of a series.
func Lookup(s Series) (SeriesInfo, bool) {
	for _, info := range series {
		if info.Series == s {
			return info.clone(), true
		}
	}
	return SeriesInfo{}, false
}

// ByScript finds the series whose upgrade script (or alias) has this name,
// compared without regard to case as the file server does. A name that is
// no upgrade script costs no allocation (the inventory asks for every
// file a phone fetches).
func ByScript(name string) (SeriesInfo, bool) {
	for _, info := range series {
		if strings.EqualFold(info.Script, name) {
			return info.clone(), true
		}
		for _, a := range info.Aliases {
			if strings.EqualFold(a, name) {
				return info.clone(), true
			}
		}
	}
	return SeriesInfo{}, false
}

// ParseSeries reads a series name as written in the configuration ("J100",
// "96x1S", …), without regard to case.
func ParseSeries(s string) (Series, bool) {
	for _, info := range series {
		if strings.EqualFold(string(info.Series), s) {
			return info.Series, true
		}
	}
	return "", false
}

// SeriesNames lists the series names, for error messages.
func SeriesNames() []string {
	out := make([]string, len(series))
	for i, s := range series {
		out[i] = string(s.Series)
	}
	return out
}

// ModelClass is what a phone's self-description narrows it down to: one
// $MODEL4 value, or a series and protocol when that is all the phone names
// (a 96x1 SIP phone's User-Agent says "96x1" and "SIP", not 9608).
type ModelClass struct {
	Models     []string
	Series     Series     // empty when the models may read either of two scripts (9608: 96x1H or 96x1S)
	Signalling Signalling // empty when not known
}

// ParseModelClass reads a model as the inventory records it: a $MODEL4
// value ("J179", "9608"), or a series name with an optional protocol
// ("96x1 SIP", "46xx H.323", "16xx", "J100"). Case is ignored. "96x1"
// without a protocol stands for every 96x1 model, of either script.
func ParseModelClass(s string) (ModelClass, bool) {
	name, proto, _ := strings.Cut(strings.TrimSpace(s), " ")
	var sig Signalling
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(proto), ".", "")) {
	case "":
	case "SIP":
		sig = SIP
	case "H323":
		sig = H323
	default:
		return ModelClass{}, false
	}
	up := strings.ToUpper(name)
	if up == "96X1" {
		switch sig {
		case SIP:
			name = string(Series96x1S)
		case H323:
			name = string(Series96x1H)
		default:
			info, _ := Lookup(Series96x1S)
			return ModelClass{Models: info.Models}, true
		}
	}
	if se, ok := ParseSeries(name); ok {
		info, _ := Lookup(se)
		if sig != "" && !info.Dual && sig != info.Default {
			return ModelClass{}, false
		}
		return ModelClass{Models: info.Models, Series: se, Signalling: sig}, true
	}
	for _, info := range series {
		if slices.Contains(info.Models, up) {
			return ModelClass{Models: []string{up}, Signalling: sig}, true
		}
	}
	return ModelClass{}, false
}
