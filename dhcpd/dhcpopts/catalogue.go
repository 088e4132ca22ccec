// Package dhcpopts turns DHCPv4 option values from configuration into wire
// bytes.
//
// A configured option has a Spec (code, name, type) found with Lookup, and a
// value parsed with Parse. Values are templates: they may refer to the
// appliance's own address and ports (see Vars), so one configuration serves
// every interface; Value.Encode fills them in per reply.
//
// The package also knows the wire rules around values: RFC 3396 splitting of
// options longer than 255 bytes (Split, AppendOption, WireLen), encapsulated
// sub-options (option 43), and the phone vendors' configuration strings: the
// Avaya site-specific option 176/242 (AvayaParams), Avaya's option 43 for
// 96x1 SIP phones (AvayaOption43) and Mitel's option 43/125 string (Mitel).
package dhcpopts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Type says how an option value is written and encoded.
type Type string

// The value types.
const (
	// TypeIP is one IPv4 address: "198.18.0.1" → 4 bytes.
	TypeIP Type = "ip"
	// TypeIPs is a list of IPv4 addresses: ["198.18.0.1", "198.18.0.2"], or
	// one string with commas or spaces between them.
	TypeIPs Type = "ips"
	// TypeString is text sent as is, without a trailing NUL.
	TypeString Type = "string"
	// TypeU8, TypeU16 and TypeU32 are unsigned big-endian integers.
	TypeU8  Type = "u8"
	TypeU16 Type = "u16"
	TypeU32 Type = "u32"
	// TypeI32 is a signed 32-bit big-endian integer (option 2, time offset).
	TypeI32 Type = "i32"
	// TypeBool is one byte, 1 or 0.
	TypeBool Type = "bool"
	// TypeHex is raw bytes written in hex: "01:02:0a", "01 02 0a", "01020a" or "0x01020a".
	TypeHex Type = "hex"
	// TypeDomains is a list of domain names in RFC 1035 wire form with
	// compression, as option 119 (RFC 3397) wants.
	TypeDomains Type = "domains"
	// TypeRoutes is a list of classless static routes (option 121, RFC 3442),
	// each "destination/len router": "198.18.0.0/15 198.18.0.1".
	TypeRoutes Type = "routes"
	// TypeSubOptions is a list of encapsulated sub-options (code, length,
	// data), as in option 43: each item is "code=text" or a table
	// {code = N, type = "...", value = ...} for a typed sub-option.
	TypeSubOptions Type = "suboptions"
	// TypeAvaya is an Avaya site-specific string (options 176 and 242),
	// "NAME=value,NAME=value", checked with AvayaParams' rules.
	TypeAvaya Type = "avaya"
	// TypeAvaya43 is written like TypeAvaya ("HTTPSRVR=${server},L2Q=0") but
	// encoded as the option 43 sub-options Avaya 96x1 SIP phones read; see
	// AvayaOption43.
	TypeAvaya43 Type = "avaya43"
)

var allTypes = []Type{TypeIP, TypeIPs, TypeString, TypeU8, TypeU16, TypeU32, TypeI32, TypeBool, TypeHex,
	TypeDomains, TypeRoutes, TypeSubOptions, TypeAvaya, TypeAvaya43}

// ParseType checks a type name from configuration (case-insensitive).
func ParseType(name string) (Type, error) {
	t := Type(strings.ToLower(strings.TrimSpace(name)))
	if t.Valid() {
		return t, nil
	}
	names := make([]string, len(allTypes))
	for i, t := range allTypes {
		names[i] = string(t)
	}
	return "", fmt.Errorf("unknown option type %q (known: %s)", name, strings.Join(names, ", "))
}

// Valid reports whether t is a known type.
func (t Type) Valid() bool {
	return slices.Contains(allTypes, t)
}

// Spec names an option and says how its value is typed.
type Spec struct {
	Code uint8  // 1..254
	Name string // catalogue name, or "option-N"
	Type Type   // how values are written and encoded
}

// String returns "name (code)".
func (s Spec) String() string {
	return fmt.Sprintf("%s (%d)", s.Name, s.Code)
}

// entry is one catalogue line; aliases are extra names Lookup accepts.
type entry struct {
	code    uint8
	name    string
	typ     Type
	aliases []string
}

