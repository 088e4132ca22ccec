package durable

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// TempPrefix starts the name of every temporary file this package creates,
// so the folder's owner can recognise (IsTemp) and remove the leftovers of
// writes a crash cut short.
const TempPrefix = ".tmp-"

// IsTemp reports whether the file name base is one of this package's
// temporary files.
func IsTemp(base string) bool { return strings.HasPrefix(base, TempPrefix) }

// WriteFile replaces the file at path with data, so that readers, and a
// crash, see either the old content or the complete new content: a
// temporary file beside it, fsync, rename over path, fsync of the folder.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, false)
}

// CreateFile is WriteFile for a file that must not exist yet: when one is
// already at path it is left alone and the error wraps fs.ErrExist.
func CreateFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, true)
}

func writeFile(target string, data []byte, perm fs.FileMode, noReplace bool) (err error) {
	dir, name := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPrefix+name+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	tmp := f.Name()
	defer func() {
		// After a rename the temporary name no longer exists; after a link
		// it must go. Either way removing it is right.
		_ = os.Remove(tmp)
		if err != nil {
			err = fmt.Errorf("write %s: %w", target, err)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := SyncClose(f); err != nil {
		return err
	}
	if noReplace {
		if err := linkNew(tmp, target); err != nil {
			return err
		}
	} else if err := os.Rename(tmp, target); err != nil {
		return err
	}
	return SyncDir(dir)
}

// linkNew gives the file at tmp the name target unless target exists.
func linkNew(tmp, target string) error {
	err := os.Link(tmp, target)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// Hard links unsupported here: fall back to check-then-rename, which is
	// only racy against another process creating the same file.
	if _, statErr := os.Lstat(target); statErr == nil {
		return fs.ErrExist
	} else if !errors.Is(statErr, fs.ErrNotExist) {
		return statErr
	}
	return os.Rename(tmp, target)
}

// CreateTemp creates, inside root, a new temporary file beside name (in the
// same folder, so a rename moves it over name in one step), named
// TempPrefix+base+"-"+random. The caller writes it, makes it durable with
// SyncClose, renames it into place and syncs the folder (SyncRootDir).
func CreateTemp(root *os.Root, name string, perm fs.FileMode) (*os.File, string, error) {
	dir, base := path.Split(name)
	var lastErr error
	for range 5 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		tmp := dir + TempPrefix + base + "-" + hex.EncodeToString(b[:])
		f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err == nil {
			return f, tmp, nil
		}
		lastErr = err
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return nil, "", fmt.Errorf("create temporary file for %s: %w", name, lastErr)
}
