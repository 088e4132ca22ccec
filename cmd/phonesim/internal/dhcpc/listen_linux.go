package dhcpc

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketBuffer is the receive and send buffer of the shared socket.
const socketBuffer = 32 << 20

// Listen opens the phones' shared socket on interface ifname: UDP port 68
// on every address, bound to the interface (SO_BINDTODEVICE) so replies on
// other links never reach it, allowed to broadcast, with port reuse so a
// DHCP client elsewhere on the box does not stop it. It needs root (or
// CAP_NET_BIND_SERVICE and CAP_NET_RAW).
func Listen(ctx context.Context, ifname string) (*Client, error) {
	if _, err := net.InterfaceByName(ifname); err != nil {
		return nil, fmt.Errorf("dhcp: interface %q: %w", ifname, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr != nil {
				return
			}
			if serr = unix.BindToDevice(int(fd), ifname); serr != nil {
				return
			}
			// A storm's replies arrive in bursts: a thousand phones' offers
			// overflow the default buffer (~200 KiB), and a reply the
			// simulator drops would count against the server. As root the
			// limit of net.core.rmem_max does not apply (FORCE).
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, socketBuffer)
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, socketBuffer)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:68")
	if err != nil {
		return nil, fmt.Errorf("dhcp: listen on %s port 68 (root needed): %w", ifname, err)
	}
	return New(pc, &net.UDPAddr{IP: net.IPv4bcast, Port: 67}), nil
}

// Close closes the socket; Serve returns.
func (c *Client) Close() error { return c.conn.Close() }
