package nonblock

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// tempFile is a file holding data, open for reading, and its descriptor.
func tempFile(t *testing.T, data []byte) (*os.File, uintptr) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, f.Fd() // a regular file: Fd leaves its mode alone
}

func TestSendFileSendsFromTheOffsetAndAdvancesIt(t *testing.T) {
	a, b, _ := pair(t)
	_, fd := tempFile(t, []byte("0123456789"))
	off := int64(3)
	if n, errno := SendFile(b, fd, &off, 5); n != 5 || errno != 0 || off != 8 {
		t.Fatalf("SendFile: %d, %v, offset %d; want 5, 0, 8", n, errno, off)
	}
	buf := make([]byte, 16)
	if n, _ := Read(a, buf); string(buf[:n]) != "34567" {
		t.Fatalf("the peer read %q, want %q", buf[:n], "34567")
	}
	if n, errno := SendFile(b, fd, &off, 5); n != 2 || errno != 0 {
		t.Fatalf("SendFile past the end: %d, %v; want the 2 bytes left", n, errno)
	}
	if n, errno := SendFile(b, fd, &off, 5); n != 0 || errno != 0 {
		t.Fatalf("SendFile at the end: %d, %v; want 0, 0", n, errno)
	}
}

func TestSendFileStopsAtAFullSocket(t *testing.T) {
	_, b, _ := pair(t) // a never reads
	_, fd := tempFile(t, make([]byte, 16<<20))
	var off int64
	for range 1000 {
		n, errno := SendFile(b, fd, &off, 1<<20)
		if errno == syscall.EAGAIN {
			if off == 0 {
				t.Fatal("EAGAIN before anything was sent")
			}
			return
		}
		if errno != 0 || n == 0 {
			t.Fatalf("SendFile at offset %d: %d, %v", off, n, errno)
		}
	}
	t.Fatalf("no EAGAIN after %d bytes to a peer that does not read", off)
}

// A file's pages are cached once read, and not once the kernel has been
// told to drop them.
func TestCachedFollowsThePageCache(t *testing.T) {
	data := bytes.Repeat([]byte("firmware"), 256<<10) // 2 MiB
	f, fd := tempFile(t, data)
	if err := unix.Cachestat(uint(fd), &unix.CachestatRange{}, &unix.Cachestat_t{}, 0); errors.Is(err, unix.ENOSYS) {
		t.Skip("the kernel has no cachestat (Linux 6.5 and later); Cached is false on it")
	}
	if _, err := f.ReadAt(make([]byte, len(data)), 0); err != nil {
		t.Fatal(err)
	}
	if !Cached(fd, 0, len(data)) || !Cached(fd, 12345, 100000) {
		t.Fatal("Cached is false for a file just read whole")
	}
	if Cached(fd, 0, 0) {
		t.Fatal("Cached is true for an empty range")
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(fd), &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skip("the test's directory is on tmpfs, whose pages cannot be dropped")
	}
	if err := f.Sync(); err != nil { // dirty pages are not dropped
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if Cached(fd, 0, len(data)) || Cached(fd, 1<<20, 4096) {
		t.Fatal("Cached is true for pages the kernel was told to drop")
	}
	if _, err := f.ReadAt(make([]byte, 4096), 1<<20); err != nil {
		t.Fatal(err)
	}
	if !Cached(fd, 1<<20, 4096) {
		t.Fatal("Cached is false for a page read again")
	}
}

// BenchmarkCached looks up ranges of a cached 4 MiB file, from one page to
// all of it.
func BenchmarkCached(b *testing.B) {
	f, err := os.CreateTemp(b.TempDir(), "f")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	data := make([]byte, 4<<20)
	if _, err := f.Write(data); err != nil {
		b.Fatal(err)
	}
	if _, err := f.ReadAt(data, 0); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{4 << 10, 256 << 10, 4 << 20} {
		b.Run(strconv.Itoa(n>>10)+"KiB", func(b *testing.B) {
			for b.Loop() {
				if !Cached(f.Fd(), 0, n) {
					b.Fatal("not cached")
				}
			}
		})
	}
}
