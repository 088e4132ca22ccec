package dhcpd

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/ha"
)

// Config is the [dhcp] section of the configuration file.
type Config struct {
	// Enabled switches the DHCP server on; it is off by default.
	Enabled bool `toml:"enabled"`
	// Authoritative makes the server NAK requests for addresses that are
	// wrong for the client's link or leased to someone else. A server that
	// is not authoritative stays silent instead.
	Authoritative bool `toml:"authoritative"`
	// LeaseTime is the default lease (option 51); subnets and classes may
	// override it. Avaya recommends six weeks or more for its phones.
	LeaseTime time.Duration `toml:"lease_time"`
	// RenewTime (T1, option 58) and RebindTime (T2, option 59); zero means
	// 50 % and 87.5 % of the lease.
	RenewTime  time.Duration `toml:"renew_time"`
	RebindTime time.Duration `toml:"rebind_time"`
	// OfferHold is how long an offered address stays set aside in memory
	// for the client's REQUEST. Nothing is written for an offer.
	OfferHold time.Duration `toml:"offer_hold"`
	// PressureOfferHold shortens offers when a pool runs out: an address
	// offered at least this long ago, and not yet requested, goes to a new
	// client when the pool has no free address left. Zero keeps every
	// offer for the full OfferHold.
	PressureOfferHold time.Duration `toml:"pressure_offer_hold"`
	// UnclassifiedLimit caps the addresses that clients in no class may
	// hold (leases and offers) in each subnet's open pools: "" for no cap,
	// "N%" of the open pools' addresses, or "N" addresses. Subnets may
	// override it.
	UnclassifiedLimit string `toml:"unclassified_limit"`
	// DeclineProbation keeps an address a client DECLINEd out of the pool
	// this long.
	DeclineProbation time.Duration `toml:"decline_probation"`
	// AddressCheck is how an address whose last holder may still use it is
	// checked before it goes to another client: "auto" (ARP on attached
	// links, ICMP echo for relayed subnets), "arp", "icmp" or "off".
	AddressCheck string `toml:"address_check"`
	// AddressCheckTimeout bounds one check; the client's DISCOVER is
	// answered when it ends.
	AddressCheckTimeout time.Duration `toml:"address_check_timeout"`
	// Workers is the number of packets handled at once; more workers let
	// more leases share one disk flush.
	Workers int `toml:"workers"`
	// QueueSize bounds the packets waiting for a worker; beyond it a packet
	// waits up to 50 ms for a place (the socket buffer holding those behind
	// it), then is dropped and counted.
	QueueSize int `toml:"queue_size"`
	// LockDir holds one lock file per served interface, so two servers
	// never answer on the same link.
	LockDir string `toml:"lock_dir"`
	// RelayListen are local addresses that relay agents send to. Relayed
	// packets arriving on a served interface are answered without this.
	RelayListen []string `toml:"relay_listen"`
	// NextServer is siaddr in replies: "${server}" (this box, the file
	// server), an address, or "" for none. Subnets may override it.
	NextServer string `toml:"next_server"`
	// RateLimit drops packets beyond a rate per client and per relay
	// circuit before they reach the workers.
	RateLimit RateLimitConfig `toml:"rate_limit"`
	// Options are sent to every client (lowest precedence).
	Options []OptionConfig `toml:"option,omitempty"`
	// Subnets are the networks served, directly or through relays.
	Subnets []SubnetConfig `toml:"subnet,omitempty"`
	// Classes sort clients, first match wins; each carries options.
	Classes []ClassConfig `toml:"class,omitempty"`
	// HA pairs this server with a partner in hot standby (Kea's HA
	// protocol); the appliance runs it, the server only asks it.
	HA ha.Config `toml:"ha"`
}

