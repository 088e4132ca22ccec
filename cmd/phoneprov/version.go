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
	var settings []debug.BuildSetting
	mainVersion, goVersion := "", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		settings, mainVersion, goVersion = bi.Settings, bi.Main.Version, bi.GoVersion
	}
	return formatVersion(version, commit, mainVersion, goVersion, settings)
}

// formatVersion prefers what the linker was given, then the build
// information: the module version (not "(devel)") and vcs.revision.
func formatVersion(version, commit, mainVersion, goVersion string, settings []debug.BuildSetting) string {
	if version == "" && mainVersion != "(devel)" {
		version = mainVersion
	}
	modified := false
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
	parts := []string{"phoneprov", cmp.Or(version, "devel")}
	parts = append(parts, "commit", cmp.Or(commit, "unknown"))
	if modified {
		parts = append(parts, "(modified)")
	}
	return strings.Join(append(parts, goVersion, runtime.GOOS+"/"+runtime.GOARCH), " ")
}
