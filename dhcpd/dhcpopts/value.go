package dhcpopts

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Value is a parsed, validated option value: a template for the option's
// bytes. It is immutable and safe for concurrent use.
type Value struct {
	Spec Spec

	shown  string // the configured value, for String
	node   node
	static []byte // the encoding, when it depends on no variable
}

// node is one parsed value (or sub-option value) that can be encoded.
type node interface {
	encode(vars *Vars) ([]byte, error)
	usesVars() bool
}

// Parse checks a configured value against spec's type and returns it ready
// to encode. raw is what the TOML decoder produced: a string, an integer
// (int64 or int), a bool, a []any of those, or for sub-options tables
// (map[string]any). Every template is expanded once with sample variables so
// that a value that could never encode (a bad address, a number out of range,
// an unknown ${var}, a NUL in a string) is refused here, at load time, with
// an error naming the value.
func Parse(spec Spec, raw any) (Value, error) {
	if !spec.Type.Valid() {
		return Value{}, fmt.Errorf("option %v has unknown type %q", spec, spec.Type)
	}
	if spec.Code == 0 || spec.Code == 255 {
		return Value{}, fmt.Errorf("option %d cannot carry a value", spec.Code)
	}
	n, err := parseNode(spec.Type, raw)
	if err != nil {
		return Value{}, err
	}
	v := Value{Spec: spec, shown: formatRaw(raw), node: n}
	enc, err := n.encode(&probeVars)
	if err != nil {
		return Value{}, err
	}
	if !n.usesVars() {
		v.static = enc
	}
	return v, nil
}

// Encode returns the option's bytes with vars filled in. They may be longer
// than 255 bytes; see Split and AppendOption for the wire form. The caller
// owns the returned slice.
func (v Value) Encode(vars Vars) ([]byte, error) {
	if v.node == nil {
		return nil, errors.New("empty option value")
	}
	if v.static != nil {
		return slices.Clone(v.static), nil
	}
	b, err := v.node.encode(&vars)
	if err != nil {
		return nil, fmt.Errorf("option %v: %w", v.Spec, err)
	}
	return b, nil
}

// UsesVars reports whether the encoding depends on Vars; if not, Encode
// returns the same bytes every time and may be called once.
func (v Value) UsesVars() bool {
	return v.node != nil && v.node.usesVars()
}

// String shows the option and its value as configured, e.g.
// `avaya-96xx (242, avaya) = "MCIPADD=${server}"`, for `phoneprov check`.
func (v Value) String() string {
	return fmt.Sprintf("%s (%d, %s) = %s", v.Spec.Name, v.Spec.Code, v.Spec.Type, v.shown)
}

func parseNode(t Type, raw any) (node, error) {
	switch t {
	case TypeIPs, TypeDomains, TypeRoutes:
		items, err := listItems(t, raw)
		if err != nil {
			return nil, err
		}
		ts := make([]template, len(items))
		for i, s := range items {
			if ts[i], err = parseTemplate(s); err != nil {
				return nil, err
			}
		}
		return listNode{typ: t, items: ts}, nil
	case TypeSubOptions:
		return parseSubOptions(raw)
	default:
		s, err := scalarText(t, raw)
		if err != nil {
			return nil, err
		}
		tm, err := parseTemplate(s)
		if err != nil {
			return nil, err
		}
		return scalarNode{typ: t, t: tm}, nil
	}
}

// scalarText turns a raw scalar into the text its encoder reads.
func scalarText(t Type, raw any) (string, error) {
	switch r := raw.(type) {
	case string:
		return r, nil
	case bool:
		if t != TypeBool {
			return "", fmt.Errorf("%s value: want %s, got the boolean %v", t, describeType(t), r)
		}
		return strconv.FormatBool(r), nil
	case int64, int, int32, uint8, uint16, uint32:
		n := toInt64(r)
		switch t {
		case TypeU8, TypeU16, TypeU32, TypeI32:
			return strconv.FormatInt(n, 10), nil
		case TypeBool:
			if n == 0 || n == 1 {
				return strconv.FormatInt(n, 10), nil
			}
		}
		return "", fmt.Errorf("%s value: want %s, got the number %d", t, describeType(t), n)
	case nil:
		return "", fmt.Errorf("%s value: missing", t)
	default:
		return "", fmt.Errorf("%s value: want %s, got %s", t, describeType(t), describeRaw(raw))
	}
}