// SubnetConfig is one [[dhcp.subnet]].
type SubnetConfig struct {
	// CIDR is the network, like "198.18.0.0/24".
	CIDR string `toml:"cidr"`
	// Interface is the link the subnet is on; empty when it is reached
	// through relay agents only. The interface must hold an address inside
	// the subnet.
	Interface string `toml:"interface,omitempty"`
	// Routers, DNSServers, Domain and NTPServers are options 3, 6, 15 and 42.
	Routers    []string `toml:"routers,omitempty"`
	DNSServers []string `toml:"dns_servers,omitempty"`
	Domain     string   `toml:"domain,omitempty"`
	NTPServers []string `toml:"ntp_servers,omitempty"`
	// NextServer overrides [dhcp] next_server for this subnet when set.
	NextServer string `toml:"next_server,omitempty"`
	// UnclassifiedLimit overrides [dhcp] unclassified_limit when set;
	// "none" lifts a cap set in [dhcp].
	UnclassifiedLimit string `toml:"unclassified_limit,omitempty"`
	// LeaseTime, RenewTime and RebindTime override the [dhcp] values when set.
	LeaseTime  time.Duration `toml:"lease_time,omitempty"`
	RenewTime  time.Duration `toml:"renew_time,omitempty"`
	RebindTime time.Duration `toml:"rebind_time,omitempty"`
	// Pools are the ranges handed out dynamically.
	Pools []PoolConfig `toml:"pool,omitempty"`
	// Reservations give fixed addresses to known clients.
	Reservations []ReservationConfig `toml:"reservation,omitempty"`
	// Options apply to clients in this subnet; they beat [dhcp] options.
	Options []OptionConfig `toml:"option,omitempty"`
}

// PoolConfig is one [[dhcp.subnet.pool]]: an inclusive address range.
type PoolConfig struct {
	Start string `toml:"start"`
	End   string `toml:"end"`
	// ClientClasses, when set, keeps the pool for clients in one of these
	// classes (names of [[dhcp.class]]), like a Kea pool's client-class:
	// other clients never get an address from it.
	ClientClasses []string `toml:"client_classes,omitempty"`
}

// RateLimitConfig is [dhcp.rate_limit]: token buckets that drop (and count)
// packets beyond a sustained rate with a burst on top, checked as packets
// are read, before they take a place in the queue. A rate of 0 turns a
// limit off.
type RateLimitConfig struct {
	// ClientRate and ClientBurst limit each client hardware address
	// (chaddr), in packets per second.
	ClientRate  int `toml:"client_rate"`
	ClientBurst int `toml:"client_burst"`
	// RelayRate and RelayBurst limit each relay circuit: the relay address
	// (giaddr) with the option 82 circuit-id and remote-id. Packets with
	// neither giaddr nor option 82 are not limited by it.
	RelayRate  int `toml:"relay_rate"`
	RelayBurst int `toml:"relay_burst"`
}

// ReservationConfig is one [[dhcp.subnet.reservation]]: a fixed address for
// a client known by MAC or client identifier (option 61).
type ReservationConfig struct {
	// MAC like "00:04:0d:12:34:56"; or ClientID as hex ("01:00:04:0d:12:34:56").
	MAC      string `toml:"mac,omitempty"`
	ClientID string `toml:"client_id,omitempty"`
	// Address may lie inside or outside the pools, but inside the subnet.
	Address string `toml:"address"`
	// Hostname is sent as option 12 when the client asks for it.
	Hostname string `toml:"hostname,omitempty"`
	// Class, when set, puts the client in that class whatever it sends.
	Class string `toml:"class,omitempty"`
}

// OptionConfig is one option: by name or number, with a type when the
// number is not a known option, and a value. String values may use
// ${server}, ${http_port}, ${https_port}, ${tls_port} and ${tftp_port},
// which become the appliance's own address on the receiving interface and
// its file server ports.
type OptionConfig struct {
	// Name is an option name ("tftp-server-name") or number ("66").
	Name string `toml:"name,omitempty"`
	// Code is the option number, instead of Name.
	Code int `toml:"code,omitempty"`
	// Type overrides the option's catalogue type: ip, ips, string, u8, u16,
	// u32, i32, bool, hex, domains, routes, suboptions, avaya; or "vivso"
	// for option 125 with one enterprise, value { enterprise = N, data = "..." }.
	// Numbers the catalogue does not know are hex unless a type is given.
	Type string `toml:"type,omitempty"`
	// Value is the option's value in the type's TOML form.
	Value any `toml:"value"`
	// AlwaysSend sends the option even when the client's parameter
	// request list (option 55) does not ask for it.
	AlwaysSend bool `toml:"always_send,omitempty"`
	// Alternatives are options carrying the same data under other numbers
	// (Avaya's 176 and 242): a client that asks for one of them and not for
	// this one does not get this one, always_send or not.
	Alternatives []int `toml:"alternatives,omitempty"`
}

