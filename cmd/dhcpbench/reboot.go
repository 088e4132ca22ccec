package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// A mass reboot: every client of a site (after a power cut, a switch
// reload) sends its DISCOVER at the same moment, and each one that gets no
// answer retransmits as RFC 2131 §4.1 asks of a client: after 4 s, then 8,
// 16, 32 and 64 s, each randomised by ±1 s. How the phones themselves back
// off is unconfirmed; the RFC's schedule is the one every client is told
// to follow.
const (
	rebootFirstRetry = 4 * time.Second
	rebootMaxRetry   = 64 * time.Second
	rebootJitter     = time.Second
	rebootTick       = 50 * time.Millisecond // how often due retransmissions are sent
	rebootSocketBuf  = 32 << 20              // the simulated clients' socket buffers: they must not be what drops
)

// rebootResult is one server's mass reboot.
type rebootResult struct {
	Clients     int
	Bound       int           // clients holding an ACK at the end
	AllBound    time.Duration // from the first DISCOVER until the last ACK; 0 unless all were bound
	Limit       time.Duration // the bound on the run
	Sent        int           // DISCOVERs and REQUESTs sent, retransmissions included
	Retransmits int
	Naks        int
	Duplicates  int // ACKs of an address another client holds
	Stored      int // leases the server's database holds at the end; -1 if unknown
	// KernelDrops is the server namespace's UDP RcvbufErrors over the run:
	// datagrams the kernel dropped because a socket's receive buffer was
	// full (the server's own counters say what it dropped after reading).
	KernelDrops int64
	// OwnDrops names the server's own nonzero drop counters (packets by
	// reason, facts its inventory could not keep): "none", or "" when the
	// server has no such counters.
	OwnDrops  string
	ServerCPU time.Duration
	ClientCPU time.Duration // dhcpbench's own CPU over the run: the simulated clients
	Mem       benchkit.Memory
	Err       string // why it could not run
}

// lost is the number of ACKed clients whose lease the server's database
// does not hold at the end, or -1 when the count is unknown.
func (r rebootResult) lost() int {
	if r.Stored < 0 {
		return -1
	}
	return max(0, r.Bound-r.Stored)
}

// rebootClient is one simulated client's state.
type rebootClient struct {
	mac      net.HardwareAddr
	xid      dhcpv4.TransactionID
	msg      []byte // what it sends now: its DISCOVER, or its REQUEST once offered
	bound    bool
	attempts int       // retransmissions so far of msg
	due      time.Time // next retransmission
	addr     netip.Addr
}

// rebootRun is the simulated site during a mass reboot.
type rebootRun struct {
	conn    *net.UDPConn
	server  *net.UDPAddr
	relay   net.IP
	vendor  string
	rng     *rand.Rand
	mu      sync.Mutex
	clients []rebootClient
	byXID   map[dhcpv4.TransactionID]int
	holders map[netip.Addr]int // ACKed address → the last client it went to
	res     rebootResult
	last    time.Time // the latest ACK
	left    int       // clients not yet bound
}

// rebootMAC is client i's MAC: locally administered, apart from perfdhcp's
// and the probes'.
func rebootMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0xdc, 0, byte(i >> 16), byte(i >> 8), byte(i)}
}

// retryDelay is the wait before retransmission n (1-based) with jitter j
// in [-1, 1).
func retryDelay(n int, j float64) time.Duration {
	d := rebootFirstRetry
	for i := 1; i < n && d < rebootMaxRetry; i++ {
		d *= 2
	}
	return min(d, rebootMaxRetry) + time.Duration(j*float64(rebootJitter))
}

// reboot starts d afresh and runs a mass reboot of the configured number
// of clients against it.
func (b *bench) reboot(ctx context.Context, d daemon, round int) (rebootResult, error) {
	label := fmt.Sprintf("%s-r%d-reboot", d.Name(), round+1)
	in, err := b.startInstance(ctx, d, label)
	if err != nil {
		return rebootResult{}, err
	}
	defer b.sup.Stop(in.proc)
	b.logf("%s: mass reboot of %d clients (at most %s)", d.Name(), b.opts.RebootClients, b.opts.RebootLimit)
	var res rebootResult
	m, err := b.measure(ctx, d, in, label, func() error {
		var rerr error
		res, rerr = b.runReboot(ctx)
		return rerr
	})
	if err != nil {
		return res, err
	}
	res.ServerCPU, res.KernelDrops, res.OwnDrops, res.Mem, res.Stored = m.CPU, m.ServerDrops, m.OwnDrops, m.Mem, m.Leases
	b.logf("%s: %s", d.Name(), res.describe())
	return res, b.stopInstance(in)
}