// catalogue lists the options phoneprov knows by name. Names follow the
// common spelling of ISC/Kea where one exists, hyphenated.
var catalogue = []entry{
	{1, "subnet-mask", TypeIP, nil},
	{2, "time-offset", TypeI32, nil},
	{3, "routers", TypeIPs, []string{"router", "gateway"}},
	{4, "time-servers", TypeIPs, nil},
	{6, "dns-servers", TypeIPs, []string{"domain-name-servers", "dns"}},
	{7, "log-servers", TypeIPs, nil},
	{12, "host-name", TypeString, []string{"hostname"}},
	{15, "domain-name", TypeString, nil},
	{23, "default-ip-ttl", TypeU8, nil},
	{26, "interface-mtu", TypeU16, []string{"mtu"}},
	{28, "broadcast", TypeIP, []string{"broadcast-address"}},
	{42, "ntp-servers", TypeIPs, nil},
	{43, "vendor-specific", TypeSubOptions, []string{"vendor-encapsulated-options", "vendor-specific-information"}},
	{44, "netbios-name-servers", TypeIPs, nil},
	{50, "requested-address", TypeIP, nil},
	{51, "lease-time", TypeU32, []string{"dhcp-lease-time"}},
	{52, "option-overload", TypeU8, nil},
	{53, "message-type", TypeU8, []string{"dhcp-message-type"}},
	{54, "server-id", TypeIP, []string{"dhcp-server-identifier", "server-identifier"}},
	{55, "parameter-request-list", TypeHex, nil},
	{56, "message", TypeString, nil},
	{57, "max-message-size", TypeU16, []string{"dhcp-max-message-size"}},
	{58, "renewal-time", TypeU32, []string{"dhcp-renewal-time"}},
	{59, "rebinding-time", TypeU32, []string{"dhcp-rebinding-time"}},
	{60, "vendor-class", TypeString, []string{"vendor-class-identifier"}},
	{61, "client-id", TypeHex, []string{"dhcp-client-identifier"}},
	{66, "tftp-server-name", TypeString, []string{"tftp-server"}},
	{67, "bootfile-name", TypeString, []string{"boot-file-name"}},
	{77, "user-class", TypeHex, nil},
	{82, "relay-agent-info", TypeHex, []string{"relay-agent-information"}},
	{100, "pcode", TypeString, []string{"posix-timezone"}},
	{101, "tcode", TypeString, []string{"tz-database"}},
	{119, "domain-search", TypeDomains, nil},
	{121, "classless-routes", TypeRoutes, []string{"classless-static-route"}},
	{125, "vivso", TypeHex, []string{"vendor-identifying-vendor-specific"}},
	{150, "tftp-servers", TypeIPs, []string{"cisco-tftp-servers", "tftp-server-address"}},
	{160, "polycom-provisioning", TypeString, []string{"polycom"}},
	{176, "avaya-46xx", TypeAvaya, []string{"avaya-176"}},
	{242, "avaya-96xx", TypeAvaya, []string{"avaya-242"}},
}

// Lookup finds an option by name ("dns-servers", case-insensitive, "_" for
// "-" accepted), by code ("150") or as "option-150". A code without a name in
// the catalogue gets the name "option-N" and type hex. Codes 0 (pad) and 255
// (end) carry no value and are refused; an unknown name is an error that
// suggests close names.
func Lookup(nameOrCode string) (Spec, error) {
	key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(nameOrCode)), "_", "-")
	if key == "" {
		return Spec{}, fmt.Errorf("empty DHCP option name")
	}
	num, _ := strings.CutPrefix(key, "option-")
	if isDigits(num) {
		n, err := strconv.ParseUint(num, 10, 16)
		switch {
		case err != nil || n > 255:
			return Spec{}, fmt.Errorf("DHCP option %s is out of range (1..254)", num)
		case n == 0:
			return Spec{}, fmt.Errorf("DHCP option 0 is the pad option and cannot carry a value")
		case n == 255:
			return Spec{}, fmt.Errorf("DHCP option 255 is the end option and cannot carry a value")
		}
		for _, e := range catalogue {
			if uint64(e.code) == n {
				return Spec{Code: e.code, Name: e.name, Type: e.typ}, nil
			}
		}
		return Spec{Code: uint8(n), Name: "option-" + strconv.FormatUint(n, 10), Type: TypeHex}, nil
	}
	for _, e := range catalogue {
		if e.name == key || slices.Contains(e.aliases, key) {
			return Spec{Code: e.code, Name: e.name, Type: e.typ}, nil
		}
	}
	if close := closeNames(key); len(close) > 0 {
		return Spec{}, fmt.Errorf("unknown DHCP option %q (did you mean %s?)", nameOrCode, strings.Join(close, ", "))
	}
	return Spec{}, fmt.Errorf("unknown DHCP option %q (give its number, e.g. \"option-224\")", nameOrCode)
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

// closeNames returns up to three catalogue names near key: within a small
// edit distance, or containing it (or contained in it).
func closeNames(key string) []string {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	for _, e := range catalogue {
		best := -1
		for _, n := range append([]string{e.name}, e.aliases...) {
			d := editDistance(key, n)
			if len(key) >= 3 && (strings.Contains(n, key) || strings.Contains(key, n)) {
				d = min(d, 1)
			}
			if best < 0 || d < best {
				best = d
			}
		}
		if best <= max(2, len(key)/4) {
			cands = append(cands, cand{e.name, best})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return a.dist - b.dist })
	var out []string
	for _, c := range cands {
		if len(out) == 3 {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