func toInt64(r any) int64 {
	switch n := r.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	}
	return 0
}

func describeType(t Type) string {
	switch t {
	case TypeIP:
		return "an IPv4 address string"
	case TypeU8, TypeU16, TypeU32, TypeI32:
		return "an integer"
	case TypeBool:
		return "true or false"
	case TypeHex:
		return `a hex string such as "01:0a:ff"`
	default:
		return "a string"
	}
}

func describeRaw(raw any) string {
	switch raw.(type) {
	case []any:
		return "a list (this type takes a single value)"
	case map[string]any:
		return "a table"
	case float64, float32:
		return fmt.Sprintf("the number %v (not an integer)", raw)
	default:
		return fmt.Sprintf("%T", raw)
	}
}

// listItems accepts a list of strings, or one string with separators:
// commas or white space for addresses and names, commas for routes.
func listItems(t Type, raw any) ([]string, error) {
	var items []string
	switch r := raw.(type) {
	case string:
		for i, piece := range strings.Split(r, ",") {
			if strings.TrimSpace(piece) == "" {
				return nil, fmt.Errorf("%s value %q: item %d is empty (stray comma?)", t, r, i+1)
			}
			if t == TypeRoutes {
				items = append(items, strings.TrimSpace(piece))
			} else {
				items = append(items, strings.Fields(piece)...)
			}
		}
	case []any:
		for i, e := range r {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s value: item %d is %s, want a string", t, i+1, describeRaw(e))
			}
			items = append(items, strings.TrimSpace(s))
		}
	case []string:
		for _, s := range r {
			items = append(items, strings.TrimSpace(s))
		}
	case nil:
		return nil, fmt.Errorf("%s value: missing", t)
	default:
		return nil, fmt.Errorf("%s value: want a list of strings, got %s", t, describeRaw(raw))
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s value: empty list", t)
	}
	for i, s := range items {
		if s == "" {
			return nil, fmt.Errorf("%s value: item %d is empty", t, i+1)
		}
	}
	return items, nil
}

// scalarNode is one templated value of a scalar type.
type scalarNode struct {
	typ Type
	t   template
}

func (n scalarNode) usesVars() bool { return n.t.usesVars() }

func (n scalarNode) encode(vars *Vars) ([]byte, error) {
	s, err := n.t.expand(vars)
	if err != nil {
		return nil, err
	}
	b, err := encodeScalar(n.typ, s)
	if err != nil && n.t.usesVars() {
		return nil, fmt.Errorf("%q expanded: %w", n.t.raw, err)
	}
	return b, err
}

// listNode is a list of templated items of one type.
type listNode struct {
	typ   Type
	items []template
}

func (n listNode) usesVars() bool {
	return slices.ContainsFunc(n.items, template.usesVars)
}

func (n listNode) encode(vars *Vars) ([]byte, error) {
	items := make([]string, len(n.items))
	for i, t := range n.items {
		s, err := t.expand(vars)
		if err != nil {
			return nil, err
		}
		items[i] = s
	}
	switch n.typ {
	case TypeIPs:
		out := make([]byte, 0, 4*len(items))
		for _, s := range items {
			b, err := encodeIP(s)
			if err != nil {
				return nil, err
			}
			out = append(out, b...)
		}
		return out, nil
	case TypeDomains:
		return EncodeDomains(items)
	case TypeRoutes:
		return encodeRoutes(items)
	}
	return nil, fmt.Errorf("type %s is not a list type", n.typ)
}

