package deploy_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy"
	"github.com/phoneprov/phoneprov/deploy/internal/deploytest"
)

// packagedFiles are the regular files the package carries, with their modes.
var packagedFiles = map[string]string{
	"./usr/bin/phoneprov":                                    "-rwxr-xr-x",
	"./lib/systemd/system/phoneprov.service":                 "-rw-r--r--",
	"./etc/phoneprov/phoneprov.toml":                         "-rw-r--r--",
	"./usr/share/doc/phoneprov/README.md":                    "-rw-r--r--",
	"./usr/share/doc/phoneprov/README.Debian":                "-rw-r--r--",
	"./usr/share/doc/phoneprov/copyright":                    "-rw-r--r--",
	"./usr/share/man/man8/phoneprov.8.gz":                    "-rw-r--r--",
	"./usr/share/bash-completion/completions/phoneprov":      "-rw-r--r--",
	"./usr/share/phoneprov/grafana/phoneprov-dashboard.json": "-rw-r--r--",
	"./usr/share/phoneprov/grafana/phoneprov-alerts.yml":     "-rw-r--r--",
}

// debArches are the packages deploy/dist.sh builds: the Debian
// architecture, the ELF machine and Go settings of the binary in it, and
// the qemu-user emulator that runs it on this amd64 machine (none: native).
var debArches = []struct {
	arch, goarch, goarm, emulator string
	machine                       elf.Machine
}{
	{"amd64", "amd64", "", "", elf.EM_X86_64},
	{"arm64", "arm64", "", "qemu-aarch64-static", elf.EM_AARCH64},
	{"armhf", "arm", "6", "qemu-arm-static", elf.EM_ARM},
}

// TestDebPackage builds the amd64, arm64 and armhf packages with one run
// of deploy/dist.sh and checks each: control fields, conffiles, maintainer
// scripts, files, the binary in it (static, stripped, for the right
// machine), the copyright's coverage of every linked module; then runs the
// packaged binary (arm64 and armhf under qemu-user) on the packaged
// configuration and serving a file over HTTP and TFTP on loopback. Last, a
// second amd64 build must be byte for byte the same.
func TestDebPackage(t *testing.T) {
	t.Parallel()
	deploytest.NeedTools(t, "dpkg-deb", "tar")
	dir := t.TempDir()
	const version = "1.2.3~test1"
	arches := make([]string, len(debArches))
	for i, a := range debArches {
		arches[i] = a.arch
	}
	debs := deploytest.BuildDebs(t, filepath.Join(dir, "a"), version, arches...)
	for _, a := range debArches {
		t.Run(a.arch, func(t *testing.T) {
			deb := debs[a.arch]
			if st, err := os.Stat(deb); err == nil {
				t.Logf("%s: %d bytes", filepath.Base(deb), st.Size())
			}
			root := checkDeb(t, deb, version, a.arch)
			bin := filepath.Join(root, "usr", "bin", "phoneprov")
			deploytest.CheckStaticBinary(t, bin, a.machine, a.goarch, a.goarm)
			checkCopyright(t, bin, filepath.Join(root, "usr", "share", "doc", "phoneprov", "copyright"))
			if a.emulator == "" {
				// The packaged binary names the package's version and
				// the tree's commit.
				out := deploytest.Run(t, time.Minute, bin, "version")
				if want := "phoneprov " + version + " commit " + headCommit(t) + " "; !strings.HasPrefix(out, want) {
					t.Errorf("the packaged phoneprov version: %q, want it to start %q", out, want)
				}
			}
			start := time.Now()
			checkPackagedBinaryRuns(t, root, a.emulator)
			t.Logf("the packaged binary checked and served in %s", time.Since(start).Round(100*time.Millisecond))
		})
	}

	again := deploytest.BuildDebs(t, filepath.Join(dir, "b"), version, "amd64")["amd64"]
	if sumFile(t, debs["amd64"]) != sumFile(t, again) {
		t.Error("two builds of the same tree and version differ: the package is not reproducible")
	}
}

