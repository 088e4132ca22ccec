// Package dhcpd is phoneprov's embedded DHCPv4 server. It serves the phones'
// links directly (one socket per interface) and other subnets through relay
// agents, sorts clients into phone classes (vendor class, MAC prefix, user
// class, option 82, requested options, host name), and hands each class the
// options that point it at its call server and at this box's file server.
//
// A lease is on disk before the ACK that grants it leaves; offers are held
// in memory only. Addresses are allocated in O(1) from never-used addresses
// first, then from those freed longest ago, and an address whose last holder
// may still use it is checked (ARP or ICMP) before it goes to someone else.
//
// Use: New, then Bind (all sockets and locks, clear errors), then Serve.
package dhcpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/dhcpd/dhcpopts"
	"github.com/phoneprov/phoneprov/dhcpd/internal/alloc"
	"github.com/phoneprov/phoneprov/dhcpd/internal/delivery"
	"github.com/phoneprov/phoneprov/dhcpd/internal/probe"
	"github.com/phoneprov/phoneprov/dhcpd/internal/sock"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/internal/neigh"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// Options are the parts a Server is wired to; Store is required.
type Options struct {
	// Store keeps the leases; the server reloads them in Bind.
	Store leases.Store
	// Logger gets one line per lease event and every problem.
	Logger *slog.Logger
	// Registry gets the phoneprov_dhcp_* metrics; nil means a private one.
	Registry prometheus.Registerer
	// Vars gives the template variables for a server address (the
	// address of the interface a request came in on). Nil means the
	// address with the standard ports: HTTP 80, HTTPS 443, TLS 411, TFTP 69.
	Vars func(serverAddr netip.Addr) dhcpopts.Vars
	// LeaseEvents, when set, gets every lease event.
	LeaseEvents LeaseObserver
	// Partner, when set, is the other server of a high-availability pair
	// (dhcpd/ha): it decides which clients this server answers and
	// acknowledges every lease before its ACK leaves.
	Partner Partner
}

// Partner is the other server of a high-availability pair, as the handler
// asks it (ha.Service implements it).
type Partner interface {
	// Admit reports whether this server answers the client now; secs is
	// the client's secs field and client gives its identity (chaddr and
	// client id), asked only when the partner's failure detection needs it.
	Admit(secs uint16, client func() string) bool
	// LeasesCommitted is called once ls are durable here; an error
	// withholds the ACK (the lease stays stored).
	LeasesCommitted(ctx context.Context, ls []leases.Lease) error
}

// Server is the DHCP server. Create it with New, then Bind, then Serve.
type Server struct {
	cfg  Config
	pol  *policy
	opts Options
	log  *slog.Logger
	al   *alloc.Allocator
	h    *handler
	// limits are checked in the readers, before a packet is queued;
	// epoch is their clock's zero.
	limits *rateLimits
	epoch  time.Time

	mu      sync.Mutex
	bound   bool
	conns   []*sock.Conn
	links   map[string]*link // by interface name
	byIndex map[int]*link
	locks   []*sock.Lock
	neigh   *neigh.Table
	arp     map[int]*probe.ARP
	icmp    *probe.ICMP
	queue   chan *job
	checks  chan struct{}
}

// job is one packet waiting for a worker.
type job struct {
	in inbound
}

const recvBufSize = 4096

// queueFullWait is how long a reader holds a packet for a place in a full
// queue before dropping it. Meanwhile the socket's receive buffer
// (sock.RecvBuffer) keeps what arrives, so a burst far larger than the
// queue (a whole site rebooting at once) waits its turn instead of being
// dropped, while workers that make no progress at all (a hung store)
// still cost only a dropped packet per wait.
const queueFullWait = 50 * time.Millisecond

// maxChecks bounds address checks in flight.
const maxChecks = 64