// ClassConfig is one [[dhcp.class]]. A client belongs to the first class
// that matches it. A class either lists its own criteria and options, or
// names a Preset that fills them in (its own criteria and options then
// replace or add to the preset's).
type ClassConfig struct {
	// Name identifies the class in leases, logs and reservations; a preset
	// class defaults to the preset's name.
	Name string `toml:"name"`
	// Preset is one of Presets(): avaya, avaya-data-vlan, avaya-1200,
	// avaya-1200-data-vlan, cisco, cisco-mpp, polycom, polycom-data-vlan,
	// yealink, mitel, mitel-sip, snom or grandstream.
	Preset string `toml:"preset,omitempty"`

	// Match is "any" (default: one criterion is enough) or "all" (every
	// criterion kind that is set must match).
	Match string `toml:"match,omitempty"`
	// VendorClass matches option 60 exactly; VendorClassPrefix by prefix;
	// VendorClassRegexp by regular expression (Go syntax).
	VendorClass       []string `toml:"vendor_class,omitempty"`
	VendorClassPrefix []string `toml:"vendor_class_prefix,omitempty"`
	VendorClassRegexp []string `toml:"vendor_class_regexp,omitempty"`
	// MACPrefix matches the start of the hardware address, like "00:04:0d"
	// (an OUI).
	MACPrefix []string `toml:"mac_prefix,omitempty"`
	// UserClass matches option 77 (the whole option or one RFC 3004 entry).
	UserClass []string `toml:"user_class,omitempty"`
	// HostnamePrefix matches the start of option 12.
	HostnamePrefix []string `toml:"hostname_prefix,omitempty"`
	// CircuitID and RemoteID match option 82 sub-options 1 and 2 exactly;
	// write binary values as "hex:0a0b0c".
	CircuitID []string `toml:"circuit_id,omitempty"`
	RemoteID  []string `toml:"remote_id,omitempty"`
	// RequestsOption matches clients whose option 55 asks for one of these.
	RequestsOption []int `toml:"requests_option,omitempty"`
	// Subnets limits the class to clients in these subnets (CIDRs as
	// written in [[dhcp.subnet]]); it is a condition, not a criterion.
	Subnets []string `toml:"subnets,omitempty"`
	// NotVendorClassPrefix keeps out clients whose option 60 starts with
	// one of these, whatever else matches; a condition, not a criterion.
	NotVendorClassPrefix []string `toml:"not_vendor_class_prefix,omitempty"`

	// LongOptions says what to do with an option value over 255 bytes:
	// "split" (default) into repeated instances (RFC 3396), or "refuse" it
	// when the configuration is loaded, for phones that cannot join them.
	LongOptions string `toml:"long_options,omitempty"`
	// LeaseTime overrides the subnet's lease time for this class.
	LeaseTime time.Duration `toml:"lease_time,omitempty"`
	// Options are sent to the class; they beat subnet and [dhcp] options.
	Options []OptionConfig `toml:"option,omitempty"`
	// Subnet gives the class different options in particular subnets;
	// these beat the class's own options.
	Subnet []ClassSubnetConfig `toml:"subnet,omitempty"`

	// Preset parameters.

	// CallServers are the call servers (Avaya MCIPADD, Mitel call_srv).
	CallServers []string `toml:"call_servers,omitempty"`
	// CallServerPort is Avaya's MCPORT (default 1719).
	CallServerPort int `toml:"call_server_port,omitempty"`
	// VoiceVLAN is the VLAN phones are sent to (avaya-data-vlan's L2QVLAN,
	// mitel's vlan, polycom-data-vlan's VLAN-A=, avaya-1200-data-vlan's
	// VLAN-A:).
	VoiceVLAN int `toml:"voice_vlan,omitempty"`
	// VLANTest is Avaya's VLANTEST, seconds to wait for an offer on the
	// voice VLAN (default 60).
	VLANTest int `toml:"vlan_test,omitempty"`
	// Settings are extra NAME=value pairs appended to the Avaya strings
	// (comma-separated) or the Mitel string (semicolon-separated).
	Settings string `toml:"settings,omitempty"`
	// ProvisioningURL replaces the provisioning URL of the avaya-1200,
	// cisco-mpp, polycom, yealink, mitel-sip, snom and grandstream presets.
	ProvisioningURL string `toml:"provisioning_url,omitempty"`
	// BootFile is snom's option 67 (default "snom.htm").
	BootFile string `toml:"boot_file,omitempty"`
	// SiteOption is the site-specific option (128..254) a preset's string
	// goes in: Avaya's SSON (default 242 and 176), polycom-data-vlan's
	// VLAN-A option (default 128), avaya-1200-data-vlan's (default 232).
	SiteOption int `toml:"site_option,omitempty"`
	// AlwaysSend, on a preset class, says whether the preset's options are
	// sent when the client's option 55 does not ask for them (default
	// true, as Kea's always-send).
	AlwaysSend *bool `toml:"always_send,omitempty"`
}

