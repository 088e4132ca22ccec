package firmware

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// entry is one file of a bundle to import.
type entry struct {
	name string // cleaned relative path, '/'-separated, after stripping a common top folder
	orig string // as written in the source, for messages
	size int64
	open func() (io.ReadCloser, error)
}

// bundle is a vendor bundle opened for reading.
type bundle struct {
	entries []entry
	skipped []FileResult // junk left out (resource forks, .DS_Store, …)
	close   func() error
}

// limits bound what an import accepts.
type limits struct {
	maxFile  int64
	maxTotal int64
	maxFiles int
}

// maxDepth bounds folder nesting inside a bundle.
const maxDepth = 16

// openBundle reads the list of files of a .zip (self-extracting archives
// with a zip inside work too) or a folder, and checks every name and size
// before anything is copied.
func openBundle(src string, lim limits) (*bundle, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	var b *bundle
	if fi.IsDir() {
		real, linkErr := filepath.EvalSymlinks(src) // the folder itself may be a link
		if linkErr != nil {
			return nil, fmt.Errorf("import: %w", linkErr)
		}
		b, err = openFolder(real, lim)
	} else {
		b, err = openZip(src, lim)
	}
	if err != nil {
		return nil, err
	}
	if err := b.finish(lim); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func openZip(src string, lim limits) (*bundle, error) {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return nil, fmt.Errorf("import: %s is neither a folder nor a zip archive: %w", src, err)
	}
	b := &bundle{close: zr.Close}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") || f.Mode().IsDir() {
			continue
		}
		name, skip, err := cleanEntryName(f.Name)
		if err != nil {
			zr.Close()
			return nil, err
		}
		if skip != "" {
			b.skipped = append(b.skipped, FileResult{Name: f.Name, Size: int64(f.UncompressedSize64), Action: Skipped, Reason: skip})
			continue
		}
		switch {
		case f.Mode()&fs.ModeSymlink != 0:
			zr.Close()
			return nil, fmt.Errorf("import: %s is a symbolic link; bundles hold plain files only", f.Name)
		case !f.Mode().IsRegular():
			zr.Close()
			return nil, fmt.Errorf("import: %s is not a plain file (%s)", f.Name, f.Mode().Type())
		case f.Flags&0x1 != 0:
			zr.Close()
			return nil, fmt.Errorf("import: %s is encrypted; unpack the bundle with its password first", f.Name)
		case f.UncompressedSize64 > uint64(lim.maxFile):
			zr.Close()
			return nil, fmt.Errorf("import: %s claims %d bytes, more than the %d allowed for one file", f.Name, f.UncompressedSize64, lim.maxFile)
		}
		b.entries = append(b.entries, entry{name: name, orig: f.Name, size: int64(f.UncompressedSize64), open: f.Open})
	}
	return b, nil
}

func openFolder(src string, lim limits) (*bundle, error) {
	b := &bundle{close: func() error { return nil }}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.Count(rel, "/") >= maxDepth {
				return fmt.Errorf("%s is nested more than %d folders deep", rel, maxDepth)
			}
			return nil
		}
		name, skip, err := cleanEntryName(rel)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if skip != "" {
			b.skipped = append(b.skipped, FileResult{Name: rel, Size: fi.Size(), Action: Skipped, Reason: skip})
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link; copy the real file into the folder", rel)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a plain file (%s)", rel, d.Type())
		case fi.Size() > lim.maxFile:
			return fmt.Errorf("%s has %d bytes, more than the %d allowed for one file", rel, fi.Size(), lim.maxFile)
		}
		full, size := p, fi.Size()
		b.entries = append(b.entries, entry{name: name, orig: rel, size: size, open: func() (io.ReadCloser, error) {
			return openPlain(full, size)
		}})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("import from folder %s: %w", src, err)
	}
	return b, nil
}

// openPlain opens a file of a source folder without following a link put in
// its place since the folder was listed, and checks it is still as listed.
func openPlain(p string, size int64) (io.ReadCloser, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		f.Close()
		return nil, fmt.Errorf("%s changed while it was being imported", p)
	}
	return f, nil
}

// junk names are left out of an import, not refused: archivers add them.
var junk = map[string]bool{"thumbs.db": true, "desktop.ini": true}

// cleanEntryName turns a name from an archive into a safe relative path. It
// refuses names that would land outside the target (zip-slip: absolute
// paths, drive letters, ".."), and reports junk names to skip.
func cleanEntryName(raw string) (name, skip string, err error) {
	s := strings.ReplaceAll(raw, "\\", "/") // some Windows archivers write '\'
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", "", fmt.Errorf("import: refused %q: control character in the name", raw)
		}
	}
	if strings.HasPrefix(s, "/") || len(s) >= 2 && s[1] == ':' {
		return "", "", fmt.Errorf("import: refused %q: absolute path (the archive tries to write outside its folder)", raw)
	}
	var parts []string
	for _, p := range strings.Split(s, "/") {
		switch {
		case p == "" || p == ".":
			continue
		case p == "..":
			return "", "", fmt.Errorf("import: refused %q: \"..\" in the path (the archive tries to write outside its folder)", raw)
		case len(p) > 255:
			return "", "", fmt.Errorf("import: refused %q: a name part longer than 255 bytes", raw)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "", "", fmt.Errorf("import: refused %q: empty name", raw)
	}
	if len(parts) > maxDepth {
		return "", "", fmt.Errorf("import: refused %q: nested more than %d folders deep", raw, maxDepth)
	}
	for _, p := range parts {
		if strings.HasPrefix(p, ".") || strings.EqualFold(p, "__MACOSX") {
			return "", "hidden or archiver metadata; the file server would never serve it", nil
		}
	}
	if junk[strings.ToLower(parts[len(parts)-1])] {
		return "", "operating-system junk", nil
	}
	return strings.Join(parts, "/"), "", nil
}

// finish strips a folder that wraps the whole bundle, then checks counts,
// sizes and name clashes.
func (b *bundle) finish(lim limits) error {
	if len(b.entries) == 0 {
		return errors.New("import: the bundle holds no files")
	}
	if len(b.entries) > lim.maxFiles {
		return fmt.Errorf("import: the bundle holds %d files, more than the %d allowed", len(b.entries), lim.maxFiles)
	}
	for depth := 0; depth < maxDepth; depth++ {
		top, ok := commonTop(b.entries)
		if !ok {
			break
		}
		for i := range b.entries {
			b.entries[i].name = strings.TrimPrefix(b.entries[i].name, top+"/")
		}
	}
	var total int64
	seen := map[string]string{}
	dirs := map[string]bool{}
	for _, e := range b.entries {
		total += e.size
		key := strings.ToLower(e.name)
		if prev, dup := seen[key]; dup {
			return fmt.Errorf("import: %s and %s differ only in case; phones could get either", prev, e.orig)
		}
		seen[key] = e.orig
		for d := path.Dir(key); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for key, orig := range seen {
		if dirs[key] {
			return fmt.Errorf("import: %s is both a file and a folder in the bundle", orig)
		}
	}
	if total > lim.maxTotal {
		return fmt.Errorf("import: the bundle holds %d bytes, more than the %d allowed", total, lim.maxTotal)
	}
	sort.Slice(b.entries, func(i, j int) bool { return b.entries[i].name < b.entries[j].name })
	return nil
}

// commonTop returns the folder every entry is in, if there is one.
func commonTop(es []entry) (string, bool) {
	top := ""
	for _, e := range es {
		first, _, nested := strings.Cut(e.name, "/")
		if !nested || top != "" && first != top {
			return "", false
		}
		top = first
	}
	return top, top != ""
}
