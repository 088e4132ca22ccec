//go:build !linux

package firmware

// lockImports does not lock on systems other than Linux, which the
// appliance does not run on; imports there must not run concurrently.
func lockImports(string) (func(), error) { return func() {}, nil }

// checkFreeSpace is not checked off Linux; the copy fails when space runs out.
func checkFreeSpace(string, int64) error { return nil }
