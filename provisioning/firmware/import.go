package firmware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/phoneprov/phoneprov/internal/durable"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

// Action says what an import did with one file.
type Action string

// Actions.
const (
	Added     Action = "added"
	Replaced  Action = "replaced"
	Unchanged Action = "unchanged" // the tree already had the same bytes
	Skipped   Action = "skipped"   // left out; Reason says why
)

// FileResult is one file of an import.
type FileResult struct {
	Name   string // path in the file tree (for skipped junk: as in the bundle)
	Size   int64
	Action Action
	Reason string
}

// Report says what an import did and what the bundle covers.
type Report struct {
	Source   string
	FilesDir string
	Files    []FileResult
	// Images are the recognised firmware files of the bundle.
	Images []Image
	// Coverage lists which models get which firmware, from the file names
	// and from the upgrade scripts inside the bundle.
	Coverage []Coverage
	// Unrecognised are .bin and .tar files of the bundle that no rule knows.
	Unrecognised []string
}

// ImportOptions adjust an import; the zero value is the default.
type ImportOptions struct {
	// InstallScripts also installs the bundle's upgrade scripts. By default
	// they are read for the report but left out, so the generated scripts,
	// built from all the firmware present, stay in force.
	InstallScripts bool
	MaxFileSize    int64 // bytes for one file; 0 means 1 GiB
	MaxTotalSize   int64 // bytes for the whole bundle; 0 means 8 GiB
	MaxFiles       int   // 0 means 10000
}

func (o ImportOptions) limits() limits {
	l := limits{maxFile: o.MaxFileSize, maxTotal: o.MaxTotalSize, maxFiles: o.MaxFiles}
	if l.maxFile <= 0 {
		l.maxFile = 1 << 30
	}
	if l.maxTotal <= 0 {
		l.maxTotal = 8 << 30
	}
	if l.maxFiles <= 0 {
		l.maxFiles = 10000
	}
	return l
}

// stagePrefix names the hidden folders an import stages files in, inside
// the file tree: on the same file system (so a rename moves a file into
// place in one step) and never served (the file server refuses hidden
// names).
const stagePrefix = ".phoneprov-import-"

// lockName is the hidden file that keeps two imports from running at once.
const lockName = ".phoneprov-import.lock"

// ImportWith brings a vendor firmware bundle into filesDir so that no phone
// ever sees half a file:
//
//  1. every name and size in the bundle is checked first (no absolute paths
//     or "..", no links or devices, no file or bundle beyond the limits,
//     enough free space);
//  2. every file is copied into a hidden staging folder inside filesDir,
//     its size and (for zips) CRC-32 checked, and synced to disk;
//  3. only then is each file renamed into place (firmware and other files
//     first, upgrade scripts last, so a script never names firmware that is
//     not there yet), and the folders synced.
//
// An import that fails or is cancelled before step 3 leaves the tree as it
// was; a crash during step 3 leaves only complete files. A leftover staging
// folder is removed by the next import. Settings templates in the bundle
// (46xxsettings.txt and the like) are never installed: they would replace
// the operator's or the generated settings. Upgrade scripts are installed
// only with InstallScripts.
func ImportWith(ctx context.Context, src, filesDir string, opts ImportOptions) (Report, error) {
	rep := Report{Source: src, FilesDir: filesDir}
	if fi, err := os.Stat(filesDir); err != nil || !fi.IsDir() {
		return rep, fmt.Errorf("import: file tree %s is not a folder", filesDir)
	}
	unlock, err := lockImports(filesDir)
	if err != nil {
		return rep, err
	}
	defer unlock()
	removeStale(filesDir)

	lim := opts.limits()
	b, err := openBundle(src, lim)
	if err != nil {
		return rep, err
	}
	defer b.close()
	var total int64
	for _, e := range b.entries {
		total += e.size
	}
	if err := checkFreeSpace(filesDir, total); err != nil {
		return rep, err
	}

	stage, err := os.MkdirTemp(filesDir, stagePrefix)
	if err != nil {
		return rep, fmt.Errorf("import: staging folder: %w", err)
	}
	defer os.RemoveAll(stage)
	stageRel := filepath.Base(stage)

	plan, err := stageAll(ctx, b.entries, stage)
	if err != nil {
		return rep, err
	}
	root, err := os.OpenRoot(filesDir)
	if err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	defer root.Close()
	if err := decide(root, plan, opts); err != nil {
		return rep, err
	}
	// Point of no return: from here on, files appear in the tree.
	installErr := install(root, stageRel, plan)
	for _, p := range plan {
		rep.Files = append(rep.Files, p.result)
	}
	rep.Files = append(rep.Files, b.skipped...)
	sort.SliceStable(rep.Files, func(i, j int) bool { return rep.Files[i].Name < rep.Files[j].Name })
	rep.describe(plan)
	return rep, installErr
}