// ClassSubnetConfig is one [[dhcp.class.subnet]]: the class's options in one subnet.
type ClassSubnetConfig struct {
	CIDR    string         `toml:"cidr"`
	Options []OptionConfig `toml:"option,omitempty"`
}

// Address check methods.
const (
	CheckAuto = "auto"
	CheckARP  = "arp"
	CheckICMP = "icmp"
	CheckOff  = "off"
)

// DefaultLockDir is where interface locks live unless configured.
const DefaultLockDir = "/run/phoneprov"

// DefaultConfig returns the built-in defaults: the server off, no subnets.
func DefaultConfig() Config {
	return Config{
		Enabled:             false,
		Authoritative:       true,
		LeaseTime:           24 * time.Hour,
		OfferHold:           30 * time.Second,
		PressureOfferHold:   3 * time.Second,
		UnclassifiedLimit:   "",
		DeclineProbation:    24 * time.Hour,
		AddressCheck:        CheckAuto,
		AddressCheckTimeout: 500 * time.Millisecond,
		Workers:             64,
		QueueSize:           4096,
		LockDir:             DefaultLockDir,
		RelayListen:         []string{},
		NextServer:          "${server}",
		// One client never needs more than a few packets a second; a
		// relay circuit may carry a whole site's phones, so it is off.
		RateLimit: RateLimitConfig{ClientRate: 2, ClientBurst: 10},
		HA:        ha.DefaultConfig(),
	}
}

// Validate reports every problem with c, keyed relative to [dhcp] (like
// "subnet[1].pool[0].start"). Checks that need the machine, such as whether
// an interface holds an address in its subnet, happen in Bind.
func (c Config) Validate(report func(key string, err error)) {
	compile(c, report)
	c.HA.Validate(func(key string, err error) { report("ha."+key, err) })
	if c.HA.Enabled && !c.Enabled {
		report("ha.enabled", errors.New("pairs the DHCP server, which [dhcp] enabled leaves off"))
	}
}

// ExpandedClasses returns the classes as the server uses them: presets
// replaced by their ordinary criteria and options, defaults filled in, for
// "phoneprov check" to print. It fails like Validate on a bad class.
func (c Config) ExpandedClasses() ([]ClassConfig, error) {
	var errs problemList
	out := make([]ClassConfig, 0, len(c.Classes))
	for i, cc := range c.Classes {
		x, err := expandPreset(cc)
		if err != nil {
			errs.add(classKey(i)+".preset", err)
			continue
		}
		out = append(out, x)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Addresses is how many clients the subnets can give an address: the
// addresses of every pool and every reservation (one inside a pool counts
// twice). A pool whose bounds do not parse counts nothing; Validate
// reports it.
func (c Config) Addresses() int {
	n := 0
	for _, s := range c.Subnets {
		for _, p := range s.Pools {
			start, err1 := netip.ParseAddr(p.Start)
			end, err2 := netip.ParseAddr(p.End)
			if err1 != nil || err2 != nil || !start.Is4() || !end.Is4() {
				continue
			}
			lo, hi := binary.BigEndian.Uint32(start.AsSlice()), binary.BigEndian.Uint32(end.AsSlice())
			if hi >= lo {
				n += int(hi-lo) + 1
			}
		}
		n += len(s.Reservations)
	}
	return n
}
