package fileserve

import (
	"fmt"
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
// Socket reads and writes go this way, and sendFile's sendfile calls
// whose range is in the page cache. Everything else is the embedded
// *net.TCPConn's.
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

// sendFileChunk is the most one sendfile call is asked for, as in the
// runtime's own sendfile loop (internal/poll's maxSendfileSize), and the
// range sendFile looks up in the page cache at a time.
const sendFileChunk = 4 << 20

// sendFile sends size bytes of f from its start with sendfile(2), as
// net.TCPConn's ReadFrom does, waiting on the poller when the socket is
// full. A call whose range is in the page cache (nonblock.Cached) goes
// past the runtime's system-call entry, as Read and Write do; any other
// goes through it (syscall.Sendfile), so that the runtime can give the P
// to other goroutines while the call waits for the disk.
//
// The entry is the cost it avoids: the runtime's monitor thread takes the
// P back from a call it finds in the same system call on two of its
// ticks (20 µs apart while it is busy) and starts another thread for the
// P, and a sendfile that fills a socket buffer can run that long. A perf
// profile (cpu-clock, call graphs) of phoneprov sending a 10 MiB file to
// 256 wrk connections put 18 % of its CPU in futex and nanosleep and 11 %
// in the runtime's scheduler with every call entered. Counted over 5 s of
// the same load (perf stat, three runs of each): 19-21 thousand futex
// calls, 10-11 thousand nanosleeps and 32-35 thousand context switches
// with every call entered; 1.3-1.4, 1.7-1.9 and 17 thousand with this
// loop, and 207-217 ms of CPU per GiB sent against 254-264.
//
// A range found cached is trusted until it is sent: one lookup per chunk
// rather than one per call (a call sends what the socket buffer takes,
// 130 KiB on average in that run, and BenchmarkCached in package nonblock
// puts a lookup at 1.3-1.5 µs). A page evicted meanwhile makes one call
// wait for the disk while it holds the P, as an nginx worker waits for
// every such read.
//
// It returns io.ErrUnexpectedEOF if the file ends before size bytes.
func (c *directConn) sendFile(f *os.File, size int64) (int64, error) {
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var off, cachedTo int64 // the file's pages before cachedTo were found cached
	var errno syscall.Errno
	var werr error
	cerr := fc.Control(func(in uintptr) {
		werr = c.raw.Write(func(out uintptr) bool {
			for off < size {
				n := int(min(size-off, sendFileChunk))
				if off >= cachedTo && nonblock.Cached(in, off, n) {
					cachedTo = off + int64(n)
				}
				var sent int
				if off < cachedTo {
					sent, errno = nonblock.SendFile(out, in, &off, int(min(int64(n), cachedTo-off)))
				} else {
					sent, errno = enteredSendFile(out, in, &off, n)
				}
				switch {
				case errno == syscall.EAGAIN:
					return false
				case errno != 0:
					return true
				case sent == 0:
					return true // the file ended early
				}
			}
			return true
		})
	})
	switch {
	case cerr != nil:
		return off, fmt.Errorf("sendfile: %w", cerr)
	case werr != nil:
		return off, c.opError("sendfile", werr)
	case errno != 0:
		return off, c.opError("sendfile", os.NewSyscallError("sendfile", errno))
	case off < size:
		return off, io.ErrUnexpectedEOF
	}
	return off, nil
}

// enteredSendFile is sendfile(2) through the runtime's system-call entry,
// with nonblock.SendFile's results; EINTR is retried.
func enteredSendFile(out, in uintptr, off *int64, n int) (int, syscall.Errno) {
	for {
		sent, err := syscall.Sendfile(int(out), int(in), off, n)
		errno, _ := err.(syscall.Errno) // its only error type
		if errno != syscall.EINTR {
			return max(sent, 0), errno
		}
	}
}

// opError wraps err as the net package's connections do.
func (c *directConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
