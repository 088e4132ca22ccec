package provisioning

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// RolloutImages returns the APPNAME firmware files of version for a
// series (or, when model is set, for that MODEL4 value), for a roll-out
// to name; an error when there are none.
func (g *Generator) RolloutImages(ctx context.Context, series, model, version string) ([]string, error) {
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	want := firmware.Canonical(version)
	var out []string
	for _, im := range s.catalog.Images {
		if im.Setting != "APPNAME" || im.Version.IsZero() || !strings.EqualFold(firmware.Canonical(im.Version.String()), want) {
			continue
		}
		if series != "" && strings.EqualFold(string(im.Series), series) || model != "" && im.For(strings.ToUpper(model)) {
			out = append(out, im.File)
		}
	}
	if len(out) == 0 {
		target := series
		if model != "" {
			target = "model " + model
		}
		return nil, fmt.Errorf("no firmware %s for %s in %s", version, target, g.opts.FilesDir)
	}
	return out, nil
}

// GroupMembers returns the MACs (12 hex digits) of the phones whose
// [[provisioning.phone]] entry sets GROUP to group: the phones a roll-out
// canary "group N" means. Phones that take their GROUP elsewhere (the
// phone's own menu) are not known here.
func (g *Generator) GroupMembers(group int) []string {
	var out []string
	for mac, p := range g.conf.Load().phones {
		if v, ok := p.Settings["GROUP"]; ok && strings.TrimSpace(string(v)) == strconv.Itoa(group) {
			out = append(out, mac)
		}
	}
	sortNames(out)
	return out
}

// FirmwareVersion is one version of one firmware line's APPNAME images in
// the file tree, for the roll-outs' released and held versions.
type FirmwareVersion struct {
	Line    string           // ReleaseLine: "96x1S", "96xx/sip"
	Series  firmware.Series  // the series whose script names it
	Version firmware.Version // releaseVersion of the files' version
	Files   []string         // its files, sorted
}

// FirmwareVersions lists every version of APPNAME firmware in the file
// tree with a version in its name, by line then version, oldest first.
func (g *Generator) FirmwareVersions(ctx context.Context) ([]FirmwareVersion, error) {
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	var out []FirmwareVersion
	for _, im := range s.catalog.Images {
		if im.Setting != "APPNAME" || im.Version.IsZero() {
			continue
		}
		line, version := ReleaseLine(im.Series, im.Signalling), releaseVersion(im.Version)
		i := slices.IndexFunc(out, func(v FirmwareVersion) bool {
			return v.Line == line && firmware.Compare(v.Version, version) == 0
		})
		if i < 0 {
			out = append(out, FirmwareVersion{Line: line, Series: im.Series, Version: version})
			i = len(out) - 1
		}
		out[i].Files = append(out[i].Files, im.File)
	}
	for i := range out {
		sortNames(out[i].Files)
	}
	slices.SortFunc(out, func(a, b FirmwareVersion) int {
		if c := strings.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return firmware.Compare(a.Version, b.Version)
	})
	return out, nil
}