// encodeScalar encodes the expanded text of one scalar value.
func encodeScalar(t Type, s string) ([]byte, error) {
	switch t {
	case TypeIP:
		return encodeIP(s)
	case TypeString:
		if err := checkText(s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case TypeAvaya, TypeAvaya43:
		if err := checkText(s); err != nil {
			return nil, err
		}
		p, err := ParseAvaya(s)
		if err != nil {
			return nil, err
		}
		if t == TypeAvaya43 {
			return AvayaOption43(p)
		}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case TypeU8:
		n, err := parseInt(s, 0, math.MaxUint8, t)
		return []byte{byte(n)}, err
	case TypeU16:
		n, err := parseInt(s, 0, math.MaxUint16, t)
		return []byte{byte(n >> 8), byte(n)}, err
	case TypeU32:
		n, err := parseInt(s, 0, math.MaxUint32, t)
		return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, err
	case TypeI32:
		n, err := parseInt(s, math.MinInt32, math.MaxInt32, t)
		u := uint32(int32(n))
		return []byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}, err
	case TypeBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "yes", "on", "1":
			return []byte{1}, nil
		case "false", "no", "off", "0":
			return []byte{0}, nil
		}
		return nil, fmt.Errorf("%q is not a boolean (true/false, yes/no, on/off, 1/0)", s)
	case TypeHex:
		return ParseHex(s)
	}
	return nil, fmt.Errorf("type %s is not a scalar type", t)
}

func encodeIP(s string) ([]byte, error) {
	a, err := parseIPv4(s)
	if err != nil {
		return nil, err
	}
	b := a.As4()
	return b[:], nil
}

// checkText refuses strings a DHCP client would choke on: empty, or with NUL
// (many clients treat it as the end of the string).
func checkText(s string) error {
	if s == "" {
		return errors.New("empty string")
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("string %q contains a NUL byte at offset %d", s, i)
	}
	return nil
}

// parseInt reads a decimal or 0x-hex integer in [lo, hi].
func parseInt(s string, lo, hi int64, t Type) (int64, error) {
	txt := strings.TrimSpace(s)
	var n int64
	var err error
	if h, ok := strings.CutPrefix(strings.ToLower(txt), "0x"); ok {
		var u uint64
		u, err = strconv.ParseUint(h, 16, 64)
		if err == nil && u > math.MaxInt64 {
			err = strconv.ErrRange
		}
		n = int64(u)
	} else {
		n, err = strconv.ParseInt(txt, 10, 64)
	}
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s is out of range for %s (%d..%d)", txt, t, lo, hi)
	}
	return n, nil
}

// ParseHex reads bytes written in hex: "01:02:0a", "01-02-0a", "01 02 0a",
// "01020a" or "0x01020a". With separators a group may be one digit ("1:2:a").
func ParseHex(s string) ([]byte, error) {
	txt := strings.TrimSpace(s)
	if h, ok := strings.CutPrefix(strings.ToLower(txt), "0x"); ok {
		txt = h
	}
	if txt == "" {
		return nil, fmt.Errorf("hex value %q is empty", s)
	}
	var groups []string
	if strings.ContainsAny(txt, ":- .") {
		groups = strings.FieldsFunc(txt, func(r rune) bool { return r == ':' || r == '-' || r == ' ' || r == '.' })
		for _, g := range groups {
			if len(g) > 2 {
				return nil, fmt.Errorf("hex value %q: group %q is longer than one byte", s, g)
			}
		}
	} else {
		if len(txt)%2 != 0 {
			return nil, fmt.Errorf("hex value %q has an odd number of digits", s)
		}
		for i := 0; i < len(txt); i += 2 {
			groups = append(groups, txt[i:i+2])
		}
	}
	out := make([]byte, 0, len(groups))
	for _, g := range groups {
		b, err := strconv.ParseUint(g, 16, 8)
		if err != nil {
			return nil, fmt.Errorf("hex value %q: %q is not a hex byte", s, g)
		}
		out = append(out, byte(b))
	}
	return out, nil
}

// formatRaw renders a configured value for Value.String, TOML-like.
func formatRaw(raw any) string {
	switch r := raw.(type) {
	case string:
		return strconv.Quote(r)
	case []any:
		parts := make([]string, len(r))
		for i, e := range r {
			parts[i] = formatRaw(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		parts := make([]string, len(r))
		for i, e := range r {
			parts[i] = strconv.Quote(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " = " + formatRaw(r[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(r)
	}
}
