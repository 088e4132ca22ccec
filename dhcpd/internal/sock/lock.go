package sock

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// Lock is an exclusive lock on a file, held until Close or process exit; the
// kernel drops it when the process dies, so a crash leaves no stale lock.
type Lock struct {
	f *os.File
}

// Acquire takes the lock on dir/name (creating dir and the file), failing at
// once with an error wrapping durable.ErrInUse, naming the holder, if another
// process holds it.
func Acquire(dir, name string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock directory: %w", err)
	}
	f, err := durable.OpenLocked(filepath.Join(dir, name), "lock file", 0o644, 0)
	if err != nil {
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Close releases the lock. The file stays, so the next holder reuses it.
func (l *Lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