// planned is one staged file and what to do with it.
type planned struct {
	name   string // target path in the tree
	size   int64
	sum    [32]byte
	data   []byte // kept for small text files, to read scripts for the report
	kind   fileKind
	result FileResult
}

type fileKind uint8

const (
	plainFile fileKind = iota
	upgradeScript
	settingsTemplate
)

func classify(name string) fileKind {
	if strings.Contains(name, "/") {
		return plainFile
	}
	if _, ok := ByScript(name); ok {
		return upgradeScript
	}
	for _, s := range []string{"46xxsettings.txt", "46xxsettings.scr", "46xxspecials.txt"} {
		if strings.EqualFold(name, s) {
			return settingsTemplate
		}
	}
	return plainFile
}

// keepSmall is the size under which a staged file is also kept in memory
// (upgrade scripts are a few kB).
const keepSmall = 256 << 10

func stageAll(ctx context.Context, entries []entry, stage string) ([]*planned, error) {
	var plan []*planned
	dirs := map[string]bool{stage: true}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dst := filepath.Join(stage, filepath.FromSlash(e.name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("import: staging: %w", err)
		}
		for d := filepath.Dir(dst); d != stage && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
		p := &planned{name: e.name, size: e.size, kind: classify(e.name)}
		if err := stageOne(ctx, e, dst, p); err != nil {
			return nil, err
		}
		plan = append(plan, p)
	}
	for d := range dirs {
		if err := durable.SyncDir(d); err != nil {
			return nil, fmt.Errorf("import: staging: %w", err)
		}
	}
	return plan, nil
}

// stageOne copies one entry, checking it has exactly the declared size (the
// zip reader checks the CRC-32 when it reaches the end), and syncs it.
func stageOne(ctx context.Context, e entry, dst string, p *planned) error {
	rc, err := e.open()
	if err != nil {
		return fmt.Errorf("import: open %s: %w", e.orig, err)
	}
	defer rc.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("import: staging %s: %w", e.name, err)
	}
	defer f.Close()
	if err := f.Chmod(0o644); err != nil { // whatever the umask: the server must read it
		return fmt.Errorf("import: staging %s: %w", e.name, err)
	}
	h := sha256.New()
	var small bytes.Buffer
	w := io.MultiWriter(f, h)
	if e.size <= keepSmall {
		w = io.MultiWriter(f, h, &small)
	}
	n, err := io.Copy(w, &ctxReader{ctx: ctx, r: io.LimitReader(rc, e.size+1)})
	if err != nil {
		return fmt.Errorf("import: %s is damaged: %w", e.orig, err)
	}
	if n != e.size {
		return fmt.Errorf("import: %s is damaged: %d bytes, the archive says %d", e.orig, n, e.size)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("import: staging %s: %w", e.name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("import: staging %s: %w", e.name, err)
	}
	copy(p.sum[:], h.Sum(nil))
	if e.size <= keepSmall {
		p.data = small.Bytes()
	}
	return nil
}

// decide sets each file's action, refusing the import when a target cannot
// be replaced by a file. Nothing in the tree changes here.
func decide(root *os.Root, plan []*planned, opts ImportOptions) error {
	for _, p := range plan {
		p.result = FileResult{Name: p.name, Size: p.size}
		switch {
		case p.kind == settingsTemplate:
			p.result.Action, p.result.Reason = Skipped, "vendor settings template: installing it would replace your settings (or the generated ones); copy what you need into 46xxspecials.txt"
			continue
		case p.kind == upgradeScript && !opts.InstallScripts:
			p.result.Action, p.result.Reason = Skipped, "vendor upgrade script: read for this report; phoneprov generates its own from all the firmware present (install it with the scripts option)"
			continue
		}
		for d := path.Dir(p.name); d != "."; d = path.Dir(d) {
			if fi, err := root.Lstat(d); err == nil && !fi.IsDir() {
				return fmt.Errorf("import: %s needs the folder %s, but the tree has a file of that name", p.name, d)
			}
		}
		fi, err := root.Lstat(p.name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.result.Action = Added
		case err != nil:
			return fmt.Errorf("import: %s: %w", p.name, err)
		case fi.IsDir():
			return fmt.Errorf("import: the tree has a folder %s where the bundle has a file", p.name)
		case fi.Mode().IsRegular() && fi.Size() == p.size && sameContent(root, p.name, p.sum):
			p.result.Action = Unchanged
		default:
			p.result.Action = Replaced
		}
	}
	return nil
}

