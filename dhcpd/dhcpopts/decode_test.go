package dhcpopts

// Decoders and writers the tests use to check what the package encodes
// and parses; the product needs none of them.

import (
	"fmt"
	"slices"
	"strings"
)

// String writes the pairs back as NAME=value,NAME=value.
func (p AvayaParams) String() string {
	var b strings.Builder
	for i, kv := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv.Name)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	return b.String()
}

// Get returns the value of the first parameter with this name (case-insensitive).
func (p AvayaParams) Get(name string) (string, bool) {
	if i := p.index(name); i >= 0 {
		return p[i].Value, true
	}
	return "", false
}

func (p AvayaParams) index(name string) int {
	return slices.IndexFunc(p, func(kv AvayaParam) bool { return strings.EqualFold(kv.Name, name) })
}

// ParseAvayaOption43 is the inverse of AvayaOption43: it checks sub-option 1
// is 6889 and returns the parameters (names upper-case), for tests and for
// showing what a reply carried. Unknown sub-option codes are an error.
func ParseAvayaOption43(data []byte) (AvayaParams, error) {
	subs, err := ParseSubOptions(data)
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 || subs[0].Code != 1 || strings.TrimRight(string(subs[0].Data), "\x00") != AvayaEnterprise {
		return nil, fmt.Errorf("Avaya option 43 must start with sub-option 1 = %s", AvayaEnterprise)
	}
	var out AvayaParams
	for _, s := range subs[1:] {
		name := ""
		for n, c := range avaya43Codes {
			if c == s.Code {
				name = n
			}
		}
		if name == "" {
			return nil, fmt.Errorf("Avaya option 43 has unknown sub-option %d", s.Code)
		}
		out = append(out, AvayaParam{Name: name, Value: strings.TrimRight(string(s.Data), "\x00")})
	}
	return out, nil
}

// ParseSubOptions reads code/length/data triples, skipping pad (0) and
// stopping at end (255). The returned Data slices alias data.
func ParseSubOptions(data []byte) ([]SubOption, error) {
	var out []SubOption
	for i := 0; i < len(data); {
		code := data[i]
		switch code {
		case 0:
			i++
			continue
		case 255:
			return out, nil
		}
		if i+1 >= len(data) {
			return nil, fmt.Errorf("sub-option %d at offset %d has no length byte", code, i)
		}
		n := int(data[i+1])
		if i+2+n > len(data) {
			return nil, fmt.Errorf("sub-option %d at offset %d claims %d bytes, only %d left", code, i, n, len(data)-i-2)
		}
		out = append(out, SubOption{Code: code, Data: data[i+2 : i+2+n : i+2+n]})
		i += 2 + n
	}
	return out, nil
}

// BuildMitel writes Mitel's configuration string,
// "id:ipphone.mitel.com;sw_tftp=198.18.0.1;call_srv=198.18.0.2;vlan=2;l2p=6;dscp=46",
// after checking each pair: a lower-case name, a value without ';' or
// control characters; sw_tftp and call_srv comma-separated lists of IPv4
// addresses; vlan 0..4095, l2p 0..7, dscp 0..63. Template references such
// as ${server} are checked after expansion, so use this on expanded values.
func BuildMitel(params ...MitelParam) (string, error) {
	var b strings.Builder
	b.WriteString(MitelID)
	for _, p := range params {
		if err := validateMitel(p); err != nil {
			return "", err
		}
		b.WriteByte(';')
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value)
	}
	return b.String(), nil
}

// Catalogue returns every option Lookup knows by name, in code order.
func Catalogue() []Spec {
	out := make([]Spec, len(catalogue))
	for i, e := range catalogue {
		out[i] = Spec{Code: e.code, Name: e.name, Type: e.typ}
	}
	return out
}
