package sock

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab/netlabtest"
	"github.com/phoneprov/phoneprov/internal/durable"
)

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir, "dhcp-eth1.lock")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "dhcp-eth1.lock")
	if !errors.Is(err, durable.ErrInUse) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second lock: %v", err)
	}
	if _, err := Acquire(dir, "dhcp-eth2.lock"); err != nil {
		t.Errorf("another interface's lock: %v", err)
	}
	a.Close()
	b, err := Acquire(dir, "dhcp-eth1.lock")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	b.Close()
}

// TestReadReportsInterfaceAndDestination binds a device socket inside a
// namespace and checks what Read says about a packet sent to it.
func TestReadReportsInterfaceAndDestination(t *testing.T) {
	p := netlabtest.NewPair(t, "a", "b", netip.MustParsePrefix("198.18.210.1/24"), netip.MustParsePrefix("198.18.210.2/24"))
	a, b, ea := p.A, p.B, p.AIf
	var err error
	var conn *Conn
	var index int
	err = a.Do(func() error {
		ifi, err := net.InterfaceByName(ea)
		if err != nil {
			return err
		}
		index = ifi.Index
		conn, err = ListenInterface(context.Background(), ea, 6767)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A second socket on the same device and port fails with a clear error.
	err = a.Do(func() error {
		c, err := ListenAddr(context.Background(), netip.MustParseAddr("198.18.99.99"), 6767)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no interface holds that address") {
		t.Errorf("binding an address the namespace lacks: %v", err)
	}
	err = b.Do(func() error {
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(198, 18, 210, 1), Port: 6767})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 1500), make([]byte, OOBSize)
	if err := conn.udp.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, info, err := conn.Read(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:n]) != "hello" || info.IfIndex != index || info.Dst != netip.MustParseAddr("198.18.210.1") ||
		info.Local != netip.MustParseAddr("198.18.210.1") || info.Src.Addr() != netip.MustParseAddr("198.18.210.2") {
		t.Errorf("read %q %+v (interface index %d)", buf[:n], info, index)
	}
	// A packet larger than the buffer is reported, not cut silently.
	_ = b.Do(func() error {
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(198, 18, 210, 1), Port: 6767})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(make([]byte, 600))
		return err
	})
	if _, _, err := conn.Read(buf[:100], oob); !errors.Is(err, ErrTruncated) {
		t.Errorf("oversized packet: %v", err)
	}
}
