package ha

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// Result codes of Kea's control channel (src/lib/cc/command_interpreter.h).
const (
	ResultSuccess     = 0
	ResultError       = 1
	ResultUnsupported = 2
	ResultEmpty       = 3
)

// Command is one control command as Kea sends it: {"command": ...,
// "service": ["dhcp4"], "arguments": {...}} (command_creator.cc,
// insertService).
type Command struct {
	Command   string          `json:"command"`
	Service   []string        `json:"service,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// Answer is one command's answer. On the wire answers travel in a list of
// one, as Kea's control agent (and the HA dedicated listener, emulating it)
// sends them.
type Answer struct {
	Result    int             `json:"result"`
	Text      string          `json:"text,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// newCommand builds a dhcp4 command with args marshalled (nil for none).
func newCommand(name string, args any) (Command, error) {
	c := Command{Command: name, Service: []string{"dhcp4"}}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return Command{}, fmt.Errorf("ha: encode %s arguments: %w", name, err)
		}
		c.Arguments = b
	}
	return c, nil
}

// answer builds an Answer with args marshalled (nil for none).
func answer(result int, text string, args any) Answer {
	a := Answer{Result: result, Text: text}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return Answer{Result: ResultError, Text: "encoding the answer failed: " + err.Error()}
		}
		a.Arguments = b
	}
	return a
}

// decodeAnswer reads a response body: a list whose first element is the
// answer, or a bare map (Kea's verifyAsyncResponse accepts both).
func decodeAnswer(body []byte) (Answer, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var list []Answer
		if err := json.Unmarshal(body, &list); err != nil {
			return Answer{}, fmt.Errorf("ha: answer is not a list of answers: %w", err)
		}
		if len(list) == 0 {
			return Answer{}, errors.New("ha: the list of answers is empty")
		}
		return list[0], nil
	}
	var a Answer
	if err := json.Unmarshal(body, &a); err != nil {
		return Answer{}, fmt.Errorf("ha: answer is not JSON: %w", err)
	}
	return a, nil
}

// heartbeat is the arguments of an ha-heartbeat answer
// (HAService::processHeartbeat).
type heartbeat struct {
	State             string   `json:"state"`
	DateTime          string   `json:"date-time"`
	Scopes            []string `json:"scopes"`
	UnsentUpdateCount int64    `json:"unsent-update-count"`
}

// dhcpDisable is the arguments of dhcp-disable (createDHCPDisable); Origin
// is "ha-partner" and MaxPeriod, in seconds, is left out when zero.
type dhcpDisable struct {
	Origin    string `json:"origin,omitempty"`
	MaxPeriod int64  `json:"max-period,omitempty"`
}

// getPage is the arguments of lease4-get-page: From is "start" or the last
// address of the previous page.
type getPage struct {
	From  string `json:"from"`
	Limit int64  `json:"limit"`
}

// page is the arguments of a lease4-get-page answer.
type page struct {
	Leases []Lease4 `json:"leases"`
	Count  int64    `json:"count"`
}

// Lease4 is a lease in Kea's JSON form: Lease4::toElement (with "cltt", as
// lease4-get-page answers carry it) or, in lease4-update and lease4-del,
// with "expire" (cltt + valid-lft) instead of "cltt" and "force-create"
// (CommandCreator::insertLeaseExpireTime).
type Lease4 struct {
	IPAddress   string          `json:"ip-address"`
	HWAddress   string          `json:"hw-address"`
	ClientID    string          `json:"client-id,omitempty"`
	SubnetID    int64           `json:"subnet-id,omitempty"`
	CLTT        int64           `json:"cltt,omitempty"`
	Expire      int64           `json:"expire,omitempty"`
	ValidLft    int64           `json:"valid-lft"`
	FQDNFwd     bool            `json:"fqdn-fwd"`
	FQDNRev     bool            `json:"fqdn-rev"`
	Hostname    string          `json:"hostname"`
	State       int             `json:"state"`
	ForceCreate bool            `json:"force-create,omitempty"`
	UserContext json.RawMessage `json:"user-context,omitempty"`
}

// Kea's lease states (src/lib/dhcpsrv/lease.h): default, declined,
// expired-reclaimed.
const (
	keaStateDefault  = 0
	keaStateDeclined = 1
	keaStateReclaim  = 2
)

// context is what phoneprov keeps in a lease's user-context, which Kea
// stores and returns untouched.
type userContext struct {
	Phoneprov *phoneprovContext `json:"phoneprov,omitempty"`
}

