package dhcpd

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/internal/alloc"
)

// policy is a configuration checked and turned into what the handler uses.
type policy struct {
	cfg           Config
	authoritative bool
	subnets       []*subnet
	classes       []*class
	classByName   map[string]*class
	relayListen   []netip.Addr
	check         string
}

// subnet is one [[dhcp.subnet]], compiled.
type subnet struct {
	index      int
	prefix     netip.Prefix
	label      string // the CIDR as a metric label
	iface      string
	mask       netip.Addr
	leaseTime  time.Duration
	renewTime  time.Duration
	rebindTime time.Duration
	nextServer string // "", "${server}" or an address
	pools      []poolRange
	// uncl caps what unclassified clients hold in the open pools.
	uncl alloc.Limit
	// reservations by identity key (see identityKey) and by address.
	resByKey  map[string]*reservation
	resByAddr map[netip.Addr]*reservation
	// sets[0] is for clients in no class, sets[1+i] for class i.
	sets []*optionSet
}

type poolRange struct {
	start, end netip.Addr
	label      string
	index      int // in the subnet's configuration
	// classes, when not empty, are the only classes the pool serves.
	classes []*class
}

// allocConfig is what the allocator serves.
func (p *policy) allocConfig() alloc.Config {
	c := alloc.Config{OfferHold: p.cfg.OfferHold, Quarantine: p.cfg.DeclineProbation, PressureHold: p.cfg.PressureOfferHold}
	for _, s := range p.subnets {
		as := alloc.Subnet{Prefix: s.prefix, Reservations: make(map[string]netip.Addr, len(s.resByKey)), Unclassified: s.uncl}
		for k, r := range s.resByKey {
			as.Reservations[k] = r.addr
		}
		for _, r := range s.pools {
			ap := alloc.Pool{Start: r.start, End: r.end}
			for _, cl := range r.classes {
				ap.Classes = append(ap.Classes, cl.index)
			}
			as.Pools = append(as.Pools, ap)
		}
		c.Subnets = append(c.Subnets, as)
	}
	return c
}

// subnetOf is the subnet that holds a, or nil.
func (p *policy) subnetOf(a netip.Addr) *subnet {
	for _, s := range p.subnets {
		if s.prefix.Contains(a) {
			return s
		}
	}
	return nil
}

// setFor is the option set for clients of class cl (nil: in no class).
func (s *subnet) setFor(cl *class) *optionSet {
	if cl == nil {
		return s.sets[0]
	}
	return s.sets[1+cl.index]
}

// parseUnclassifiedLimit reads "", "none", "N%" (0..100) or "N" (>= 0).
func parseUnclassifiedLimit(v string) (alloc.Limit, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "none" {
		return alloc.Limit{}, nil
	}
	num, pct := strings.CutSuffix(v, "%")
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 0 || (pct && n > 100) {
		return alloc.Limit{}, fmt.Errorf("%q is not \"\" (no cap), a share like \"50%%\" (0..100) or a number of addresses like \"100\"", v)
	}
	return alloc.Limit{Set: true, Percent: pct, N: n}, nil
}

type reservation struct {
	addr     netip.Addr
	key      string
	hostname string
	class    *class
}

// class is one [[dhcp.class]], expanded and compiled.
type class struct {
	index     int
	name      string
	all       bool
	leaseTime time.Duration
	m         matcher
	onlyIn    []netip.Prefix
}

// allocIndex is the class as the allocator knows it.
func (c *class) allocIndex() int {
	if c == nil {
		return alloc.NoClass
	}
	return c.index
}

// nameOrNone is the class name stored with a lease; "" for no class.
func (c *class) nameOrNone() string {
	if c == nil {
		return ""
	}
	return c.name
}

func subnetKey(i int) string { return fmt.Sprintf("subnet[%d]", i) }
func classKey(i int) string  { return fmt.Sprintf("class[%d]", i) }

// problemList gathers problems where no report function is at hand.
type problemList []error

func (p *problemList) add(key string, err error) { *p = append(*p, fmt.Errorf("%s: %w", key, err)) }
func (p problemList) err() error                 { return errors.Join(p...) }

