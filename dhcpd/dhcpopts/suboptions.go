package dhcpopts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SubOption is one option encapsulated in another's data, as in option 43
// (RFC 2132 §8.4), whose sub-options use the DHCP options syntax: code,
// length, data.
type SubOption struct {
	Code uint8
	Data []byte
}

// AppendSubOptions writes sub-options as code/length/data triples. A
// sub-option cannot be split, so data over 255 bytes is an error, as are the
// codes 0 (pad) and 255 (end).
func AppendSubOptions(dst []byte, subs ...SubOption) ([]byte, error) {
	for _, s := range subs {
		if s.Code == 0 || s.Code == 255 {
			return nil, fmt.Errorf("sub-option code %d is reserved (pad/end)", s.Code)
		}
		if len(s.Data) > 255 {
			return nil, fmt.Errorf("sub-option %d is %d bytes long; a sub-option holds at most 255", s.Code, len(s.Data))
		}
		dst = append(dst, s.Code, byte(len(s.Data)))
		dst = append(dst, s.Data...)
	}
	return dst, nil
}

// subNode is a configured list of sub-options.
type subNode struct {
	subs []subItem
}

type subItem struct {
	code uint8
	v    node
}

func (n subNode) usesVars() bool {
	return slices.ContainsFunc(n.subs, func(s subItem) bool { return s.v.usesVars() })
}

func (n subNode) encode(vars *Vars) ([]byte, error) {
	var out []byte
	for _, s := range n.subs {
		data, err := s.v.encode(vars)
		if err != nil {
			return nil, fmt.Errorf("sub-option %d: %w", s.code, err)
		}
		if out, err = AppendSubOptions(out, SubOption{Code: s.code, Data: data}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseSubOptions reads a list whose items are "code=text" strings or
// tables {code = N, type = "u16", value = ...}; type defaults to string.
func parseSubOptions(raw any) (node, error) {
	// An array of tables ([[...value]], as the TOML encoder writes it)
	// decodes as []map[string]any; an inline array as []any.
	if tables, isTables := raw.([]map[string]any); isTables {
		items := make([]any, len(tables))
		for i, t := range tables {
			items[i] = t
		}
		raw = items
	}
	list, ok := raw.([]any)
	if !ok {
		if raw == nil {
			return nil, fmt.Errorf("suboptions value: missing")
		}
		return nil, fmt.Errorf(`suboptions value: want a list such as ["1=6889", "2=${server}"] or [{code = 4, type = "u16", value = 80}], got %s`, describeRaw(raw))
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("suboptions value: empty list")
	}
	var n subNode
	for i, item := range list {
		code, sub, err := parseSubItem(item)
		if err != nil {
			return nil, fmt.Errorf("sub-option item %d: %w", i+1, err)
		}
		if slices.ContainsFunc(n.subs, func(s subItem) bool { return s.code == code }) {
			return nil, fmt.Errorf("sub-option %d is given twice", code)
		}
		n.subs = append(n.subs, subItem{code: code, v: sub})
	}
	return n, nil
}

func parseSubItem(item any) (uint8, node, error) {
	switch it := item.(type) {
	case string:
		codeText, text, found := strings.Cut(it, "=")
		if !found {
			return 0, nil, fmt.Errorf(`%q: want "code=text"`, it)
		}
		code, err := parseSubCode(strings.TrimSpace(codeText))
		if err != nil {
			return 0, nil, fmt.Errorf("%q: %w", it, err)
		}
		t, err := parseTemplate(text)
		if err != nil {
			return 0, nil, err
		}
		return code, scalarNode{typ: TypeString, t: t}, nil
	case map[string]any:
		var code uint8
		typ := TypeString
		var value any
		for k, v := range it {
			switch k {
			case "code":
				n, ok := v.(int64)
				if !ok {
					if i, isInt := v.(int); isInt {
						n, ok = int64(i), true
					}
				}
				if !ok || n < 1 || n > 254 {
					return 0, nil, fmt.Errorf("code %v: want an integer 1..254", formatRaw(v))
				}
				code = uint8(n)
			case "type":
				s, ok := v.(string)
				if !ok {
					return 0, nil, fmt.Errorf("type %v: want a type name", formatRaw(v))
				}
				t, err := ParseType(s)
				if err != nil {
					return 0, nil, err
				}
				typ = t
			case "value":
				value = v
			default:
				return 0, nil, fmt.Errorf("unknown key %q (want code, type, value)", k)
			}
		}
		if code == 0 {
			return 0, nil, fmt.Errorf("missing code")
		}
		if value == nil {
			return 0, nil, fmt.Errorf("sub-option %d: missing value", code)
		}
		sub, err := parseNode(typ, value)
		if err != nil {
			return 0, nil, fmt.Errorf("sub-option %d: %w", code, err)
		}
		return code, sub, nil
	default:
		return 0, nil, fmt.Errorf(`want "code=text" or a table {code, type, value}, got %s`, describeRaw(item))
	}
}

func parseSubCode(s string) (uint8, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 254 {
		return 0, fmt.Errorf("sub-option code %q: want 1..254", s)
	}
	return uint8(n), nil
}
