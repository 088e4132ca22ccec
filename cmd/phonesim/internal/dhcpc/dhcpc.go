// Package dhcpc is the DHCPv4 client side of many simulated phones sharing
// one UDP socket: each phone's exchange (DISCOVER, OFFER, REQUEST, ACK, or
// an INIT-REBOOT REQUEST after a restart) runs in its own goroutine, sends
// with the broadcast flag set so the server broadcasts its replies, and the
// one receive loop hands each reply to the phone it belongs to by
// transaction ID and hardware address.
//
// Like a phone, a waiting client retransmits with exponential back-off
// (RFC 2131 §4.1: 4 s, 8 s, … up to 64 s, ±1 s), drops a reply longer than
// the maximum message size it announced in option 57, and ignores offers it
// cannot use. Replies that do not parse are counted and dropped.
package dhcpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Identity is what a phone says about itself in every request.
type Identity struct {
	// MAC is chaddr.
	MAC net.HardwareAddr
	// HostName is option 12 ("" sends none).
	HostName string
	// VendorClass is option 60 ("" sends none).
	VendorClass string
	// ParamRequest is option 55.
	ParamRequest []byte
	// MaxMessageSize is option 57 (0 sends none). Replies longer than
	// this, counted as an IP datagram (payload + 28 bytes), are dropped.
	MaxMessageSize uint16
	// RequireLeaseTime ignores offers without option 51 (J100).
	RequireLeaseTime bool
}

// Lease is what the ACK gave.
type Lease struct {
	// Prefix is the address with the subnet mask's length.
	Prefix netip.Prefix
	// ServerID is option 54.
	ServerID netip.Addr
	// NextServer is siaddr (zero when unset).
	NextServer netip.Addr
	// LeaseTime is option 51 (zero when absent).
	LeaseTime time.Duration
	// Options are all options of the ACK, repeated instances joined
	// (RFC 3396).
	Options map[uint8][]byte
	// Sent is the number of packets this exchange sent.
	Sent int
	// Rebooted says the address was confirmed by an INIT-REBOOT request.
	Rebooted bool
}

// Addr is the leased address.
func (l Lease) Addr() netip.Addr { return l.Prefix.Addr() }

// Retry is how patiently a phone waits for the server.
type Retry struct {
	// First is the wait before the first retransmission; it doubles up
	// to Max. RFC 2131 suggests 4 s and 64 s.
	First, Max time.Duration
	// Jitter is added or taken at random from every wait (RFC 2131: 1 s).
	Jitter time.Duration
	// Attempts bounds the DISCOVERs (and the REQUESTs for one offer);
	// 0 means as many as the context allows.
	Attempts int
}

// DefaultRetry is RFC 2131's schedule.
var DefaultRetry = Retry{First: 4 * time.Second, Max: 64 * time.Second, Jitter: time.Second}

// Stats count what the receive loop saw.
type Stats struct {
	Sent, Received                 uint64
	Offers, Acks, Naks             uint64
	Malformed, Unmatched, Oversize uint64
}

// ipUDPHeaders is what the IP datagram adds to a DHCP payload.
const ipUDPHeaders = 28

// Client runs exchanges for many phones over one socket.
type Client struct {
	conn   net.PacketConn
	server net.Addr

	mu      sync.Mutex
	waiting map[uint32]*waiter

	sent, received, offers, acks, naks, malformed, unmatched, oversize atomic.Uint64
}

// waiter is one phone's pending exchange.
type waiter struct {
	mac     net.HardwareAddr
	maxSize uint16
	replies chan *dhcpv4.DHCPv4
	// dropped counts replies for this phone that were too long.
	dropped atomic.Uint32
}

// New returns a client that sends to server through conn. Serve must run
// for replies to arrive.
func New(conn net.PacketConn, server net.Addr) *Client {
	return &Client{conn: conn, server: server, waiting: map[uint32]*waiter{}}
}

// Serve reads replies until ctx ends or the socket is closed, and hands
// each to the phone waiting for it.
func (c *Client) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { c.conn.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 65536)
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dhcp: receive: %w", err)
		}
		c.received.Add(1)
		c.dispatch(buf[:n])
	}
}

