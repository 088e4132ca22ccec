package nonblock

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SendFile sends up to n bytes of the file in, from *off, on the socket
// out, which must be non-blocking, and advances *off by what it sent:
// sendfile(2). It returns the count (0 at the end of the file), or the
// error number (EAGAIN when the socket buffer is full). EINTR is retried.
//
// The call skips the runtime's entry, so the P is held while it runs: it
// is only for a range that Cached has found in the page cache. From
// the cache, sendfile takes pages into the socket without waiting for a
// disk; a page missing would make it wait for the read while holding the P.
func SendFile(out, in uintptr, off *int64, n int) (int, syscall.Errno) {
	for {
		m, _, errno := syscall.RawSyscall6(sysSendfile, out, in, uintptr(unsafe.Pointer(off)), uintptr(n), 0, 0)
		if errno != syscall.EINTR {
			return int(m), errno
		}
	}
}

// Cached reports whether every page of the n bytes of the file fd from off
// is in the page cache, with cachestat(2) (Linux 6.5 and later), which
// only looks the pages up. It reports false when it cannot tell: on an
// older kernel (ENOSYS), under a seccomp filter that refuses the call
// (EPERM; the systemd unit allows it by name), or when n is not above 0.
func Cached(fd uintptr, off int64, n int) bool {
	if n <= 0 || off < 0 {
		return false
	}
	r := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	var st unix.Cachestat_t
	_, _, errno := syscall.RawSyscall6(unix.SYS_CACHESTAT, fd, uintptr(unsafe.Pointer(&r)), uintptr(unsafe.Pointer(&st)), 0, 0, 0)
	if errno != 0 {
		return false
	}
	page := int64(os.Getpagesize())
	pages := (off+int64(n)-1)/page - off/page + 1
	return st.Cache >= uint64(pages)
}
