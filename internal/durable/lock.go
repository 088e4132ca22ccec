package durable

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ErrInUse is wrapped by the errors of OpenLocked when another process holds
// the lock.
var ErrInUse = errors.New("file is in use")

// InUseError says another process holds a file's lock. It matches ErrInUse
// with errors.Is.
type InUseError struct {
	// What names the file for a person: "lease database", "lock file".
	What string
	Path string
	// PID and Process name the holder; PID is 0 when it cannot be told.
	PID     int
	Process string
}

// Error names the file and, when known, the process holding it.
func (e *InUseError) Error() string {
	holder := "pid unknown"
	if e.PID > 0 {
		holder = fmt.Sprintf("pid %d", e.PID)
		if e.Process != "" {
			holder += ", " + e.Process
		}
	}
	return fmt.Sprintf("%s %s is in use by another phoneprov (%s)", e.What, e.Path, holder)
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// lockPollInterval is how often OpenLocked retries a file another process holds.
const lockPollInterval = 10 * time.Millisecond

// OpenLocked opens the file at path read-write, creating it (mode perm) if
// missing, and takes an exclusive flock(2) on it, retrying until timeout
// while another process holds it (zero: one try); then it fails with an
// *InUseError naming the holder, described as what. The kernel drops the
// lock when the file is closed or the process dies, so a crash leaves no
// stale lock.
//
// A journal is rewritten by renaming a new, already locked file over it
// (TryLock), so the file locked may have stopped being the one at path
// between the open and the lock. OpenLocked therefore checks after locking
// that the locked file is still the one at path, and starts again if not.
func OpenLocked(path, what string, perm os.FileMode, timeout time.Duration) (*os.File, error) {
	return openLocked(path, what, perm, timeout, nil)
}

// openLocked is OpenLocked; beforeLock, when not nil, runs between the open
// and the lock (a test hook for that window).
func openLocked(path, what string, perm os.FileMode, timeout time.Duration, beforeLock func()) (*os.File, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, perm)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", what, err)
		}
		if beforeLock != nil {
			beforeLock()
		}
		err = TryLock(f)
		if err == nil {
			current, serr := isFileAt(f, path)
			if serr != nil {
				_ = f.Close()
				return nil, fmt.Errorf("open %s: %w", what, serr)
			}
			if current {
				return f, nil
			}
		} else if !errors.Is(err, unix.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s %s: %w", what, path, err)
		}
		_ = f.Close()
		if !time.Now().Before(deadline) {
			return nil, inUseError(what, path)
		}
		time.Sleep(min(lockPollInterval, time.Until(deadline)))
	}
}

// Holder returns the process that holds a flock on path, without taking
// or disturbing the lock: ok is false when none does, or when it cannot
// be told (no /proc, another pid namespace).
func Holder(path string) (pid int, ok bool) { return lockHolder(path) }

// TryLock takes an exclusive flock on f without waiting; it fails with
// EWOULDBLOCK when another open file holds one. A rewrite locks its new
// file with it before renaming that file into place, so no other process
// can take the path in between.
func TryLock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}

// isFileAt reports whether the open file f is the file now at path.
func isFileAt(f *os.File, path string) (bool, error) {
	open, err := f.Stat()
	if err != nil {
		return false, err
	}
	named, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(open, named), nil
}

func inUseError(what, path string) error {
	e := &InUseError{What: what, Path: path}
	// The holder may rewrite the file, putting a new locked file at path,
	// between the lookup's stat and its read of the lock table: look again.
	for range 3 {
		if pid, ok := lockHolder(path); ok {
			e.PID, e.Process = pid, processName(pid)
			break
		}
	}
	return e
}
