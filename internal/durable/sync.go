package durable

import (
	"fmt"
	"os"
)

// SyncDir fsyncs the directory dir, making a file created, renamed or
// removed in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	return syncOpened(dir, d, err)
}

// SyncRootDir is SyncDir for the directory dir inside root.
func SyncRootDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	return syncOpened(dir, d, err)
}

// syncOpened fsyncs and closes the directory d that opening dir returned,
// with the error of that open.
func syncOpened(dir string, d *os.File, err error) error {
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// SyncClose fsyncs f and closes it, returning the first error.
func SyncClose(f *os.File) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
