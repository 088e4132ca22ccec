// Package sock opens the DHCP server's UDP sockets: one per served interface
// (SO_BINDTODEVICE, so broadcasts from other links never reach it) and one
// per address that relay agents send to. Every read returns the interface
// index and the local address of the packet (IP_PKTINFO).
package sock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ServerPort is the DHCP server port.
const ServerPort = 67

// RecvBuffer is the socket receive buffer asked for, in bytes: about
// 50,000 DHCP packets (the kernel doubles it and charges each packet some
// 1.3 KiB), room for a whole site's DISCOVERs arriving at once and the
// REQUESTs that follow them. It is kernel memory taken only while packets
// wait, not the process's.
const RecvBuffer = 32 << 20

// Conn is one bound DHCP server socket.
type Conn struct {
	udp *net.UDPConn
	// Interface is the device the socket is bound to; empty for a
	// relay-address socket.
	Interface string
	// Local is the address bound for a relay-address socket, else invalid.
	Local netip.Addr
}

// PacketInfo is what the kernel tells about one received packet.
type PacketInfo struct {
	// Src is the sender (a client's 0.0.0.0:68, a relay's address:67, ...).
	Src netip.AddrPort
	// IfIndex is the interface the packet arrived on.
	IfIndex int
	// Dst is the IP header's destination (255.255.255.255 for broadcasts).
	Dst netip.Addr
	// Local is the local address the kernel would answer from on that
	// interface (ipi_spec_dst).
	Local netip.Addr
}

// OOBSize is the control buffer Read needs.
var OOBSize = unix.CmsgSpace(unix.SizeofInet4Pktinfo)

// ListenInterface binds 0.0.0.0:port on the named device only.
func ListenInterface(ctx context.Context, ifname string, port int) (*Conn, error) {
	c, err := listen(ctx, ifname, netip.IPv4Unspecified(), port)
	if err != nil {
		return nil, fmt.Errorf("dhcp socket on interface %s port %d: %w", ifname, port, explain(err))
	}
	return &Conn{udp: c, Interface: ifname}, nil
}

// ListenAddr binds addr:port on no particular device; it receives only
// unicast to addr (relay agents), never broadcasts.
func ListenAddr(ctx context.Context, addr netip.Addr, port int) (*Conn, error) {
	c, err := listen(ctx, "", addr, port)
	if err != nil {
		return nil, fmt.Errorf("dhcp relay socket on %s port %d: %w", addr, port, explain(err))
	}
	return &Conn{udp: c, Local: addr}, nil
}

func explain(err error) error {
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w (binding port 67 and SO_BINDTODEVICE need root or CAP_NET_BIND_SERVICE and CAP_NET_RAW)", err)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w (another DHCP server, such as dnsmasq, kea or isc-dhcp-server, holds the port)", err)
	case errors.Is(err, syscall.ENODEV):
		return fmt.Errorf("%w (no such interface)", err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%w (no interface holds that address)", err)
	}
	return err
}

func listen(ctx context.Context, ifname string, addr netip.Addr, port int) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			f := int(fd)
			set := func(level, opt int, name string) bool {
				if e := unix.SetsockoptInt(f, level, opt, 1); e != nil {
					serr = fmt.Errorf("%s: %w", name, e)
					return false
				}
				return true
			}
			if !set(unix.SOL_SOCKET, unix.SO_REUSEADDR, "SO_REUSEADDR") ||
				!set(unix.SOL_SOCKET, unix.SO_BROADCAST, "SO_BROADCAST") ||
				!set(unix.IPPROTO_IP, unix.IP_PKTINFO, "IP_PKTINFO") {
				return
			}
			// A power cut brings thousands of phones at once: a deep receive
			// queue rides out bursts the workers have not caught up with.
			// SO_RCVBUFFORCE passes net.core.rmem_max for root; otherwise
			// the kernel caps SO_RCVBUF.
			if unix.SetsockoptInt(f, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, RecvBuffer) != nil {
				_ = unix.SetsockoptInt(f, unix.SOL_SOCKET, unix.SO_RCVBUF, RecvBuffer)
			}
			if ifname != "" {
				if e := unix.BindToDevice(f, ifname); e != nil {
					serr = fmt.Errorf("SO_BINDTODEVICE %s: %w", ifname, e)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", netip.AddrPortFrom(addr, uint16(port)).String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// Read reads one packet into buf, using oob (at least OOBSize bytes) for the
// control message. A packet larger than buf is reported as an error and
// dropped.
func (c *Conn) Read(buf, oob []byte) (int, PacketInfo, error) {
	n, oobn, flags, src, err := c.udp.ReadMsgUDPAddrPort(buf, oob)
	if err != nil {
		return 0, PacketInfo{}, err
	}
	info := PacketInfo{Src: netip.AddrPortFrom(src.Addr().Unmap(), src.Port())}
	if flags&unix.MSG_TRUNC != 0 {
		return n, info, ErrTruncated
	}
	parsePktinfo(oob[:oobn], &info)
	return n, info, nil
}

// ErrTruncated reports a packet larger than the read buffer.
var ErrTruncated = errors.New("packet larger than the receive buffer")

// parsePktinfo reads IP_PKTINFO from a control buffer without allocating.
func parsePktinfo(oob []byte, info *PacketInfo) {
	hdrLen := unix.CmsgSpace(0)
	for len(oob) >= hdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdrLen || l > len(oob) {
			return
		}
		if h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && l-hdrLen >= unix.SizeofInet4Pktinfo {
			data := oob[hdrLen:l]
			// struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst; in_addr ipi_addr; }
			info.IfIndex = int(binary.NativeEndian.Uint32(data[0:4]))
			info.Local = netip.AddrFrom4([4]byte(data[4:8]))
			info.Dst = netip.AddrFrom4([4]byte(data[8:12]))
		}
		next := unix.CmsgSpace(l - hdrLen)
		if next > len(oob) {
			return
		}
		oob = oob[next:]
	}
}

// WriteTo sends b to dst.
func (c *Conn) WriteTo(b []byte, dst netip.AddrPort) error {
	_, err := c.udp.WriteToUDPAddrPort(b, dst)
	return err
}

// LocalAddr is the bound address and port.
func (c *Conn) LocalAddr() netip.AddrPort {
	return c.udp.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close closes the socket; a Read in progress returns an error.
func (c *Conn) Close() error { return c.udp.Close() }

// String names the socket for logs and errors: its interface, or its
// relay address.
func (c *Conn) String() string {
	if c.Interface != "" {
		return "on interface " + c.Interface
	}
	return "on " + c.LocalAddr().String()
}
