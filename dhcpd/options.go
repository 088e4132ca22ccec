package dhcpd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
)

// optValue is an option value that becomes bytes once the receiving
// interface's address and the file server ports are known.
type optValue interface {
	encode(v dhcpopts.Vars) ([]byte, error)
}

type parsedValue struct{ v dhcpopts.Value }

func (p parsedValue) encode(v dhcpopts.Vars) ([]byte, error) { return p.v.Encode(v) }

// vivsoValue is option 125 (RFC 3925) for one enterprise: enterprise
// number, data length, data. Mitel phones read their configuration string
// from it.
type vivsoValue struct {
	enterprise uint32
	data       optValue
}

func (p vivsoValue) encode(v dhcpopts.Vars) ([]byte, error) {
	d, err := p.data.encode(v)
	if err != nil {
		return nil, err
	}
	if len(d) > 255-5 {
		return nil, fmt.Errorf("vendor data is %d bytes; option 125 holds at most 250 for one enterprise", len(d))
	}
	out := binary.BigEndian.AppendUint32(nil, p.enterprise)
	out = append(out, byte(len(d)))
	return append(out, d...), nil
}

// fixedValue is bytes that need no variables (subnet mask, broadcast).
type fixedValue []byte

func (f fixedValue) encode(dhcpopts.Vars) ([]byte, error) { return f, nil }

// optEntry is one configured option at one level.
type optEntry struct {
	code   uint8
	value  optValue
	always bool
	// alts are the options carrying the same data under other numbers.
	alts []uint8
	// class is set for options from the class levels; they go into a reply
	// before other optional ones, since pointing phones at their servers is
	// what the class is for.
	class bool
}

// sentUnasked reports whether e goes into a reply to a client whose
// request list prl does not ask for it: when it is always sent, unless the
// client asks for one of its alternatives instead.
func (e *optEntry) sentUnasked(prl []byte) bool {
	if !e.always {
		return false
	}
	for _, a := range e.alts {
		if bytes.IndexByte(prl, a) >= 0 {
			return false
		}
	}
	return true
}

// optionSet is the options one client gets: every level merged, the most
// specific winning. Encoded bytes are cached per server address.
type optionSet struct {
	byCode [256]*optEntry
	always []uint8 // codes sent even when not requested, in code order
	class  []uint8 // codes set at a class level, in code order
	cache  sync.Map
}

// encodedSet is an optionSet in wire form for one server address.
type encodedSet struct {
	tlv [256][]byte // code/length/value instances, split per RFC 3396; nil when absent
}

// mergeSets layers option entries: later layers win. The first
// classLayers... layers are general, the rest class-level.
func mergeSets(general [][]optEntry, class [][]optEntry) *optionSet {
	s := &optionSet{}
	for _, layer := range general {
		for i := range layer {
			e := layer[i]
			e.class = false
			s.byCode[e.code] = &e
		}
	}
	for _, layer := range class {
		for i := range layer {
			e := layer[i]
			e.class = true
			s.byCode[e.code] = &e
		}
	}
	for code := range 256 {
		e := s.byCode[code]
		if e == nil {
			continue
		}
		if e.always {
			s.always = append(s.always, uint8(code))
		}
		if e.class {
			s.class = append(s.class, uint8(code))
		}
	}
	return s
}

// encoded returns the set's wire form for a server address and its
// variables, computing it once per address.
func (s *optionSet) encoded(server netip.Addr, vars func(netip.Addr) dhcpopts.Vars, onErr func(code uint8, err error)) *encodedSet {
	if e, ok := s.cache.Load(server); ok {
		return e.(*encodedSet)
	}
	v := vars(server)
	enc := &encodedSet{}
	for code, e := range s.byCode {
		if e == nil {
			continue
		}
		data, err := e.value.encode(v)
		if err != nil {
			onErr(uint8(code), err)
			continue
		}
		enc.tlv[code] = dhcpopts.AppendOption(nil, uint8(code), data)
	}
	actual, _ := s.cache.LoadOrStore(server, enc)
	return actual.(*encodedSet)
}

// worstVars are the longest values the variables can take, for checking
// option lengths when the configuration is loaded.
var worstVars = dhcpopts.Vars{
	ServerIP:   netip.AddrFrom4([4]byte{255, 255, 255, 255}),
	ServerName: "a-rather-long-host-name-for-the-appliance.phones.example.internal",
	HTTPPort:   65535, HTTPSPort: 65535, TLSPort: 65535, TFTPPort: 65535,
}

// optionCode resolves an option's number from its name or code.
func optionCode(o OptionConfig) (uint8, error) {
	spec, err := optionSpec(o)
	if err != nil {
		return 0, err
	}
	return spec.Code, nil
}

