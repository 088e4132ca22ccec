package tftpd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pollSlice bounds one wait for a packet on a socket used directly, so
// that a transfer notices within that time that Shutdown aborted it.
const pollSlice = 100 * time.Millisecond

// socket is a transfer's own UDP socket. It works in one of two ways,
// chosen when the transfer starts:
//
//   - Direct (few transfers): plain system calls on the transfer's
//     goroutine, the way tftpd-hpa's forked process uses its socket: send
//     the block, then read the ACK in a blocking recvfrom(2) bounded by
//     SO_RCVTIMEO: two system calls per block. The socket is not in the Go
//     network poller, so the kernel wakes the thread waiting in recvfrom
//     directly when the ACK arrives. A net.UDPConn instead parks the
//     goroutine, has a thread wake from epoll_pwait for every packet and
//     take the goroutine up again, and resets a runtime timer for every
//     read deadline; with one transfer that costs more per block than the
//     block itself. Sends never block (MSG_DONTWAIT: a full buffer is a
//     lost packet, retransmitted on timeout).
//   - Through the network poller (more transfers than processors): a
//     thread blocked in recvfrom holds its processor until the runtime takes
//     it back, so with many transfers goroutines would queue for
//     processors; the poller instead wakes one thread for all the
//     transfers whose ACKs arrived. The read deadline is set only when the
//     one set would fire after the due time or has passed, about once per
//     retransmission timeout rather than once per block; a deadline that
//     fires early only makes the read start over.
//
// Only the transfer's goroutine uses recv, send and sendTo and calls
// close; sendShared may be called from any goroutine at any time.
type socket struct {
	// Through the poller: conn, with the read deadline set on it, and
	// the function that stops Shutdown's wake-up.
	conn     *net.UDPConn
	deadline time.Time
	stopWake func() bool

	peerAP netip.AddrPort // the peer

	// Direct: the descriptor and the system calls' arguments, kept here
	// so that a block allocates nothing.
	mu    sync.RWMutex  // held for writing by close; for reading by sendShared
	fd    int           // -1 once closed
	peer  unix.Sockaddr // the peer; Sendto writes into it, so only send uses it
	wait  time.Duration // SO_RCVTIMEO as set; 0: none
	from  unix.RawSockaddrAny
	fromN uint32
}

// openSocket opens a UDP socket of peer's address family bound to local
// (any address when local is invalid) and an ephemeral port, direct or
// through the poller. Through the poller, a blocked read returns when ctx
// is done.
func openSocket(ctx context.Context, local netip.Addr, peer netip.AddrPort, direct bool) (*socket, error) {
	if !direct {
		var conn *net.UDPConn
		var err error
		if local.IsValid() {
			conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
		} else {
			network := "udp4"
			if peer.Addr().Is6() {
				network = "udp6"
			}
			conn, err = net.ListenUDP(network, nil)
		}
		if err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
		return &socket{conn: conn, stopWake: stop, peerAP: peer, fd: -1}, nil
	}
	psa, err := sockaddr(peer)
	if err != nil {
		return nil, err
	}
	family, bind := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{})
	if peer.Addr().Is6() {
		family, bind = unix.AF_INET6, &unix.SockaddrInet6{}
	}
	if local.IsValid() {
		if bind, err = sockaddr(netip.AddrPortFrom(local, 0)); err != nil {
			return nil, err
		}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Bind(fd, bind); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", local, err)
	}
	return &socket{fd: fd, peer: psa, peerAP: peer}, nil
}

// sockaddr converts ap for the system calls. A zone is an interface name
// or index.
func sockaddr(ap netip.AddrPort) (unix.Sockaddr, error) {
	a := ap.Addr()
	if a.Is4() || a.Is4In6() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		if n, err := strconv.Atoi(z); err == nil {
			sa.ZoneId = uint32(n)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		} else {
			return nil, fmt.Errorf("zone of %s: %w", a, err)
		}
	}
	return sa, nil
}

