package dhcpc

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fakeServer answers on loopback, unicast to the sender (the demultiplexing
// is the same as for broadcast replies).
type fakeServer struct {
	t    *testing.T
	conn *net.UDPConn

	noLeaseTime bool         // omit option 51
	padOffer    int          // bytes of option 224 added to offers
	nakFirst    atomic.Bool  // NAK the first REQUEST
	dropFirst   atomic.Int32 // ignore this many packets first
	garbage     bool         // send junk before every reply
	noReboot    atomic.Bool  // stay silent on INIT-REBOOT requests

	mu      sync.Mutex
	next    int
	byMAC   map[string]net.IP
	packets []*dhcpv4.DHCPv4
}

var serverID = net.IPv4(198, 18, 0, 1)

// newFakeServer starts a server; configure sets its behaviour before it runs.
func newFakeServer(t *testing.T, configure ...func(*fakeServer)) *fakeServer {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, conn: conn, next: 10, byMAC: map[string]net.IP{}}
	for _, f := range configure {
		f(s)
	}
	go s.run()
	t.Cleanup(func() { conn.Close() })
	return s
}

func (s *fakeServer) run() {
	buf := make([]byte, 4096)
	for {
		n, from, err := s.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			s.t.Errorf("server: client sent a bad packet: %v", err)
			continue
		}
		s.mu.Lock()
		s.packets = append(s.packets, m)
		s.mu.Unlock()
		if s.dropFirst.Add(-1) >= 0 {
			continue
		}
		if s.garbage {
			s.conn.WriteToUDP([]byte{2, 1, 6, 0, m.TransactionID[0], m.TransactionID[1], m.TransactionID[2], m.TransactionID[3], 9, 9}, from)
		}
		reply := s.answer(m)
		if reply != nil {
			s.conn.WriteToUDP(reply.ToBytes(), from)
		}
	}
}

func (s *fakeServer) addrFor(mac net.HardwareAddr) net.IP {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ip, ok := s.byMAC[mac.String()]; ok {
		return ip
	}
	ip := net.IPv4(198, 18, byte(s.next/250+1), byte(s.next%250+1))
	s.next++
	s.byMAC[mac.String()] = ip
	return ip
}

func (s *fakeServer) answer(m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	if !m.IsBroadcast() {
		s.t.Errorf("client sent without the broadcast flag")
	}
	mods := []dhcpv4.Modifier{
		dhcpv4.WithServerIP(serverID),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(serverID)),
		dhcpv4.WithNetmask(net.CIDRMask(16, 32)),
	}
	if !s.noLeaseTime {
		mods = append(mods, dhcpv4.WithLeaseTime(3600))
	}
	ip := s.addrFor(m.ClientHWAddr)
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		mods = append(mods, dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer), dhcpv4.WithYourIP(ip))
		if s.padOffer > 0 {
			mods = append(mods, dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(224), make([]byte, s.padOffer)))
		}
	case dhcpv4.MessageTypeRequest:
		if m.ServerIdentifier() == nil && s.noReboot.Load() {
			return nil
		}
		if s.nakFirst.CompareAndSwap(true, false) || !m.RequestedIPAddress().Equal(ip) {
			mods = append(mods, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak))
		} else {
			mods = append(mods, dhcpv4.WithMessageType(dhcpv4.MessageTypeAck), dhcpv4.WithYourIP(ip),
				dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(242), []byte("HTTPSRVR=198.18.0.1,TLSPORT=443")))
		}
	default:
		return nil
	}
	r, err := dhcpv4.NewReplyFromRequest(m, mods...)
	if err != nil {
		s.t.Error(err)
		return nil
	}
	return r
}

func newClient(t *testing.T, s *fakeServer) *Client {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := New(conn, s.conn.LocalAddr())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
	return c
}

var fast = Retry{First: 100 * time.Millisecond, Max: 400 * time.Millisecond, Attempts: 4}

func phone(i int) Identity {
	return Identity{
		MAC:      net.HardwareAddr{0xc8, 0x1f, 0xea, 0, byte(i >> 8), byte(i)},
		HostName: "AVX0000", VendorClass: "ccp.avaya.com",
		ParamRequest: []byte{1, 3, 6, 7, 15, 26, 42, 242}, MaxMessageSize: 1000, RequireLeaseTime: true,
	}
}

