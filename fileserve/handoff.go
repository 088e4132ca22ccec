package fileserve

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"syscall"
)

// handoffListener is how the fast path gives net/http a connection it
// will not serve itself: net/http's Server.Serve accepts from it as from
// any listener.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next connection handed over.
func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept fail and refuses further hand-overs.
func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the address of the first real listener, for net/http's logs.
func (l *handoffListener) Addr() net.Addr { return l.addr }

// deliver hands c over; false if the listener is closed (the caller
// then closes c).
func (l *handoffListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// replayConn is a connection whose first reads return bytes the fast
// path already read, so net/http parses the request from its start.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// handedTCPConn is a plain TCP connection handed over. It keeps what
// net/http looks for on a *net.TCPConn: ReadFrom (sendfile) and
// CloseWrite; and SyscallConn for withConnInfo's TCP_CORK.
type handedTCPConn struct {
	replayConn
	tcp *net.TCPConn
}

func (c *handedTCPConn) ReadFrom(r io.Reader) (int64, error)   { return c.tcp.ReadFrom(r) }
func (c *handedTCPConn) CloseWrite() error                     { return c.tcp.CloseWrite() }
func (c *handedTCPConn) SyscallConn() (syscall.RawConn, error) { return c.tcp.SyscallConn() }

// handedTLSConn is a TLS connection handed over after its handshake.
// net/http sets Request.TLS from ConnectionState, as it does for a
// *tls.Conn, so handlers (the backup mount's require_tls) still see HTTPS.
type handedTLSConn struct {
	replayConn
	tls *tls.Conn
}

func (c *handedTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }
func (c *handedTLSConn) CloseWrite() error                    { return c.tls.CloseWrite() }
