package probe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// ICMP probes addresses with echo requests over one raw socket.
type ICMP struct {
	conn *icmp.PacketConn
	id   int
	seq  atomic.Uint32
	w    waiters
	done chan struct{}
}

// NewICMP opens the raw ICMP socket (root or CAP_NET_RAW).
func NewICMP() (*ICMP, error) {
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("icmp probe socket: %w", err)
	}
	p := &ICMP{conn: c, id: rand.IntN(0xffff) + 1, done: make(chan struct{})}
	go p.read()
	return p, nil
}

func (p *ICMP) read() {
	defer close(p.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || msg.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		echo, ok := msg.Body.(*icmp.Echo)
		if !ok || echo.ID != p.id {
			continue
		}
		if ip, ok := from.(*net.IPAddr); ok {
			if a, ok := netip.AddrFromSlice(ip.IP); ok {
				p.w.wake(a.Unmap())
			}
		}
	}
}

// Probe sends echo requests to addr (one now, one halfway to the deadline)
// and reports whether a reply came.
func (p *ICMP) Probe(ctx context.Context, addr netip.Addr) (bool, error) {
	if !addr.Is4() {
		return false, fmt.Errorf("icmp probe: %s is not IPv4", addr)
	}
	return probe(ctx, &p.w, addr, p.send)
}

func (p *ICMP) send(addr netip.Addr) error {
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{
		ID: p.id, Seq: int(p.seq.Add(1) & 0xffff), Data: []byte("phoneprov address check"),
	}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	if _, err := p.conn.WriteTo(b, &net.IPAddr{IP: addr.AsSlice()}); err != nil {
		return fmt.Errorf("icmp probe send to %s: %w", addr, err)
	}
	return nil
}

// Close closes the socket and waits for the reader.
func (p *ICMP) Close() error {
	err := p.conn.Close()
	<-p.done
	return err
}
