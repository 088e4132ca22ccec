package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// perfdhcp has no option for its socket's receive buffer and sets none
// (perfdhcp 2.2 under strace: only IP_PKTINFO on its UDP socket), so it
// reads with the kernel's default (net.core.rmem_default, 212992 bytes
// unless the host changed it; on the test kernel a network namespace
// cannot change it for itself).
// Answers that arrive while its receiving thread waits for a CPU pile up
// there, and on a machine whose cores the server and perfdhcp share the
// default overflows: the answers are dropped unread and count as the
// server's loss. A phone has a socket of its own; the load generator's
// one socket for thousands of clients is perfdhcp's limit, not the
// server's. widenSockets gives perfdhcp's sockets a larger buffer from
// outside, the way the paced clients set theirs (forceBuffers): it takes
// a copy of each socket descriptor with pidfd_getfd(2) (Linux 5.6) and
// sets SO_RCVBUFFORCE on it, which needs CAP_NET_ADMIN and the right to
// ptrace the process (the bench runs as root). The option belongs to the
// socket, not the descriptor, so perfdhcp reads with the new size.

// Polling for perfdhcp's sockets: every widenFirstPoll until the first is
// found (perfdhcp opens it just before it sends), then every
// widenLaterPoll for any it opens later.
const (
	widenFirstPoll = time.Millisecond
	widenLaterPoll = 50 * time.Millisecond
)

// widened is what widenSockets did to a process's sockets.
type widened struct {
	Sockets int // sockets given the larger buffer
	// Smallest is the smallest receive buffer read back (SO_RCVBUF) from
	// them, in bytes: Linux doubles the size asked for, for its own
	// bookkeeping. 0 when no socket was widened.
	Smallest int
}

// startWidening runs widenSockets on pid in the background (nothing when
// size is 0). The function it returns stops it and says what it did; it
// is an error too if none of pid's sockets was found.
func startWidening(ctx context.Context, pid int, comm string, size int) func() (widened, error) {
	if size <= 0 {
		return func() (widened, error) { return widened{}, nil }
	}
	ctx, stop := context.WithCancel(ctx)
	var w widened
	result := make(chan error, 1)
	go func() {
		var err error
		w, err = widenSockets(ctx, pid, comm, size)
		result <- err
	}()
	return func() (widened, error) {
		stop()
		if err := <-result; err != nil {
			return w, err
		}
		if w.Sockets == 0 {
			return w, fmt.Errorf("no socket of %s (pid %d) found to give a %d-byte receive buffer", comm, pid, size)
		}
		return w, nil
	}
}

// widenSockets sets the receive buffer of every UDP socket process pid holds
// to size bytes, once pid runs the program named comm (a command started
// through ip netns exec runs "ip" first), until ctx ends; it then returns
// what it did. An error stops it: a process that could not be reached,
// or a socket that kept the old size.
func widenSockets(ctx context.Context, pid int, comm string, size int) (widened, error) {
	var w widened
	pidfd := -1
	defer func() {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
	}()
	done := map[string]bool{} // socket inodes already widened
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return w, nil
		case <-poll.C:
		}
		if w.Sockets == 0 {
			poll.Reset(widenFirstPoll)
		} else {
			poll.Reset(widenLaterPoll)
		}
		if pidfd < 0 {
			running, err := runs(pid, comm)
			if err != nil || !running {
				continue // not yet exec'd, or already gone: ctx ends soon
			}
			pidfd, err = unix.PidfdOpen(pid, 0)
			if errors.Is(err, unix.ESRCH) {
				pidfd = -1
				continue // it exited since: ctx ends soon
			}
			if err != nil {
				return w, fmt.Errorf("pidfd_open %d (%s): %w", pid, comm, err)
			}
		}
		if err := widenNew(pidfd, pid, size, done, &w); err != nil {
			return w, fmt.Errorf("widen the receive buffer of %s (pid %d): %w", comm, pid, err)
		}
	}
}

// runs reports whether process pid runs the program comm (compared as the
// kernel keeps it: at most 15 bytes).
func runs(pid int, comm string) (bool, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(b)) == comm[:min(len(comm), 15)], nil
}

// widenNew widens the sockets of the process behind pidfd that are not in
// done yet, and adds them.
func widenNew(pidfd, pid, size int, done map[string]bool, w *widened) error {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // it exited
		}
		return err
	}
	for _, e := range fds {
		link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), e.Name()))
		if err != nil || !strings.HasPrefix(link, "socket:") || done[link] {
			continue // closed meanwhile, or not a socket, or done
		}
		target, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		got, err := forceReceiveBuffer(pidfd, target, size)
		if errors.Is(err, errNotUDP) {
			done[link] = true // perfdhcp's netlink socket, for one
			continue
		}
		if errors.Is(err, unix.EBADF) || errors.Is(err, unix.ESRCH) {
			continue // closed since the listing, or the process exited
		}
		if err != nil {
			return fmt.Errorf("descriptor %d (%s): %w", target, link, err)
		}
		if got < size {
			return fmt.Errorf("descriptor %d (%s): SO_RCVBUF reads %d after asking for %d", target, link, got, size)
		}
		done[link] = true
		w.Sockets++
		if w.Smallest == 0 || got < w.Smallest {
			w.Smallest = got
		}
	}
	return nil
}

// errNotUDP is forceReceiveBuffer's answer for a socket that is not a
// UDP one.
var errNotUDP = errors.New("not a UDP socket")

// forceReceiveBuffer sets SO_RCVBUFFORCE to size on descriptor target of
// the process behind pidfd, if it is a UDP socket, and returns SO_RCVBUF
// read back.
func forceReceiveBuffer(pidfd, target, size int) (int, error) {
	fd, err := unix.PidfdGetfd(pidfd, target, 0)
	if err != nil {
		return 0, fmt.Errorf("pidfd_getfd: %w", err)
	}
	defer unix.Close(fd)
	domain, derr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	typ, terr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if derr != nil || terr != nil || (domain != unix.AF_INET && domain != unix.AF_INET6) || typ != unix.SOCK_DGRAM {
		return 0, errNotUDP
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); err != nil {
		return 0, fmt.Errorf("SO_RCVBUFFORCE: %w", err)
	}
	got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0, fmt.Errorf("SO_RCVBUF: %w", err)
	}
	return got, nil
}
