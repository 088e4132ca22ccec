package fileserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Source says where served content came from.
type Source string

// The sources, in the order the namespace consults them.
const (
	SourceOperator  Source = "operator"  // a file the operator placed in the file tree
	SourceBuiltin   Source = "builtin"   // served by the appliance itself (its CA certificate)
	SourceGenerated Source = "generated" // made by the generator for this request
)

// ErrNotFound means no source has the name.
var ErrNotFound = errors.New("not found")

// RefusedError is returned for a name that must never be served, with the reason.
type RefusedError struct {
	Name   string
	Reason string // nul, dotdot, drive, hidden, too_long, escape, permission, not_regular
}

// reasonTooLong is the reason for a name, or one of its segments, longer
// than any file's could be.
const reasonTooLong = "too_long"

func (e *RefusedError) Error() string { return fmt.Sprintf("refused %q: %s", e.Name, e.Reason) }

// Unwrap makes a name too long for any file also ErrNotFound: no file can
// have it, so it is answered as missing (HTTP 404, TFTP "file not found")
// rather than as forbidden, and still counted as refused.
func (e *RefusedError) Unwrap() error {
	if e.Reason == reasonTooLong {
		return ErrNotFound
	}
	return nil
}

// Client is what the file server knows about who asks.
type Client struct {
	Addr      netip.Addr // the phone's address
	Local     netip.Addr // the appliance's address the phone talked to (for HTTPSRVR and the like)
	Protocol  string     // "http", "https" or "tftp"
	UserAgent string     // HTTP only
}

// Generated is content a Generator made: in memory, made by NewGenerated
// (its validator and header values computed then, once, so serving it
// costs no hashing), or an open file.
type Generated struct {
	Name    string // canonical name, as the generator spells it
	Data    []byte
	ModTime time.Time
	// File, when set, is the content instead of Data: an open regular file
	// (a cached firmware image, say) that the namespace serves and closes.
	// Its validator comes from the file's identity.
	File *os.File

	mem *memContent // set by NewGenerated
}

// NewGenerated returns in-memory content with its strong ETag (a hash of
// data) and its header values computed now. A generator keeps the result
// for as long as the content stays the same, and may make one per
// requester; data must not change afterwards.
func NewGenerated(name string, data []byte, mod time.Time) *Generated {
	m := newMemContent(name, data, mod, contentETag(data))
	return &Generated{Name: name, Data: data, ModTime: mod, mem: &m}
}

// ETag is the quoted strong validator of in-memory content, empty for a file.
func (g *Generated) ETag() string {
	if g.mem == nil {
		return ""
	}
	return g.mem.head.etag
}

// Generator makes files that the operator has not placed, such as settings
// and upgrade scripts. It returns ErrNotFound (or an error wrapping
// fs.ErrNotExist) for names it does not make. In-memory content comes
// from NewGenerated; client lets a generator answer each phone for itself.
type Generator interface {
	Generate(ctx context.Context, name string, client Client) (*Generated, error)
}

// Entry is one resolved name: a consistent snapshot to serve. The caller must Close it.
type Entry struct {
	Name    string // canonical name within the namespace
	Source  Source
	Size    int64
	ModTime time.Time
	ETag    string // quoted strong validator

	file *os.File // operator files: an open descriptor (sendfile-able)
	mem  []byte   // builtin, generated and cached content
}

// ReadAt reads from the snapshot.
func (e *Entry) ReadAt(p []byte, off int64) (int, error) {
	if e.file != nil {
		return e.file.ReadAt(p, off)
	}
	return bytes.NewReader(e.mem).ReadAt(p, off)
}

// ReadSeeker returns the content for http.ServeContent; for operator files it
// is the *os.File itself so the kernel can sendfile it.
func (e *Entry) ReadSeeker() io.ReadSeeker {
	if e.file != nil {
		return e.file
	}
	return bytes.NewReader(e.mem)
}

