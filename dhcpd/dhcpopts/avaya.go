package dhcpopts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// AvayaParam is one NAME=value pair of an Avaya site-specific string.
type AvayaParam struct {
	Name  string
	Value string
}

// AvayaParams is the Avaya site-specific option string (176 for 4600/5600,
// 242 for 9600, 96x1, 1600, J100, K100): comma-separated NAME=value pairs,
// e.g. "MCIPADD=198.18.0.1,MCPORT=1719,HTTPSRVR=198.18.0.1,L2Q=0". Names are
// case-insensitive, values case-sensitive, order is kept (TFTPDIR must come
// before TFTPSRVR). Some values are themselves comma-separated lists
// (MCIPADD=198.18.0.1,198.18.0.2,…): see AvayaListParam.
type AvayaParams []AvayaParam

// avayaLists are the names whose value may be a comma-separated list. The
// reference confirms MCIPADD; Avaya documents HTTPSRVR, TLSSRVR, TFTPSRVR,
// LOGSRVR, DNSSRVR and SIP_CONTROLLER_LIST as lists in the settings file.
// Whether the phones accept those lists in DHCP is unconfirmed, so they are
// accepted leniently here.
var avayaLists = []string{"MCIPADD", "HTTPSRVR", "TLSSRVR", "TFTPSRVR", "LOGSRVR", "DNSSRVR", "SIP_CONTROLLER_LIST"}

// avayaRanges bound the numeric parameters.
var avayaRanges = map[string][2]int{
	"MCPORT": {1, 65535}, "HTTPPORT": {1, 65535}, "TLSPORT": {1, 65535},
	"L2Q": {0, 2}, "L2QVLAN": {0, 4094}, "L2QAUD": {0, 7}, "L2QSIG": {0, 7},
	"VLANTEST": {0, 999}, "SIG": {0, 2}, "PROCSTAT": {0, 1}, "ICMPDU": {0, 2}, "ICMPRED": {0, 1},
}

// AvayaListParam reports whether the named parameter takes a comma-separated list.
func AvayaListParam(name string) bool {
	return slices.Contains(avayaLists, strings.ToUpper(name))
}

// ParseAvaya reads a site-specific string the way the phones do: each
// comma-separated item NAME=value starts a parameter, and an item that is not
// NAME=value continues the previous parameter's list
// ("MCIPADD=198.18.0.1,198.18.0.2"). Only what cannot be read at all is an
// error: an empty string or item, or a first item that is not NAME=value.
// Use Validate for the stricter checks a configuration deserves.
func ParseAvaya(s string) (AvayaParams, error) {
	if s == "" {
		return nil, fmt.Errorf("empty Avaya parameter string")
	}
	var out AvayaParams
	for i, item := range strings.Split(s, ",") {
		if item == "" {
			return nil, fmt.Errorf("Avaya parameter string %q: item %d is empty (stray comma?)", s, i+1)
		}
		name, value, ok := strings.Cut(item, "=")
		if ok && avayaName(name) {
			out = append(out, AvayaParam{Name: name, Value: value})
			continue
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("Avaya parameter string %q does not start with NAME=value", s)
		}
		out[len(out)-1].Value += "," + item
	}
	return out, nil
}

// avayaName reports whether s looks like a parameter name: a letter, then
// letters, digits or underscores.
func avayaName(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for _, c := range []byte(s) {
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Validate checks what a configuration should get right: names are names
// and not repeated; values are printable ASCII without spaces at their ends;
// only list parameters (AvayaListParam) contain commas, with no empty list
// items; numeric parameters are integers in range; TFTPDIR comes before
// TFTPSRVR. Unknown names are not errors (phones ignore them and firmware
// adds new ones).
func (p AvayaParams) Validate() error {
	if len(p) == 0 {
		return fmt.Errorf("no Avaya parameters")
	}
	seen := map[string]int{}
	for i, kv := range p {
		name := strings.ToUpper(kv.Name)
		if !avayaName(kv.Name) {
			return fmt.Errorf("Avaya parameter name %q is not a NAME", kv.Name)
		}
		if j, dup := seen[name]; dup {
			return fmt.Errorf("Avaya parameter %s is given twice (items %d and %d)", name, j+1, i+1)
		}
		seen[name] = i
		if err := validateAvayaValue(name, kv.Value); err != nil {
			return err
		}
	}
	if dir, ok := seen["TFTPDIR"]; ok {
		if srv, ok := seen["TFTPSRVR"]; ok && srv < dir {
			return fmt.Errorf("Avaya parameter TFTPDIR must come before TFTPSRVR (the phone reads them in order)")
		}
	}
	return nil
}

func validateAvayaValue(name, value string) error {
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("Avaya parameter %s=%q: byte %#02x at offset %d is not printable ASCII", name, value, c, i)
		}
	}
	if strings.TrimSpace(value) != value {
		return fmt.Errorf("Avaya parameter %s=%q has spaces at its ends", name, value)
	}
	if strings.Contains(value, ",") {
		if !AvayaListParam(name) {
			return fmt.Errorf("Avaya parameter %s=%q contains a comma; only %s take comma-separated lists",
				name, value, strings.Join(avayaLists, ", "))
		}
		for _, item := range strings.Split(value, ",") {
			if strings.TrimSpace(item) == "" {
				return fmt.Errorf("Avaya parameter %s=%q has an empty list item", name, value)
			}
		}
	}
	if r, ok := avayaRanges[name]; ok {
		n, err := strconv.Atoi(value)
		if err != nil || n < r[0] || n > r[1] {
			return fmt.Errorf("Avaya parameter %s=%q: want an integer %d..%d", name, value, r[0], r[1])
		}
	}
	return nil
}

// avaya43Codes are the option 43 sub-option codes of 96x1 SIP phones, per
// the 9601/9608/9611G/9621G/9641G SIP administration guide ("Administering
// DHCP and HTTP servers"); the reference lists 2-10 and 14.
var avaya43Codes = map[string]uint8{
	"HTTPSRVR": 2, "HTTPDIR": 3, "HTTPPORT": 4, "TLSSRVR": 5, "TLSDIR": 6, "TLSPORT": 7, "TLSSRVRID": 8,
	"L2Q": 9, "L2QVLAN": 10, "PHY1STAT": 11, "PHY2STAT": 12, "PROCSTAT": 13, "SIG": 14, "SIP_CONTROLLER_LIST": 15,
}

// AvayaEnterprise is Avaya's IANA enterprise number, the value sub-option 1
// of option 43 must carry for the phones to read the option.
const AvayaEnterprise = "6889"

// AvayaOption43 encodes parameters as the option 43 the 96x1 SIP (and J100,
// Vantage) phones read: sub-option 1 = "6889" first, then each parameter as
// its sub-option, in the order given, values as ASCII text (the phones take
// them with or without a trailing NUL; none is sent). A parameter without an
// option 43 code is an error.
func AvayaOption43(p AvayaParams) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	subs := []SubOption{{Code: 1, Data: []byte(AvayaEnterprise)}}
	for _, kv := range p {
		code, ok := avaya43Codes[strings.ToUpper(kv.Name)]
		if !ok {
			return nil, fmt.Errorf("Avaya parameter %s has no option 43 sub-option (those that do: %s)", kv.Name, avaya43Names())
		}
		subs = append(subs, SubOption{Code: code, Data: []byte(kv.Value)})
	}
	return AppendSubOptions(nil, subs...)
}

func avaya43Names() string {
	names := make([]string, 0, len(avaya43Codes))
	for n := range avaya43Codes {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return int(avaya43Codes[a]) - int(avaya43Codes[b]) })
	return strings.Join(names, ", ")
}
