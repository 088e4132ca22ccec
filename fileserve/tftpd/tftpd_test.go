package tftpd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pin/tftp/v3"
)

// download fetches name with the pin/tftp client.
func download(t *testing.T, addr string, name, mode string, blksize int, tsize bool) ([]byte, int64, error) {
	t.Helper()
	c, err := tftp.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(2 * time.Second)
	if blksize > 0 {
		c.SetBlockSize(blksize)
	}
	c.RequestTSize(tsize)
	wt, err := c.Receive(name, mode)
	if err != nil {
		return nil, -1, err
	}
	size := int64(-1)
	if n, ok := wt.(tftp.IncomingTransfer).Size(); ok {
		size = n
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, size, err
	}
	return buf.Bytes(), size, nil
}

func TestConfigValidation(t *testing.T) {
	h := newFakeHandler()
	for _, cfg := range []Config{
		{BlockSizeMax: 511},
		{BlockSizeMax: 65465},
		{Timeout: -time.Second},
		{Timeout: 256 * time.Second},
		{Retries: -1},
		{MaxTransfers: -1},
		{WindowSizeMax: -1},
		{WindowSizeMax: 65536},
	} {
		if _, err := New(cfg, h, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("New with nil handler accepted")
	}
	s, err := New(Config{}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{BlockSizeMax: 1468, Timeout: time.Second, Retries: 5, MaxTransfers: 1000, WindowSizeMax: 16}
	if s.cfg != want {
		t.Errorf("defaults %+v, want %+v", s.cfg, want)
	}
}

func TestPlainDownload(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["a.bin"] = genBytes(5000)
	ts := startServer(t, Config{}, h)
	got, _, err := download(t, ts.addr.String(), "a.bin", "octet", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, h.files["a.bin"]) {
		t.Fatal("content differs")
	}
	r := ts.result(t)
	if r.Err != nil || r.ErrorCode != -1 || r.Bytes != 5000 || r.BlockSize != 512 || r.WindowSize != 1 || r.TimedOut {
		t.Errorf("result %+v", r)
	}
	if r.Request.Filename != "a.bin" || r.Request.Mode != "octet" || r.Request.Remote == nil ||
		!r.Request.Local.IP.Equal(net.IPv4(127, 0, 0, 1)) || r.Request.Local.Port != int(ts.addr.Port()) {
		t.Errorf("request %+v", r.Request)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opens != 1 || h.closes != 1 {
		t.Errorf("opens %d closes %d", h.opens, h.closes)
	}
	if ts.Active() != 0 {
		t.Errorf("Active %d", ts.Active())
	}
}

func TestBlockSize(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(100_000)
	ts := startServer(t, Config{}, h)

	for _, tc := range []struct{ ask, want int }{{1428, 1428}, {9000, 1468}, {512, 512}} {
		got, _, err := download(t, ts.addr.String(), "f", "octet", tc.ask, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, h.files["f"]) {
			t.Fatalf("blksize %d: content differs", tc.ask)
		}
		if r := ts.result(t); r.Err != nil || r.BlockSize != tc.want {
			t.Errorf("blksize %d: result %+v, want block size %d", tc.ask, r, tc.want)
		}
	}

	// On the wire: the cap is answered, DATA blocks have that size, and a
	// blksize below 8 is ignored.
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet", "blksize", "9000")
	if o := c.mustOACK(); o["blksize"] != "1468" || len(o) != 1 {
		t.Fatalf("OACK %v", o)
	}
	c.ack(0)
	if p := c.mustData(1); len(p.data) != 1468 {
		t.Fatalf("DATA 1 has %d bytes", len(p.data))
	}
	c.sendError(0, "enough")
	ts.result(t)

	c = newRawClient(t, ts.addr)
	c.rrq("f", "octet", "BLKSIZE", "4")
	if p := c.mustData(1); len(p.data) != 512 {
		t.Fatalf("DATA 1 has %d bytes", len(p.data))
	}
	c.sendError(0, "enough")
	ts.result(t)
}

func TestTSize(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(12345)
	h.files["empty"] = nil
	ts := startServer(t, Config{}, h)
	got, size, err := download(t, ts.addr.String(), "f", "octet", 1024, true)
	if err != nil {
		t.Fatal(err)
	}
	if size != 12345 || !bytes.Equal(got, h.files["f"]) {
		t.Fatalf("tsize %d, %d bytes", size, len(got))
	}
	ts.result(t)

	c := newRawClient(t, ts.addr)
	c.rrq("empty", "octet", "tsize", "0", "unknown", "x")
	if o := c.mustOACK(); o["tsize"] != "0" || len(o) != 1 {
		t.Fatalf("OACK %v", o)
	}
	c.ack(0)
	if p := c.mustData(1); len(p.data) != 0 {
		t.Fatalf("DATA 1 of empty file has %d bytes", len(p.data))
	}
	c.ack(1)
	if r := ts.result(t); r.Err != nil || r.Bytes != 0 {
		t.Fatalf("result %+v", r)
	}
}

// TestTimeoutOption checks that the timeout option is echoed and used, and
// that an ERROR in answer to the OACK ends the transfer quietly.
func TestTimeoutOption(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(2000)
	ts := startServer(t, Config{Timeout: 50 * time.Millisecond, Retries: 3}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet", "timeout", "1", "blksize", "1024")
	start := time.Now()
	o := c.mustOACK()
	if o["timeout"] != "1" || o["blksize"] != "1024" {
		t.Fatalf("OACK %v", o)
	}
	o = c.mustOACK() // retransmitted after the client's 1 s, not the server's 50 ms
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Fatalf("OACK retransmitted after %v, want about 1s", d)
	}
	c.sendError(codeOptionRefuse, "no thanks")
	c.nothing(150 * time.Millisecond)
	r := ts.result(t)
	var re *RemoteError
	if !errors.As(r.Err, &re) || re.Code != 8 || re.Message != "no thanks" || r.ErrorCode != -1 || r.Retransmits != 1 {
		t.Fatalf("result %+v", r)
	}

	// Out-of-range timeouts are ignored.
	c = newRawClient(t, ts.addr)
	c.rrq("f", "octet", "timeout", "256")
	c.mustData(1)
	c.sendError(0, "enough")
	ts.result(t)
}

func TestWindowSize(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(512*9 + 10) // 10 blocks
	h.files["f"] = data
	ts := startServer(t, Config{Timeout: 2 * time.Second}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet", "windowsize", "4")
	if o := c.mustOACK(); o["windowsize"] != "4" || len(o) != 1 {
		t.Fatalf("OACK %v", o)
	}
	var got []byte
	c.ack(0)
	for b := uint16(1); b <= 4; b++ {
		got = append(got, c.mustData(b).data...)
	}
	c.ack(4)
	for b := uint16(5); b <= 8; b++ {
		p := c.mustData(b)
		if b <= 6 {
			got = append(got, p.data...)
		}
	}
	// Pretend block 7 was lost: ACK 6 restarts the window at 7.
	c.ack(6)
	for b := uint16(7); b <= 10; b++ {
		got = append(got, c.mustData(b).data...)
	}
	c.nothing(100 * time.Millisecond)
	c.ack(10)
	r := ts.result(t)
	if r.Err != nil || r.WindowSize != 4 || r.Retransmits != 2 || r.Bytes != int64(len(data)) {
		t.Fatalf("result %+v", r)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}

	// Capped to WindowSizeMax.
	c = newRawClient(t, ts.addr)
	c.rrq("f", "octet", "windowsize", "100")
	if o := c.mustOACK(); o["windowsize"] != "16" {
		t.Fatalf("OACK %v", o)
	}
	c.sendError(0, "enough")
	ts.result(t)
}

func TestWindowSizeDisabled(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(3000)
	ts := startServer(t, Config{WindowSizeMax: 1}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet", "windowsize", "8")
	c.mustData(1) // option not acknowledged, so no OACK
	c.nothing(50 * time.Millisecond)
	c.sendError(0, "enough")
	ts.result(t)
}

func TestExactMultiple(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(512 * 4)
	h.files["f"] = data
	ts := startServer(t, Config{}, h)
	got, _, err := download(t, ts.addr.String(), "f", "octet", 0, false)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v, %d bytes", err, len(got))
	}
	ts.result(t)

	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	for b := uint16(1); b <= 4; b++ {
		if p := c.mustData(b); len(p.data) != 512 {
			t.Fatalf("block %d has %d bytes", b, len(p.data))
		}
		c.ack(b)
	}
	if p := c.mustData(5); len(p.data) != 0 {
		t.Fatalf("final block has %d bytes", len(p.data))
	}
	c.ack(5)
	if r := ts.result(t); r.Err != nil || r.Bytes != int64(len(data)) {
		t.Fatalf("result %+v", r)
	}
}

// TestRollover downloads a file of more than 65535 blocks of 512 bytes, so
// block numbers wrap from 65535 to 0.
func TestRollover(t *testing.T) {
	t.Parallel()
	const size = 65536*512 + 1000 // 65538 blocks
	h := newFakeHandler()
	h.gen["big"] = size
	ts := startServer(t, Config{}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("big", "octet")
	sum := sha256.New()
	buf := make([]byte, 600)
	var blocks int64
	for block := uint16(1); ; block++ {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d blocks: %v", blocks, err)
		}
		if n < 4 || buf[1] != opDATA || uint16(buf[2])<<8|uint16(buf[3]) != block {
			t.Fatalf("after %d blocks: got %x", blocks, buf[:min(n, 8)])
		}
		blocks++
		sum.Write(buf[4:n])
		c.tid = from
		c.ack(block)
		if n < 516 {
			break
		}
	}
	if blocks != 65538 {
		t.Fatalf("%d blocks", blocks)
	}
	want := sha256.Sum256(genBytes(size))
	if !bytes.Equal(sum.Sum(nil), want[:]) {
		t.Fatal("sha256 differs")
	}
	if r := ts.result(t); r.Err != nil || r.Bytes != size || r.Retransmits != 0 {
		t.Fatalf("result %+v", r)
	}
}

func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.errs["secret"] = fmt.Errorf("open /srv/secret: %w", ErrAccess)
	h.errs["later"] = fmt.Errorf("quota: %w", ErrBusy)
	h.errs["broken"] = errors.New("disk on fire")
	ts := startServer(t, Config{}, h)
	for _, tc := range []struct {
		name string
		code uint16
		msg  string
		err  error
	}{
		{"missing", 1, "file not found", ErrNotFound},
		{"secret", 2, "access violation", ErrAccess},
		{"later", 0, "server busy, try again", ErrBusy},
		{"broken", 0, "disk on fire", nil},
	} {
		c := newRawClient(t, ts.addr)
		c.rrq(tc.name, "octet", "tsize", "0")
		p := c.mustError(tc.code)
		if string(p.data) != tc.msg {
			t.Errorf("%s: message %q", tc.name, p.data)
		}
		if p.from == ts.addr {
			t.Errorf("%s: error sent from the listening port", tc.name)
		}
		r := ts.result(t)
		if r.ErrorCode != int(tc.code) || r.Err == nil || (tc.err != nil && !errors.Is(r.Err, tc.err)) {
			t.Errorf("%s: result %+v", tc.name, r)
		}
	}
	// The pin client sees the code too.
	_, _, err := download(t, ts.addr.String(), "missing", "octet", 0, false)
	if err == nil || !strings.Contains(err.Error(), "code: 1") {
		t.Errorf("pin client: %v", err)
	}
}

func TestWriteRequest(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, newFakeHandler())
	c := newRawClient(t, ts.addr)
	c.sendTo(ts.addr, rq(opWRQ, "upload.txt", "octet", "blksize", "1024"))
	p := c.mustError(2)
	if !strings.Contains(string(p.data), "read-only") || p.from != ts.addr {
		t.Errorf("error %q from %v", p.data, p.from)
	}
	r := ts.result(t)
	if !errors.Is(r.Err, ErrReadOnly) || !errors.Is(r.Err, ErrAccess) || r.ErrorCode != 2 || r.Request.Filename != "upload.txt" {
		t.Errorf("result %+v", r)
	}
}

func TestBusy(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["slow"] = genBytes(100)
	h.files["f"] = genBytes(100)
	gate := make(chan struct{})
	h.gate["slow"] = gate
	ts := startServer(t, Config{MaxTransfers: 1}, h)

	slow := newRawClient(t, ts.addr)
	slow.rrq("slow", "octet")
	waitFor(t, func() bool { return ts.Active() == 1 })

	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	if p := c.mustError(0); string(p.data) != "server busy, try again" {
		t.Errorf("message %q", p.data)
	}
	r := ts.result(t)
	if !errors.Is(r.Err, ErrBusy) || r.ErrorCode != 0 || r.Request.Filename != "f" {
		t.Errorf("result %+v", r)
	}

	close(gate)
	slow.mustData(1)
	slow.ack(1)
	if r := ts.result(t); r.Err != nil {
		t.Errorf("slow result %+v", r)
	}
	waitFor(t, func() bool { return ts.Active() == 0 })
	if got, _, err := download(t, ts.addr.String(), "f", "octet", 0, false); err != nil || len(got) != 100 {
		t.Errorf("after busy: %v", err)
	}
	ts.result(t)
}

// TestDuplicateRRQ checks that a retransmitted request does not start a
// second transfer while the first is running.
func TestDuplicateRRQ(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(100)
	gate := make(chan struct{})
	h.gate["f"] = gate
	ts := startServer(t, Config{}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	waitFor(t, func() bool { return ts.Active() == 1 })
	c.rrq("f", "octet")
	c.rrq("f", "octet")
	// Both repeats must be seen while the first transfer runs: one seen
	// after it ended would rightly start a new transfer.
	waitFor(t, func() bool { return ts.RepeatedRequests() == 2 })
	if ts.Active() != 1 {
		t.Fatalf("Active %d", ts.Active())
	}
	close(gate)
	c.mustData(1)
	c.ack(1)
	c.nothing(100 * time.Millisecond)
	ts.result(t)
	ts.noResult(t, 50*time.Millisecond)
}

func TestClientStopsAcking(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(3000)
	// 300 ms: the test's ACK of DATA 1 must come within it, also on a
	// loaded machine; the waits then run 0.3, 0.6, 1.2 and 2.4 s.
	ts := startServer(t, Config{Timeout: 300 * time.Millisecond, Retries: 3}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	c.mustData(1)
	c.ack(1)
	for range 4 { // DATA 2 and three retransmissions
		c.mustData(2)
	}
	c.nothing(1200 * time.Millisecond)
	r := ts.result(t)
	if !r.TimedOut || !errors.Is(r.Err, ErrTimeout) || r.Retransmits != 3 || r.ErrorCode != -1 || r.Bytes != 512 {
		t.Fatalf("result %+v", r)
	}
}

// TestLostAckAndDuplicates covers a lost ACK (retransmission on timeout), a
// duplicate ACK (ignored: no Sorcerer's Apprentice), a packet from a wrong
// TID (error 5 to it, transfer unaffected) and garbage from the client.
func TestLostAckAndDuplicates(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(512*2 + 100)
	h.files["f"] = data
	// Two seconds of timeout: the steps below between DATA 2 and its ACK
	// (a 300 ms silence, a stranger's packet and its error, the garbage)
	// must fit in it also on a loaded machine; under -race beside other
	// packages' tests they once took over a second.
	ts := startServer(t, Config{Timeout: 2 * time.Second}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	start := time.Now()
	p1 := c.mustData(1)
	// Our ACK is "lost": the server sends DATA 1 again after its timeout.
	p1again := c.mustData(1)
	if d := time.Since(start); d < 1900*time.Millisecond {
		t.Fatalf("retransmitted after %v", d)
	}
	if !bytes.Equal(p1.data, p1again.data) {
		t.Fatal("retransmission differs")
	}
	c.ack(1)
	c.mustData(2)
	c.ack(1) // duplicate
	c.ack(1)
	c.nothing(300 * time.Millisecond) // well before the 2 s timeout

	// A stranger writing to the transfer port gets error 5.
	stranger := newRawClient(t, ts.addr)
	stranger.sendTo(c.tid, []byte{0, opACK, 0, 2})
	if p := stranger.mustError(5); p.from != c.tid {
		t.Fatalf("error 5 from %v", p.from)
	}
	// Garbage from the client is ignored.
	c.sendTo(c.tid, []byte{0})
	c.sendTo(c.tid, []byte{0, 99, 1, 2, 3})
	c.sendTo(c.tid, []byte{0, opDATA, 0, 2, 'x'})
	c.ack(2)
	p3 := c.mustNextData(3)
	if len(p3.data) != 100 {
		t.Fatalf("DATA 3 has %d bytes", len(p3.data))
	}
	c.ack(3)
	r := ts.result(t)
	if r.Err != nil || r.Retransmits != 1 || r.Bytes != int64(len(data)) {
		t.Fatalf("result %+v", r)
	}
	if ts.Malformed() < 2 {
		t.Errorf("Malformed %d", ts.Malformed())
	}
}

func TestShutdownWaits(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(1500)
	h.files["f"] = data
	ts := startServer(t, Config{Timeout: 5 * time.Second}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	c.mustData(1)

	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	select {
	case err := <-ts.served:
		ts.served <- err // for the cleanup
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	// New requests are no longer taken.
	other := newRawClient(t, ts.addr)
	other.rrq("f", "octet")
	other.nothing(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v during a transfer", err)
	default:
	}
	for b := uint16(1); b <= 2; b++ {
		c.ack(b)
		c.mustData(b + 1)
	}
	c.ack(3)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if r := ts.result(t); r.Err != nil || r.Bytes != 1500 {
		t.Fatalf("result %+v", r)
	}
	if err := ts.Serve(context.Background(), c.conn); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownAborts(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(1500)
	h.files["gated"] = genBytes(10)
	h.gate["gated"] = make(chan struct{}) // never opens
	ts := startServer(t, Config{Timeout: 5 * time.Second}, h)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	c.mustData(1)
	g := newRawClient(t, ts.addr)
	g.rrq("gated", "octet")
	waitFor(t, func() bool { return ts.Active() == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
	if p := c.mustError(0); string(p.data) != "server shutting down" {
		t.Errorf("message %q", p.data)
	}
	g.mustError(0)
	for range 2 {
		if r := ts.result(t); !errors.Is(r.Err, ErrServerClosed) || r.ErrorCode != 0 {
			t.Errorf("result %+v", r)
		}
	}
	if ts.Active() != 0 {
		t.Errorf("Active %d", ts.Active())
	}
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(700)
	ts := startServer(t, Config{}, h)
	c := newRawClient(t, ts.addr)
	junk := [][]byte{
		{},
		{0},
		{0, 1},
		{0, 1, 'f'},
		{0, 1, 'f', 0, 'o', 'c'},
		{0, 2, 'f'},
		{0, 3, 0, 1, 'x'},
		{0, 4, 0, 1},
		{0, 5, 0, 1, 'x', 0},
		{0, 6, 'a', 0, '1', 0},
		{0, 99, 'f', 0, 'o', 'c', 't', 'e', 't', 0},
		{0xff, 0xff},
		bytes.Repeat([]byte{0xff}, 2000),
	}
	for _, b := range junk {
		c.sendTo(ts.addr, b)
	}
	c.nothing(100 * time.Millisecond)
	// Requests that parse but cannot be served get error 4.
	c.sendTo(ts.addr, rq(opRRQ, "f", "mail"))
	c.mustError(4)
	c.sendTo(ts.addr, rq(opRRQ, "", "octet"))
	c.mustError(4)
	waitFor(t, func() bool { return ts.Malformed() == uint64(len(junk)+2) })

	// Lenient options: a dangling name and a missing final NUL are ignored.
	c.sendTo(ts.addr, append(rq(opRRQ, "f", "OCTET", "tsize", "0", "blksize"), "1024"...))
	if o := c.mustOACK(); o["tsize"] != "700" || len(o) != 1 {
		t.Fatalf("OACK %v", o)
	}
	c.ack(0)
	c.mustData(1)
	c.ack(1)
	c.mustData(2)
	c.ack(2)
	if r := ts.result(t); r.Err != nil || r.Request.Mode != "octet" {
		t.Fatalf("result %+v", r)
	}
	if got, _, err := download(t, ts.addr.String(), "f", "octet", 0, false); err != nil || len(got) != 700 {
		t.Fatalf("download after junk: %v", err)
	}
	ts.result(t)
}

func TestConcurrentDownloads(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(256 << 10)
	h.files["fw.bin"] = data
	want := sha256.Sum256(data)
	ts := startServer(t, Config{}, h)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			blksize := []int{0, 1428, 1024, 8192}[i%4]
			got, size, err := download(t, ts.addr.String(), "fw.bin", "octet", blksize, i%2 == 0)
			switch {
			case err != nil:
				errs <- err
			case sha256.Sum256(got) != want:
				errs <- fmt.Errorf("client %d: sha256 differs", i)
			case i%2 == 0 && size != int64(len(data)):
				errs <- fmt.Errorf("client %d: tsize %d", i, size)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range n {
		if r := ts.result(t); r.Err != nil {
			t.Errorf("result %+v", r)
		}
	}
}

func TestNetasciiDownload(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	text := []byte(strings.Repeat("line one\nline two\r\nbare\rcr\n", 200))
	h.files["cfg.txt"] = text
	ts := startServer(t, Config{}, h)
	got, _, err := download(t, ts.addr.String(), "cfg.txt", "netascii", 0, false)
	if err != nil || !bytes.Equal(got, text) {
		t.Fatalf("download: %v, %d of %d bytes", err, len(got), len(text))
	}
	ts.result(t)

	// On the wire: exact tsize, converted content, windowed.
	c := newRawClient(t, ts.addr)
	c.rrq("cfg.txt", "NetASCII", "tsize", "0", "windowsize", "3")
	want := netasciiRef(text)
	o := c.mustOACK()
	if o["tsize"] != strconv.Itoa(len(want)) || o["windowsize"] != "3" {
		t.Fatalf("OACK %v, want tsize %d", o, len(want))
	}
	c.ack(0)
	var wire []byte
	for b := uint16(1); ; b++ {
		p := c.mustData(b)
		wire = append(wire, p.data...)
		if len(p.data) < 512 {
			c.ack(b)
			break
		}
		if b%3 == 0 {
			c.ack(b)
		}
	}
	if !bytes.Equal(wire, want) {
		t.Fatal("netascii content differs")
	}
	if r := ts.result(t); r.Err != nil || r.Bytes != int64(len(want)) || r.Request.Mode != "netascii" {
		t.Fatalf("result %+v", r)
	}
}

// TestPktinfo serves through the control-message path used for wildcard
// listeners (forced on a 127.0.0.1 socket).
func TestPktinfo(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(600)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if l := newListener(conn, true); !l.pktinfo {
		t.Skip("IP_PKTINFO not available")
	}
	ts := startServerOn(t, Config{}, h, conn, true)
	c := newRawClient(t, ts.addr)
	c.rrq("f", "octet")
	if p := c.mustData(1); p.from.Addr() != ts.addr.Addr() {
		t.Fatalf("DATA from %v", p.from)
	}
	c.ack(1)
	c.mustData(2)
	c.ack(2)
	r := ts.result(t)
	if r.Err != nil || !r.Request.Local.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("result %+v", r)
	}
	c = newRawClient(t, ts.addr)
	c.sendTo(ts.addr, rq(opWRQ, "x", "octet"))
	if p := c.mustError(2); p.from != ts.addr {
		t.Fatalf("error from %v", p.from)
	}
	ts.result(t)
}

// TestServeStops checks Serve's return values: nil when its context ends
// (running transfers go on), an error wrapping net.ErrClosed when its
// socket is closed.
func TestServeStops(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	h.files["f"] = genBytes(600)
	s, err := New(Config{}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, conn) }()
	c := newRawClient(t, conn.LocalAddr().(*net.UDPAddr).AddrPort())
	c.rrq("f", "octet")
	c.mustData(1)
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	c.ack(1)
	c.mustData(2)
	c.ack(2)
	waitFor(t, func() bool { return s.Active() == 0 })

	go func() { served <- s.Serve(context.Background(), conn) }()
	time.Sleep(10 * time.Millisecond)
	conn.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached")
}

// TestLossyNetwork downloads through a raw RFC 7440 client that drops a
// share of the packets in both directions.
func TestLossyNetwork(t *testing.T) {
	t.Parallel()
	h := newFakeHandler()
	data := genBytes(100_000)
	h.files["f"] = data
	ts := startServer(t, Config{Timeout: 20 * time.Millisecond, Retries: 50}, h)
	for _, window := range []int{1, 8} {
		rng := rand.New(rand.NewPCG(uint64(window), 7))
		drop := func() bool { return rng.IntN(100) < 15 }
		c := newRawClient(t, ts.addr)
		opts := []string{"blksize", "1000"}
		if window > 1 {
			opts = append(opts, "windowsize", strconv.Itoa(window))
		}
		var got []byte
		expected := uint16(1)
		inWindow := 0
		started := false
		// The request itself may be lost, but the first answer fixes
		// the transfer ID, so resend it only until then.
		c.rrq("f", "octet", opts...)
		for done := false; !done; {
			p, ok := c.recv(60 * time.Millisecond)
			if !ok || drop() {
				if !ok {
					if !started {
						c.rrq("f", "octet", opts...)
					} else {
						c.ack(expected - 1)
					}
				}
				continue
			}
			started = true
			switch {
			case p.op == opOACK:
				if expected == 1 && !drop() {
					c.ack(0)
				}
			case p.op == opDATA && p.block == expected:
				got = append(got, p.data...)
				expected++
				inWindow++
				last := len(p.data) < 1000
				if last || inWindow == window {
					inWindow = 0
					if !drop() {
						c.ack(p.block)
					}
				}
				done = last
			case p.op == opDATA:
				inWindow = 0
				if !drop() {
					c.ack(expected - 1)
				}
			default:
				t.Fatalf("window %d: got %v", window, p)
			}
		}
		// The final ACK may have been dropped: answer retransmissions
		// until the server has finished.
		var r Result
	wait:
		for {
			select {
			case r = <-ts.results:
				break wait
			default:
			}
			if _, ok := c.recv(30 * time.Millisecond); ok {
				c.ack(expected - 1)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("window %d: content differs", window)
		}
		if r.Err != nil || r.Bytes != int64(len(data)) || r.WindowSize != window {
			t.Fatalf("window %d: result %+v", window, r)
		}
		t.Logf("window %d: %d retransmits", window, r.Retransmits)
	}
}