// compile checks c and builds the policy, reporting every problem; the
// policy is nil when anything was reported.
func compile(c Config, report func(key string, err error)) *policy {
	bad := false
	rep := func(key string, err error) {
		bad = true
		report(key, err)
	}
	p := &policy{cfg: c, authoritative: c.Authoritative, classByName: map[string]*class{}, check: c.AddressCheck}
	checkGlobals(c, rep)
	p.compileRelayListen(c, rep)
	global := compileOptions("", c.Options, false, rep)
	// Subnets first (without options per class), so classes can refer to them.
	p.compileSubnets(c, rep)
	classOpts := p.compileClasses(c, rep)
	for _, s := range p.subnets {
		p.finishSubnet(c, s, global, classOpts, rep)
	}
	if bad {
		return nil
	}
	return p
}

// compileRelayListen reads relay_listen and the global next_server.
func (p *policy) compileRelayListen(c Config, rep func(string, error)) {
	for i, a := range c.RelayListen {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Is4() || ip.IsUnspecified() || ip.IsMulticast() {
			rep(fmt.Sprintf("relay_listen[%d]", i), fmt.Errorf("%q is not a local IPv4 unicast address", a))
			continue
		}
		p.relayListen = append(p.relayListen, ip)
	}
	if c.NextServer != "" && c.NextServer != "${server}" {
		if ip, err := netip.ParseAddr(c.NextServer); err != nil || !ip.Is4() {
			rep("next_server", fmt.Errorf("%q is not \"${server}\", \"\" or an IPv4 address", c.NextServer))
		}
	}
}

// compileSubnets compiles every subnet; they must not overlap, and a
// subnet reached only through relays needs somewhere to hear them.
func (p *policy) compileSubnets(c Config, rep func(string, error)) {
	for i := range c.Subnets {
		if s := compileSubnet(c, i, rep); s != nil {
			p.subnets = append(p.subnets, s)
		}
	}
	for i, s := range p.subnets {
		for _, o := range p.subnets[:i] {
			if s.prefix.Overlaps(o.prefix) {
				rep(subnetKey(s.index)+".cidr", fmt.Errorf("%s overlaps subnet %s", s.prefix, o.prefix))
			}
		}
	}
	if c.Enabled && len(c.Subnets) == 0 {
		rep("subnet", errors.New("the DHCP server is enabled but has no [[dhcp.subnet]]"))
	}
	if len(p.relayListen) == 0 {
		for _, s := range p.subnets {
			if s.iface == "" && !anyInterface(p.subnets) {
				rep(subnetKey(s.index)+".interface", errors.New("a subnet reached only through relays needs relay_listen (the address relays send to) or another subnet's interface"))
				break
			}
		}
	}
}

// classOptions are the options of each class (by index): its own, and
// those it has per subnet.
type classOptions struct {
	own       [][]optEntry
	perSubnet []map[*subnet][]optEntry
}

// compileClasses expands and compiles every class, with its options.
func (p *policy) compileClasses(c Config, rep func(string, error)) classOptions {
	bySubnetCIDR := map[string]*subnet{}
	for _, s := range p.subnets {
		bySubnetCIDR[s.prefix.String()] = s
	}
	// Classes, expanded from presets.
	co := classOptions{own: make([][]optEntry, len(c.Classes)), perSubnet: make([]map[*subnet][]optEntry, len(c.Classes))}
	for i, cc := range c.Classes {
		key := classKey(i)
		x, err := expandPreset(cc)
		if err != nil {
			rep(key+".preset", err)
			continue
		}
		cl := compileClass(x, key, len(p.classes), bySubnetCIDR, rep)
		if cl == nil {
			continue
		}
		if x.Name == "" {
			rep(key+".name", errors.New("a class needs a name (or a preset)"))
		} else if _, dup := p.classByName[x.Name]; dup {
			rep(key+".name", fmt.Errorf("class %q is defined twice", x.Name))
		}
		p.classByName[x.Name] = cl
		refuse := x.LongOptions == "refuse"
		co.own[cl.index] = compileOptions(key+".", x.Options, refuse, rep)
		co.perSubnet[cl.index] = map[*subnet][]optEntry{}
		for j, cs := range x.Subnet {
			skey := fmt.Sprintf("%s.subnet[%d]", key, j)
			s, ok := bySubnetCIDR[normalizeCIDR(cs.CIDR)]
			if !ok {
				rep(skey+".cidr", fmt.Errorf("%q is not one of the [[dhcp.subnet]] cidr values", cs.CIDR))
				continue
			}
			co.perSubnet[cl.index][s] = compileOptions(skey+".", cs.Options, refuse, rep)
		}
		p.classes = append(p.classes, cl)
	}
	return co
}

