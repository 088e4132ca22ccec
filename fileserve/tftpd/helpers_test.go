package tftpd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// memFile is an in-memory File.
type memFile struct {
	*bytes.Reader
	closed func()
}

func (f memFile) Close() error {
	if f.closed != nil {
		f.closed()
	}
	return nil
}

// genFile is a File of size bytes generated on the fly (genByte).
type genFile struct{ size int64 }

func genByte(i int64) byte {
	return byte(i) + 3*byte(i>>9) + byte(i>>17) + 5*byte(i>>25)
}

func (g genFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= g.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > g.size-off {
		n = int(g.size - off)
	}
	for i := range n {
		p[i] = genByte(off + int64(i))
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
func (g genFile) Size() int64  { return g.size }
func (g genFile) Close() error { return nil }

func genBytes(size int64) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = genByte(int64(i))
	}
	return b
}

// fakeHandler serves in-memory files.
type fakeHandler struct {
	mu      sync.Mutex
	files   map[string][]byte
	gen     map[string]int64
	errs    map[string]error
	gate    map[string]chan struct{} // OpenRead waits for the channel to close
	opens   int
	closes  int
	lastReq Request
}

func newFakeHandler() *fakeHandler {
	return &fakeHandler{
		files: map[string][]byte{},
		gen:   map[string]int64{},
		errs:  map[string]error{},
		gate:  map[string]chan struct{}{},
	}
}

func (h *fakeHandler) OpenRead(ctx context.Context, req Request) (File, error) {
	h.mu.Lock()
	h.opens++
	h.lastReq = req
	gate := h.gate[req.Filename]
	h.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.errs[req.Filename]; err != nil {
		return nil, err
	}
	if size, ok := h.gen[req.Filename]; ok {
		return genFile{size}, nil
	}
	b, ok := h.files[req.Filename]
	if !ok {
		return nil, ErrNotFound
	}
	return memFile{Reader: bytes.NewReader(b), closed: func() {
		h.mu.Lock()
		h.closes++
		h.mu.Unlock()
	}}, nil
}

// testServer is a Server serving a 127.0.0.1 socket.
type testServer struct {
	*Server
	addr    netip.AddrPort
	results chan Result
	served  chan error
}

func startServer(t *testing.T, cfg Config, h Handler) *testServer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, cfg, h, conn, false)
}

// startServerOn serves conn; setup, if given, adjusts the Server before
// it serves.
func startServerOn(t *testing.T, cfg Config, h Handler, conn *net.UDPConn, forcePktinfo bool, setup ...func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{
		addr:    conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		results: make(chan Result, 1000),
		served:  make(chan error, 1),
	}
	s, err := New(cfg, h, func(r Result) { ts.results <- r })
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range setup {
		f(s)
	}
	ts.Server = s
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if forcePktinfo {
			ts.served <- s.serve(ctx, newListener(conn, true))
		} else {
			ts.served <- s.Serve(ctx, conn)
		}
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := s.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		if err := <-ts.served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		conn.Close()
	})
	return ts
}

// result waits for the next Result.
func (ts *testServer) result(t *testing.T) Result {
	t.Helper()
	select {
	case r := <-ts.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no Result observed")
		return Result{}
	}
}

// noResult checks that no Result arrives within d.
func (ts *testServer) noResult(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case r := <-ts.results:
		t.Fatalf("unexpected Result %+v", r)
	case <-time.After(d):
	}
}

// rawClient speaks TFTP packet by packet.
type rawClient struct {
	t      *testing.T
	conn   *net.UDPConn
	server netip.AddrPort // listening port
	tid    netip.AddrPort // transfer port, once known
}

func newRawClient(t *testing.T, server netip.AddrPort) *rawClient {
	t.Helper()
	network, local := "udp4", net.IPv4(127, 0, 0, 1)
	if server.Addr().Is6() {
		network, local = "udp6", net.IPv6loopback
	}
	conn, err := net.ListenUDP(network, &net.UDPAddr{IP: local})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, server: server}
}

func rq(op uint16, name, mode string, opts ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, op)
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, mode...)
	b = append(b, 0)
	for _, o := range opts {
		b = append(b, o...)
		b = append(b, 0)
	}
	return b
}

func (c *rawClient) sendTo(to netip.AddrPort, b []byte) {
	c.t.Helper()
	if _, err := c.conn.WriteToUDPAddrPort(b, to); err != nil {
		c.t.Fatal(err)
	}
}