// New checks the configuration and prepares the server; it opens nothing.
func New(cfg Config, opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("dhcp: a lease store is required")
	}
	opts.Logger = obs.Logger(opts.Logger)
	opts.Registry = obs.Registry(opts.Registry)
	if opts.Vars == nil {
		opts.Vars = defaultVars
	}
	var problems []error
	pol := compile(cfg, func(key string, err error) {
		problems = append(problems, fmt.Errorf("dhcp.%s: %w", key, err))
	})
	if pol == nil {
		return nil, errors.Join(problems...)
	}
	s := &Server{cfg: cfg, pol: pol, opts: opts, log: opts.Logger, al: alloc.New(pol.allocConfig()),
		limits: newRateLimits(cfg.RateLimit, cfg.Addresses()), epoch: time.Now()}
	met, err := newMetrics(opts.Registry, pol, s.al)
	if err != nil {
		return nil, err
	}
	s.h = &handler{
		pol: pol, alloc: s.al, store: opts.Store, vars: opts.Vars, log: opts.Logger, met: met,
		obs: opts.LeaseEvents, partner: opts.Partner, now: time.Now, timeout: 10 * time.Second,
		exhaustedLog: make([]atomicInt64, len(pol.subnets)),
	}
	return s, nil
}

func defaultVars(a netip.Addr) dhcpopts.Vars {
	return dhcpopts.Vars{ServerIP: a, HTTPPort: 80, HTTPSPort: 443, TLSPort: 411, TFTPPort: 69}
}

// Bind loads the leases, checks that each subnet's interface holds an
// address inside it, takes one lock per interface (so a second phoneprov
// cannot answer on the same link) and opens every socket. On error nothing
// stays open. A disabled server binds nothing.
func (s *Server) Bind(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound {
		return errors.New("dhcp: already bound")
	}
	if !s.cfg.Enabled {
		return nil
	}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	if err := s.loadLeases(ctx); err != nil {
		return err
	}
	if err := s.resolveLinks(); err != nil {
		return err
	}
	for _, name := range s.linkNames() {
		if err := s.claim("dhcp-"+name+".lock", "interface "+name, func() (*sock.Conn, error) {
			return sock.ListenInterface(ctx, name, sock.ServerPort)
		}); err != nil {
			return err
		}
	}
	for _, a := range s.pol.relayListen {
		if err := s.claim("dhcp-relay-"+a.String()+".lock", "relay address "+a.String(), func() (*sock.Conn, error) {
			return sock.ListenAddr(ctx, a, sock.ServerPort)
		}); err != nil {
			return err
		}
	}
	if s.neigh, err = neigh.Open(); err != nil {
		return fmt.Errorf("dhcp: %w", err)
	}
	if err := s.openProbers(); err != nil {
		return err
	}
	s.queue = make(chan *job, s.cfg.QueueSize)
	s.checks = make(chan struct{}, maxChecks)
	if s.arp != nil || s.icmp != nil {
		s.h.check = s.startCheck
	}
	s.h.send = s.send
	s.bound = true
	return nil
}

func (s *Server) loadLeases(ctx context.Context) error {
	ls, err := s.opts.Store.Load(ctx)
	if err != nil && !errors.Is(err, leases.ErrCorrupt) {
		return fmt.Errorf("dhcp: load leases: %w", err)
	}
	if err != nil {
		s.log.Error("some stored leases could not be read; they are ignored until overwritten", "err", err)
	}
	rewrite, orphans := s.al.Load(ls, time.Now())
	if orphans > 0 {
		s.log.Warn("stored leases outside every configured subnet are ignored", "count", orphans)
	}
	if len(rewrite) > 0 {
		if err := s.opts.Store.Put(ctx, rewrite...); err != nil {
			return fmt.Errorf("dhcp: mark leases that expired while stopped: %w", err)
		}
	}
	s.log.Info("dhcp leases loaded", "leases", len(ls)-orphans, "expired_while_stopped", len(rewrite))
	return nil
}