// finishSubnet resolves the class names its pools and reservations give,
// and merges its option sets: one for clients in no class, one per class.
func (p *policy) finishSubnet(c Config, s *subnet, global []optEntry, co classOptions, rep func(string, error)) {
	sc := c.Subnets[s.index]
	for k := range s.pools {
		r := &s.pools[k]
		for j, name := range sc.Pools[r.index].ClientClasses {
			cl, ok := p.classByName[name]
			if !ok {
				rep(fmt.Sprintf("%s.pool[%d].client_classes[%d]", subnetKey(s.index), r.index, j), fmt.Errorf("no [[dhcp.class]] is named %q", name))
				continue
			}
			r.classes = append(r.classes, cl)
		}
	}
	for j, r := range sc.Reservations {
		res := s.resByAddr[mustAddr(r.Address)]
		if r.Class == "" || res == nil {
			continue
		}
		cl, ok := p.classByName[r.Class]
		if !ok {
			rep(fmt.Sprintf("%s.reservation[%d].class", subnetKey(s.index), j), fmt.Errorf("no [[dhcp.class]] is named %q", r.Class))
			continue
		}
		res.class = cl
	}
	own := subnetOptions(sc, s, rep)
	own = append(own, compileOptions(subnetKey(s.index)+".", sc.Options, false, rep)...)
	s.sets = make([]*optionSet, 1+len(p.classes))
	general := [][]optEntry{global, own}
	s.sets[0] = mergeSets(general, nil)
	for _, cl := range p.classes {
		s.sets[1+cl.index] = mergeSets(general, [][]optEntry{co.own[cl.index], co.perSubnet[cl.index][s]})
	}
}

func anyInterface(ss []*subnet) bool {
	for _, s := range ss {
		if s.iface != "" {
			return true
		}
	}
	return false
}

func mustAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

func normalizeCIDR(s string) string {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return s
	}
	return p.String()
}

func checkGlobals(c Config, rep func(string, error)) {
	durations := []struct {
		key      string
		v        time.Duration
		min, max time.Duration
	}{
		{"lease_time", c.LeaseTime, time.Minute, 365 * 24 * time.Hour},
		{"offer_hold", c.OfferHold, time.Second, 10 * time.Minute},
		{"pressure_offer_hold", c.PressureOfferHold, 0, c.OfferHold},
		{"decline_probation", c.DeclineProbation, time.Minute, 30 * 24 * time.Hour},
		{"address_check_timeout", c.AddressCheckTimeout, 10 * time.Millisecond, 5 * time.Second},
	}
	for _, d := range durations {
		if d.v < d.min || d.v > d.max {
			rep(d.key, fmt.Errorf("%s is outside %s..%s (write durations with a unit, like \"24h\")", d.v, d.min, d.max))
		}
	}
	checkTimers("", c.LeaseTime, c.RenewTime, c.RebindTime, rep)
	switch c.AddressCheck {
	case CheckAuto, CheckARP, CheckICMP, CheckOff:
	default:
		rep("address_check", fmt.Errorf("%q is not auto, arp, icmp or off", c.AddressCheck))
	}
	if c.Workers < 1 || c.Workers > 4096 {
		rep("workers", fmt.Errorf("%d is outside 1..4096", c.Workers))
	}
	if c.QueueSize < 1 || c.QueueSize > 1<<20 {
		rep("queue_size", fmt.Errorf("%d is outside 1..1048576", c.QueueSize))
	}
	if _, err := parseUnclassifiedLimit(c.UnclassifiedLimit); err != nil {
		rep("unclassified_limit", err)
	}
	checkRateLimit(c.RateLimit, rep)
	if c.LockDir == "" || !filepath.IsAbs(c.LockDir) {
		rep("lock_dir", fmt.Errorf("%q must be an absolute directory", c.LockDir))
	}
}

