// Package avayaopt reads the string Avaya phones receive in DHCP option 176
// (4600/5600) or 242 (1600, 96x1, J100): comma-separated NAME=value pairs
// such as "MCIPADD=198.18.0.1,MCPORT=1719,HTTPSRVR=198.18.0.1,TLSPORT=443".
//
// It reads the string the way a phone does, leniently: names are
// case-insensitive, values keep their case, a piece without "=" continues
// the previous value (MCIPADD, HTTPSRVR and TLSSRVR may list several
// addresses: "MCIPADD=198.18.0.1,198.18.0.2,MCPORT=1719"), empty pieces
// and trailing NUL bytes are ignored, and a later pair overrides an earlier
// one of the same name (unconfirmed on real phones).
package avayaopt

import (
	"fmt"
	"slices"
	"strings"
)

// Params are the pairs of one option string. The zero value is empty.
type Params struct {
	values map[string]string
	order  []string
}

// Parse reads an option 176/242 string. It fails only on text no phone
// could read: a string that does not start with NAME=value. A piece whose
// part before "=" is not a name (letters, digits, underscores) continues
// the previous value.
func Parse(s string) (Params, error) {
	s = strings.TrimRight(s, "\x00")
	p := Params{values: map[string]string{}}
	last := ""
	for i, piece := range strings.Split(s, ",") {
		piece = strings.TrimSpace(piece)
		if piece == "" {
			continue
		}
		name, value, hasEq := strings.Cut(piece, "=")
		name = strings.ToUpper(strings.TrimSpace(name))
		if !hasEq || !validName(name) {
			// A list entry of the previous value, like the second address
			// of "SIP_CONTROLLER_LIST=a:5061;transport=tls,b:5061;transport=tls".
			if last == "" {
				return Params{}, fmt.Errorf("option string piece %d %q: a value without a NAME= before it", i+1, piece)
			}
			p.values[last] += "," + piece
			continue
		}
		if _, seen := p.values[name]; !seen {
			p.order = append(p.order, name)
		}
		p.values[name] = strings.TrimSpace(value)
		last = name
	}
	return p, nil
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Get returns the value of name (any case) and whether it was present.
func (p Params) Get(name string) (string, bool) {
	v, ok := p.values[strings.ToUpper(name)]
	return v, ok
}

// List returns the value of name split at commas, without empty entries:
// the addresses of MCIPADD, HTTPSRVR, TLSSRVR or TFTPSRVR.
func (p Params) List(name string) []string {
	v, _ := p.Get(name)
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Names returns the names present, upper-case, in the order they first
// appeared.
func (p Params) Names() []string { return slices.Clone(p.order) }