// describe is the result in one line.
func (r rebootResult) describe() string {
	all := "not all bound"
	if r.AllBound > 0 {
		all = fmt.Sprintf("all bound in %.1f s", r.AllBound.Seconds())
	}
	own := ""
	if r.OwnDrops != "" {
		own = ", its own drops: " + r.OwnDrops
	}
	return fmt.Sprintf("%d/%d bound, %s; %d sent (%d retransmitted), %d dropped by the server's kernel%s, %d NAKs, %d duplicate ACKs, %d stored; server CPU %.1f s, clients' CPU %.1f s, HWM %s MiB",
		r.Bound, r.Clients, all, r.Sent, r.Retransmits, r.KernelDrops, own, r.Naks, r.Duplicates, r.Stored, r.ServerCPU.Seconds(), r.ClientCPU.Seconds(), benchkit.MiB(r.Mem.HWM))
}

// runReboot opens the relay socket in the client namespace, sends every
// DISCOVER at once and answers OFFERs with REQUESTs, retransmitting on the
// RFC schedule, until every client is bound or the limit passes.
func (b *bench) runReboot(ctx context.Context) (rebootResult, error) {
	n := b.opts.RebootClients
	r, err := b.openSite(n, n)
	if err != nil {
		return rebootResult{}, fmt.Errorf("reboot: %w", err)
	}
	defer r.conn.Close()
	r.res.Limit = b.opts.RebootLimit
	cpu0 := selfCPU()
	start := time.Now()
	readDone := make(chan error, 1)
	go func() { readDone <- r.read() }()
	r.sendAll(start)
	ctx, cancel := context.WithTimeout(ctx, b.opts.RebootLimit)
	defer cancel()
	t := time.NewTicker(rebootTick)
	defer t.Stop()
	for r.remaining() > 0 {
		select {
		case <-ctx.Done():
			r.conn.Close()
			<-readDone
			r.finish(start, cpu0)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return r.res, nil // not all bound: the result says so
			}
			return r.res, ctx.Err()
		case err := <-readDone:
			return r.res, fmt.Errorf("reboot: %w", err)
		case now := <-t.C:
			r.retransmit(now)
		}
	}
	r.conn.Close()
	<-readDone
	r.finish(start, cpu0)
	return r.res, nil
}

// openSite opens the relay socket in the client namespace (buffers large
// enough that the simulated clients never drop) and builds n clients'
// DISCOVERs; client i has the MAC of rebootMAC(i mod distinct) and its own
// transaction ID, so exchanges past distinct are returning clients.
func (b *bench) openSite(n, distinct int) (*rebootRun, error) {
	p := b.opts.plan
	relay := p.ClientAddr.Addr()
	r := &rebootRun{
		server: &net.UDPAddr{IP: p.ServerAddr.Addr().AsSlice(), Port: 67},
		relay:  relay.AsSlice(), vendor: p.VendorClass,
		rng:     rand.New(rand.NewPCG(1, 2)),
		byXID:   map[dhcpv4.TransactionID]int{},
		holders: map[netip.Addr]int{},
		res:     rebootResult{Clients: n, Stored: -1},
		left:    n,
	}
	if err := b.lab.client.Do(func() error {
		var lerr error
		r.conn, lerr = net.ListenUDP("udp4", &net.UDPAddr{IP: relay.AsSlice(), Port: 67})
		return lerr
	}); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := forceBuffers(r.conn, rebootSocketBuf); err != nil {
		r.conn.Close()
		return nil, err
	}
	if err := r.build(distinct); err != nil {
		r.conn.Close()
		return nil, err
	}
	return r, nil
}

// build makes every client's DISCOVER.
func (r *rebootRun) build(distinct int) error {
	r.clients = make([]rebootClient, r.res.Clients)
	for i := range r.clients {
		c := &r.clients[i]
		c.mac = rebootMAC(i % distinct)
		c.xid = dhcpv4.TransactionID{0xdc, byte(i >> 16), byte(i >> 8), byte(i)}
		m, err := dhcpv4.NewDiscovery(c.mac, append(r.common(), dhcpv4.WithTransactionID(c.xid))...)
		if err != nil {
			return fmt.Errorf("discover: %w", err)
		}
		c.msg = m.ToBytes()
		r.byXID[c.xid] = i
	}
	return nil
}

