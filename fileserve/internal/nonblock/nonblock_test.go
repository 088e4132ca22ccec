package nonblock

import (
	"syscall"
	"testing"
)

// pair is a connected pair of non-blocking stream sockets, and a func
// that closes b (once; the test's end closes what is still open).
func pair(t *testing.T) (a, b uintptr, closeB func()) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	bOpen := true
	closeB = func() {
		if bOpen {
			syscall.Close(fds[1])
			bOpen = false
		}
	}
	t.Cleanup(func() {
		syscall.Close(fds[0])
		closeB()
	})
	return uintptr(fds[0]), uintptr(fds[1]), closeB
}

func TestReadWaitsForNothing(t *testing.T) {
	a, b, closeB := pair(t)
	buf := make([]byte, 16)
	if n, errno := Read(a, buf); errno != syscall.EAGAIN {
		t.Fatalf("read with nothing queued: %d, %v; want EAGAIN", n, errno)
	}
	if n, errno := Send(b, []byte("hello"), 0); n != 5 || errno != 0 {
		t.Fatalf("send: %d, %v", n, errno)
	}
	if n, errno := Read(a, buf); n != 5 || errno != 0 || string(buf[:n]) != "hello" {
		t.Fatalf("read: %d, %v, %q", n, errno, buf[:n])
	}
	closeB()
	if n, errno := Read(a, buf); n != 0 || errno != 0 {
		t.Fatalf("read after the peer closed: %d, %v; want 0, no error (end of stream)", n, errno)
	}
}

func TestSendStopsAtAFullBuffer(t *testing.T) {
	a, b, _ := pair(t)
	chunk := make([]byte, 64<<10)
	total := 0
	for i := 0; ; i++ {
		if i == 10000 {
			t.Fatal("a socket nobody reads took 640 MB without EAGAIN")
		}
		n, errno := Send(a, chunk, 0)
		if errno == syscall.EAGAIN {
			break
		}
		if errno != 0 {
			t.Fatalf("send: %v", errno)
		}
		total += n
	}
	got := 0
	buf := make([]byte, 64<<10)
	for {
		n, errno := Read(b, buf)
		if errno == syscall.EAGAIN {
			break
		}
		if errno != 0 {
			t.Fatalf("read: %v", errno)
		}
		got += n
	}
	if total == 0 || got != total {
		t.Fatalf("sent %d bytes before EAGAIN, read back %d", total, got)
	}
}

func TestSendToAClosedPeerIsEPIPE(t *testing.T) {
	a, _, closeB := pair(t)
	closeB()
	if _, errno := Send(a, []byte("x"), 0); errno != syscall.EPIPE {
		t.Fatalf("send to a closed peer: %v; want EPIPE", errno)
	}
}