// maxRate bounds the rate limits: more than any server answers.
const maxRate = 1_000_000

func checkRateLimit(r RateLimitConfig, rep func(string, error)) {
	for _, l := range []struct {
		name        string
		rate, burst int
	}{{"client", r.ClientRate, r.ClientBurst}, {"relay", r.RelayRate, r.RelayBurst}} {
		key := "rate_limit." + l.name
		if l.rate < 0 || l.rate > maxRate {
			rep(key+"_rate", fmt.Errorf("%d is outside 0..%d packets per second (0: no limit)", l.rate, maxRate))
		}
		if l.rate > 0 && (l.burst < 1 || l.burst > maxRate) {
			rep(key+"_burst", fmt.Errorf("%d is outside 1..%d packets", l.burst, maxRate))
		}
	}
}

// checkTimers checks T1 < T2 < lease when they are given.
func checkTimers(prefix string, lease, t1, t2 time.Duration, rep func(string, error)) {
	if t1 < 0 {
		rep(prefix+"renew_time", fmt.Errorf("%s is negative", t1))
	}
	if t2 < 0 {
		rep(prefix+"rebind_time", fmt.Errorf("%s is negative", t2))
	}
	if t1 > 0 && lease > 0 && t1 >= lease {
		rep(prefix+"renew_time", fmt.Errorf("%s must be shorter than the lease (%s)", t1, lease))
	}
	if t2 > 0 && lease > 0 && t2 >= lease {
		rep(prefix+"rebind_time", fmt.Errorf("%s must be shorter than the lease (%s)", t2, lease))
	}
	if t1 > 0 && t2 > 0 && t1 >= t2 {
		rep(prefix+"renew_time", fmt.Errorf("%s must be shorter than rebind_time (%s)", t1, t2))
	}
}

func compileOptions(prefix string, opts []OptionConfig, refuseLong bool, rep func(string, error)) []optEntry {
	var out []optEntry
	seen := map[uint8]int{}
	for i, o := range opts {
		key := fmt.Sprintf("%soption[%d]", prefix, i)
		e, field, err := compileOption(o, refuseLong)
		if err != nil {
			rep(key+"."+field, err)
			continue
		}
		if j, dup := seen[e.code]; dup {
			rep(key, fmt.Errorf("option %d is already set by option[%d] at this level", e.code, j))
			continue
		}
		seen[e.code] = i
		out = append(out, e)
	}
	return out
}

func compileSubnet(c Config, i int, rep func(string, error)) *subnet {
	sc := c.Subnets[i]
	key := subnetKey(i)
	pfx, ok := subnetPrefix(sc.CIDR, key, rep)
	if !ok {
		return nil
	}
	s := &subnet{
		index: i, prefix: pfx, label: pfx.String(), iface: sc.Interface,
		mask:      netip.AddrFrom4([4]byte(net.CIDRMask(pfx.Bits(), 32))),
		resByKey:  map[string]*reservation{},
		resByAddr: map[netip.Addr]*reservation{},
	}
	if len(sc.Interface) >= 16 || strings.ContainsAny(sc.Interface, " /") {
		rep(key+".interface", fmt.Errorf("%q is not an interface name", sc.Interface))
	}
	subnetSettings(c, sc, s, key, rep)
	in := hostChecker{pfx: pfx, rep: rep}
	in.first, in.last = hostRange(pfx)
	compilePools(sc, s, key, in, rep)
	compileReservations(sc, s, key, in, rep)
	if len(s.pools) == 0 && len(sc.Reservations) == 0 {
		rep(key+".pool", fmt.Errorf("subnet %s has no pool and no reservation: it could never hand out an address", pfx))
	}
	return s
}

// subnetPrefix reads a subnet's cidr: an IPv4 network address, /8 to /30.
func subnetPrefix(cidr, key string, rep func(string, error)) (netip.Prefix, bool) {
	pfx, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil || !pfx.Addr().Is4() {
		rep(key+".cidr", fmt.Errorf("%q is not an IPv4 network like \"198.18.0.0/24\"", cidr))
		return netip.Prefix{}, false
	}
	if pfx.Masked() != pfx {
		rep(key+".cidr", fmt.Errorf("%s is not a network address; did you mean %s?", pfx, pfx.Masked()))
		return netip.Prefix{}, false
	}
	if pfx.Bits() > 30 || pfx.Bits() < 8 {
		rep(key+".cidr", fmt.Errorf("%s: the prefix length must be 8..30", pfx))
		return netip.Prefix{}, false
	}
	return pfx, true
}

