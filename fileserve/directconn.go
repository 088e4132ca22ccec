package fileserve

import (
	"io"
	"net"
	"os"
	"sync"
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
//
// The functions handed to the RawConn are made once, with the connection,
// and find their buffer and leave their result in the fields below: a
// closure made per call would escape to the heap, three allocations a
// read or a write on a path that otherwise allocates once per request.
type directConn struct {
	*net.TCPConn
	raw syscall.RawConn

	rmu      sync.Mutex // one Read at a time; guards the fields below it
	rbuf     []byte
	rn       int
	rerr     syscall.Errno
	readFrom func(fd uintptr) bool

	wmu     sync.Mutex // one write at a time; guards the fields below it
	wbuf    []byte
	wflags  int
	wsent   int
	werr    syscall.Errno
	writeTo func(fd uintptr) bool
}

// newDirectConn wraps tcp.
func newDirectConn(tcp *net.TCPConn) (*directConn, error) {
	raw, err := tcp.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &directConn{TCPConn: tcp, raw: raw}
	c.readFrom, c.writeTo = c.readOnce, c.writeSome
	return c, nil
}

// Read reads as net.TCPConn.Read does: io.EOF when the peer has closed,
// errors as *net.OpError, a passed deadline as one whose Timeout is true.
func (c *directConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf = p
	err := c.raw.Read(c.readFrom)
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case c.rerr != 0:
		return 0, c.opError("read", os.NewSyscallError("read", c.rerr))
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

// readOnce is Read's one attempt: false (wait for the poller) on EAGAIN.
func (c *directConn) readOnce(fd uintptr) bool {
	c.rn, c.rerr = nonblock.Read(fd, c.rbuf)
	return c.rerr != syscall.EAGAIN
}

// Write writes all of p unless an error or the write deadline stops it.
func (c *directConn) Write(p []byte) (int, error) {
	return c.send(p, 0)
}

// send writes all of p with the send(2) flags given (see nonblock.Send).
func (c *directConn) send(p []byte, flags int) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, c.wflags, c.wsent, c.werr = p, flags, 0, 0
	err := c.raw.Write(c.writeTo)
	c.wbuf = nil
	switch {
	case err != nil:
		return c.wsent, c.opError("write", err)
	case c.werr != 0: // writeSome stopped at an error, not at a full buffer
		return c.wsent, c.opError("write", os.NewSyscallError("write", c.werr))
	}
	return c.wsent, nil
}

// writeSome sends what is left of send's buffer until it is all sent
// (true), the socket is full (false: wait for the poller) or an error
// stops it (true, the error in werr).
func (c *directConn) writeSome(fd uintptr) bool {
	for c.wsent < len(c.wbuf) {
		n, errno := nonblock.Send(fd, c.wbuf[c.wsent:], c.wflags)
		if errno != 0 {
			c.werr = errno
			return errno != syscall.EAGAIN
		}
		c.wsent += n
	}
	c.werr = 0
	return true
}

// opError wraps err as the net package's connections do.
func (c *directConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
