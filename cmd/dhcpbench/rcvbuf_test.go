package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// socketHolderEnv makes the test binary a socket holder (see
// TestSocketHolderProcess) instead of running tests.
const socketHolderEnv = "DHCPBENCH_SOCKET_HOLDER"

// TestSocketHolderProcess is not a test: run with socketHolderEnv set, it
// is the process whose socket TestWidenSockets widens. It opens a UDP
// socket, then answers each line on stdin with the socket's SO_RCVBUF.
func TestSocketHolderProcess(t *testing.T) {
	if os.Getenv(socketHolderEnv) == "" {
		t.Skip("helper process for TestWidenSockets")
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var size int
		var serr error
		if err := rc.Control(func(fd uintptr) { size, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) }); err != nil || serr != nil {
			fmt.Println("error", err, serr)
			os.Exit(1)
		}
		fmt.Println(size)
	}
	os.Exit(0)
}

// socketHolder is a running TestSocketHolderProcess.
type socketHolder struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startSocketHolder(t *testing.T) *socketHolder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSocketHolderProcess$")
	cmd.Env = append(os.Environ(), socketHolderEnv+"=1")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &socketHolder{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	t.Cleanup(func() {
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return h
}

// rcvbuf asks the holder for its socket's SO_RCVBUF.
func (h *socketHolder) rcvbuf(t *testing.T) int {
	t.Helper()
	if _, err := io.WriteString(h.in, "?\n"); err != nil {
		t.Fatal(err)
	}
	if !h.out.Scan() {
		t.Fatalf("socket holder said nothing: %v", h.out.Err())
	}
	var n int
	if _, err := fmt.Sscan(h.out.Text(), &n); err != nil {
		t.Fatalf("socket holder said %q", h.out.Text())
	}
	return n
}

func TestWidenSockets(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: SO_RCVBUFFORCE needs CAP_NET_ADMIN")
	}
	const size = 4 << 20
	ctx := t.Context()
	comm := filepath.Base(os.Args[0])

	t.Run("another program's sockets are left alone", func(t *testing.T) {
		h := startSocketHolder(t)
		before := h.rcvbuf(t)
		finish := startWidening(ctx, h.cmd.Process.Pid, "perfdhcp", size)
		time.Sleep(100 * time.Millisecond)
		w, err := finish()
		if err == nil || !strings.Contains(err.Error(), "no socket") {
			t.Errorf("widening a process that is not perfdhcp: %+v, %v; want the error that no socket was found", w, err)
		}
		if got := h.rcvbuf(t); got != before {
			t.Errorf("SO_RCVBUF %d, was %d: a process running another program was widened", got, before)
		}
	})

	t.Run("the program's socket reads with the larger buffer", func(t *testing.T) {
		h := startSocketHolder(t)
		before := h.rcvbuf(t)
		if before >= size {
			t.Fatalf("SO_RCVBUF is %d before widening, already at least %d: this test could not tell", before, size)
		}
		finish := startWidening(ctx, h.cmd.Process.Pid, comm, size)
		got := before
		for deadline := time.Now().Add(5 * time.Second); got < size && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			got = h.rcvbuf(t)
		}
		w, err := finish()
		if err != nil {
			t.Fatal(err)
		}
		if got < size {
			t.Fatalf("SO_RCVBUF in the process is %d after widening to %d (was %d)", got, size, before)
		}
		if w.Sockets != 1 || w.Smallest != got {
			t.Errorf("widened %+v; want 1 socket reading back %d, as the process sees it", w, got)
		}
	})
}

func TestStartWideningNothingAsked(t *testing.T) {
	w, err := startWidening(context.Background(), os.Getpid(), "perfdhcp", 0)()
	if err != nil || w != (widened{}) {
		t.Errorf("with size 0: %+v, %v; want nothing done and no error", w, err)
	}
}