// Close releases the snapshot.
func (e *Entry) Close() error {
	if e.file != nil {
		return e.file.Close()
	}
	return nil
}

// Namespace resolves the names phones ask for to content, the same way on
// every protocol: the operator's tree, then built-in files, then the
// generator. Lookups in the tree are confined to it by os.Root.
type Namespace struct {
	root    *os.Root
	builtin map[string]*memContent // lower-cased name → content
	gen     Generator
	dirs    *dirCache
	small   *smallFiles
}

// NewNamespace opens the operator's tree at dir. builtin (made by
// NewGenerated) and gen may be nil.
func NewNamespace(dir string, builtin []*Generated, gen Generator) (*Namespace, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open file root: %w", err)
	}
	ns := &Namespace{
		root: root, builtin: map[string]*memContent{}, gen: gen,
		dirs: newDirCache(), small: newSmallFiles(root),
	}
	for _, b := range builtin {
		if b.mem == nil {
			root.Close()
			return nil, fmt.Errorf("built-in file %s was not made by NewGenerated", b.Name)
		}
		ns.builtin[strings.ToLower(b.Name)] = b.mem
	}
	return ns, nil
}

// Close releases the tree.
func (ns *Namespace) Close() error {
	ns.small.close()
	return ns.root.Close()
}

// maxNameLen bounds a requested name; no phone file name comes near it.
const maxNameLen = 1024

// maxSegmentLen is the longest file or folder name Linux file systems
// allow (NAME_MAX, in bytes); opening a longer one fails with
// ENAMETOOLONG, so such a name cannot be in the tree.
const maxSegmentLen = 255

// CleanName turns what a phone sent into a name inside the tree, or refuses
// it. It accepts leading slashes, backslash separators, "." segments and
// doubled slashes; it refuses NUL bytes, ".." segments, drive letters and
// hidden (dot) segments, which phones never ask for and which editors and
// rsync use for half-written files, and names or segments too long for
// any file (an error that is also ErrNotFound).
func CleanName(raw string) (string, error) {
	if len(raw) > maxNameLen {
		return "", &RefusedError{Name: raw[:64] + "…", Reason: reasonTooLong}
	}
	if name, ok := alreadyClean(raw); ok {
		return name, nil
	}
	return cleanGeneral(raw)
}

// cleanGeneral is CleanName for any name not too long.
func cleanGeneral(raw string) (string, error) {
	if strings.IndexByte(raw, 0) >= 0 {
		return "", &RefusedError{Name: raw, Reason: "nul"}
	}
	s := strings.ReplaceAll(raw, "\\", "/")
	if len(s) >= 2 && s[1] == ':' && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) {
		return "", &RefusedError{Name: raw, Reason: "drive"}
	}
	parts := strings.Split(s, "/")
	kept := parts[:0]
	for _, p := range parts {
		switch {
		case p == "" || p == ".":
			continue
		case p == "..":
			return "", &RefusedError{Name: raw, Reason: "dotdot"}
		case p[0] == '.':
			return "", &RefusedError{Name: raw, Reason: "hidden"}
		case len(p) > maxSegmentLen:
			return "", &RefusedError{Name: raw, Reason: reasonTooLong}
		}
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		return "", ErrNotFound
	}
	return strings.Join(kept, "/"), nil
}

// alreadyClean returns raw without its leading slashes when nothing else
// in it needs cleaning or refusing, which is what phones send; the answer
// is then the one CleanName's general path gives, without its allocations.
func alreadyClean(raw string) (string, bool) {
	if len(raw) >= 2 && raw[1] == ':' {
		return "", false // maybe a drive letter
	}
	s := strings.TrimLeft(raw, "/")
	if s == "" {
		return "", false
	}
	segStart := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			c := s[i]
			if c == 0 || c == '\\' {
				return "", false
			}
			if c != '/' {
				continue
			}
		}
		if i == segStart || s[segStart] == '.' || i-segStart > maxSegmentLen {
			return "", false // an empty, ".", "..", hidden or too long segment
		}
		segStart = i + 1
	}
	return s, true
}