// rrq sends a read request; opts alternate name, value.
func (c *rawClient) rrq(name, mode string, opts ...string) {
	c.t.Helper()
	c.sendTo(c.server, rq(opRRQ, name, mode, opts...))
}

func (c *rawClient) ack(block uint16) {
	c.t.Helper()
	c.sendTo(c.tid, binary.BigEndian.AppendUint16([]byte{0, opACK}, block))
}

func (c *rawClient) sendError(code uint16, msg string) {
	c.t.Helper()
	c.sendTo(c.tid, appendError(nil, int(code), msg))
}

type pkt struct {
	op    uint16
	block uint16 // DATA, ACK; error code for ERROR
	data  []byte // DATA payload, ERROR message, OACK body
	from  netip.AddrPort
}

func (p pkt) String() string {
	return "op=" + strconv.Itoa(int(p.op)) + " block/code=" + strconv.Itoa(int(p.block)) + " len=" + strconv.Itoa(len(p.data)) + " from=" + p.from.String()
}

// oack returns the options of an OACK packet.
func (p pkt) oack() map[string]string {
	m := map[string]string{}
	parts := bytes.Split(p.data, []byte{0})
	for i := 0; i+1 < len(parts); i += 2 {
		m[string(parts[i])] = string(parts[i+1])
	}
	return m
}

// recv waits up to d for a packet; ok is false on timeout. The first packet
// fixes the transfer ID.
func (c *rawClient) recv(d time.Duration) (pkt, bool) {
	c.t.Helper()
	buf := make([]byte, 70000)
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := c.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		if errors.Is(err, net.ErrClosed) || !isTimeout(err) {
			c.t.Fatalf("recv: %v", err)
		}
		return pkt{}, false
	}
	if n < 4 {
		c.t.Fatalf("short packet %x", buf[:n])
	}
	p := pkt{op: binary.BigEndian.Uint16(buf), block: binary.BigEndian.Uint16(buf[2:]), data: buf[4:n], from: from}
	if p.op == opOACK {
		p.block = 0
		p.data = buf[2:n]
	}
	if p.op == opERROR && len(p.data) > 0 && p.data[len(p.data)-1] == 0 {
		p.data = p.data[:len(p.data)-1]
	}
	if !c.tid.IsValid() && p.op != opERROR {
		c.tid = from
	}
	return p, true
}

// must receives a packet or fails.
func (c *rawClient) must(d time.Duration) pkt {
	c.t.Helper()
	p, ok := c.recv(d)
	if !ok {
		c.t.Fatal("no packet received")
	}
	return p
}

func (c *rawClient) mustData(block uint16) pkt {
	c.t.Helper()
	p := c.must(5 * time.Second)
	if p.op != opDATA || p.block != block {
		c.t.Fatalf("got %v, want DATA %d", p, block)
	}
	return p
}

// mustNextData waits for DATA block like mustData, skipping repeats of
// the block before it: a server whose timeout ran out while the test was
// busy (a loaded machine) retransmits the previous block, which a real
// client also ignores.
func (c *rawClient) mustNextData(block uint16) pkt {
	c.t.Helper()
	for range 10 {
		p := c.must(5 * time.Second)
		if p.op == opDATA && p.block == block-1 {
			continue
		}
		if p.op != opDATA || p.block != block {
			c.t.Fatalf("got %v, want DATA %d", p, block)
		}
		return p
	}
	c.t.Fatalf("DATA %d still repeated after 10 receives, want DATA %d", block-1, block)
	return pkt{}
}

func (c *rawClient) mustError(code uint16) pkt {
	c.t.Helper()
	p := c.must(5 * time.Second)
	if p.op != opERROR || p.block != code {
		c.t.Fatalf("got %v (%q), want ERROR %d", p, p.data, code)
	}
	return p
}

func (c *rawClient) mustOACK() map[string]string {
	c.t.Helper()
	p := c.must(5 * time.Second)
	if p.op != opOACK {
		c.t.Fatalf("got %v (%q), want OACK", p, p.data)
	}
	return p.oack()
}

// nothing checks that no packet arrives within d.
func (c *rawClient) nothing(d time.Duration) {
	c.t.Helper()
	if p, ok := c.recv(d); ok {
		c.t.Fatalf("unexpected packet %v", p)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