// subnetSettings sets the subnet's timers, next server and unclassified
// limit, each its own or the [dhcp] one.
func subnetSettings(c Config, sc SubnetConfig, s *subnet, key string, rep func(string, error)) {
	s.leaseTime = firstSet(sc.LeaseTime, c.LeaseTime)
	s.renewTime = firstSet(sc.RenewTime, c.RenewTime)
	s.rebindTime = firstSet(sc.RebindTime, c.RebindTime)
	if sc.LeaseTime != 0 && (sc.LeaseTime < time.Minute || sc.LeaseTime > 365*24*time.Hour) {
		rep(key+".lease_time", fmt.Errorf("%s is outside 1m..8760h", sc.LeaseTime))
	}
	checkTimers(key+".", s.leaseTime, s.renewTime, s.rebindTime, rep)
	s.nextServer = c.NextServer
	if sc.NextServer != "" {
		s.nextServer = sc.NextServer
		if ip, err := netip.ParseAddr(sc.NextServer); sc.NextServer != "${server}" && (err != nil || !ip.Is4()) {
			rep(key+".next_server", fmt.Errorf("%q is not \"${server}\" or an IPv4 address", sc.NextServer))
		}
	}
	limit := c.UnclassifiedLimit
	if sc.UnclassifiedLimit != "" {
		limit = sc.UnclassifiedLimit
		if u, err := parseUnclassifiedLimit(limit); err != nil {
			rep(key+".unclassified_limit", err)
		} else {
			s.uncl = u
		}
	} else {
		s.uncl, _ = parseUnclassifiedLimit(limit) // reported on [dhcp] unclassified_limit
	}
}

// hostChecker reads addresses that must be hosts of a subnet.
type hostChecker struct {
	pfx         netip.Prefix
	first, last netip.Addr
	rep         func(string, error)
}

// addr reads v, the value of field, reporting anything that is not an
// IPv4 host address of the subnet.
func (h hostChecker) addr(field, v string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(v))
	if err != nil || !a.Is4() {
		h.rep(field, fmt.Errorf("%q is not an IPv4 address", v))
		return netip.Addr{}, false
	}
	if !h.pfx.Contains(a) {
		h.rep(field, fmt.Errorf("%s is outside the subnet %s", a, h.pfx))
		return netip.Addr{}, false
	}
	if a.Less(h.first) || h.last.Less(a) {
		h.rep(field, fmt.Errorf("%s is the network or broadcast address of %s", a, h.pfx))
		return netip.Addr{}, false
	}
	return a, true
}

// compilePools reads the subnet's pools; they must not overlap.
func compilePools(sc SubnetConfig, s *subnet, key string, in hostChecker, rep func(string, error)) {
	for j, pc := range sc.Pools {
		pkey := fmt.Sprintf("%s.pool[%d]", key, j)
		start, ok1 := in.addr(pkey+".start", pc.Start)
		end, ok2 := in.addr(pkey+".end", pc.End)
		if !ok1 || !ok2 {
			continue
		}
		if end.Less(start) {
			rep(pkey+".end", fmt.Errorf("%s comes before start %s", end, start))
			continue
		}
		r := poolRange{start: start, end: end, label: start.String() + "-" + end.String(), index: j}
		for k, o := range s.pools {
			if !(r.end.Less(o.start) || o.end.Less(r.start)) {
				rep(pkey+".start", fmt.Errorf("pool %s overlaps pool %s (pool[%d])", r.label, o.label, k))
			}
		}
		s.pools = append(s.pools, r)
	}
}

