package leases

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// lockPollInterval is how often openLocked retries a file another process holds.
const lockPollInterval = 10 * time.Millisecond

// openLocked opens, creating it if missing, the file at path and takes an
// exclusive flock(2) on it, retrying until timeout while another process
// holds it; then it fails with an InUseError naming the holder.
//
// Compaction replaces the journal by renaming a new, already locked file over
// it, so the file locked may have stopped being the one at path between the
// open and the lock (the holder compacted, then let the old file go).
// openLocked therefore checks after locking that the locked file is still the
// one at path, and starts again if not. beforeLock, when not nil, runs between
// the open and the lock (a test hook for that window).
func openLocked(path string, timeout time.Duration, beforeLock func()) (*os.File, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open lease journal: %w", err)
		}
		if beforeLock != nil {
			beforeLock()
		}
		err = flockExclusive(f)
		if err == nil {
			current, serr := isFileAt(f, path)
			if serr != nil {
				_ = f.Close()
				return nil, fmt.Errorf("open lease journal: %w", serr)
			}
			if current {
				return f, nil
			}
		} else if !errors.Is(err, unix.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock lease journal %s: %w", path, err)
		}
		_ = f.Close()
		if !time.Now().Before(deadline) {
			return nil, inUseError(path)
		}
		time.Sleep(min(lockPollInterval, time.Until(deadline)))
	}
}

// flockExclusive takes an exclusive flock on f without waiting; it fails
// with EWOULDBLOCK when another open file holds one.
func flockExclusive(f *os.File) error {
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
