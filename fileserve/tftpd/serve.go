package tftpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// listener is one listening socket being served.
type listener struct {
	conn *net.UDPConn
	port uint16
	// fixed is the address the socket is bound to, when it is not a
	// wildcard; replies and transfers then simply use it.
	fixed netip.Addr
	// pktinfo says destination addresses come with every packet as IP_PKTINFO
	// (v6 false) or IPV6_PKTINFO (v6 true) control messages.
	pktinfo bool
	v6      bool
	oob     []byte
}

// newListener inspects conn. With a wildcard address it turns on packet-info
// control messages; if that fails, transfers bind to the wildcard address
// and the kernel picks their source address.
func newListener(conn *net.UDPConn, forcePktinfo bool) *listener {
	l := &listener{conn: conn}
	la, _ := conn.LocalAddr().(*net.UDPAddr)
	if la == nil {
		return l
	}
	ap := la.AddrPort()
	l.port = ap.Port()
	ip := ap.Addr()
	l.v6 = ip.Is6() && !ip.Is4In6()
	if ip.IsValid() && !ip.IsUnspecified() && !forcePktinfo {
		l.fixed = ip.Unmap()
		return l
	}
	if l.v6 {
		if err := ipv6.NewPacketConn(conn).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true); err == nil {
			l.pktinfo = true
			l.oob = ipv6.NewControlMessage(ipv6.FlagDst | ipv6.FlagInterface)
		}
	} else {
		if err := ipv4.NewPacketConn(conn).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err == nil {
			l.pktinfo = true
			l.oob = ipv4.NewControlMessage(ipv4.FlagDst | ipv4.FlagInterface)
		}
	}
	return l
}

// localAddr returns the address a packet was sent to, from its control
// messages oob; the zero Addr if it is unknown or cannot be a source.
func (l *listener) localAddr(oob []byte) netip.Addr {
	if l.fixed.IsValid() {
		return l.fixed
	}
	if !l.pktinfo || len(oob) == 0 {
		return netip.Addr{}
	}
	var ip net.IP
	var ifIndex int
	if l.v6 {
		var cm ipv6.ControlMessage
		if cm.Parse(oob) != nil {
			return netip.Addr{}
		}
		ip, ifIndex = cm.Dst, cm.IfIndex
	} else {
		var cm ipv4.ControlMessage
		if cm.Parse(oob) != nil {
			return netip.Addr{}
		}
		ip, ifIndex = cm.Dst, cm.IfIndex
	}
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	a = a.Unmap()
	// A broadcast or multicast destination cannot be a reply's source.
	if a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || a.IsUnspecified() {
		return netip.Addr{}
	}
	if a.Is6() && a.IsLinkLocalUnicast() && ifIndex > 0 {
		a = a.WithZone(strconv.Itoa(ifIndex))
	}
	return a
}

// reply sends b to addr from the listening socket, with src as the source
// address when it is known and the socket is a wildcard one. Errors are
// ignored: replies sent from the listener are best effort.
func (l *listener) reply(b []byte, to netip.AddrPort, src netip.Addr) {
	var oob []byte
	if l.pktinfo && src.IsValid() {
		if l.v6 {
			if src.Is6() {
				oob = (&ipv6.ControlMessage{Src: src.AsSlice()}).Marshal()
			}
		} else if src.Is4() {
			oob = (&ipv4.ControlMessage{Src: src.AsSlice()}).Marshal()
		}
	}
	if oob != nil {
		_, _, _ = l.conn.WriteMsgUDPAddrPort(b, oob, to)
		return
	}
	_, _ = l.conn.WriteToUDPAddrPort(b, to)
}

// Serve runs the receive loop on conn, the listening socket (usually port
// 69). It answers write requests and refused requests itself and starts one
// goroutine per accepted read request; junk is dropped (see Malformed)
// without starting anything.
//
// Serve returns nil when ctx is done or Shutdown is called, and an error
// wrapping net.ErrClosed when conn is closed. Ending Serve does not stop
// the transfers it started: they finish or are aborted by Shutdown (ctx's
// values, but not its cancellation, are passed on to them and to the
// Handler). Serve leaves conn open, with its read deadline in the past if
// it was stopped; the caller owns conn. Serve may run on several
// connections at once.
func (s *Server) Serve(ctx context.Context, conn *net.UDPConn) error {
	if conn == nil {
		return errors.New("tftpd: Serve: nil conn")
	}
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("tftpd: serve %s: %w", conn.LocalAddr(), err)
	}
	return s.serve(ctx, newListener(conn, false))
}

