package tftpd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// socketModes starts a server on 127.0.0.1 whose transfers all use their
// sockets directly (blocking recvfrom) or all go through the network poller.
var socketModes = []struct {
	name      string
	directMax int
}{{"direct", 1 << 30}, {"poller", 0}}

func startServerMode(t *testing.T, cfg Config, h Handler, directMax int) *testServer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, cfg, h, conn, false, func(s *Server) { s.directMax = func() int { return directMax } })
}

// TestSocketModes runs a transfer through both ways of using its socket:
// a windowed download, a lost ACK (retransmission after the timeout), a
// stranger on the transfer port (error 5), garbage and a duplicate ACK
// from the client, and an abort by Shutdown.
func TestSocketModes(t *testing.T) {
	t.Parallel()
	for _, m := range socketModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			h := newFakeHandler()
			h.files["big"] = genBytes(200_000)
			h.files["f"] = genBytes(1428 + 100)
			// A second of timeout: the steps below between a DATA and
			// its ACK must fit in it also on a loaded machine (at 300 ms a
			// CI run saw three retransmissions where one was meant).
			ts := startServerMode(t, Config{Timeout: time.Second}, h, m.directMax)

			got, _, err := download(t, ts.addr.String(), "big", "octet", 1428, true)
			if err != nil || !bytes.Equal(got, h.files["big"]) {
				t.Fatalf("download: %d bytes, %v", len(got), err)
			}
			if r := ts.result(t); r.Err != nil || r.Bytes != 200_000 {
				t.Fatalf("result %+v", r)
			}

			c := newRawClient(t, ts.addr)
			c.rrq("f", "octet", "blksize", "1428")
			c.mustOACK()
			c.ack(0)
			start := time.Now()
			c.mustData(1)
			c.mustData(1) // our ACK was "lost"
			if d := time.Since(start); d < 900*time.Millisecond {
				t.Fatalf("retransmitted after %v", d)
			}
			stranger := newRawClient(t, ts.addr)
			stranger.sendTo(c.tid, []byte{0, opACK, 0, 1})
			if p := stranger.mustError(5); p.from != c.tid {
				t.Fatalf("error 5 from %v", p.from)
			}
			c.sendTo(c.tid, []byte{0, 99, 1, 2, 3})
			c.ack(1)
			if p := c.mustData(2); len(p.data) != 100 {
				t.Fatalf("DATA 2 has %d bytes", len(p.data))
			}
			c.ack(1) // duplicate: ignored
			c.ack(2)
			if r := ts.result(t); r.Err != nil || r.Retransmits != 1 || r.Bytes != 1528 {
				t.Fatalf("result %+v", r)
			}

			c = newRawClient(t, ts.addr)
			c.rrq("f", "octet")
			c.mustData(1)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start = time.Now()
			if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Shutdown: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Shutdown took %v", d)
			}
			if p := c.mustError(0); string(p.data) != "server shutting down" {
				t.Errorf("message %q", p.data)
			}
			if r := ts.result(t); !errors.Is(r.Err, ErrServerClosed) {
				t.Errorf("result %+v", r)
			}
		})
	}
}

// TestSocketModesIPv6 downloads over ::1 both ways, and checks that a
// stranger there gets error 5 (the IPv6 address paths of the sockets).
func TestSocketModesIPv6(t *testing.T) {
	t.Parallel()
	for _, m := range socketModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
			if err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			h := newFakeHandler()
			h.files["f"] = genBytes(50_000)
			ts := startServerOn(t, Config{}, h, conn, false, func(s *Server) { s.directMax = func() int { return m.directMax } })
			got, _, err := download(t, ts.addr.String(), "f", "octet", 1428, false)
			if err != nil || !bytes.Equal(got, h.files["f"]) {
				t.Fatalf("download: %d bytes, %v", len(got), err)
			}
			if r := ts.result(t); r.Err != nil || r.Bytes != 50_000 {
				t.Fatalf("result %+v", r)
			}

			c := newRawClient(t, ts.addr)
			c.rrq("f", "octet")
			c.mustData(1)
			stranger := newRawClient(t, ts.addr)
			stranger.sendTo(c.tid, []byte{0, opACK, 0, 1})
			if p := stranger.mustError(5); p.from != c.tid {
				t.Fatalf("error 5 from %v", p.from)
			}
			c.sendError(0, "enough")
			ts.result(t)
		})
	}
}