// claim takes the lock file lockName, which keeps a second phoneprov off
// the socket, and then opens the socket with listen; what names the socket
// in errors. Both stay held until the server closes.
func (s *Server) claim(lockName, what string, listen func() (*sock.Conn, error)) error {
	l, err := sock.Acquire(s.cfg.LockDir, lockName)
	if err != nil {
		return fmt.Errorf("dhcp: %s is served by another phoneprov: %w", what, err)
	}
	s.locks = append(s.locks, l)
	c, err := listen()
	if err != nil {
		return fmt.Errorf("dhcp: %w", err)
	}
	s.conns = append(s.conns, c)
	return nil
}

func (s *Server) linkNames() []string {
	var names []string
	for _, sn := range s.pol.subnets {
		if sn.iface != "" && !containsString(names, sn.iface) {
			names = append(names, sn.iface)
		}
	}
	return names
}

func containsString(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// resolveLinks finds each subnet's interface and the server's address on it.
func (s *Server) resolveLinks() error {
	s.links = map[string]*link{}
	s.byIndex = map[int]*link{}
	var problems []error
	for _, sn := range s.pol.subnets {
		if sn.iface == "" {
			continue
		}
		l := s.links[sn.iface]
		if l == nil {
			ifi, err := net.InterfaceByName(sn.iface)
			if err != nil {
				problems = append(problems, fmt.Errorf("dhcp.subnet[%d] (%s): interface %q: %w", sn.index, sn.prefix, sn.iface, err))
				continue
			}
			if ifi.Flags&net.FlagUp == 0 {
				s.log.Warn("dhcp interface is down; clients on it get no answer until it is up", "interface", sn.iface)
			}
			l = &link{name: ifi.Name, index: ifi.Index, mac: ifi.HardwareAddr, mtu: ifi.MTU}
			s.links[sn.iface] = l
			s.byIndex[ifi.Index] = l
		}
		addrs, err := interfaceAddrs(sn.iface)
		if err != nil {
			problems = append(problems, fmt.Errorf("dhcp.subnet[%d]: %w", sn.index, err))
			continue
		}
		var server netip.Addr
		for _, a := range addrs {
			if sn.prefix.Contains(a.Addr()) {
				server = a.Addr()
				break
			}
		}
		if !server.IsValid() {
			have := make([]string, len(addrs))
			for j, a := range addrs {
				have[j] = a.String()
			}
			if len(have) == 0 {
				have = []string{"none"}
			}
			problems = append(problems, fmt.Errorf("dhcp.subnet[%d]: interface %s holds no address inside %s (it has: %s); "+
				"give the interface an address in the subnet, or fix cidr or interface", sn.index, sn.iface, sn.prefix, strings.Join(have, ", ")))
			continue
		}
		l.subnets = append(l.subnets, linkSubnet{s: sn, server: server})
	}
	return errors.Join(problems...)
}

func interfaceAddrs(name string) ([]netip.Prefix, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", name, err)
	}
	as, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", name, err)
	}
	var out []netip.Prefix
	for _, a := range as {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if !ip.Is4() {
			continue
		}
		bits, _ := ipn.Mask.Size()
		out = append(out, netip.PrefixFrom(ip, bits))
	}
	return out, nil
}

// openProbers opens the address-check sockets the configuration needs.
func (s *Server) openProbers() error {
	mode := s.cfg.AddressCheck
	if mode == CheckOff {
		return nil
	}
	if mode == CheckAuto || mode == CheckARP {
		s.arp = map[int]*probe.ARP{}
		for _, l := range s.links {
			if len(l.mac) != 6 || len(l.subnets) == 0 {
				continue
			}
			p, err := probe.NewARP(l.index, l.mac, l.subnets[0].server)
			if err != nil {
				return fmt.Errorf("dhcp: address check on %s: %w (set address_check = \"off\" to run without)", l.name, err)
			}
			s.arp[l.index] = p
		}
	}
	needICMP := mode == CheckICMP
	if mode == CheckAuto {
		for _, sn := range s.pol.subnets {
			if sn.iface == "" {
				needICMP = true
			}
		}
	}
	if needICMP {
		p, err := probe.NewICMP()
		if err != nil {
			return fmt.Errorf("dhcp: address check: %w (set address_check = \"off\" to run without)", err)
		}
		s.icmp = p
	}
	return nil
}

