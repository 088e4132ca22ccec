package firmware

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"
)

// Mapping says what a file is when its name is not enough; it comes from a
// [[provisioning.firmware]] entry and wins over the file-name rules.
type Mapping struct {
	File       string
	Series     Series
	Signalling Signalling // empty: the series' default
	Models     []string   // $MODEL4 values; empty: every model of the series
	Version    Version    // may be zero; then the mapped file is the oldest candidate
	Setting    string     // empty: APPNAME
}

// image turns the mapping into an Image for the file as found in the tree.
func (m Mapping) image(file string) Image {
	info, _ := Lookup(m.Series)
	im := Image{
		File: file, Series: m.Series, Signalling: m.Signalling, Models: m.Models,
		Setting: m.Setting, Version: m.Version, Rule: "config", Confirmed: true,
	}
	if im.Signalling == "" {
		im.Signalling = info.Default
	}
	if len(im.Models) == 0 {
		im.Models = info.Models
	}
	if im.Setting == "" {
		im.Setting = "APPNAME"
	}
	return im
}

// Catalog is what firmware the top of a file tree holds. Phones fetch
// APPNAME from the folder their upgrade script came from, so only files at
// the top count.
type Catalog struct {
	Images       []Image           // recognised or mapped, by file name
	Unrecognised []string          // .bin and .tar files nothing recognised
	Modified     time.Time         // the folder's modification time as a Tree saw it; zero from Scan alone
	exact        map[string]bool   // every top-level regular file
	folded       map[string]string // lower-case name → first such name
}

// Scan lists the top of dir and recognises its firmware. Hidden names
// (starting with '.') are skipped: the file server never serves them, and
// imports stage their files under such names.
func Scan(ctx context.Context, dir string, mappings []Mapping) (*Catalog, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("scan firmware: %w", err)
	}
	defer root.Close()
	d, err := root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("scan firmware: %w", err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("scan firmware in %s: %w", dir, err)
	}
	byFile := map[string]Mapping{}
	for _, m := range mappings {
		byFile[strings.ToLower(m.File)] = m
	}
	c := &Catalog{exact: map[string]bool{}, folded: map[string]string{}}
	var names []string
	for i, e := range entries {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		name := e.Name()
		if strings.HasPrefix(name, ".") || !isRegular(root, e) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.exact[name] = true
		if _, ok := c.folded[strings.ToLower(name)]; !ok {
			c.folded[strings.ToLower(name)] = name
		}
	}
	for _, name := range names {
		if m, ok := byFile[strings.ToLower(name)]; ok {
			c.Images = append(c.Images, m.image(name))
			continue
		}
		if im, ok := Recognise(name); ok {
			c.Images = append(c.Images, im)
			continue
		}
		if LooksLikeFirmware(name) {
			c.Unrecognised = append(c.Unrecognised, name)
		}
	}
	sort.Slice(c.Images, func(i, j int) bool { return c.Images[i].File < c.Images[j].File })
	sort.Strings(c.Unrecognised)
	return c, nil
}

// isRegular follows links that stay inside the tree, like the file server.
func isRegular(root *os.Root, e fs.DirEntry) bool {
	if e.Type().IsRegular() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := root.Stat(e.Name())
	return err == nil && fi.Mode().IsRegular()
}

// Has finds a top-level file, by its exact name or else without regard to
// case (as the file server does), and returns its name as written.
func (c *Catalog) Has(name string) (string, bool) {
	if c.exact[name] {
		return name, true
	}
	n, ok := c.folded[strings.ToLower(name)]
	return n, ok
}

// Image returns the image of a file name, without regard to case.
func (c *Catalog) Image(name string) (Image, bool) {
	for _, im := range c.Images {
		if strings.EqualFold(im.File, name) {
			return im, true
		}
	}
	return Image{}, false
}

// Candidates returns the images a model of a series may be given for a
// setting and protocol, newest first (ties broken by file name). variant
// is the hardware variant (see HardwareSplits): "" for a model's early
// hardware or a model without a split. Only APPNAME images depend on the
// hardware; other settings (JEM24_APPNAME) fit every variant.
func (c *Catalog) Candidates(s Series, sig Signalling, model, variant, setting string) []Image {
	var out []Image
	for _, im := range c.Images {
		if im.Series == s && im.Signalling == sig && im.Setting == setting && im.For(model) &&
			(setting != "APPNAME" || im.FitsHardware(model, variant)) {
			out = append(out, im)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := Compare(out[i].Version, out[j].Version); c != 0 {
			return c > 0
		}
		return out[i].File < out[j].File
	})
	return out
}

// Newest returns the newest image for a model's hardware variant, if any.
func (c *Catalog) Newest(s Series, sig Signalling, model, variant, setting string) (Image, bool) {
	if cs := c.Candidates(s, sig, model, variant, setting); len(cs) > 0 {
		return cs[0], true
	}
	return Image{}, false
}

// Settings lists the settings (APPNAME, JEM24_APPNAME, …) the catalog has
// images for in a series, sorted, APPNAME first.
func (c *Catalog) Settings(s Series) []string {
	seen := map[string]bool{}
	var out []string
	for _, im := range c.Images {
		if im.Series == s && im.Setting != "" && !seen[im.Setting] {
			seen[im.Setting] = true
			out = append(out, im.Setting)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == "APPNAME") != (out[j] == "APPNAME") {
			return out[i] == "APPNAME"
		}
		return out[i] < out[j]
	})
	return out
}
