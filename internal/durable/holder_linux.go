package durable

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// lockHolder finds the process holding a flock on path by matching the file's
// device and inode in /proc/locks. It is best effort: ok is false when the
// holder cannot be told (no /proc, another pid namespace, a lock just released).
func lockHolder(path string) (pid int, ok bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	st, isUnix := fi.Sys().(*syscall.Stat_t)
	if !isUnix {
		return 0, false
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	dev := uint64(st.Dev) // Dev is uint32 on some architectures
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(dev), unix.Minor(dev), st.Ino)
	return findLockHolder(bufio.NewScanner(f), want)
}

// findLockHolder scans /proc/locks lines such as
//
//	3: FLOCK  ADVISORY  WRITE 4711 fd:01:1835021 0 EOF
//
// for a granted lock (not a "->" waiter) on the device:inode want.
func findLockHolder(sc *bufio.Scanner, want string) (int, bool) {
	for lines := 0; sc.Scan() && lines < 100000; lines++ {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[1] != "FLOCK" {
			continue
		}
		if fields[5] != want {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid <= 0 {
			continue
		}
		return pid, true
	}
	return 0, false
}

// processName returns the command name of pid, or "" if unknown.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
