package fileserve

import (
	"io"
	"net"
	"os"
	"syscall"

	"github.com/phoneprov/phoneprov/fileserve/internal/nonblock"
)

// directConn is a TCP connection whose Read and Write make their system
// calls through package nonblock, past the Go runtime's system-call entry
// (which wakes the runtime's sleeping monitor thread before nearly every
// request when requests come one at a time; the package says why), while
// the runtime's poller still waits for readiness and keeps the deadlines
// (syscall.RawConn's Read and Write).
//
// Only socket reads and writes go this way. Everything else is the
// embedded *net.TCPConn's, including ReadFrom, which sends a file with
// sendfile: that may wait for a disk, so it keeps the runtime's entry.
type directConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

// newDirectConn wraps tcp.
func newDirectConn(tcp *net.TCPConn) (*directConn, error) {
	raw, err := tcp.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &directConn{TCPConn: tcp, raw: raw}, nil
}

// Read reads as net.TCPConn.Read does: io.EOF when the peer has closed,
// errors as *net.OpError, a passed deadline as one whose Timeout is true.
func (c *directConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.raw.Read(func(fd uintptr) bool {
		n, errno = nonblock.Read(fd, p)
		return errno != syscall.EAGAIN
	})
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p unless an error or the write deadline stops it.
func (c *directConn) Write(p []byte) (int, error) {
	return c.send(p, 0)
}

// send writes all of p with the send(2) flags given (see nonblock.Send).
func (c *directConn) send(p []byte, flags int) (int, error) {
	sent := 0
	var errno syscall.Errno
	err := c.raw.Write(func(fd uintptr) bool {
		for sent < len(p) {
			var n int
			if n, errno = nonblock.Send(fd, p[sent:], flags); errno != 0 {
				return errno != syscall.EAGAIN
			}
			sent += n
		}
		return true
	})
	switch {
	case err != nil:
		return sent, c.opError("write", err)
	case errno != 0: // f stopped at an error, not at a full buffer
		return sent, c.opError("write", os.NewSyscallError("write", errno))
	}
	return sent, nil
}

// opError wraps err as the net package's connections do.
func (c *directConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
