package dhcpd

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/leases/leasestest"
)

// flood sends DISCOVERs from random MACs over conn, about rate a second,
// until ctx ends or max packets are out. It returns how many it sent.
func flood(ctx context.Context, conn *net.UDPConn, rate, max int) int {
	const batch = 20
	tick := time.NewTicker(time.Second * batch / time.Duration(rate))
	defer tick.Stop()
	rnd := rand.New(rand.NewPCG(1, 2))
	sent := 0
	for sent < max {
		for range batch {
			m := net.HardwareAddr{0x02, byte(rnd.Uint32()), byte(rnd.Uint32()), byte(rnd.Uint32()), byte(rnd.Uint32()), byte(rnd.Uint32())}
			if _, err := conn.Write(pkt{typ: dhcpv4.MessageTypeDiscover, mac: m, xid: rnd.Uint32()}.bytes()); err == nil {
				sent++
			}
		}
		select {
		case <-ctx.Done():
			return sent
		case <-tick.C:
		}
	}
	return sent
}

// floodConn is a UDP socket in the client namespace, on its own port of
// the phone LAN, aimed at the server.
func (l *phoneLAN) floodConn(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	port := l.port(t, nil)
	if err := l.cli.AddAddr(port, netip.MustParsePrefix(addr)); err != nil {
		t.Fatal(err)
	}
	var conn *net.UDPConn
	err := l.cli.Do(func() (err error) {
		conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(198, 18, 0, 1), Port: 67})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A client flooding DISCOVERs from random MACs uses up every address an
// unknown client may get; an Avaya phone asking meanwhile is still served,
// from the pool kept for its class.
func TestLabFloodDoesNotStarvePhones(t *testing.T) {
	l := newPhoneLAN(t)
	phone := l.port(t, net.HardwareAddr{0x00, 0x1b, 0x4f, 0x00, 0x10, 0x01})
	conn := l.floodConn(t, "198.18.0.250/24")
	cfg := labConfig(l.bridge, t.TempDir())
	cfg.Subnets[0].Pools = []PoolConfig{
		{Start: "198.18.0.100", End: "198.18.0.199"},
		{Start: "198.18.0.200", End: "198.18.0.219", ClientClasses: []string{"avaya"}},
	}
	srv := startLabServerWith(t, l.srv, cfg, leasestest.NewMemory())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var sent int
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent = flood(ctx, conn, 2000, 60000)
	}()
	defer func() { cancel(); wg.Wait() }()
	waitFor(t, 10*time.Second, "the flood to use up the open pool", func() bool {
		return srv.counter("phoneprov_dhcp_allocation_failures_total", "subnet", "198.18.0.0/24") > 100
	})
	start := time.Now()
	evs, err := l.udhcpc(t, l.cli, phone, "-V", "ccp.avaya.com")
	if err != nil {
		t.Fatalf("phone not served during the flood: %v", err)
	}
	b := lastEvent(evs, "bound")
	ip, perr := netip.ParseAddr(b["ip"])
	if b == nil || perr != nil || !inRangeAddr(ip, "198.18.0.200", "198.18.0.219") {
		t.Fatalf("phone bound %v, want an address of the avaya pool", b)
	}
	t.Logf("phone bound %s after %s; flood still running", ip, time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatal("the flood ended before the phone was served: the test proves nothing")
	}
	cancel()
	wg.Wait()
	t.Logf("flood: %d DISCOVERs; offers %v, allocation failures %v, queue drops %v", sent,
		srv.counter("phoneprov_dhcp_packets_sent_total", "type", "offer"),
		srv.counter("phoneprov_dhcp_allocation_failures_total", "subnet", "198.18.0.0/24"),
		srv.counter("phoneprov_dhcp_queue_drops_total"))
}

// One MAC sending far faster than any client does is dropped by the
// per-client limit as its packets are read: they are counted and never
// reach the queue or a worker.
func TestLabClientRateLimitDropsBeforeTheQueue(t *testing.T) {
	l := newPhoneLAN(t)
	conn := l.floodConn(t, "198.18.0.251/24")
	cfg := labConfig(l.bridge, t.TempDir()) // default limits: 2 a second, burst 10
	srv := startLabServerWith(t, l.srv, cfg, leasestest.NewMemory())
	const n = 60
	for i := range n {
		if _, err := conn.Write(pkt{typ: dhcpv4.MessageTypeDiscover, mac: mac(7), xid: uint32(i + 1)}.bytes()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "every packet handled or dropped", func() bool {
		return srv.counter("phoneprov_dhcp_packets_received_total", "type", "discover")+
			srv.counter("phoneprov_dhcp_packets_dropped_total", "reason", dropRateClient) == n
	})
	// The burst (10) and what refilled meanwhile reach the handler; no more.
	if got := srv.counter("phoneprov_dhcp_packets_received_total", "type", "discover"); got < 10 || got > 15 {
		t.Errorf("%v DISCOVERs reached the handler, want the burst of 10 (a few more if sending was slow)", got)
	}
	// Another client is not affected.
	other := l.port(t, nil)
	if _, err := l.udhcpc(t, l.cli, other); err != nil {
		t.Fatal(err)
	}
}