// reservedCodes are options the server writes itself from the lease and
// the protocol; configuring them would contradict it.
var reservedCodes = map[uint8]string{
	dhcpv4.OptionSubnetMask.Code():             "the subnet's mask (set cidr)",
	dhcpv4.OptionRequestedIPAddress.Code():     "client-only",
	dhcpv4.OptionIPAddressLeaseTime.Code():     "set lease_time",
	dhcpv4.OptionOptionOverload.Code():         "protocol",
	dhcpv4.OptionDHCPMessageType.Code():        "protocol",
	dhcpv4.OptionServerIdentifier.Code():       "protocol",
	dhcpv4.OptionParameterRequestList.Code():   "client-only",
	dhcpv4.OptionMaximumDHCPMessageSize.Code(): "client-only",
	dhcpv4.OptionRenewTimeValue.Code():         "set renew_time",
	dhcpv4.OptionRebindingTimeValue.Code():     "set rebind_time",
	dhcpv4.OptionClientIdentifier.Code():       "client-only",
	dhcpv4.OptionRelayAgentInformation.Code():  "relay-only",
}

func optionSpec(o OptionConfig) (dhcpopts.Spec, error) {
	var key string
	switch {
	case o.Name != "" && o.Code != 0:
		return dhcpopts.Spec{}, errors.New("give name or code, not both")
	case o.Name != "":
		key = o.Name
	case o.Code != 0:
		if o.Code < 1 || o.Code > 254 {
			return dhcpopts.Spec{}, fmt.Errorf("code %d is outside 1..254", o.Code)
		}
		key = strconv.Itoa(o.Code)
	default:
		return dhcpopts.Spec{}, errors.New("an option needs a name or a code")
	}
	if o.Type == "vivso" {
		n, err := strconv.Atoi(key)
		if err != nil || n != 125 {
			return dhcpopts.Spec{}, errors.New(`type "vivso" is for option 125 only`)
		}
		return dhcpopts.Spec{Code: 125, Name: "vivso"}, nil
	}
	spec, err := dhcpopts.Lookup(key)
	if err != nil {
		return dhcpopts.Spec{}, err
	}
	if o.Type != "" {
		t, err := dhcpopts.ParseType(o.Type)
		if err != nil {
			return dhcpopts.Spec{}, err
		}
		spec.Type = t
	}
	if why, ok := reservedCodes[spec.Code]; ok {
		return dhcpopts.Spec{}, fmt.Errorf("option %d is written by the server itself (%s)", spec.Code, why)
	}
	return spec, nil
}

// compileOption checks one option and returns its entry. refuseLong makes a
// value over 255 bytes an error instead of being split.
func compileOption(o OptionConfig, refuseLong bool) (optEntry, string, error) {
	spec, err := optionSpec(o)
	if err != nil {
		return optEntry{}, "name", err
	}
	var val optValue
	if o.Type == "vivso" {
		val, err = compileVIVSO(o.Value)
		if err != nil {
			return optEntry{}, "value", err
		}
	} else {
		if o.Value == nil {
			return optEntry{}, "value", errors.New("missing value")
		}
		v, err := dhcpopts.Parse(spec, o.Value)
		if err != nil {
			return optEntry{}, "value", fmt.Errorf("option %d: %w", spec.Code, err)
		}
		val = parsedValue{v}
	}
	data, err := val.encode(worstVars)
	if err != nil {
		return optEntry{}, "value", fmt.Errorf("option %d: %w", spec.Code, err)
	}
	if refuseLong && len(data) > 255 {
		return optEntry{}, "value", fmt.Errorf("option %d is up to %d bytes long with this box's address and ports filled in; "+
			"a DHCP option holds 255 and this class has long_options = \"refuse\" (shorten it, or allow \"split\" if the phones join RFC 3396 options)",
			spec.Code, len(data))
	}
	var alts []uint8
	for _, a := range o.Alternatives {
		if a < 1 || a > 254 || a == int(spec.Code) {
			return optEntry{}, "alternatives", fmt.Errorf("alternative %d is not another option code 1..254", a)
		}
		alts = append(alts, uint8(a))
	}
	return optEntry{code: spec.Code, value: val, always: o.AlwaysSend, alts: alts}, "", nil
}

func compileVIVSO(raw any) (optValue, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New(`a vivso value is a table: { enterprise = 1027, data = "..." }`)
	}
	ent, ok := m["enterprise"].(int64)
	if !ok || ent < 0 || ent > 0xffffffff {
		return nil, errors.New("vivso enterprise must be an enterprise number (0..4294967295)")
	}
	dataRaw, ok := m["data"]
	if !ok {
		return nil, errors.New("vivso needs data")
	}
	for k := range m {
		if k != "enterprise" && k != "data" {
			return nil, fmt.Errorf("vivso has unknown key %q", k)
		}
	}
	spec, err := dhcpopts.Lookup("125")
	if err != nil {
		return nil, err
	}
	if spec.Type, err = dhcpopts.ParseType("string"); err != nil {
		return nil, err
	}
	d, err := dhcpopts.Parse(spec, dataRaw)
	if err != nil {
		return nil, fmt.Errorf("vivso data: %w", err)
	}
	return vivsoValue{enterprise: uint32(ent), data: parsedValue{d}}, nil
}

// mitelOption125 is Mitel's option 125: enterprise 1027, then the
// configuration string without sub-option framing (Mitel 5560 engineering
// guidelines: "maximum string size is 250 characters for Option 125").
func mitelOption125(s string) OptionConfig {
	return OptionConfig{Code: 125, Type: "vivso", Value: map[string]any{"enterprise": int64(1027), "data": s}}
}