func sameContent(root *os.Root, name string, sum [32]byte) bool {
	f, err := root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return bytes.Equal(h.Sum(nil), sum[:])
}

// install renames the staged files into place: plain files first, upgrade
// scripts last, then syncs every folder that changed.
func install(root *os.Root, stageRel string, plan []*planned) error {
	order := make([]*planned, 0, len(plan))
	for _, kind := range []fileKind{plainFile, upgradeScript} {
		for _, p := range plan {
			if p.kind == kind && (p.result.Action == Added || p.result.Action == Replaced) {
				order = append(order, p)
			}
		}
	}
	touched := map[string]bool{".": true}
	for i, p := range order {
		if dir := path.Dir(p.name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return installFailed(order[i:], fmt.Errorf("create folder %s: %w", dir, err))
			}
			for d := dir; d != "."; d = path.Dir(d) {
				touched[d] = true
			}
		}
		if err := root.Rename(path.Join(stageRel, p.name), p.name); err != nil {
			return installFailed(order[i:], err)
		}
	}
	var errs []error
	for d := range touched {
		if err := durable.SyncRootDir(root, d); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("import: files are in place but not yet safe on disk: %w", errors.Join(errs...))
	}
	return nil
}

// installFailed marks the files not installed and explains.
func installFailed(rest []*planned, err error) error {
	names := make([]string, len(rest))
	for i, p := range rest {
		names[i] = p.name
		p.result.Action, p.result.Reason = Skipped, "not installed: the import stopped at "+rest[0].name
	}
	return fmt.Errorf("import stopped while moving files into place; complete files before it are installed, these are not: %s: %w",
		strings.Join(names, ", "), err)
}

// describe fills the firmware part of the report from the staged files.
func (r *Report) describe(plan []*planned) {
	for _, p := range plan {
		base := path.Base(p.name)
		if p.kind == upgradeScript && p.data != nil {
			if info, ok := ByScript(p.name); ok {
				r.Coverage = append(r.Coverage, ScriptCoverage(p.name, script.Parse(p.data), info)...)
			}
			continue
		}
		if p.name != base { // phones fetch firmware from the top of the tree
			continue
		}
		if im, ok := Recognise(base); ok {
			r.Images = append(r.Images, im)
		} else if LooksLikeFirmware(base) {
			r.Unrecognised = append(r.Unrecognised, p.name)
		}
	}
	r.Coverage = append(r.Coverage, NameCoverage(r.Images)...)
	SortCoverage(r.Coverage)
}

// WriteText prints the report for a person.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "import from %s into %s\n", r.Source, r.FilesDir)
	for _, f := range r.Files {
		fmt.Fprintf(&b, "  %-9s %s (%s)", f.Action, f.Name, humanBytes(f.Size))
		if f.Reason != "" {
			fmt.Fprintf(&b, ": %s", f.Reason)
		}
		b.WriteByte('\n')
	}
	if len(r.Coverage) > 0 {
		b.WriteString("firmware in the bundle, by model:\n")
		for _, c := range r.Coverage {
			v := c.Version.String()
			if v == "" {
				v = "version unknown"
			}
			fmt.Fprintf(&b, "  %-5s %-5s %-4s %-13s %-16s %s (from %s)\n", c.Series, c.Model, c.Signalling, c.Setting, v, c.File, c.Source)
		}
	}
	for _, im := range r.Images {
		if !im.Confirmed {
			fmt.Fprintf(&b, "note: %s was recognised by the unconfirmed name rule %q; check the models above\n", im.File, im.Rule)
		}
	}
	if len(r.Unrecognised) > 0 {
		fmt.Fprintf(&b, "not recognised (describe them with [[provisioning.firmware]] to use them): %s\n", strings.Join(r.Unrecognised, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read fails once the context has ended.
func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// lockImports takes an exclusive lock on the tree's import lock file, so two
// imports (from two shells, say) cannot interleave their renames.
func lockImports(filesDir string) (unlock func(), err error) {
	f, err := durable.OpenLocked(filepath.Join(filesDir, lockName), "import lock", 0o600, 0)
	if errors.Is(err, durable.ErrInUse) {
		return nil, fmt.Errorf("import: another import into this file tree is running; try again when it has finished: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("import: lock: %w", err)
	}
	return func() { _ = f.Close() }, nil
}

// removeStale deletes staging folders an interrupted import left behind.
// It runs under the import lock, so none of them is in use.
func removeStale(filesDir string) {
	entries, err := os.ReadDir(filesDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), stagePrefix) && e.Type().IsDir() {
			os.RemoveAll(filepath.Join(filesDir, e.Name()))
		}
	}
}
