package firmware

import (
	"fmt"
	"syscall"
)

// checkFreeSpace refuses an import that would fill the file system: the
// bundle plus a margin of 5% and 64 MiB must fit.
func checkFreeSpace(filesDir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filesDir, &st); err != nil {
		return nil // unknown: let the copy find out
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	want := uint64(need) + uint64(need)/20 + 64<<20
	if free < want {
		return fmt.Errorf("import: the bundle needs %d MiB but only %d MiB are free on the file system of %s",
			want>>20, free>>20, filesDir)
	}
	return nil
}