// dispatch delivers one datagram, or counts why it could not.
func (c *Client) dispatch(b []byte) {
	if len(b) < 240 || b[0] != byte(dhcpv4.OpcodeBootReply) {
		c.malformed.Add(1)
		return
	}
	xid := binary.BigEndian.Uint32(b[4:8])
	c.mu.Lock()
	w := c.waiting[xid]
	c.mu.Unlock()
	if w == nil {
		c.unmatched.Add(1) // late, a duplicate, or another client's
		return
	}
	if w.maxSize > 0 && len(b)+ipUDPHeaders > int(w.maxSize) {
		c.oversize.Add(1)
		w.dropped.Add(1)
		return
	}
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		c.malformed.Add(1)
		return
	}
	if len(m.ClientHWAddr) != len(w.mac) || string(m.ClientHWAddr) != string(w.mac) {
		c.unmatched.Add(1)
		return
	}
	switch m.MessageType() {
	case dhcpv4.MessageTypeOffer:
		c.offers.Add(1)
	case dhcpv4.MessageTypeAck:
		c.acks.Add(1)
	case dhcpv4.MessageTypeNak:
		c.naks.Add(1)
	}
	select {
	case w.replies <- m:
	default: // the phone is not keeping up; a real one would miss it too
	}
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{
		Sent: c.sent.Load(), Received: c.received.Load(),
		Offers: c.offers.Load(), Acks: c.acks.Load(), Naks: c.naks.Load(),
		Malformed: c.malformed.Load(), Unmatched: c.unmatched.Load(), Oversize: c.oversize.Load(),
	}
}

// register reserves a fresh transaction ID for a phone.
func (c *Client) register(id Identity) (uint32, *waiter) {
	w := &waiter{mac: id.MAC, maxSize: id.MaxMessageSize, replies: make(chan *dhcpv4.DHCPv4, 8)}
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		xid := rand.Uint32()
		if _, taken := c.waiting[xid]; !taken {
			c.waiting[xid] = w
			return xid, w
		}
	}
}

func (c *Client) unregister(xid uint32) {
	c.mu.Lock()
	delete(c.waiting, xid)
	c.mu.Unlock()
}

// exchange is one phone's run through the protocol.
type exchange struct {
	c       *Client
	id      Identity
	retry   Retry
	started time.Time
	sent    int
	// notes explain ignored replies in the final error.
	ignoredOffers int
	lastIgnore    string
}

// Acquire gets a lease for the phone id. With a previous address (a phone
// that restarts) it first asks to keep it (INIT-REBOOT); without one, or
// when the server says no, it starts with DISCOVER.
func (c *Client) Acquire(ctx context.Context, id Identity, previous netip.Addr, retry Retry) (Lease, error) {
	if len(id.MAC) != 6 {
		return Lease{}, fmt.Errorf("dhcp: hardware address %v is not 6 bytes", id.MAC)
	}
	if retry.First <= 0 {
		retry = DefaultRetry
	}
	if retry.Max < retry.First {
		retry.Max = retry.First
	}
	e := &exchange{c: c, id: id, retry: retry, started: time.Now()}
	if previous.IsValid() {
		l, err := e.initReboot(ctx, previous)
		if err == nil || ctx.Err() != nil {
			return l, err
		}
	}
	return e.discover(ctx)
}

// initReboot asks to keep previous; an error means "start over".
func (e *exchange) initReboot(ctx context.Context, previous netip.Addr) (Lease, error) {
	xid, w := e.c.register(e.id)
	defer e.c.unregister(xid)
	req := e.packet(xid, dhcpv4.MessageTypeRequest, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(previous.AsSlice())))
	// RFC 2131 §3.2: a client that hears nothing falls back to INIT; two
	// tries are what most clients spend.
	for try := 0; try < 2; try++ {
		if err := e.send(req); err != nil {
			return Lease{}, err
		}
		m, err := e.wait(ctx, w, e.backoff(try), dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
		if err != nil {
			if errors.Is(err, errNoReply) {
				continue
			}
			return Lease{}, err
		}
		if m.MessageType() == dhcpv4.MessageTypeNak {
			return Lease{}, errors.New("init-reboot refused")
		}
		l, err := e.lease(m)
		l.Rebooted = true
		return l, err
	}
	return Lease{}, errNoReply
}

