// Package tftpc is a small TFTP client (RFC 1350, with the blksize and
// tsize options of RFC 2347-2349) that reads one file from a chosen local
// address, as a phone with its own IP address does. pin/tftp's client
// cannot bind a local address, which a simulated phone needs.
package tftpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) when the server answers with error 1,
// file not found.
var ErrNotFound = errors.New("file not found")

// ErrTimeout is returned (wrapped) when the server stops answering.
var ErrTimeout = errors.New("no answer")

// ErrSizeMismatch is returned (wrapped) when the bytes received differ from
// the size the server announced (tsize).
var ErrSizeMismatch = errors.New("size differs from tsize")

// TFTP opcodes.
const (
	opRRQ   = 1
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// Options tune one transfer. The zero value is a plain RFC 1350 transfer
// with a 2 s timeout and 5 retries.
type Options struct {
	// BlockSize asks for this block size (8..65464); 0 asks for none (512).
	BlockSize int
	// TSize asks the server for the file size, to check the transfer.
	TSize bool
	// Timeout is how long to wait for each packet before resending.
	Timeout time.Duration
	// Retries is how often one packet is resent before giving up.
	Retries int
	// MaxBytes bounds the file; 0 means 256 MiB.
	MaxBytes int64
}

// Info describes a finished transfer.
type Info struct {
	// Bytes is what was received.
	Bytes int64
	// TSize is the size the server announced, -1 when it announced none.
	TSize int64
	// BlockSize is the block size used.
	BlockSize int
	// Resent counts packets this client sent again after a timeout.
	Resent int
}

// Get reads name from server into w, sending from local (any port). It
// returns when the last block has been acknowledged, or with an error.
func Get(ctx context.Context, local netip.Addr, server netip.AddrPort, name string, w io.Writer, opts Options) (Info, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 20
	}
	info := Info{TSize: -1, BlockSize: 512}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)))
	if err != nil {
		return info, fmt.Errorf("tftp: open a socket on %s: %w", local, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()

	t := transfer{ctx: ctx, conn: conn, server: server, opts: opts, info: &info, buf: make([]byte, 65536)}
	t.last = rrq(name, opts)
	t.dst = server
	if err := t.send(t.last); err != nil {
		return info, err
	}
	expect := uint16(1)
	first := true
	for {
		pkt, from, err := t.receive(first)
		if err != nil {
			return info, fmt.Errorf("tftp %s from %s: %w", name, server, err)
		}
		if first {
			// The server answers from its transfer port (TID).
			t.dst = from
		}
		op := binary.BigEndian.Uint16(pkt)
		switch op {
		case opERROR:
			return info, serverError(name, pkt)
		case opOACK:
			if !first {
				continue
			}
			first = false
			if err := t.applyOACK(pkt[2:]); err != nil {
				t.send(errorPacket(8, err.Error()))
				return info, fmt.Errorf("tftp %s: %w", name, err)
			}
			t.last = ack(0)
			if err := t.send(t.last); err != nil {
				return info, err
			}
		case opDATA:
			if len(pkt) < 4 {
				continue
			}
			first = false
			block := binary.BigEndian.Uint16(pkt[2:])
			if block != expect {
				if block == expect-1 {
					// Our ACK was lost: acknowledge again.
					t.send(ack(block))
				}
				continue
			}
			data := pkt[4:]
			if info.Bytes+int64(len(data)) > opts.MaxBytes {
				t.send(errorPacket(3, "file too large"))
				return info, fmt.Errorf("tftp %s: larger than %d bytes", name, opts.MaxBytes)
			}
			if _, err := w.Write(data); err != nil {
				t.send(errorPacket(3, "write failed"))
				return info, fmt.Errorf("tftp %s: %w", name, err)
			}
			info.Bytes += int64(len(data))
			t.last = ack(block)
			if err := t.send(t.last); err != nil {
				return info, err
			}
			if len(data) < info.BlockSize {
				if info.TSize >= 0 && info.TSize != info.Bytes {
					return info, fmt.Errorf("tftp %s: %w: received %d bytes, tsize %d", name, ErrSizeMismatch, info.Bytes, info.TSize)
				}
				return info, nil
			}
			expect++
		}
	}
}

type transfer struct {
	ctx    context.Context
	conn   *net.UDPConn
	server netip.AddrPort
	dst    netip.AddrPort
	opts   Options
	info   *Info
	buf    []byte
	last   []byte
}

func (t *transfer) send(p []byte) error {
	if _, err := t.conn.WriteToUDPAddrPort(p, t.dst); err != nil {
		return fmt.Errorf("tftp: send to %s: %w", t.dst, err)
	}
	return nil
}

// receive waits for the next packet from the server, resending the last
// packet on each timeout. Before the first answer any port of the server
// is accepted; after it, only the transfer's port.
func (t *transfer) receive(first bool) ([]byte, netip.AddrPort, error) {
	tries := 0
	for {
		if err := t.ctx.Err(); err != nil {
			return nil, netip.AddrPort{}, err
		}
		t.conn.SetReadDeadline(time.Now().Add(t.opts.Timeout))
		n, from, err := t.conn.ReadFromUDPAddrPort(t.buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if err := t.ctx.Err(); err != nil {
					return nil, netip.AddrPort{}, err
				}
				if tries++; tries > t.opts.Retries {
					return nil, netip.AddrPort{}, fmt.Errorf("%w after %d tries of %s", ErrTimeout, tries, t.opts.Timeout)
				}
				t.info.Resent++
				if err := t.send(t.last); err != nil {
					return nil, netip.AddrPort{}, err
				}
				continue
			}
			return nil, netip.AddrPort{}, err
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if from.Addr() != t.server.Addr() || !first && from != t.dst {
			// Another transfer's packet (RFC 1350: unknown TID).
			t.conn.WriteToUDPAddrPort(errorPacket(5, "unknown transfer ID"), from)
			continue
		}
		if n < 4 {
			continue
		}
		return t.buf[:n], from, nil
	}
}

// applyOACK reads the options the server accepted.
func (t *transfer) applyOACK(b []byte) error {
	fields := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		name, value := strings.ToLower(fields[i]), fields[i+1]
		n, err := strconv.ParseInt(value, 10, 64)
		switch name {
		case "blksize":
			if err != nil || n < 8 || n > 65464 || t.opts.BlockSize > 0 && int(n) > t.opts.BlockSize {
				return fmt.Errorf("server accepted a bad blksize %q", value)
			}
			t.info.BlockSize = int(n)
		case "tsize":
			if err != nil || n < 0 {
				return fmt.Errorf("server sent a bad tsize %q", value)
			}
			t.info.TSize = n
		}
	}
	return nil
}