type phoneprovContext struct {
	Class       string `json:"class,omitempty"`
	VendorClass string `json:"vendor-class,omitempty"`
}

// toLease4 gives l in Kea's form; withExpire selects the update form
// ("expire", no "cltt"), else the get-page form. subnetID is Kea's subnet
// id, 0 to leave it out.
func toLease4(l leases.Lease, subnetID int64, withExpire bool) Lease4 {
	out := Lease4{
		IPAddress: l.Addr.String(),
		HWAddress: hwText(l.HWAddr),
		SubnetID:  subnetID,
		ValidLft:  max(0, int64(l.Expiry.Sub(l.Start)/time.Second)),
		Hostname:  strings.ToLower(l.Hostname),
	}
	if len(l.ClientID) > 0 {
		out.ClientID = hwText(l.ClientID)
	}
	if withExpire {
		out.Expire = l.Start.Unix() + out.ValidLft
	} else {
		out.CLTT = l.Start.Unix()
	}
	switch l.State {
	case leases.Declined:
		out.State = keaStateDeclined
	case leases.Expired, leases.Released:
		out.State = keaStateReclaim
	}
	if l.Class != "" || l.VendorClass != "" {
		out.UserContext, _ = json.Marshal(userContext{Phoneprov: &phoneprovContext{Class: l.Class, VendorClass: l.VendorClass}})
	}
	return out
}

// hwText is Kea's HWAddr::toText(false) and ClientId::toText: lower-case
// hex bytes joined by colons.
func hwText(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return sb.String()
}

// parseHex reads "aa:bb:cc" (or without colons) as Kea's HWAddr::fromText
// and ClientId::fromText accept it.
func parseHex(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if strings.Contains(s, ":") {
		var out []byte
		for _, part := range strings.Split(s, ":") {
			if len(part) == 1 {
				part = "0" + part
			}
			b, err := hex.DecodeString(part)
			if err != nil || len(b) != 1 {
				return nil, fmt.Errorf("%q is not hex bytes separated by colons", s)
			}
			out = append(out, b[0])
		}
		return out, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not hex: %w", s, err)
	}
	return b, nil
}

// lease reads a lease sent by the partner, as lease_parser.cc does:
// ip-address and hw-address are required; the start is expire - valid-lft
// (update form) or cltt (get-page form).
func (k Lease4) lease(now time.Time) (leases.Lease, error) {
	addr, err := netip.ParseAddr(k.IPAddress)
	if err != nil || !addr.Is4() {
		return leases.Lease{}, fmt.Errorf("ip-address %q is not an IPv4 address", k.IPAddress)
	}
	hw, err := parseHex(k.HWAddress)
	if err != nil || (len(hw) == 0 && k.State != keaStateDeclined) {
		return leases.Lease{}, fmt.Errorf("hw-address: %q is not a hardware address", k.HWAddress)
	}
	cid, err := parseHex(k.ClientID)
	if err != nil {
		return leases.Lease{}, fmt.Errorf("client-id: %w", err)
	}
	if k.ValidLft < 0 {
		return leases.Lease{}, fmt.Errorf("valid-lft %d is negative", k.ValidLft)
	}
	valid := time.Duration(k.ValidLft) * time.Second
	var start time.Time
	switch {
	case k.Expire > 0:
		if k.Expire < k.ValidLft {
			return leases.Lease{}, errors.New("expiration time must be greater than valid lifetime")
		}
		start = time.Unix(k.Expire-k.ValidLft, 0)
	case k.CLTT > 0:
		start = time.Unix(k.CLTT, 0)
	default:
		start = now.Truncate(time.Second)
	}
	l := leases.Lease{
		Addr: addr, HWAddr: net.HardwareAddr(hw), ClientID: cid, Hostname: k.Hostname,
		Start: start, Expiry: start.Add(valid), State: leases.Active,
	}
	switch k.State {
	case keaStateDefault:
	case keaStateDeclined:
		l.State = leases.Declined
	case keaStateReclaim:
		l.State = leases.Expired
	default:
		return leases.Lease{}, fmt.Errorf("state %d is not 0, 1 or 2", k.State)
	}
	if len(k.UserContext) > 0 {
		var c userContext
		if json.Unmarshal(k.UserContext, &c) == nil && c.Phoneprov != nil {
			l.Class, l.VendorClass = c.Phoneprov.Class, c.Phoneprov.VendorClass
		}
	}
	return l, nil
}