func (s *Server) prober(in *inbound, relayed bool) probe.Prober {
	if !relayed && in.link != nil {
		if p, ok := s.arp[in.link.index]; ok {
			return p
		}
	}
	if s.icmp != nil {
		return s.icmp
	}
	return nil
}

// startCheck runs an address check in the background, bounded by maxChecks.
func (s *Server) startCheck(rq checkRequest) bool {
	p := s.prober(rq.in, rq.relayed)
	if p == nil {
		// No way to check this path: treat the address as silent.
		go rq.done(false, nil)
		return true
	}
	select {
	case s.checks <- struct{}{}:
	default:
		return false
	}
	go func() {
		defer func() { <-s.checks }()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.AddressCheckTimeout)
		answered, err := p.Probe(ctx, rq.addr)
		cancel()
		rq.done(answered, err)
	}()
	return true
}

// Serve answers until ctx ends, then closes the sockets and returns nil.
// A socket that stops working (closed under it, or failing every read)
// ends Serve early with that error, so the process can stop and be
// restarted instead of staying up deaf. It must follow a successful Bind.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	bound := s.bound
	s.mu.Unlock()
	if !s.cfg.Enabled {
		<-ctx.Done()
		return nil
	}
	if !bound {
		return errors.New("dhcp: Serve before Bind")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var workers, readers sync.WaitGroup
	for range s.cfg.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			s.work(ctx)
		}()
	}
	readErrs := make(chan error, len(s.conns))
	for _, c := range s.conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			if err := s.read(ctx, c); err != nil {
				readErrs <- err
			}
		}()
	}
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.h.sweep(ctx)
			}
		}
	}()
	s.log.Info("dhcp server serving", "interfaces", strings.Join(s.linkNames(), ","), "relay_listen", len(s.pol.relayListen),
		"subnets", len(s.pol.subnets), "classes", len(s.pol.classes))
	var failed error
	select {
	case <-ctx.Done():
	case failed = <-readErrs:
		cancel()
	}
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	readers.Wait()
	workers.Wait()
	<-sweepDone
	for len(s.checks) > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.closeAll()
	s.mu.Unlock()
	return failed
}

// A socket whose reads fail this many times in a row, readFailurePause
// apart, is taken as dead: about five seconds of nothing but errors.
const (
	maxReadFailures  = 50
	readFailurePause = 100 * time.Millisecond
)

