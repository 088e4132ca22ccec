package main

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
)

// testFile is one file both servers of a pair serve.
type testFile struct {
	Name string // path below the files root, no leading slash
	Size int64
	Sum  [sha256.Size]byte
}

// workspace is the temporary directory a run keeps everything in.
type workspace struct {
	Dir   string // the temporary directory itself
	Files string // the served tree, shared by every server

	Big   testFile // 10 MiB, over HTTP(S)
	Small testFile // 2 KiB, over HTTP(S)
	TFTP  testFile // 4 MiB, over TFTP
}

// newWorkspace creates the temporary directory with the served files, all
// random bytes. Everything is world-readable and the directories
// world-traversable, because nginx workers and in.tftpd drop root for nobody.
func newWorkspace() (*workspace, error) {
	dir, err := os.MkdirTemp("", "phonebench-")
	if err != nil {
		return nil, fmt.Errorf("create workspace: %w", err)
	}
	ws := &workspace{
		Dir:   dir,
		Files: filepath.Join(dir, "files"),
		Big:   testFile{Name: "firmware-big.bin", Size: 10 << 20},
		Small: testFile{Name: "settings-small.bin", Size: 2 << 10},
		TFTP:  testFile{Name: "firmware-tftp.bin", Size: 4 << 20},
	}
	if err := ws.populate(&ws.Big, &ws.Small, &ws.TFTP); err != nil {
		ws.remove()
		return nil, err
	}
	return ws, nil
}

func (ws *workspace) populate(files ...*testFile) error {
	if err := os.Chmod(ws.Dir, 0o755); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	if err := os.Mkdir(ws.Files, 0o755); err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	for _, f := range files {
		if err := ws.add(f); err != nil {
			return err
		}
	}
	return nil
}

// path returns a path inside the workspace.
func (ws *workspace) path(elem ...string) string {
	return filepath.Join(append([]string{ws.Dir}, elem...)...)
}

// remove deletes the workspace.
func (ws *workspace) remove() { _ = os.RemoveAll(ws.Dir) }

// add writes one more random file into the served tree.
func (ws *workspace) add(f *testFile) error {
	data := make([]byte, f.Size)
	_, _ = rand.Read(data) // never fails
	f.Sum = sha256.Sum256(data)
	if err := os.WriteFile(filepath.Join(ws.Files, f.Name), data, 0o644); err != nil {
		return fmt.Errorf("create test file: %w", err)
	}
	return nil
}
