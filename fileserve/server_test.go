package fileserve

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestAcceptedConnectionsHaveTheSendBuffer(t *testing.T) {
	lns, err := listenTCP("http", []string{"127.0.0.1:0"}, DefaultSendBuffer)
	if err != nil {
		t.Fatal(err)
	}
	defer lns[0].Close()
	client, err := net.Dial("tcp", lns[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := lns[0].Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	raw.Control(func(fd uintptr) { got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	want := DefaultSendBuffer
	if b, err := os.ReadFile("/proc/sys/net/core/wmem_max"); err == nil {
		if limit, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && limit < want {
			want = limit // the kernel caps it there
		}
	}
	if got != 2*want { // and doubles it for its bookkeeping
		t.Fatalf("SO_SNDBUF %d, want %d", got, 2*want)
	}
}