// Open resolves a requested name. It returns ErrNotFound, a *RefusedError, or
// an Entry that stays consistent even if the operator replaces the file by
// renaming a new one into place while it is served.
func (ns *Namespace) Open(ctx context.Context, raw string, client Client) (*Entry, error) {
	res, err := ns.resolve(ctx, raw, client)
	if err != nil {
		return nil, err
	}
	if res.mem != nil {
		return res.mem.entry(res.source), nil
	}
	return res.entry, nil
}

// resolved is what a name resolved to: content in memory (a cached
// operator file, a built-in or generated file), shared and read-only, or
// an Entry of its own.
type resolved struct {
	mem    *memContent
	source Source // of mem
	entry  *Entry
}

// resolve is Open without making an Entry for a cached file.
func (ns *Namespace) resolve(ctx context.Context, raw string, client Client) (resolved, error) {
	name, err := CleanName(raw)
	if err != nil {
		return resolved{}, err
	}
	res, err := ns.openOperator(name)
	var refused *RefusedError
	if err == nil || !errors.Is(err, ErrNotFound) || errors.As(err, &refused) {
		return res, err
	}
	if b, ok := ns.builtin[strings.ToLower(name)]; ok {
		return resolved{mem: b, source: SourceBuiltin}, nil
	}
	if ns.gen != nil {
		g, err := ns.gen.Generate(ctx, name, client)
		switch {
		case err == nil && g.File != nil:
			e, err := fileEntry(g)
			return resolved{entry: e}, err
		case err == nil && g.mem == nil:
			return resolved{}, fmt.Errorf("generate %s: content not made by NewGenerated", name)
		case err == nil:
			return resolved{mem: g.mem, source: SourceGenerated}, nil
		case errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		default:
			return resolved{}, fmt.Errorf("generate %s: %w", name, err)
		}
	}
	return resolved{}, ErrNotFound
}

// fileEntry serves a generator's open file.
func fileEntry(g *Generated) (*Entry, error) {
	fi, err := g.File.Stat()
	if err != nil {
		g.File.Close()
		return nil, fmt.Errorf("stat generated %s: %w", g.Name, err)
	}
	mod := g.ModTime
	if mod.IsZero() {
		mod = fi.ModTime()
	}
	return &Entry{Name: g.Name, Source: SourceGenerated, Size: fi.Size(), ModTime: mod, ETag: FileETag(fi), file: g.File}, nil
}

// Chain tries generators in order and returns the first content found;
// a generator that answers not found passes the name on to the next.
func Chain(gens ...Generator) Generator { return generatorChain(gens) }

type generatorChain []Generator

func (c generatorChain) Generate(ctx context.Context, name string, client Client) (*Generated, error) {
	for _, g := range c {
		out, err := g.Generate(ctx, name, client)
		if err == nil || !(errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist)) {
			return out, err
		}
	}
	return nil, ErrNotFound
}

