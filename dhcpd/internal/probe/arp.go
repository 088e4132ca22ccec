package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

const etherTypeARP = 0x0806

// ARP probes addresses on one Ethernet interface. Any ARP packet whose sender
// address is the probed one counts as an answer, so a phone that keeps
// announcing an expired address (an Avaya 4600 with DHCPSTD=0 ARPs every 5 s)
// is seen even between our requests.
type ARP struct {
	f       *os.File
	ifIndex int
	mac     net.HardwareAddr
	src     netip.Addr
	w       waiters
	done    chan struct{}
}

// NewARP opens an ARP socket on the interface; src is the sender address put
// in requests (the server's own address on that link).
func NewARP(ifIndex int, mac net.HardwareAddr, src netip.Addr) (*ARP, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("arp probe: interface %d has no Ethernet address", ifIndex)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(etherTypeARP)))
	if err != nil {
		return nil, fmt.Errorf("arp probe socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(etherTypeARP), Ifindex: ifIndex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("arp probe socket on interface %d: %w", ifIndex, err)
	}
	a := &ARP{f: os.NewFile(uintptr(fd), "arp"), ifIndex: ifIndex, mac: mac, src: src, done: make(chan struct{})}
	go a.read()
	return a, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (a *ARP) read() {
	defer close(a.done)
	buf := make([]byte, 128)
	for {
		n, err := a.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		// htype 1, ptype IPv4, hlen 6, plen 4; sender address at 14..18.
		if n < 28 || binary.BigEndian.Uint16(buf[0:2]) != 1 || binary.BigEndian.Uint16(buf[2:4]) != 0x0800 || buf[4] != 6 || buf[5] != 4 {
			continue
		}
		a.w.wake(netip.AddrFrom4([4]byte(buf[14:18])))
	}
}

// Probe sends ARP requests for addr (one now, one halfway to the deadline)
// and reports whether anything answered.
func (a *ARP) Probe(ctx context.Context, addr netip.Addr) (bool, error) {
	if !addr.Is4() {
		return false, fmt.Errorf("arp probe: %s is not IPv4", addr)
	}
	return probe(ctx, &a.w, addr, a.send)
}

func (a *ARP) send(target netip.Addr) error {
	var pkt [28]byte
	binary.BigEndian.PutUint16(pkt[0:2], 1)      // Ethernet
	binary.BigEndian.PutUint16(pkt[2:4], 0x0800) // IPv4
	pkt[4], pkt[5] = 6, 4
	binary.BigEndian.PutUint16(pkt[6:8], 1) // request
	copy(pkt[8:14], a.mac)
	if a.src.Is4() {
		s := a.src.As4()
		copy(pkt[14:18], s[:])
	}
	t := target.As4()
	copy(pkt[24:28], t[:])
	to := &unix.SockaddrLinklayer{Protocol: htons(etherTypeARP), Ifindex: a.ifIndex, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	rc, err := a.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), pkt[:], 0, to)
		return !errors.Is(serr, unix.EAGAIN)
	})
	if err != nil {
		return fmt.Errorf("arp probe send: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("arp probe send: %w", serr)
	}
	return nil
}

// Close closes the socket and waits for the reader.
func (a *ARP) Close() error {
	err := a.f.Close()
	<-a.done
	return err
}
