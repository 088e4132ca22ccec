package fileserve

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phoneprov/phoneprov/fileserve/internal/nonblock"
)

// directPair is a directConn on the accepting side of a loopback TCP
// connection, and the plain client side.
func directPair(t *testing.T) (*directConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDirectConn(server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, client
}

func TestDirectConnReadsWhatArrivesThenEOF(t *testing.T) {
	d, client := directPair(t)
	go func() {
		client.Write([]byte("GET /a HTTP/1.1\r\n"))
		time.Sleep(20 * time.Millisecond) // the second read has to wait for the poller
		client.Write([]byte("\r\n"))
		client.Close()
	}()
	d.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if string(got) != "GET /a HTTP/1.1\r\n\r\n" {
		t.Fatalf("read %q", got)
	}
	if n, err := d.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v; want 0, io.EOF", n, err)
	}
}

func TestDirectConnReadDeadlineIsATimeout(t *testing.T) {
	d, _ := directPair(t)
	d.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := d.Read(make([]byte, 8))
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %d, %v; want 0 and a timeout", n, err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "read" {
		t.Fatalf("error %v is not a read *net.OpError", err)
	}
}

func TestDirectConnReadAfterCloseIsErrClosed(t *testing.T) {
	d, _ := directPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := d.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read wait in the poller
	d.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed connection: %v; want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read waiting for data did not end when the connection closed")
	}
}

// readSlowlyAtFirst reads n bytes from client, or until an error, and
// sends what it read on the channel. It pauses after each read of the
// first MiB, so the writer meets a full socket buffer.
func readSlowlyAtFirst(client *net.TCPConn, n int) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 64<<10)
		for b.Len() < n {
			m, err := client.Read(buf)
			b.Write(buf[:m])
			if err != nil {
				break
			}
			if b.Len() < 1<<20 {
				time.Sleep(time.Millisecond)
			}
		}
		got <- b.Bytes()
	}()
	return got
}

// A write larger than the socket buffers completes while the reader
// drains slowly: each EAGAIN waits for the poller, and no byte is lost or
// sent twice.
func TestDirectConnWritesAllOfALargeBuffer(t *testing.T) {
	d, client := directPair(t)
	want := make([]byte, 8<<20)
	for i := range want {
		want[i] = byte(i*7 + i>>9)
	}
	got := readSlowlyAtFirst(client, len(want))
	d.SetWriteDeadline(time.Now().Add(30 * time.Second))
	n, err := d.Write(want)
	if n != len(want) || err != nil {
		t.Fatalf("Write: %d, %v; want %d, nil", n, err, len(want))
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the reader got %d bytes, not the %d written", len(b), len(want))
	}
}

func TestDirectConnWriteDeadlineReportsWhatWasSent(t *testing.T) {
	d, _ := directPair(t)       // the client never reads
	big := make([]byte, 64<<20) // more than both sockets' buffers hold
	d.SetWriteDeadline(time.Now().Add(time.Second))
	n, err := d.Write(big)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("write to a peer that does not read: %v; want a timeout", err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("write stopped by its deadline reported %d bytes sent", n)
	}
}

// A write to a peer that has gone fails with the error the kernel gave.
func TestDirectConnWriteToAGonePeerFails(t *testing.T) {
	d, client := directPair(t)
	client.SetLinger(0) // close with a reset
	client.Close()
	d.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var err error
	for range 100 { // the reset reaches the socket after the first write at the latest
		if _, err = d.Write([]byte("HTTP/1.1 200 OK\r\n\r\n")); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write to a reset peer: %v; want ECONNRESET or EPIPE", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "write" {
		t.Fatalf("error %v is not a write *net.OpError", err)
	}
}

// Read and Write allocate nothing when they succeed: the fast path
// answers a cached file with one allocation per request
// (BenchmarkSmallFileRequest), and a func literal given to the RawConn per
// call would add three to each read and each write.
func TestDirectConnReadWriteDoNotAllocate(t *testing.T) {
	d, client := directPair(t)
	d.SetDeadline(time.Now().Add(time.Minute))
	client.SetDeadline(time.Now().Add(time.Minute))
	msg := []byte("GET /a HTTP/1.1\r\n\r\n")
	buf := make([]byte, len(msg))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(d, buf); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a read and a write took %.1f allocations; want none", allocs)
	}
}

// fileOf is a file holding data, open for reading.
func fileOf(t *testing.T, data []byte) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "firmware.bin")
	write(t, name, string(data))
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// sendFile delivers a file whole whether its pages are in the page cache
// (each call raw) or not (each call through the runtime's entry), to a
// reader slow enough at first that the socket fills.
func TestDirectConnSendFileSendsTheWholeFile(t *testing.T) {
	want := make([]byte, 8<<20+123)
	for i := range want {
		want[i] = byte(i*13 + i>>11)
	}
	for _, cached := range []bool{true, false} {
		t.Run(map[bool]string{true: "cached", false: "not cached"}[cached], func(t *testing.T) {
			d, client := directPair(t)
			f := fileOf(t, want)
			fd := f.Fd() // a regular file: Fd leaves its mode alone
			if !cached {
				f.Sync() // dirty pages are not dropped
				unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED)
				if nonblock.Cached(fd, 0, 4096) {
					t.Skip("the file's pages could not be dropped (tmpfs?)")
				}
			} else {
				if _, err := f.ReadAt(make([]byte, len(want)), 0); err != nil {
					t.Fatal(err)
				}
				if !nonblock.Cached(fd, 0, len(want)) {
					t.Skip("cachestat cannot tell the file is cached (Linux before 6.5?), so no call would be raw")
				}
			}
			got := readSlowlyAtFirst(client, len(want))
			d.SetWriteDeadline(time.Now().Add(30 * time.Second))
			n, err := d.sendFile(f, int64(len(want)))
			if n != int64(len(want)) || err != nil {
				t.Fatalf("sendFile: %d, %v; want %d, nil", n, err, len(want))
			}
			if b := <-got; !bytes.Equal(b, want) {
				t.Fatalf("the reader got %d bytes, not the %d of the file", len(b), len(want))
			}
		})
	}
}

// A file that ends before the size given (it shrank after the headers
// announced it) gives what it had and io.ErrUnexpectedEOF.
func TestDirectConnSendFileOfAShortFileFails(t *testing.T) {
	d, client := directPair(t)
	f := fileOf(t, []byte("short"))
	go io.Copy(io.Discard, client)
	d.SetWriteDeadline(time.Now().Add(10 * time.Second))
	n, err := d.sendFile(f, 100)
	if n != 5 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("sendFile of 5 bytes as 100: %d, %v; want 5, io.ErrUnexpectedEOF", n, err)
	}
}

func TestDirectConnSendFileDeadlineIsATimeout(t *testing.T) {
	d, _ := directPair(t) // the client never reads
	f := fileOf(t, nil)
	if err := os.Truncate(f.Name(), 64<<20); err != nil { // more than both sockets' buffers hold
		t.Fatal(err)
	}
	d.SetWriteDeadline(time.Now().Add(time.Second))
	n, err := d.sendFile(f, 64<<20)
	var op *net.OpError
	if !errors.As(err, &op) || !op.Timeout() || op.Op != "sendfile" {
		t.Fatalf("sendFile to a peer that does not read: %v; want a sendfile *net.OpError that is a timeout", err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("sendFile stopped by its deadline reported %d bytes sent", n)
	}
}
