package firmware

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TreeRecheck is how often, at most, a Tree looks at its folder's
// modification time; a change to the folder reaches its answers within it.
// racyWindow: a change within this time of a scan may carry the same
// modification time as the scanned state (coarse file-system clocks), so
// such a scan is redone at each look.
const (
	TreeRecheck = 100 * time.Millisecond
	racyWindow  = 2 * time.Second
)

// Tree is the firmware catalogue of a file tree, kept current: the one
// place the generator, the inventory and the status page ask what firmware
// the tree holds. A question costs no stat: the folder's modification time
// is looked at by one caller every TreeRecheck at most, and the top of the
// tree is scanned again only when it changed or the mappings were set.
// It is safe for concurrent use.
type Tree struct {
	dir       string
	now       func() time.Time
	mappings  atomic.Pointer[[]Mapping]
	snap      atomic.Pointer[treeScan]
	nextCheck atomic.Int64 // Unix ns from which the next caller looks at the folder
	mu        sync.Mutex   // serialises looks at the folder and scans
}

// treeScan is one scan of the tree, with the mappings it applied.
type treeScan struct {
	mappings *[]Mapping
	dirMod   time.Time
	scanned  time.Time
	catalog  *Catalog
}

// NewTree returns the catalogue of the top of dir, without mappings until
// SetMappings. now is the clock; nil means time.Now. Nothing is read until
// asked.
func NewTree(dir string, now func() time.Time) *Tree {
	if now == nil {
		now = time.Now
	}
	t := &Tree{dir: dir, now: now}
	t.mappings.Store(&[]Mapping{})
	return t
}

// Dir returns the folder the tree lists.
func (t *Tree) Dir() string { return t.dir }

// SetMappings replaces the mappings (the generator sets those of its
// configuration, at start and on every reload); the next question scans
// the tree again, whatever the recheck time.
func (t *Tree) SetMappings(mappings []Mapping) { t.mappings.Store(&mappings) }

// Catalog returns the catalog of the tree as it is: the one in hand while
// the mappings are the same and the folder was looked at less than
// TreeRecheck ago; otherwise it looks at the folder and rescans when it
// changed. A new scan is a new *Catalog: callers that keep what they made
// from one can compare pointers. Read it, never change it.
func (t *Tree) Catalog(ctx context.Context) (*Catalog, error) {
	if s := t.snap.Load(); s != nil && s.mappings == t.mappings.Load() && !t.checkDue() {
		return s.catalog, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fi, err := os.Stat(t.dir)
	if err != nil {
		return nil, fmt.Errorf("file tree: %w", err)
	}
	mappings := t.mappings.Load()
	now := t.now()
	t.nextCheck.Store(now.Add(TreeRecheck).UnixNano())
	if s := t.snap.Load(); s != nil && s.mappings == mappings && fi.ModTime().Equal(s.dirMod) &&
		(s.scanned.Sub(s.dirMod) >= racyWindow || now.Sub(s.scanned) < TreeRecheck) {
		return s.catalog, nil // unchanged, or just scanned by a caller that waited on mu before this one
	}
	cat, err := Scan(ctx, t.dir, *mappings)
	if err != nil {
		return nil, err
	}
	cat.Modified = fi.ModTime()
	t.snap.Store(&treeScan{mappings: mappings, dirMod: fi.ModTime(), scanned: now, catalog: cat})
	return cat, nil
}

// checkDue reports whether this caller is the one to look at the folder:
// the first after the recheck time, and only one of those at once.
func (t *Tree) checkDue() bool {
	next := t.nextCheck.Load()
	now := t.now().UnixNano()
	return now >= next && t.nextCheck.CompareAndSwap(next, now+int64(TreeRecheck))
}

// FirmwareOf says whether a served file name is a phone firmware image and,
// when the catalog knows it, for which model and version (in Canonical
// form). The inventory uses it to credit a phone with the firmware it
// downloaded. A name the tree does not hold (or an unreadable tree) is
// judged by its name alone (Recognise).
func (t *Tree) FirmwareOf(name string) (model, version string, ok bool) {
	im, ok := t.image(name)
	if !ok || im.Setting != "APPNAME" {
		return "", "", false
	}
	if len(im.Models) == 1 {
		model = im.Models[0]
	}
	if !im.Version.IsZero() {
		version = Canonical(im.Version.String())
	}
	return model, version, true
}

func (t *Tree) image(name string) (Image, bool) {
	if cat, err := t.Catalog(context.Background()); err == nil {
		if im, ok := cat.Image(name); ok {
			return im, true
		}
	}
	return Recognise(name)
}

// NewestFirmware returns the newest firmware version present in the tree
// (in Canonical form) for a model as the inventory records it
// (ParseModelClass): a $MODEL4 value such as "J179" or "9608", of either
// signalling, or a series and protocol such as "96x1 SIP" or "46xx H.323"
// for phones that do not reveal their model. For a series, the answer is
// given only when every model of it with firmware present is offered the
// same version; otherwise which applies cannot be known.
func (t *Tree) NewestFirmware(model string) (string, bool) {
	class, ok := ParseModelClass(model)
	if !ok {
		return "", false
	}
	cat, err := t.Catalog(context.Background())
	if err != nil {
		return "", false
	}
	var answer *Version
	for _, m := range class.Models {
		best := cat.newestAPPNAME(class, m)
		switch {
		case best == nil:
		case answer == nil:
			answer = best
		case Canonical(answer.String()) != Canonical(best.String()):
			return "", false
		}
	}
	if answer == nil {
		return "", false
	}
	return Canonical(answer.String()), true
}

// newestAPPNAME returns the newest APPNAME version for model m within the
// series and signalling of class (either may be empty: any), or nil.
func (c *Catalog) newestAPPNAME(class ModelClass, m string) *Version {
	var best *Version
	for _, im := range c.Images {
		if im.Setting != "APPNAME" || !im.For(m) ||
			class.Series != "" && im.Series != class.Series ||
			class.Signalling != "" && im.Signalling != class.Signalling {
			continue
		}
		if best == nil || Compare(im.Version, *best) > 0 {
			v := im.Version
			best = &v
		}
	}
	return best
}