// checkDeb checks the control fields, control files and contents of deb,
// and returns the folder it was extracted into.
func checkDeb(t *testing.T, deb, version, arch string) string {
	t.Helper()
	repo := deploytest.RepoRoot(t)
	dir := t.TempDir()
	fields := map[string]string{
		"Package":      "phoneprov",
		"Version":      version,
		"Architecture": arch,
		"Depends":      "passwd",
		"Recommends":   "ca-certificates",
		"Section":      "net",
		"Priority":     "optional",
	}
	for field, want := range fields {
		got := strings.TrimSpace(deploytest.Run(t, time.Minute, "dpkg-deb", "--field", deb, field))
		if got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	if m := strings.TrimSpace(deploytest.Run(t, time.Minute, "dpkg-deb", "--field", deb, "Maintainer")); !strings.Contains(m, "<") {
		t.Errorf("Maintainer %q has no address", m)
	}

	ctl := filepath.Join(dir, "control")
	deploytest.Run(t, time.Minute, "dpkg-deb", "--control", deb, ctl)
	if b, err := os.ReadFile(filepath.Join(ctl, "conffiles")); err != nil || string(b) != "/etc/phoneprov/phoneprov.toml\n" {
		t.Errorf("conffiles = %q (%v), want only /etc/phoneprov/phoneprov.toml", b, err)
	}
	for script, src := range map[string]string{"postinst": "postinst", "prerm": "prerm", "postrm": "postrm"} {
		got, err := os.ReadFile(filepath.Join(ctl, script))
		if err != nil {
			t.Errorf("no %s: %v", script, err)
			continue
		}
		want, _ := os.ReadFile(filepath.Join(repo, "deploy", "debian", src))
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from deploy/debian/%s", script, src)
		}
		if st, _ := os.Stat(filepath.Join(ctl, script)); st.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", script, st.Mode())
		}
	}

	// dpkg-deb -c: mode owner/group size date time ./path
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(deploytest.Run(t, time.Minute, "dpkg-deb", "--contents", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("unexpected dpkg-deb -c line %q", line)
		}
		mode, owner, path := f[0], f[1], f[5]
		if owner != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", path, owner)
		}
		if strings.HasPrefix(mode, "d") {
			continue
		}
		want, ok := packagedFiles[path]
		switch {
		case !ok:
			t.Errorf("unexpected file in the package: %s", path)
		case mode != want:
			t.Errorf("%s has mode %s, want %s", path, mode, want)
		}
		seen[path] = true
	}
	for path := range packagedFiles {
		if !seen[path] {
			t.Errorf("the package lacks %s", path)
		}
	}

	root := filepath.Join(dir, "root")
	deploytest.Run(t, time.Minute, "dpkg-deb", "--extract", deb, root)
	same := map[string][]byte{"etc/phoneprov/phoneprov.toml": deploy.ExampleConfig()}
	for pkgPath, repoPath := range map[string]string{
		"lib/systemd/system/phoneprov.service":                 "deploy/systemd/phoneprov.service",
		"usr/share/doc/phoneprov/README.md":                    "README.md",
		"usr/share/doc/phoneprov/README.Debian":                "deploy/debian/README.Debian",
		"usr/share/bash-completion/completions/phoneprov":      "deploy/bash-completion/phoneprov",
		"usr/share/phoneprov/grafana/phoneprov-dashboard.json": "deploy/grafana/phoneprov-dashboard.json",
		"usr/share/phoneprov/grafana/phoneprov-alerts.yml":     "deploy/grafana/phoneprov-alerts.yml",
		"usr/share/man/man8/phoneprov.8.gz":                    "docs/phoneprov.8",
	} {
		b, err := os.ReadFile(filepath.Join(repo, repoPath))
		if err != nil {
			t.Fatal(err)
		}
		same[pkgPath] = b
	}
	for pkgPath, want := range same {
		got, err := os.ReadFile(filepath.Join(root, pkgPath))
		if err == nil && strings.HasSuffix(pkgPath, ".gz") {
			got, err = gunzipBare(got)
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s in the package differs from the repository (%v)", pkgPath, err)
		}
	}
	return root
}

// checkCopyright: the copyright file has a paragraph, with a licence, for
// the Go standard library and for every module linked into bin.
func checkCopyright(t *testing.T, bin, copyright string) {
	t.Helper()
	text, err := os.ReadFile(copyright)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	paragraphs := strings.Split(string(text), "\n\n")
	licence := func(files string) string {
		for _, p := range paragraphs {
			if strings.HasPrefix(p, "Files: "+files+"\n") {
				for _, line := range strings.Split(p, "\n") {
					if v, ok := strings.CutPrefix(line, "License: "); ok {
						return v
					}
				}
			}
		}
		return ""
	}
	want := []string{"go/*"}
	for _, d := range bi.Deps {
		want = append(want, d.Path+"/*")
	}
	if len(want) < 5 {
		t.Errorf("the binary names only %d modules; build info missing?", len(want))
	}
	for _, files := range want {
		if l := licence(files); l == "" {
			t.Errorf("copyright has no licensed paragraph for %s", files)
		}
	}
	if !slices.ContainsFunc(paragraphs, func(p string) bool { return strings.HasPrefix(p, "Files: *\n") }) {
		t.Error("copyright has no paragraph for phoneprov itself (Files: *)")
	}
}

// gunzipBare decompresses a gzip file made with gzip -n: one that carries
// no file name and no time, so that it is the same at every build.
func gunzipBare(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		return nil, fmt.Errorf("gzip header has name %q and time %v; want neither (gzip -n)", zr.Name, zr.ModTime)
	}
	return io.ReadAll(zr)
}

func sumFile(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