// read receives packets on c into one buffer and queues a right-sized
// copy of each: a DHCP packet is a few hundred bytes, so copying costs less
// than keeping a receive-sized buffer per packet in flight. Packets over a
// rate limit are dropped here, before they are copied or take a place in
// the queue, so a flood the limits catch never crowds out other clients.
// A packet that finds the queue full waits up to queueFullWait for a place
// before it is dropped (see enqueue).
//
// read returns nil when ctx ends. It returns an error when the socket was
// closed under it, or when maxReadFailures reads in a row have failed
// (pausing between them rather than spinning): a socket in that state
// serves nobody.
func (s *Server) read(ctx context.Context, c *sock.Conn) error {
	oob := make([]byte, sock.OOBSize)
	buf := make([]byte, recvBufSize)
	var fixed *link
	if c.Interface != "" {
		fixed = s.links[c.Interface]
	}
	failures := 0
	full := time.NewTimer(queueFullWait)
	full.Stop()
	for {
		n, info, err := c.Read(buf, oob)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, sock.ErrTruncated):
				s.h.met.parseFailed.Inc()
				continue
			case errors.Is(err, net.ErrClosed):
				return fmt.Errorf("dhcp socket %s: closed while serving: %w", c, err)
			}
			failures++
			if failures >= maxReadFailures {
				return fmt.Errorf("dhcp socket %s: %d reads in a row failed, the last with: %w", c, failures, err)
			}
			s.log.Warn("dhcp socket read failed", "socket", c.String(), "err", err, "in_a_row", failures)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(readFailurePause):
			}
			continue
		}
		failures = 0
		switch s.limits.check(buf[:n], int64(time.Since(s.epoch))) {
		case limitClient:
			s.h.met.rateClient.Inc()
			continue
		case limitRelay:
			s.h.met.rateRelay.Inc()
			continue
		}
		l := fixed
		if l == nil {
			l = s.byIndex[info.IfIndex]
		}
		j := &job{in: inbound{data: append([]byte(nil), buf[:n]...), link: l, local: info.Local, dst: info.Dst, src: info.Src, conn: c}}
		if !s.enqueue(ctx, j, full) {
			return nil
		}
	}
}

// enqueue puts j in the queue, waiting up to queueFullWait (on the
// reader's timer full) while the queue is full; a packet still without a
// place then is dropped and counted. It returns false when ctx ends.
func (s *Server) enqueue(ctx context.Context, j *job, full *time.Timer) bool {
	select {
	case s.queue <- j:
		return true
	default:
	}
	full.Reset(queueFullWait)
	defer full.Stop()
	select {
	case s.queue <- j:
	case <-full.C:
		s.h.met.queueDrops.Inc()
	case <-ctx.Done():
		return false
	}
	return true
}

func (s *Server) work(ctx context.Context) {
	sc := newScratch()
	for {
		var j *job
		select {
		case <-ctx.Done():
			return
		case j = <-s.queue:
		}
		out, ok := s.safeHandle(ctx, j, sc)
		if ok {
			s.send(j.in.conn, out)
		}
	}
}

// safeHandle turns a panic in the handler into a dropped, counted packet,
// so one bad packet never stops the server.
func (s *Server) safeHandle(ctx context.Context, j *job, sc *scratch) (outbound, bool) {
	defer s.h.dropPanic(j.in.src)
	return s.h.handle(ctx, &j.in, sc)
}

// send sends a reply on the socket c, setting a neighbour entry first for
// a unicast to an address the client does not have yet.
func (s *Server) send(c *sock.Conn, out outbound) {
	dest := out.to.Dest
	if out.to.Method == delivery.UnicastYIAddr {
		if err := s.neigh.Set(out.ifIndex, dest.Addr(), out.mac); err != nil {
			s.log.Debug("no neighbour entry; broadcasting instead", "err", err)
			dest = netip.AddrPortFrom(limitedBroadcast, delivery.ClientPort)
		}
	}
	if err := c.WriteTo(out.data, dest); err != nil {
		s.h.met.sendErrors.Inc()
		s.log.Warn("dhcp reply not sent", "to", dest, "method", out.to.Method.String(), "err", err)
	}
}

// closeAll releases sockets, probers and locks; the caller holds s.mu.
func (s *Server) closeAll() {
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	for _, p := range s.arp {
		p.Close()
	}
	s.arp = nil
	if s.icmp != nil {
		s.icmp.Close()
		s.icmp = nil
	}
	if s.neigh != nil {
		s.neigh.Close()
		s.neigh = nil
	}
	for _, l := range s.locks {
		l.Close()
	}
	s.locks = nil
	s.bound = false
}

// Leases returns a copy of every lease record the server holds (active,
// released, expired and declined), ordered by address. It is empty before
// Bind has loaded the store.
func (s *Server) Leases() []leases.Lease {
	return s.al.Snapshot()
}
