package fileserve

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestSendBufferFixedUnlessAlone: a connection opened while another is
// open gets the fixed send buffer; the first, alone, keeps the kernel's
// autotuning.
func TestSendBufferFixedUnlessAlone(t *testing.T) {
	srv := startServer(t, func(c *Config) { c.HTTPS.Enabled, c.TFTP.Enabled = false, false })
	if err := os.WriteFile(filepath.Join(srv.filesDir, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, second := dialCap(t, srv), dialCap(t, srv)
	first.get(t, "a.txt") // tracked before the second is accepted
	second.get(t, "a.txt")
	want := DefaultSendBuffer
	if b, err := os.ReadFile("/proc/sys/net/core/wmem_max"); err == nil {
		if limit, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && limit < want {
			want = limit // the kernel caps it there
		}
	}
	fixed := 2 * want // the kernel doubles it for its bookkeeping
	for _, c := range []*capClient{first, second} {
		got := serverSendBuffer(t, srv, c.LocalAddr())
		if isFirst := c == first; (got == fixed) == isFirst {
			t.Errorf("first connection %v: SO_SNDBUF %d (fixed is %d)", isFirst, got, fixed)
		}
	}
}

// serverSendBuffer is SO_SNDBUF of the server's end of the connection
// from client.
func serverSendBuffer(t *testing.T, srv *testServer, client net.Addr) int {
	t.Helper()
	want := addrPortOf(client)
	for _, fc := range serverConns(srv.Server) {
		if fc.remote != want {
			continue
		}
		var got int
		var gerr error
		fc.direct.raw.Control(func(fd uintptr) { got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF) })
		if gerr != nil {
			t.Fatal(gerr)
		}
		return got
	}
	t.Fatalf("no server connection from %v", client)
	return 0
}