func rrq(name string, opts Options) []byte {
	p := []byte{0, opRRQ}
	p = append(p, name...)
	p = append(p, 0)
	p = append(p, "octet"...)
	p = append(p, 0)
	if opts.BlockSize > 0 {
		p = append(p, "blksize\x00"...)
		p = append(p, strconv.Itoa(opts.BlockSize)...)
		p = append(p, 0)
	}
	if opts.TSize {
		p = append(p, "tsize\x000\x00"...)
	}
	return p
}

func ack(block uint16) []byte { return []byte{0, opACK, byte(block >> 8), byte(block)} }

func errorPacket(code uint16, msg string) []byte {
	p := []byte{0, opERROR, byte(code >> 8), byte(code)}
	p = append(p, msg...)
	return append(p, 0)
}

func serverError(name string, pkt []byte) error {
	if len(pkt) < 4 {
		return fmt.Errorf("tftp %s: short error packet", name)
	}
	code := binary.BigEndian.Uint16(pkt[2:])
	msg := strings.TrimRight(string(pkt[4:]), "\x00")
	if code == 1 {
		return fmt.Errorf("tftp %s: %w (%s)", name, ErrNotFound, msg)
	}
	return fmt.Errorf("tftp %s: server error %d: %s", name, code, msg)
}