// discover runs DISCOVER → OFFER → REQUEST → ACK, starting over after a
// NAK or an unanswered REQUEST.
func (e *exchange) discover(ctx context.Context) (Lease, error) {
	naks, discovers := 0, 0
	for {
		xid, w := e.c.register(e.id)
		offer, err := e.offer(ctx, xid, w, &discovers)
		if err != nil {
			e.c.unregister(xid)
			return Lease{}, err
		}
		l, err := e.request(ctx, xid, w, offer)
		e.c.unregister(xid)
		switch {
		case err == nil:
			return l, nil
		case ctx.Err() != nil:
			return Lease{}, ctx.Err()
		case errors.Is(err, errNak):
			if naks++; naks >= 3 {
				return Lease{}, fmt.Errorf("dhcp: %d NAKs for offered addresses (last for %s)", naks, net.IP(offer.YourIPAddr))
			}
		case errors.Is(err, errNoReply):
			// Back to INIT, as RFC 2131 says.
		default:
			return Lease{}, err
		}
		if e.retry.Attempts > 0 && discovers >= e.retry.Attempts {
			return Lease{}, fmt.Errorf("dhcp: no ACK after %d DISCOVERs over %s", discovers, time.Since(e.started).Round(time.Millisecond))
		}
	}
}

var (
	errNoReply = errors.New("no reply")
	errNak     = errors.New("NAK")
)

// offer sends DISCOVERs until a usable OFFER arrives.
func (e *exchange) offer(ctx context.Context, xid uint32, w *waiter, discovers *int) (*dhcpv4.DHCPv4, error) {
	disc := e.packet(xid, dhcpv4.MessageTypeDiscover)
	for try := 0; ; try++ {
		if e.retry.Attempts > 0 && *discovers >= e.retry.Attempts {
			return nil, fmt.Errorf("dhcp: no usable OFFER after %d DISCOVERs over %s%s", *discovers, time.Since(e.started).Round(time.Millisecond), e.why(w))
		}
		disc.NumSeconds = e.secs()
		if err := e.send(disc); err != nil {
			return nil, err
		}
		*discovers++
		deadline := time.Now().Add(e.backoff(try))
		for {
			m, err := e.wait(ctx, w, time.Until(deadline), dhcpv4.MessageTypeOffer)
			if errors.Is(err, errNoReply) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("dhcp: waiting for an OFFER: %w%s", err, e.why(w))
			}
			if reason := e.unusable(m); reason != "" {
				e.ignoredOffers++
				e.lastIgnore = reason
				continue
			}
			return m, nil
		}
	}
}

// unusable says why an offer cannot be taken, or "".
func (e *exchange) unusable(m *dhcpv4.DHCPv4) string {
	if _, ok := netip.AddrFromSlice(m.YourIPAddr.To4()); !ok || m.YourIPAddr.IsUnspecified() {
		return "offer without an address (yiaddr)"
	}
	if len(m.ServerIdentifier().To4()) != 4 {
		return "offer without a server identifier (option 54)"
	}
	if e.id.RequireLeaseTime && !m.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
		return "offer without a lease time (option 51), which this phone requires"
	}
	return ""
}

// why explains, for an error message, replies that were not taken.
func (e *exchange) why(w *waiter) string {
	s := ""
	if n := w.dropped.Load(); n > 0 {
		s += fmt.Sprintf("; %d replies dropped for being longer than option 57 (%d bytes)", n, e.id.MaxMessageSize)
	}
	if e.ignoredOffers > 0 {
		s += fmt.Sprintf("; %d offers ignored (last: %s)", e.ignoredOffers, e.lastIgnore)
	}
	return s
}

// request asks for the offered address.
func (e *exchange) request(ctx context.Context, xid uint32, w *waiter, offer *dhcpv4.DHCPv4) (Lease, error) {
	req := e.packet(xid, dhcpv4.MessageTypeRequest,
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(offer.ServerIdentifier())))
	tries := 4
	if e.retry.Attempts > 0 {
		tries = min(tries, e.retry.Attempts)
	}
	for try := 0; try < tries; try++ {
		req.NumSeconds = e.secs()
		if err := e.send(req); err != nil {
			return Lease{}, err
		}
		deadline := time.Now().Add(e.backoff(try))
		for {
			m, err := e.wait(ctx, w, time.Until(deadline), dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak)
			if errors.Is(err, errNoReply) {
				break
			}
			if err != nil {
				return Lease{}, err
			}
			// Another server's answer to our broadcast REQUEST is not ours.
			if !m.ServerIdentifier().Equal(offer.ServerIdentifier()) && m.ServerIdentifier() != nil {
				continue
			}
			if m.MessageType() == dhcpv4.MessageTypeNak {
				return Lease{}, fmt.Errorf("%w: %s", errNak, m.Message())
			}
			if !m.YourIPAddr.Equal(offer.YourIPAddr) {
				return Lease{}, fmt.Errorf("dhcp: ACK for %s after an offer of %s", m.YourIPAddr, offer.YourIPAddr)
			}
			return e.lease(m)
		}
	}
	return Lease{}, errNoReply
}

