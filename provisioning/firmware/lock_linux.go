package firmware

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockImports takes an exclusive lock on the tree's import lock file, so two
// imports (from two shells, say) cannot interleave their renames.
func lockImports(filesDir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(filesDir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("import: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errors.New("import: another import into this file tree is running; try again when it has finished")
		}
		return nil, fmt.Errorf("import: lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

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
