package inventory

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"
)

// MAC is an Ethernet (EUI-48) address; it is comparable, so it keys maps.
type MAC [6]byte

// MACFrom converts a 6-byte hardware address; ok is false for any other length.
func MACFrom(hw net.HardwareAddr) (MAC, bool) {
	var m MAC
	if len(hw) != len(m) {
		return m, false
	}
	copy(m[:], hw)
	return m, true
}

// ParseMAC reads a MAC written with colons, dashes, dots or no separator,
// in either case: c8:1f:ea:83:e8:5a, C8-1F-EA-83-E8-5A, c81f.ea83.e85a, c81fea83e85a.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	digits := strings.Map(func(r rune) rune {
		if r == ':' || r == '-' || r == '.' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if len(digits) != 12 {
		return m, fmt.Errorf("%q is not a MAC address", s)
	}
	if _, err := hex.Decode(m[:], []byte(digits)); err != nil {
		return m, fmt.Errorf("%q is not a MAC address", s)
	}
	return m, nil
}

// String writes the MAC as lower-case colon-separated hex.
func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// MarshalText implements encoding.TextMarshaler (for JSON).
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// OUI is the first three bytes, the manufacturer's prefix.
func (m MAC) OUI() [3]byte { return [3]byte{m[0], m[1], m[2]} }

// isAvayaOUI reports whether oui is one of Avaya's MAC prefixes: the first
// five documented by Avaya (9600 admin guide), the rest listed by fusionpbx
// and *unconfirmed* against the IEEE registry, so they only ever suggest
// the vendor.
func isAvayaOUI(oui [3]byte) bool {
	switch oui {
	case [3]byte{0x00, 0x04, 0x0D}, [3]byte{0x00, 0x1B, 0x4F}, [3]byte{0x00, 0x09, 0x6E},
		[3]byte{0x00, 0x60, 0x1D}, [3]byte{0x00, 0x07, 0x3B},
		[3]byte{0x50, 0xCD, 0x22}, [3]byte{0xB4, 0xB0, 0x17}, [3]byte{0xC8, 0x1F, 0xEA},
		[3]byte{0x24, 0xD9, 0x21}, [3]byte{0x3C, 0xB1, 0x5B}:
		return true
	}
	return false
}
