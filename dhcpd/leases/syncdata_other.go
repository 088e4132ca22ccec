//go:build !linux

package leases

import "os"

// syncData flushes f to stable storage; without fdatasync(2) this is fsync.
func syncData(f *os.File) error { return f.Sync() }
