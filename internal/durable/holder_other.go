//go:build !linux

package durable

// lockHolder cannot name the holder of a file lock on this system.
func lockHolder(string) (int, bool) { return 0, false }

// processName cannot name a process on this system.
func processName(int) string { return "" }