func TestManyPhonesOneSocket(t *testing.T) {
	s := newFakeServer(t)
	c := newClient(t, s)
	const n = 60
	leases := make([]Lease, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		// A second before the first retransmission: the count of packets
		// sent below holds also when a loaded machine answers slowly.
		patient := Retry{First: time.Second, Max: 2 * time.Second, Attempts: 4}
		wg.Go(func() { leases[i], errs[i] = c.Acquire(context.Background(), phone(i), netip.Addr{}, patient) })
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i, l := range leases {
		if errs[i] != nil {
			t.Fatalf("phone %d: %v", i, errs[i])
		}
		if want := netip.AddrFrom4([4]byte(s.addrFor(phone(i).MAC).To4())); l.Addr() != want {
			t.Errorf("phone %d got %s, the server gave it %s", i, l.Addr(), want)
		}
		if seen[l.Addr()] {
			t.Errorf("address %s twice", l.Addr())
		}
		seen[l.Addr()] = true
		if l.Prefix.Bits() != 16 || l.ServerID.String() != "198.18.0.1" || l.LeaseTime != time.Hour || string(l.Options[242]) != "HTTPSRVR=198.18.0.1,TLSPORT=443" {
			t.Errorf("lease %+v", l)
		}
	}
	// What the phones sent.
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.packets {
		if m.ClassIdentifier() != "ccp.avaya.com" || m.HostName() != "AVX0000" {
			t.Errorf("packet lacks vendor class or host name: %s", m.Summary())
		}
		if size, err := m.MaxMessageSize(); err != nil || size != 1000 {
			t.Errorf("option 57 = %d, %v", size, err)
		}
		if !m.IsOptionRequested(dhcpv4.GenericOptionCode(242)) {
			t.Error("option 55 lacks 242")
		}
	}
	if st := c.Stats(); st.Acks != n || st.Offers != n || st.Sent != 2*n {
		t.Errorf("stats %+v", st)
	}
}

func TestRetransmitAfterLoss(t *testing.T) {
	s := newFakeServer(t)
	s.dropFirst.Store(2) // the first DISCOVER and its retransmission
	c := newClient(t, s)
	l, err := c.Acquire(context.Background(), phone(1), netip.Addr{}, fast)
	if err != nil {
		t.Fatal(err)
	}
	if l.Sent != 4 {
		t.Errorf("sent %d packets, want 4 (3 DISCOVERs, 1 REQUEST)", l.Sent)
	}
}

func TestNakStartsOver(t *testing.T) {
	s := newFakeServer(t)
	s.nakFirst.Store(true)
	c := newClient(t, s)
	if _, err := c.Acquire(context.Background(), phone(1), netip.Addr{}, fast); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Naks != 1 || st.Acks != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestOfferWithoutLeaseTime(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) { s.noLeaseTime = true })
	c := newClient(t, s)
	_, err := c.Acquire(context.Background(), phone(1), netip.Addr{}, fast)
	if err == nil || !strings.Contains(err.Error(), "option 51") {
		t.Fatalf("J100 took an offer without option 51: %v", err)
	}
	id := phone(2)
	id.RequireLeaseTime = false
	if _, err := c.Acquire(context.Background(), id, netip.Addr{}, fast); err != nil {
		t.Fatalf("a phone that does not need option 51: %v", err)
	}
}

func TestOversizedReplyDropped(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) { s.padOffer = 700 })
	c := newClient(t, s)
	id := phone(1)
	id.MaxMessageSize = 576
	_, err := c.Acquire(context.Background(), id, netip.Addr{}, fast)
	if err == nil || !strings.Contains(err.Error(), "longer than option 57") {
		t.Fatalf("err = %v", err)
	}
	if c.Stats().Oversize == 0 {
		t.Error("oversize not counted")
	}
	id.MaxMessageSize = 1500
	if _, err := c.Acquire(context.Background(), id, netip.Addr{}, fast); err != nil {
		t.Fatalf("with room for the reply: %v", err)
	}
}

func TestMalformedCounted(t *testing.T) {
	s := newFakeServer(t, func(s *fakeServer) { s.garbage = true })
	c := newClient(t, s)
	if _, err := c.Acquire(context.Background(), phone(1), netip.Addr{}, fast); err != nil {
		t.Fatal(err)
	}
	if c.Stats().Malformed != 2 {
		t.Errorf("malformed %d, want 2", c.Stats().Malformed)
	}
}

func TestInitReboot(t *testing.T) {
	s := newFakeServer(t)
	c := newClient(t, s)
	first, err := c.Acquire(context.Background(), phone(1), netip.Addr{}, fast)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Acquire(context.Background(), phone(1), first.Addr(), fast)
	if err != nil || !again.Rebooted || again.Addr() != first.Addr() || again.Sent != 1 {
		t.Fatalf("reboot: %+v %v", again, err)
	}
	// A wrong address is NAKed and the phone starts over.
	other, err := c.Acquire(context.Background(), phone(1), netip.MustParseAddr("198.18.99.99"), fast)
	if err != nil || other.Rebooted || other.Addr() != first.Addr() {
		t.Fatalf("after NAK: %+v %v", other, err)
	}
	// A server that ignores INIT-REBOOT: two tries, then DISCOVER.
	s.noReboot.Store(true)
	l, err := c.Acquire(context.Background(), phone(1), first.Addr(), fast)
	if err != nil || l.Rebooted || l.Sent != 4 {
		t.Fatalf("silent server: %+v %v", l, err)
	}
}

func TestGivesUp(t *testing.T) {
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	conn, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	c := New(conn, silent.LocalAddr())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Serve(ctx)
	start := time.Now()
	_, err = c.Acquire(context.Background(), phone(1), netip.Addr{}, Retry{First: 20 * time.Millisecond, Max: 40 * time.Millisecond, Attempts: 3})
	if err == nil || !strings.Contains(err.Error(), "3 DISCOVERs") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := c.Acquire(short, phone(1), netip.Addr{}, Retry{First: time.Second}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("context: %v", err)
	}
}

func TestBackoffSchedule(t *testing.T) {
	e := &exchange{retry: Retry{First: 4 * time.Second, Max: 64 * time.Second}}
	want := []time.Duration{4, 8, 16, 32, 64, 64}
	for i, w := range want {
		if got := e.backoff(i); got != w*time.Second {
			t.Errorf("try %d: %v, want %v", i, got, w*time.Second)
		}
	}
	e.retry.Jitter = time.Second
	for range 100 {
		if got := e.backoff(0); got < 3*time.Second || got > 5*time.Second {
			t.Fatalf("jittered %v outside 4s±1s", got)
		}
	}
}
