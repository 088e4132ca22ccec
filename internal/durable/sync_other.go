//go:build !linux

package durable

import "os"

// SyncData flushes f to stable storage; without fdatasync(2) this is fsync.
func SyncData(f *os.File) error { return f.Sync() }