// common is what every message carries: the relay's giaddr, the Avaya
// vendor class, and the options a phone asks for.
func (r *rebootRun) common() []dhcpv4.Modifier {
	return []dhcpv4.Modifier{
		dhcpv4.WithRelay(r.relay),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier(r.vendor)),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter, dhcpv4.OptionIPAddressLeaseTime, optAvaya),
	}
}

// sendAll sends every client's DISCOVER as fast as the socket takes them.
func (r *rebootRun) sendAll(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.clients {
		c := &r.clients[i]
		c.due = now.Add(retryDelay(1, r.jitter()))
		r.send(c.msg)
	}
}

func (r *rebootRun) jitter() float64 { return r.rng.Float64()*2 - 1 }

// send sends one message; a failed send is a lost packet, which the
// client's retransmission covers. The caller holds r.mu.
func (r *rebootRun) send(msg []byte) {
	r.res.Sent++
	_, _ = r.conn.WriteToUDP(msg, r.server)
}

// retransmit resends the current message of every unbound client whose
// time has come.
func (r *rebootRun) retransmit(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.clients {
		c := &r.clients[i]
		if c.bound || now.Before(c.due) {
			continue
		}
		c.attempts++
		c.due = now.Add(retryDelay(c.attempts+1, r.jitter()))
		r.res.Retransmits++
		r.send(c.msg)
	}
}

func (r *rebootRun) remaining() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.left
}

// read handles replies until the socket is closed.
func (r *rebootRun) read() error {
	buf := make([]byte, 2048)
	for {
		n, _, err := r.conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			continue
		}
		if err := r.reply(m); err != nil {
			return err
		}
	}
}

// reply moves a client on with a server's answer.
func (r *rebootRun) reply(m *dhcpv4.DHCPv4) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.byXID[m.TransactionID]
	if !ok {
		return nil
	}
	c := &r.clients[i]
	if c.bound {
		return nil
	}
	now := time.Now()
	switch m.MessageType() {
	case dhcpv4.MessageTypeOffer:
		rq, err := dhcpv4.New(append([]dhcpv4.Modifier{
			dhcpv4.WithHwAddr(c.mac),
			dhcpv4.WithTransactionID(c.xid),
			dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(m.YourIPAddr)),
			dhcpv4.WithOptionCopied(m, dhcpv4.OptionServerIdentifier),
		}, r.common()...)...)
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		c.msg, c.attempts = rq.ToBytes(), 0
		c.due = now.Add(retryDelay(1, r.jitter()))
		r.send(c.msg)
	case dhcpv4.MessageTypeAck:
		addr, _ := netip.AddrFromSlice(m.YourIPAddr.To4())
		if h, taken := r.holders[addr]; taken && !bytes.Equal(r.clients[h].mac, c.mac) {
			r.res.Duplicates++
		}
		r.holders[addr] = i
		c.bound, c.addr = true, addr
		r.left--
		r.last = now
	case dhcpv4.MessageTypeNak:
		// Start over, as a client does after a NAK.
		r.res.Naks++
		d, err := dhcpv4.NewDiscovery(c.mac, append(r.common(), dhcpv4.WithTransactionID(c.xid))...)
		if err != nil {
			return fmt.Errorf("discover: %w", err)
		}
		c.msg, c.attempts = d.ToBytes(), 0
		c.due = now.Add(retryDelay(1, r.jitter()))
		r.send(c.msg)
	}
	return nil
}

// finish fills in the counts and times.
func (r *rebootRun) finish(start time.Time, cpu0 time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.ClientCPU = selfCPU() - cpu0
	r.res.Bound = r.res.Clients - r.left
	if r.left == 0 {
		r.res.AllBound = r.last.Sub(start)
	}
}

// forceBuffers sets the socket's buffers to n bytes past the system's
// rmem_max/wmem_max (SO_RCVBUFFORCE needs CAP_NET_ADMIN; the bench runs
// as root).
func forceBuffers(c *net.UDPConn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("reboot: socket: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = errors.Join(
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n),
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, n))
	}); err != nil {
		return fmt.Errorf("reboot: socket: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("reboot: socket buffers: %w", serr)
	}
	return nil
}

// selfCPU is this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
