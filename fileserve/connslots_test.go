package fileserve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// capServer is an HTTP-only server with max_connections set and a small
// file and a 4 MiB one to fetch.
func capServer(t *testing.T, max int) *testServer {
	t.Helper()
	srv := startServer(t, func(c *Config) {
		c.HTTPS.Enabled, c.TFTP.Enabled = false, false
		c.HTTP.MaxConnections = max
		c.HTTP.ReadHeaderTimeout = time.Minute // a silent first request is not timed out during the test
		c.HTTP.SendBuffer = 4096
	})
	for name, size := range map[string]int{"a.txt": 100, "big.bin": 4 << 20} {
		if err := os.WriteFile(filepath.Join(srv.filesDir, name), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

type capClient struct {
	net.Conn
	br *bufio.Reader
}

func dialCap(t *testing.T, srv *testServer) *capClient {
	t.Helper()
	c, err := net.Dial("tcp", srv.http)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &capClient{Conn: c, br: bufio.NewReader(c)}
}

func (c *capClient) send(t *testing.T, name string) {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n", name); err != nil {
		t.Fatal(err)
	}
}

// answer reads one response within wait and returns its body's length.
func (c *capClient) answer(wait time.Duration) (int, error) {
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return len(b), err
}

func (c *capClient) get(t *testing.T, name string) int {
	t.Helper()
	c.send(t, name)
	n, err := c.answer(10 * time.Second)
	if err != nil {
		t.Fatalf("GET %s: %v", name, err)
	}
	return n
}

// closedBy reports whether the server closed c within wait.
func (c *capClient) closedBy(wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.br.ReadByte()
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestMaxConnectionsQueuesPastTheCap: with max_connections open and busy
// (here: connected, first request not yet sent), a new connection gets no
// answer until one of them ends; with no cap it is answered at once.
func TestMaxConnectionsQueuesPastTheCap(t *testing.T) {
	for _, max := range []int{1, 0} {
		t.Run(fmt.Sprintf("max_connections=%d", max), func(t *testing.T) {
			srv := capServer(t, max)
			busy := dialCap(t, srv)
			time.Sleep(50 * time.Millisecond) // accepted before the next one
			next := dialCap(t, srv)
			next.send(t, "a.txt")
			if max == 0 {
				if _, err := next.answer(10 * time.Second); err != nil {
					t.Fatalf("with no cap a second connection was not answered: %v", err)
				}
				return
			}
			if _, err := next.answer(300 * time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("past the cap a second connection was answered (err %v)", err)
			}
			busy.Close()
			if n, err := next.answer(10 * time.Second); err != nil || n != 100 {
				t.Fatalf("after the busy connection closed: %d bytes, %v", n, err)
			}
			if got := testutil.ToFloat64(srv.metrics.connWaits); got < 1 {
				t.Errorf("connection_limit_waits_total = %v, want at least 1", got)
			}
		})
	}
}

// TestMaxConnectionsClosesIdleKeepAlive: keep-alive connections waiting
// for their next request make room for a new one: those already idle when
// it comes, the one that has waited longest first, and one that finishes
// its response while it waits.
func TestMaxConnectionsClosesIdleKeepAlive(t *testing.T) {
	t.Run("longest waiting first", func(t *testing.T) {
		const slots = 8
		srv := capServer(t, slots)
		var idle []*capClient
		for i := range slots {
			c := dialCap(t, srv)
			c.get(t, "a.txt")
			waitBetween(t, srv, i+1)
			time.Sleep(20 * time.Millisecond) // each waits a little less than the one before
			idle = append(idle, c)
		}
		c := dialCap(t, srv)
		if n := c.get(t, "a.txt"); n != 100 {
			t.Fatalf("new connection: %d bytes", n)
		}
		if !idle[0].closedBy(2 * time.Second) {
			t.Error("the connection that waited longest was not closed to make room")
		}
		if idle[slots-1].closedBy(200 * time.Millisecond) {
			t.Error("the connection that waited least was closed")
		}
		if got := testutil.ToFloat64(srv.metrics.connsClosedForRoom); got < 1 {
			t.Errorf("idle_connections_closed_total = %v, want at least 1", got)
		}
	})
	t.Run("idle after its response", func(t *testing.T) {
		srv := capServer(t, 1)
		a := dialCap(t, srv)
		a.send(t, "big.bin") // 4 MiB through a 4 KiB send buffer: busy until read
		time.Sleep(100 * time.Millisecond)
		c := dialCap(t, srv)
		c.send(t, "a.txt")
		time.Sleep(100 * time.Millisecond) // c waits for a's slot
		if n, err := a.answer(10 * time.Second); err != nil || n != 4<<20 {
			t.Fatalf("big download: %d bytes, %v", n, err)
		}
		if !a.closedBy(5 * time.Second) {
			t.Fatal("a connection that finished its response kept its slot while a new one waited")
		}
		if n, err := c.answer(10 * time.Second); err != nil || n != 100 {
			t.Fatalf("waiting connection: %d bytes, %v", n, err)
		}
	})
}

// waitBetween waits until n connections wait for a next request.
func waitBetween(t *testing.T, srv *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := 0
		for _, fc := range serverConns(srv.Server) {
			if fc.waitingSince.Load() != 0 {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections wait for a next request, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
