package fileserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// ServedFile is one file the server offers by name.
type ServedFile struct {
	Name    string    `json:"name"` // as a phone asks for it
	Source  Source    `json:"source"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modified,omitzero"`
}

// Listing is what the server offers from its own sources, for the admin
// listener. Generated names are the generator's to list.
type Listing struct {
	Files []ServedFile `json:"files"` // by name
	// Complete is false when the walk stopped at its limit before it had
	// seen the whole tree: there may be operator files it does not list.
	Complete bool `json:"complete"`
}

// readDirBatch is how many entries the walk reads from a directory at once.
const readDirBatch = 256

// Files lists the operator's tree (regular files only, as served: hidden
// names and anything outside the tree are left out) and the built-in files,
// at most limit operator files. The walk stays inside the tree through the
// same os.Root that serves it, and does not follow symbolic links to
// directories; it reads at most 8×limit directory entries, so a tree full
// of hidden files cannot make it long.
func (s *Server) Files(ctx context.Context, limit int) (Listing, error) {
	st := s.state.Load()
	l, err := st.ns.operatorFiles(ctx, limit)
	if err != nil {
		return Listing{}, err
	}
	for _, b := range st.ns.builtin {
		l.Files = append(l.Files, ServedFile{Name: b.name, Source: SourceBuiltin, Size: int64(len(b.data)), ModTime: b.mod})
	}
	slices.SortFunc(l.Files, func(a, b ServedFile) int { return strings.Compare(a.Name, b.Name) })
	return l, nil
}

func (ns *Namespace) operatorFiles(ctx context.Context, limit int) (Listing, error) {
	budget := 8 * limit
	l := Listing{Complete: true}
	dirs := []string{"."}
	for len(dirs) > 0 {
		if err := ctx.Err(); err != nil {
			return Listing{}, err
		}
		dir := dirs[len(dirs)-1]
		dirs = dirs[:len(dirs)-1]
		more, err := ns.listDir(dir, &l, &budget, limit)
		if err != nil {
			return Listing{}, err
		}
		dirs = append(dirs, more...)
		if !l.Complete {
			break
		}
	}
	return l, nil
}

// listDir adds dir's served files to l and returns its subdirectories. It
// marks l incomplete when the file limit or the entry budget runs out.
func (ns *Namespace) listDir(dir string, l *Listing, budget *int, limit int) ([]string, error) {
	d, err := ns.root.Open(dir)
	if err != nil {
		if dir != "." && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
			return nil, nil // removed or unreadable since its parent was read: not served either
		}
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	defer d.Close()
	var subdirs []string
	for {
		entries, err := d.ReadDir(readDirBatch)
		for _, e := range entries {
			if *budget <= 0 || len(l.Files) >= limit {
				l.Complete = false
				return subdirs, nil
			}
			*budget--
			if strings.HasPrefix(e.Name(), ".") {
				continue // never served (see CleanName)
			}
			name := path.Join(dir, e.Name())
			switch t := e.Type(); {
			case t.IsDir():
				subdirs = append(subdirs, name)
			case t.IsRegular():
				if fi, err := e.Info(); err == nil {
					l.Files = append(l.Files, ServedFile{Name: name, Source: SourceOperator, Size: fi.Size(), ModTime: fi.ModTime()})
				}
			case t&fs.ModeSymlink != 0:
				// Served when it leads to a regular file inside the tree.
				if fi, err := ns.root.Stat(name); err == nil && fi.Mode().IsRegular() {
					l.Files = append(l.Files, ServedFile{Name: name, Source: SourceOperator, Size: fi.Size(), ModTime: fi.ModTime()})
				}
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(entries) == 0) {
			return subdirs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
	}
}

// Transfers counts the transfers in progress by protocol.
type Transfers struct {
	HTTP  int `json:"http"`
	HTTPS int `json:"https"`
	TFTP  int `json:"tftp"`
}

// Total is every transfer in progress.
func (t Transfers) Total() int { return t.HTTP + t.HTTPS + t.TFTP }

// ActiveTransfers is what the phoneprov_fileserve_active_transfers gauges
// show, read now.
func (s *Server) ActiveTransfers() Transfers {
	return Transfers{
		HTTP:  int(s.activeTransfers("http")),
		HTTPS: int(s.activeTransfers("https")),
		TFTP:  int(s.activeTransfers("tftp")),
	}
}

// Root is the operator's tree the server serves now (it changes on reload).
func (s *Server) Root() string {
	if r := s.state.Load().cfg.Root; r != "" {
		return r
	}
	return s.opts.FilesDir
}