// wait returns the next reply of one of the wanted types within d.
func (e *exchange) wait(ctx context.Context, w *waiter, d time.Duration, want ...dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	if d <= 0 {
		return nil, errNoReply
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, errNoReply
		case m := <-w.replies:
			for _, mt := range want {
				if m.MessageType() == mt {
					return m, nil
				}
			}
		}
	}
}

// lease reads an ACK.
func (e *exchange) lease(m *dhcpv4.DHCPv4) (Lease, error) {
	addr, ok := netip.AddrFromSlice(m.YourIPAddr.To4())
	if !ok || addr.IsUnspecified() {
		return Lease{}, errors.New("dhcp: ACK without an address")
	}
	bits := 24
	if mask := m.SubnetMask(); mask != nil {
		ones, size := mask.Size()
		if size != 32 {
			return Lease{}, fmt.Errorf("dhcp: ACK with a bad subnet mask %v", mask)
		}
		bits = ones
	}
	l := Lease{Prefix: netip.PrefixFrom(addr, bits), Options: map[uint8][]byte{}, Sent: e.sent}
	if sid, ok := netip.AddrFromSlice(m.ServerIdentifier().To4()); ok {
		l.ServerID = sid
	}
	if ns, ok := netip.AddrFromSlice(m.ServerIPAddr.To4()); ok && !ns.IsUnspecified() {
		l.NextServer = ns
	}
	l.LeaseTime = m.IPAddressLeaseTime(0)
	for code, v := range m.Options {
		l.Options[code] = v
	}
	return l, nil
}

// packet builds one request of the phone.
func (e *exchange) packet(xid uint32, mt dhcpv4.MessageType, extra ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	var tid dhcpv4.TransactionID
	binary.BigEndian.PutUint32(tid[:], xid)
	mods := []dhcpv4.Modifier{
		dhcpv4.WithTransactionID(tid),
		dhcpv4.WithHwAddr(e.id.MAC),
		dhcpv4.WithBroadcast(true),
		dhcpv4.WithMessageType(mt),
	}
	if e.id.HostName != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptHostName(e.id.HostName)))
	}
	if e.id.VendorClass != "" {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClassIdentifier(e.id.VendorClass)))
	}
	if len(e.id.ParamRequest) > 0 {
		mods = append(mods, dhcpv4.WithGeneric(dhcpv4.OptionParameterRequestList, e.id.ParamRequest))
	}
	if e.id.MaxMessageSize > 0 {
		mods = append(mods, dhcpv4.WithOption(dhcpv4.OptMaxMessageSize(e.id.MaxMessageSize)))
	}
	mods = append(mods, extra...)
	// dhcpv4.New would draw a transaction ID of its own; ours is given.
	p := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootRequest,
		HWType:        iana.HWTypeEthernet,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: net.IPv4zero,
		Options:       dhcpv4.Options{},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func (e *exchange) send(p *dhcpv4.DHCPv4) error {
	e.sent++
	e.c.sent.Add(1)
	if _, err := e.c.conn.WriteTo(p.ToBytes(), e.c.server); err != nil {
		return fmt.Errorf("dhcp: send %s: %w", p.MessageType(), err)
	}
	return nil
}

// backoff is the wait after the try-th transmission.
func (e *exchange) backoff(try int) time.Duration {
	d := e.retry.First
	for i := 0; i < try && d < e.retry.Max; i++ {
		d *= 2
	}
	d = min(d, e.retry.Max)
	if j := e.retry.Jitter; j > 0 {
		d += time.Duration(rand.Int64N(int64(2*j))) - j
	}
	return max(d, 10*time.Millisecond)
}

// secs is the secs field: seconds since the phone began.
func (e *exchange) secs() uint16 {
	return uint16(min(time.Since(e.started)/time.Second, 65535))
}
