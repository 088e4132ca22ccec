package dhcpopts

import (
	"fmt"
	"strconv"
	"strings"
)

// MitelID opens the configuration string Mitel (and Aastra) phones read from
// option 43 or 125.
const MitelID = "id:ipphone.mitel.com"

// MitelParam is one name=value pair of a Mitel configuration string.
type MitelParam struct {
	Name  string
	Value string
}

// mitelRanges bound the numeric fields: vlan 0-4095, l2p 0-7, dscp 0-63
// (Mitel 3300 ICP Engineering Guidelines p.244 Table 74).
var mitelRanges = map[string][2]int{"vlan": {0, 4095}, "l2p": {0, 7}, "dscp": {0, 63}}

// ParseMitel reads a Mitel configuration string back into its pairs. The
// "id:" prefix is required; a trailing ';' and empty items are tolerated.
func ParseMitel(s string) ([]MitelParam, error) {
	rest, ok := cutPrefixFold(s, MitelID)
	if !ok {
		return nil, fmt.Errorf("Mitel string %q does not start with %q", s, MitelID)
	}
	var out []MitelParam
	for _, item := range strings.Split(rest, ";") {
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("Mitel string %q: item %q is not name=value", s, item)
		}
		p := MitelParam{Name: strings.ToLower(name), Value: value}
		if err := validateMitel(p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

func validateMitel(p MitelParam) error {
	if p.Name == "" {
		return fmt.Errorf("Mitel parameter with an empty name")
	}
	for _, c := range []byte(p.Name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("Mitel parameter name %q: want lower-case letters, digits, '_'", p.Name)
		}
	}
	if p.Value == "" {
		return fmt.Errorf("Mitel parameter %s has an empty value", p.Name)
	}
	for i := 0; i < len(p.Value); i++ {
		if c := p.Value[i]; c == ';' || c < 0x20 || c > 0x7e {
			return fmt.Errorf("Mitel parameter %s=%q: %q is not allowed in a value", p.Name, p.Value, c)
		}
	}
	switch p.Name {
	case "sw_tftp", "call_srv":
		// Both are address lists (sw_tftp "IP Address list", call_srv 1
		// to 4 addresses: Mitel 3300 ICP Engineering Guidelines p.244).
		for _, a := range strings.Split(p.Value, ",") {
			if _, err := parseIPv4(a); err != nil {
				return fmt.Errorf("Mitel parameter %s: %w", p.Name, err)
			}
		}
	}
	if r, ok := mitelRanges[p.Name]; ok {
		n, err := strconv.Atoi(p.Value)
		if err != nil || n < r[0] || n > r[1] {
			return fmt.Errorf("Mitel parameter %s=%q: want an integer %d..%d", p.Name, p.Value, r[0], r[1])
		}
	}
	return nil
}
