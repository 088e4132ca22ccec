package provisioning

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

// configFile names findings about the configuration rather than a script.
const configFile = "[provisioning]"

// Check lints what phones would read, for `phoneprov check`: the operator's
// scripts in the tree (see script.LintTree), the generated files in force,
// and the configuration against the tree (pins and firmware entries naming
// files that are missing or not firmware, firmware files nothing
// recognises). Names count as present when the tree has them, the
// generator makes them, or they are the CA certificate the server serves.
func (g *Generator) Check(ctx context.Context) ([]script.Finding, error) {
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(g.opts.FilesDir)
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	defer root.Close()
	exists := func(name string) bool {
		name = strings.TrimLeft(name, "/")
		if strings.Contains(name, "/") {
			fi, err := root.Stat(name)
			return err == nil && fi.Mode().IsRegular()
		}
		if _, ok := s.catalog.Has(name); ok {
			return true
		}
		if g.opts.CACertName != "" && strings.EqualFold(name, g.opts.CACertName) {
			return true
		}
		_, _, ok := g.identify(s, name)
		return ok
	}
	out, err := script.LintTree(ctx, g.opts.FilesDir, exists)
	if err != nil {
		return nil, err
	}
	names, err := g.Names(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		r, err := g.Generate(ctx, n, fileserve.Client{})
		if err != nil {
			return nil, err
		}
		out = append(out, script.Lint(script.Parse(r.Data), script.LintOptions{File: n + " (generated)", Exists: exists})...)
	}
	out = append(out, pinFindings(s.conf, s.catalog)...)
	for _, m := range s.conf.mappings {
		if _, ok := s.catalog.Has(m.File); !ok {
			out = append(out, script.Finding{File: configFile, Severity: script.Warning,
				Message: fmt.Sprintf("[[provisioning.firmware]] describes %s, which is not in the file tree", m.File)})
		}
	}
	for _, n := range s.catalog.Unrecognised {
		out = append(out, script.Finding{File: n, Severity: script.Warning,
			Message: "not recognised as phone firmware; describe it with [[provisioning.firmware]] if phones should get it"})
	}
	script.SortFindings(out)
	return out, nil
}

// pinFindings explains pins that cannot be honoured.
func pinFindings(conf *compiled, cat *firmware.Catalog) []script.Finding {
	var out []script.Finding
	for _, model := range slices.Sorted(maps.Keys(conf.pins)) {
		file := conf.pins[model]
		msg := ""
		im, ok := cat.Image(file)
		switch _, present := cat.Has(file); {
		case !present:
			msg = fmt.Sprintf("pin %s = %q: the file is not in the file tree, so %s phones are told no firmware", model, file, model)
		case !ok:
			msg = fmt.Sprintf("pin %s = %q: the file is not recognised as firmware; describe it with [[provisioning.firmware]]", model, file)
		case !im.For(model) || im.Setting != "APPNAME":
			msg = fmt.Sprintf("pin %s = %q: that file is %s firmware for %s, not for %s", model, file, im.Series, strings.Join(im.Models, ", "), model)
		}
		if msg != "" {
			out = append(out, script.Finding{File: configFile, Severity: script.Error, Message: msg})
		}
	}
	return out
}
