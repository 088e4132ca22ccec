package dhcpopts

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Sizes used to turn a maximum message size into room for options.
const (
	// MinMaxMessageSize is the smallest maximum message size a client may
	// announce (RFC 2132 §9.10) and what is assumed when it sends none: a
	// 576-byte IP datagram, which every host must accept (RFC 791).
	MinMaxMessageSize = 576
	// IPUDPOverhead is the IPv4 and UDP headers around a DHCP message. Option
	// 57 counts them, like ISC dhcpd and dnsmasq read it, which is the
	// reading that never sends a client more than it asked for.
	IPUDPOverhead = 20 + 8
	// FixedLen is the BOOTP header (236 bytes) plus the magic cookie (4).
	FixedLen = 236 + 4
)

// OptionSpace returns how many bytes of options fit into a reply, End
// excluded: maxMessageSize is the client's option 57 (0 when absent; values
// below 576 count as 576), mtu the outgoing interface's MTU (0 when unknown),
// which caps it. For the default 576 that is 307 bytes.
func OptionSpace(maxMessageSize, mtu int) int {
	size := max(maxMessageSize, MinMaxMessageSize)
	if mtu >= MinMaxMessageSize && mtu < size {
		size = mtu
	}
	return size - IPUDPOverhead - FixedLen - 1 // End
}

// Mandatory reports whether a reply must carry option code whenever the
// server has it: the message type (53), server identifier (54), lease time
// (51, the Avaya J100 rejects offers without it), subnet mask (1), routers
// (3), and the echoes RFCs oblige: client identifier (61, RFC 6842) and relay
// agent information (82, RFC 3046). Fit never drops these; mark the class's
// site-specific option Required as well.
func Mandatory(code uint8) bool {
	switch code {
	case 53, 54, 51, 1, 3, 61, 82:
		return true
	}
	return false
}

// Option is one encoded option a reply is meant to carry.
type Option struct {
	Code uint8
	Data []byte
	// Required keeps the option whatever the cost, like the Mandatory codes.
	Required bool
}

// FitResult is the outcome of Fit.
type FitResult struct {
	// Kept and Dropped are the options in the order they were given.
	Kept    []Option
	Dropped []Option
	// Used is the wire size of Kept, RFC 3396 instance headers included.
	Used int
}

// DroppedCodes lists the codes of the dropped options, for a log line.
func (r FitResult) DroppedCodes() []uint8 {
	out := make([]uint8, len(r.Dropped))
	for i, o := range r.Dropped {
		out[i] = o.Code
	}
	return out
}

// ErrNoRoom is wrapped by Fit's error when the required options alone
// exceed the space.
var ErrNoRoom = errors.New("required options do not fit")

// Fit chooses which options go into a reply with space bytes for options
// (see OptionSpace; subtract what is already written). Options are ranked:
// required ones (Option.Required or Mandatory) first, then those the client
// asked for in option 55 in the order it listed them (RFC 2132 §9.8: in order
// of preference), then the rest in the order given. Going down the ranking
// each option is kept if it still fits, so a large option that cannot fit
// does not push out smaller, less important ones after it.
//
// Required options are always kept; if they alone exceed space, the result
// keeps them (and nothing else) and the error wraps ErrNoRoom, leaving the
// decision to the caller. An option code given twice is an error.
func Fit(space int, requested []uint8, opts []Option) (FitResult, error) {
	var seen [256]bool
	for _, o := range opts {
		if seen[o.Code] {
			return FitResult{}, fmt.Errorf("option %d given twice", o.Code)
		}
		seen[o.Code] = true
	}
	var wantPos [256]int // 1 + position in option 55; 0 when not requested
	for i, c := range requested {
		if wantPos[c] == 0 {
			wantPos[c] = i + 1
		}
	}
	type ranked struct {
		class, pos, index int
	}
	rank := make([]ranked, len(opts))
	for i, o := range opts {
		switch {
		case o.Required || Mandatory(o.Code):
			rank[i] = ranked{0, i, i}
		case wantPos[o.Code] > 0:
			rank[i] = ranked{1, wantPos[o.Code], i}
		default:
			rank[i] = ranked{2, i, i}
		}
	}
	order := slices.Clone(rank)
	slices.SortFunc(order, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(a.class, b.class), cmp.Compare(a.pos, b.pos))
	})

	keep := make([]bool, len(opts))
	used, required := 0, 0
	for _, r := range order {
		n := WireLen(len(opts[r.index].Data))
		if r.class == 0 {
			required += n
		}
		if r.class == 0 || used+n <= space {
			keep[r.index] = true
			used += n
		}
	}
	var res FitResult
	res.Used = used
	for i, o := range opts {
		if keep[i] {
			res.Kept = append(res.Kept, o)
		} else {
			res.Dropped = append(res.Dropped, o)
		}
	}
	if required > space {
		return res, fmt.Errorf("%w: %d bytes needed, %d available", ErrNoRoom, required, space)
	}
	return res, nil
}
