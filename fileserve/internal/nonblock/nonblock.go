// Package nonblock reads and sends on non-blocking descriptors with
// syscall.RawSyscall, past the Go runtime's system-call entry.
//
// On entering a system call the runtime wakes its monitor thread (sysmon)
// if that thread went to sleep because every P was idle, so that it could
// take the P back should the call block. A server answering one request
// at a time goes idle between requests, so sysmon falls asleep and is
// woken again before nearly every request: a futex wake of a thread on
// another CPU, then sysmon's own round of short sleeps before it sleeps
// again. A perf profile (cpu-clock, call graphs) of phoneprov answering
// wrk's one HTTPS connection, 2 KiB per request, put 15 % of the server's
// CPU there: 5.1 % in runtime.entersyscallWakeSysmon and 10.3 % on the
// sysmon thread.
//
// A call on a descriptor opened non-blocking returns at once (EAGAIN when
// it would wait), so it never needs its P taken and may skip that entry.
// cloudwego/netpoll (readv and writev in sys_exec.go) and gVisor
// (rawfile's BlockingReadv) make the same calls the same way. Only such
// descriptors belong here: reads of regular files may wait for a disk and
// keep the runtime's entry. sendfile may too, unless the range it sends is
// in the page cache; SendFile is for such a range (Cached) only.
package nonblock

import (
	"syscall"
	"unsafe"
)

// Read reads into p from fd, which must be non-blocking: the count, or
// the error number (EAGAIN when nothing is waiting). EINTR is retried.
// p must not be empty.
func Read(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != syscall.EINTR {
			return int(n), errno
		}
	}
}

// Send sends p on the socket fd, which must be non-blocking, with the
// send(2) flags given (MSG_MORE holds a partial segment back for what
// follows) and MSG_NOSIGNAL, so a peer gone gives EPIPE, not a signal: the
// count sent, or the error number (EAGAIN when the socket buffer is
// full). EINTR is retried. p must not be empty.
func Send(fd uintptr, p []byte, flags int) (int, syscall.Errno) {
	for {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
			uintptr(flags|syscall.MSG_NOSIGNAL), 0, 0)
		if errno != syscall.EINTR {
			return int(n), errno
		}
	}
}
