package firmware

import (
	"maps"
	"sort"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/script"
)

// Coverage says that a model is offered a file, and how that is known.
type Coverage struct {
	Series     Series
	Model      string
	Signalling Signalling
	Setting    string  // APPNAME, JEM24_APPNAME, …
	File       string  //
	Version    Version // zero when the file name says nothing
	Source     string  // "file name" or "script <name>"
}

// NameCoverage lists, for each image, the models it is for.
func NameCoverage(images []Image) []Coverage {
	var out []Coverage
	for _, im := range images {
		if im.Setting == "" {
			continue
		}
		for _, m := range im.Models {
			out = append(out, Coverage{Series: im.Series, Model: m, Signalling: im.Signalling,
				Setting: im.Setting, File: im.File, Version: im.Version, Source: "file name"})
		}
	}
	SortCoverage(out)
	return out
}

// ScriptCoverage runs a vendor upgrade script for every model of its series
// (with SIG 1 and 2 for series that run either protocol) and lists the
// firmware it would have each model fetch. Models whose firmware depends on
// the hardware version (HardwareSplits) are run once without the variable
// and once with an early hardware version. Other variables a script may
// test that are not known here (BOOTNAME) are left unset, so such IF lines
// are skipped as a phone without them would.
func ScriptCoverage(name string, s *script.Script, info SeriesInfo) []Coverage {
	sigs := []Signalling{info.Default}
	if info.Dual {
		sigs = []Signalling{H323, SIP}
	}
	var out []Coverage
	for _, model := range info.Models {
		for _, sig := range sigs {
			base := map[string]string{"MODEL4": model, "MODEL": model, "SIG": sigValue(sig), "GROUP": "0"}
			runs := []map[string]string{base}
			if h, ok := SplitFor(model); ok {
				// Early hardware too, so both of its images are listed.
				early := maps.Clone(base)
				early[h.Variable] = h.Early[0]
				runs = append(runs, early)
			}
			for _, vars := range runs {
				res, _ := script.Run(s, script.RunOptions{File: name, Vars: vars, FoldCase: info.FoldCase, MaxSteps: 5000})
				for setting, file := range res.Settings() {
					if !strings.HasSuffix(setting, "APPNAME") || file == "" {
						continue
					}
					c := Coverage{Series: info.Series, Model: model, Signalling: sig, Setting: setting, File: file, Source: "script " + name}
					if im, ok := Recognise(file); ok {
						c.Version = im.Version
					}
					out = append(out, c)
				}
			}
		}
	}
	SortCoverage(out)
	return dedupe(out)
}

func sigValue(s Signalling) string {
	if s == SIP {
		return "2"
	}
	return "1"
}

// SortCoverage orders by series, model, setting, protocol, file.
func SortCoverage(cs []Coverage) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		switch {
		case a.Series != b.Series:
			return a.Series < b.Series
		case a.Model != b.Model:
			return a.Model < b.Model
		case a.Setting != b.Setting:
			return a.Setting < b.Setting
		case a.Signalling != b.Signalling:
			return a.Signalling < b.Signalling
		case a.File != b.File:
			return a.File < b.File
		}
		return a.Source < b.Source
	})
}

func dedupe(cs []Coverage) []Coverage {
	var out []Coverage
	for _, c := range cs {
		if len(out) > 0 {
			p := out[len(out)-1]
			if p.Series == c.Series && p.Model == c.Model && p.Setting == c.Setting && p.Signalling == c.Signalling && p.File == c.File && p.Source == c.Source {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