// compileReservations reads the subnet's reservations: one per address
// and one per client.
func compileReservations(sc SubnetConfig, s *subnet, key string, in hostChecker, rep func(string, error)) {
	for j, rc := range sc.Reservations {
		rkey := fmt.Sprintf("%s.reservation[%d]", key, j)
		a, ok := in.addr(rkey+".address", rc.Address)
		if !ok {
			continue
		}
		idKey, field, err := reservationKey(rc)
		if err != nil {
			rep(rkey+"."+field, err)
			continue
		}
		if other, dup := s.resByAddr[a]; dup {
			rep(rkey+".address", fmt.Errorf("%s is already reserved (for %s)", a, describeKey(other.key)))
			continue
		}
		if _, dup := s.resByKey[idKey]; dup {
			rep(rkey+"."+field, fmt.Errorf("%s already has a reservation in this subnet", describeKey(idKey)))
			continue
		}
		res := &reservation{addr: a, key: idKey, hostname: rc.Hostname}
		s.resByAddr[a] = res
		s.resByKey[idKey] = res
	}
}

func firstSet(vs ...time.Duration) time.Duration {
	for _, v := range vs {
		if v != 0 {
			return v
		}
	}
	return 0
}

// hostRange is the first and last usable host address of p.
func hostRange(p netip.Prefix) (netip.Addr, netip.Addr) {
	n := u32(p.Addr())
	size := uint32(1) << (32 - p.Bits())
	return a32(n + 1), a32(n + size - 2)
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func a32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// subnetOptions are the options the subnet's own keys stand for.
func subnetOptions(sc SubnetConfig, s *subnet, rep func(string, error)) []optEntry {
	key := subnetKey(s.index) + "."
	b := a32(u32(s.prefix.Addr()) | ^u32(s.mask)).As4()
	out := []optEntry{
		{code: dhcpv4.OptionBroadcastAddress.Code(), value: fixedValue(b[:])},
	}
	list := func(field string, code uint8, vals []string) {
		if len(vals) == 0 {
			return
		}
		var data []byte
		for i, v := range vals {
			a, err := netip.ParseAddr(strings.TrimSpace(v))
			if err != nil || !a.Is4() {
				rep(fmt.Sprintf("%s%s[%d]", key, field, i), fmt.Errorf("%q is not an IPv4 address", v))
				return
			}
			x := a.As4()
			data = append(data, x[:]...)
		}
		out = append(out, optEntry{code: code, value: fixedValue(data)})
	}
	list("routers", dhcpv4.OptionRouter.Code(), sc.Routers)
	list("dns_servers", dhcpv4.OptionDomainNameServer.Code(), sc.DNSServers)
	list("ntp_servers", dhcpv4.OptionNTPServers.Code(), sc.NTPServers)
	if sc.Domain != "" {
		if len(sc.Domain) > 255 || strings.ContainsAny(sc.Domain, " /\\") {
			rep(key+"domain", fmt.Errorf("%q is not a domain name", sc.Domain))
		} else {
			out = append(out, optEntry{code: dhcpv4.OptionDomainName.Code(), value: fixedValue(sc.Domain)})
		}
	}
	return out
}

func describeKey(k string) string {
	if k == "" {
		return "nobody"
	}
	if k[0] == 'h' {
		return "MAC " + net.HardwareAddr(k[1:]).String()
	}
	return "client-id " + hex.EncodeToString([]byte(k[1:]))
}

func reservationKey(r ReservationConfig) (key, field string, err error) {
	switch {
	case r.MAC != "" && r.ClientID != "":
		return "", "mac", errors.New("give mac or client_id, not both")
	case r.MAC != "":
		mac, err := net.ParseMAC(r.MAC)
		if err != nil || len(mac) != 6 {
			return "", "mac", fmt.Errorf("%q is not a MAC address like 00:04:0d:12:34:56", r.MAC)
		}
		return alloc.HWKey(mac), "mac", nil
	case r.ClientID != "":
		id, err := parseHex(r.ClientID)
		if err != nil || len(id) < 2 {
			return "", "client_id", fmt.Errorf("%q is not a client identifier in hex, like 01:00:04:0d:12:34:56", r.ClientID)
		}
		return alloc.ClientIDKey(id), "client_id", nil
	}
	return "", "mac", errors.New("a reservation needs mac or client_id")
}

// parseHex reads "01:02:03", "01-02-03" or "010203".
func parseHex(s string) ([]byte, error) {
	s = strings.NewReplacer(":", "", "-", "", " ", "").Replace(strings.TrimSpace(s))
	return hex.DecodeString(s)
}

// matcher is a class's criteria, compiled.
type matcher struct {
	vendorExact  []string
	vendorPrefix []string
	vendorRe     []*regexp.Regexp
	macPrefix    [][]byte
	userClass    []string
	hostPrefix   []string
	circuitID    []string
	remoteID     []string
	requests     []uint8
	// notVendorPrefix is a condition: a client whose option 60 starts
	// with one of these is never in the class.
	notVendorPrefix []string
}

func compileClass(x ClassConfig, key string, index int, subnets map[string]*subnet, rep func(string, error)) *class {
	ok := true
	fail := func(field string, err error) {
		ok = false
		rep(key+"."+field, err)
	}
	cl := &class{index: index, name: x.Name, leaseTime: x.LeaseTime}
	switch x.Match {
	case "any":
	case "all":
		cl.all = true
	default:
		fail("match", fmt.Errorf("%q is not any or all", x.Match))
	}
	switch x.LongOptions {
	case "split", "refuse":
	default:
		fail("long_options", fmt.Errorf("%q is not split or refuse", x.LongOptions))
	}
	if x.LeaseTime != 0 && (x.LeaseTime < time.Minute || x.LeaseTime > 365*24*time.Hour) {
		fail("lease_time", fmt.Errorf("%s is outside 1m..8760h", x.LeaseTime))
	}
	compileMatcher(x, &cl.m, fail)
	if !x.hasCriteria() {
		fail("name", fmt.Errorf("class %q has no criteria (vendor_class, mac_prefix, user_class, ...) and no preset: it would match nobody", x.Name))
	}
	for i, c := range x.Subnets {
		s, found := subnets[normalizeCIDR(c)]
		if !found {
			fail(fmt.Sprintf("subnets[%d]", i), fmt.Errorf("%q is not one of the [[dhcp.subnet]] cidr values", c))
			continue
		}
		cl.onlyIn = append(cl.onlyIn, s.prefix)
	}
	if !ok {
		return nil
	}
	return cl
}

// compileMatcher compiles the class's criteria into m, reporting bad
// values with fail (field, error).
func compileMatcher(x ClassConfig, m *matcher, fail func(string, error)) {
	m.vendorExact = x.VendorClass
	m.vendorPrefix = x.VendorClassPrefix
	for i, r := range x.VendorClassRegexp {
		re, err := regexp.Compile(r)
		if err != nil {
			fail(fmt.Sprintf("vendor_class_regexp[%d]", i), fmt.Errorf("bad regular expression: %w", err))
			continue
		}
		m.vendorRe = append(m.vendorRe, re)
	}
	for i, p := range x.MACPrefix {
		b, err := parseHex(p)
		if err != nil || len(b) == 0 || len(b) > 6 {
			fail(fmt.Sprintf("mac_prefix[%d]", i), fmt.Errorf("%q is not a MAC prefix like 00:04:0d", p))
			continue
		}
		m.macPrefix = append(m.macPrefix, b)
	}
	m.userClass = x.UserClass
	m.notVendorPrefix = x.NotVendorClassPrefix
	m.hostPrefix = x.HostnamePrefix
	for _, list := range []struct {
		field string
		in    []string
		out   *[]string
	}{{"circuit_id", x.CircuitID, &m.circuitID}, {"remote_id", x.RemoteID, &m.remoteID}} {
		for i, v := range list.in {
			b, err := matchBytes(v)
			if err != nil {
				fail(fmt.Sprintf("%s[%d]", list.field, i), err)
				continue
			}
			*list.out = append(*list.out, string(b))
		}
	}
	for i, n := range x.RequestsOption {
		if n < 1 || n > 254 {
			fail(fmt.Sprintf("requests_option[%d]", i), fmt.Errorf("%d is outside 1..254", n))
			continue
		}
		m.requests = append(m.requests, uint8(n))
	}
}

// matchBytes reads a circuit-id or remote-id: text, or "hex:..." for binary.
func matchBytes(v string) ([]byte, error) {
	if h, ok := strings.CutPrefix(v, "hex:"); ok {
		b, err := parseHex(h)
		if err != nil {
			return nil, fmt.Errorf("%q: bad hex after \"hex:\"", v)
		}
		return b, nil
	}
	return []byte(v), nil
}