func (ns *Namespace) openOperator(name string) (resolved, error) {
	if sf := ns.small.lookup(name); sf != nil {
		return resolved{mem: &sf.memContent, source: SourceOperator}, nil
	}
	if ns.small.isAbsent(name) {
		return resolved{}, ErrNotFound
	}
	f, err := ns.openNonBlocking(name)
	if errors.Is(err, fs.ErrNotExist) {
		folded, ok := ns.foldCase(name)
		if !ok {
			ns.small.noteAbsent(name, func() bool { return ns.absentFromTop(name) })
			return resolved{}, ErrNotFound
		}
		name = folded
		f, err = ns.openNonBlocking(name)
	}
	if err != nil {
		return resolved{}, classifyOpenError(name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return resolved{}, fmt.Errorf("stat %s: %w", name, err)
	}
	if fi.IsDir() {
		f.Close()
		return resolved{}, ErrNotFound // no directory listings
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return resolved{}, &RefusedError{Name: name, Reason: "not_regular"}
	}
	if fi.Size() <= smallFileMax {
		// A case-folded name may be cached under its real spelling.
		sf := ns.small.lookup(name)
		if sf == nil {
			sf, _ = ns.small.load(name) // on error, serve what is open
		}
		if sf != nil {
			f.Close()
			return resolved{mem: &sf.memContent, source: SourceOperator}, nil
		}
	}
	return resolved{entry: &Entry{
		Name: name, Source: SourceOperator, Size: fi.Size(), ModTime: fi.ModTime(),
		ETag: FileETag(fi), file: f,
	}}, nil
}

// absentFromTop reads the top directory afresh and reports whether no
// entry in it is name under any spelling.
func (ns *Namespace) absentFromTop(name string) bool {
	d, err := ns.root.Open(".")
	if err != nil {
		return false
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return false
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return false
		}
	}
	return true
}

// openNonBlocking opens read-only with O_NONBLOCK, so a FIFO or device in
// the tree cannot block the server; on regular files the flag does nothing.
func (ns *Namespace) openNonBlocking(name string) (*os.File, error) {
	return ns.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

func classifyOpenError(name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrNotFound
	case strings.Contains(err.Error(), "path escapes"):
		// os.Root refuses a symlink (or "..") that leaves the tree; it
		// exposes no sentinel for that, only this message.
		return &RefusedError{Name: name, Reason: "escape"}
	case errors.Is(err, fs.ErrPermission):
		return &RefusedError{Name: name, Reason: "permission"}
	case errors.Is(err, syscall.ENAMETOOLONG):
		// CleanName refuses segments over NAME_MAX; this is a file
		// system with a shorter limit (eCryptfs allows 143 bytes).
		return &RefusedError{Name: name, Reason: reasonTooLong}
	}
	return fmt.Errorf("open %s: %w", name, err)
}

// foldCase finds the one name in the tree that matches name when case is
// ignored, segment by segment. Exact matches win at each level.
func (ns *Namespace) foldCase(name string) (string, bool) {
	dir := "."
	for _, seg := range strings.Split(name, "/") {
		entries, ok := ns.dirs.list(ns.root, dir)
		if !ok {
			return "", false
		}
		match := ""
		for _, e := range entries {
			if e == seg {
				match = e
				break
			}
			if match == "" && strings.EqualFold(e, seg) {
				match = e
			}
		}
		if match == "" {
			return "", false
		}
		dir = path.Join(dir, match)
	}
	return dir, true
}

// dirCache keeps directory listings for the case-insensitive fallback, so a
// storm of phones asking for a missing file does not re-read a large
// firmware directory each time. A listing is reused while the directory's
// modification time is unchanged.
type dirCache struct {
	mu      sync.Mutex
	entries map[string]dirListing
}

type dirListing struct {
	mtime time.Time
	names []string
}

func newDirCache() *dirCache { return &dirCache{entries: map[string]dirListing{}} }

// maxCachedDirs bounds the cache; past it the cache starts over.
const maxCachedDirs = 4096

func (c *dirCache) list(root *os.Root, dir string) ([]string, bool) {
	fi, err := root.Stat(dir)
	if err != nil || !fi.IsDir() {
		return nil, false
	}
	c.mu.Lock()
	l, ok := c.entries[dir]
	c.mu.Unlock()
	if ok && l.mtime.Equal(fi.ModTime()) {
		return l.names, true
	}
	d, err := root.Open(dir)
	if err != nil {
		return nil, false
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedDirs {
		c.entries = map[string]dirListing{}
	}
	c.entries[dir] = dirListing{mtime: fi.ModTime(), names: names}
	c.mu.Unlock()
	return names, true
}