// close closes the socket; later sendShared calls do nothing.
func (s *socket) close() {
	if s.conn != nil {
		s.stopWake()
		_ = s.conn.Close()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd >= 0 {
		_ = unix.Close(s.fd)
		s.fd = -1
	}
}

// send sends b to the peer.
func (s *socket) send(b []byte) error {
	if s.conn != nil {
		_, err := s.conn.WriteToUDPAddrPort(b, s.peerAP)
		return err
	}
	if err := unix.Sendto(s.fd, b, unix.MSG_DONTWAIT, s.peer); err != nil {
		return fmt.Errorf("sendto: %w", err)
	}
	return nil
}

// sendShared sends b to the peer from any goroutine; after close it does
// nothing and returns an error.
func (s *socket) sendShared(b []byte) error {
	if s.conn != nil {
		return s.send(b)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return net.ErrClosed
	}
	return s.sendTo(b, s.peerAP) // not s.peer: Sendto writes into the Sockaddr
}

// sendTo sends b to another address than the peer (error replies).
func (s *socket) sendTo(b []byte, to netip.AddrPort) error {
	if s.conn != nil {
		_, err := s.conn.WriteToUDPAddrPort(b, to)
		return err
	}
	sa, err := sockaddr(to)
	if err != nil {
		return err
	}
	if err := unix.Sendto(s.fd, b, unix.MSG_DONTWAIT, sa); err != nil {
		return fmt.Errorf("sendto %s: %w", to, err)
	}
	return nil
}

// recv reads the next packet into buf. Once due has passed it returns an
// error wrapping os.ErrDeadlineExceeded; when ctx is done, ctx's error.
func (s *socket) recv(ctx context.Context, buf []byte, due time.Time) (int, netip.AddrPort, error) {
	for {
		now := time.Now()
		if !now.Before(due) {
			return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
		}
		if s.conn != nil {
			n, from, err := s.pollerRecv(ctx, buf, now, due)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue // an earlier deadline, or Shutdown's: look again
			}
			return n, from, err
		}
		if err := ctx.Err(); err != nil {
			return 0, netip.AddrPort{}, err
		}
		if err := s.setWait(min(due.Sub(now), pollSlice)); err != nil {
			return 0, netip.AddrPort{}, err
		}
		n, from, err := s.recvfrom(buf)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue // the wait ended (or a signal came): look again
		}
		return n, from, err
	}
}

// pollerRecv is one read through the poller, with a read deadline no
// later than due.
func (s *socket) pollerRecv(ctx context.Context, buf []byte, now, due time.Time) (int, netip.AddrPort, error) {
	if !now.Before(s.deadline) || s.deadline.After(due) {
		if err := s.conn.SetReadDeadline(due); err != nil {
			return 0, netip.AddrPort{}, fmt.Errorf("set deadline: %w", err)
		}
		s.deadline = due
	}
	// The context after the deadline: Shutdown's wake-up sets a past
	// deadline after cancelling ctx, and must not be undone unseen.
	if err := ctx.Err(); err != nil {
		return 0, netip.AddrPort{}, err
	}
	return s.conn.ReadFromUDPAddrPort(buf)
}

// setWait makes a read wait at most d (at least 1 µs) for a datagram
// (SO_RCVTIMEO), unless it already does: while ACKs come, every wait is
// pollSlice and this is one system call per transfer.
func (s *socket) setWait(d time.Duration) error {
	d = max(d, time.Microsecond)
	if d == s.wait {
		return nil
	}
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set receive timeout: %w", err)
	}
	s.wait = d
	return nil
}

// recvfrom reads one datagram, waiting as set by setWait, and its source
// address, without allocating (unix.Recvfrom allocates the address).
func (s *socket) recvfrom(buf []byte) (int, netip.AddrPort, error) {
	s.fromN = unix.SizeofSockaddrAny
	var p unsafe.Pointer
	if len(buf) > 0 {
		p = unsafe.Pointer(&buf[0])
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), uintptr(p), uintptr(len(buf)), 0,
		uintptr(unsafe.Pointer(&s.from)), uintptr(unsafe.Pointer(&s.fromN)))
	if errno != 0 {
		return 0, netip.AddrPort{}, fmt.Errorf("recvfrom: %w", errno)
	}
	var from netip.AddrPort
	switch s.from.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&s.from))
		from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), portOf(sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&s.from))
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 { // link-local: the interface index, as sockaddr reads it
			a = a.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		from = netip.AddrPortFrom(a, portOf(sa.Port))
	}
	return int(n), from, nil
}

// portOf reads a port in network byte order as the kernel stores it.
func portOf(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return binary.BigEndian.Uint16(b[:])
}