// serve is Serve after the listener is set up.
func (s *Server) serve(ctx context.Context, l *listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l.conn] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l.conn)
		s.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { _ = l.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	detached := context.WithoutCancel(ctx)
	buf := make([]byte, maxRequestLen)
	var backoff time.Duration
	for {
		n, oobn, _, from, err := l.conn.ReadMsgUDPAddrPort(buf, l.oob)
		if err != nil {
			if ctx.Err() != nil || s.isClosing() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("tftpd: serve %s: %w", l.conn.LocalAddr(), err)
			}
			// Anything else (a stray deadline, ENOBUFS, ...) is retried
			// with a capped backoff rather than ending the server.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				_ = l.conn.SetReadDeadline(time.Time{})
				if ctx.Err() != nil || s.isClosing() {
					return nil
				}
			}
			continue
		}
		backoff = 0
		s.handlePacket(detached, l, buf[:n], l.oob[:oobn], from)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// handlePacket deals with one packet that arrived on a listening socket.
// It never blocks on anything but a best-effort reply and the observer.
func (s *Server) handlePacket(ctx context.Context, l *listener, p []byte, oob []byte, from netip.AddrPort) {
	start := time.Now()
	r, err := parseRequest(p)
	if err != nil {
		s.malformed.Add(1)
		if pe, ok := err.(*parseError); ok && pe.reply {
			local := l.localAddr(oob)
			l.reply(appendError(nil, codeIllegalOp, pe.msg), from, local)
		}
		return
	}
	local := l.localAddr(oob)
	peer := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	req := l.request(r, peer, local)
	if r.op == opWRQ {
		l.reply(appendError(nil, codeAccess, ErrReadOnly.Error()), from, local)
		s.observe(Result{Request: req, Err: ErrReadOnly, ErrorCode: codeAccess, Duration: time.Since(start)})
		return
	}
	t := &transfer{
		s: s, l: l, req: req, peer: peer, from: from, local: local, start: start,
		netasc: r.mode == "netascii",
	}
	if s.admit(t) {
		go s.runTransfer(ctx, t)
	}
}

// request is what the handler is told about a read request from peer to
// local (invalid when the socket could not say).
func (l *listener) request(r request, peer netip.AddrPort, local netip.Addr) Request {
	localAP := netip.AddrPortFrom(local, l.port)
	if !local.IsValid() {
		localAP = netip.AddrPortFrom(netip.IPv4Unspecified(), l.port)
		if l.v6 {
			localAP = netip.AddrPortFrom(netip.IPv6Unspecified(), l.port)
		}
	}
	return Request{
		Filename: r.filename,
		Mode:     r.mode,
		Remote:   net.UDPAddrFromAddrPort(peer),
		Local:    net.UDPAddrFromAddrPort(localAP),
		Options:  r.options,
	}
}

// admit registers t as running, unless the server is closing, the
// request is a retransmission of one already running (whose unacknowledged
// OACK is then repeated) or too many transfers run (the client is told).
func (s *Server) admit(t *transfer) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	if running, dup := s.inflight[t.peer]; dup {
		s.mu.Unlock()
		s.repeated.Add(1)
		running.repeatOACK()
		return false
	}
	if s.active.Load() >= int64(s.cfg.MaxTransfers) {
		s.mu.Unlock()
		t.l.reply(appendError(nil, codeUndefined, ErrBusy.Error()), t.from, t.local)
		s.observe(Result{
			Request:   t.req,
			Err:       fmt.Errorf("%d transfers running: %w", s.cfg.MaxTransfers, ErrBusy),
			ErrorCode: codeUndefined,
			Duration:  time.Since(t.start),
		})
		return false
	}
	s.inflight[t.peer] = t
	s.active.Add(1)
	s.wg.Add(1)
	s.mu.Unlock()
	return true
}

// runTransfer runs an admitted transfer and reports its result.
func (s *Server) runTransfer(ctx context.Context, t *transfer) {
	defer s.wg.Done()
	res := t.run(ctx)
	s.mu.Lock()
	delete(s.inflight, t.peer)
	s.active.Add(-1)
	s.mu.Unlock()
	s.observe(res) // after Active dropped, so a gauge read here is current
}
