package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// SyncData flushes f's data, and the metadata needed to read it back (its
// size), to stable storage: fdatasync(2), which skips the timestamps fsync
// would also write.
func SyncData(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
