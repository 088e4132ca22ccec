package main

import (
	"cmp"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are set when phoneprov is built for release, by
// `make build` and deploy/dist.sh:
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=$(git rev-parse HEAD)"
//
// The linker writes them; nothing changes them at run time. Left empty, the
// Go toolchain's build information stands in (vcs.revision when built from
// a git tree).
var (
	version string
	commit  string
)

// versionString is `phoneprov version`'s line: the version, the commit
// (with "(modified)" when the tree had changes), the Go release and the
// platform.
func versionString() string {
	v, c, modified := resolveVersion()
	parts := []string{"phoneprov", v, "commit", c}
	if modified {
		parts = append(parts, "(modified)")
	}
	return strings.Join(append(parts, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH), " ")
}

// resolveVersion is the build's version and commit ("devel" and "unknown"
// when nothing says), and whether the tree had changes.
func resolveVersion() (v, c string, modified bool) {
	var settings []debug.BuildSetting
	mainVersion := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		settings, mainVersion = bi.Settings, bi.Main.Version
	}
	return pickVersion(version, commit, mainVersion, settings)
}

// pickVersion prefers what the linker was given, then the build
// information: the module version (not "(devel)") and vcs.revision.
func pickVersion(version, commit, mainVersion string, settings []debug.BuildSetting) (v, c string, modified bool) {
	if version == "" && mainVersion != "(devel)" {
		version = mainVersion
	}
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			if commit == "" {
				commit = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return cmp.Or(version, "devel"), cmp.Or(commit, "unknown"), modified
}
