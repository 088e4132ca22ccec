package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/internal/deploytest"
)

// headCommit is the commit the tree is at.
func headCommit(t *testing.T) string {
	t.Helper()
	deploytest.NeedTools(t, "git")
	return strings.TrimSpace(deploytest.Run(t, time.Minute, "git", "-C", deploytest.RepoRoot(t), "rev-parse", "HEAD"))
}

// TestMakeBuildPrintsTheCommit: the binary `make build` makes names the
// tree's commit in `phoneprov version` (set with -ldflags -X, so it holds
// with GOFLAGS=-buildvcs=false too).
func TestMakeBuildPrintsTheCommit(t *testing.T) {
	deploytest.NeedTools(t, "go", "make")
	dir := t.TempDir()
	bin := filepath.Join(dir, "phoneprov")
	deploytest.Run(t, 5*time.Minute, "make", "-C", deploytest.RepoRoot(t), "build", "BIN="+bin, "SIM="+filepath.Join(dir, "phonesim"))
	out := deploytest.Run(t, time.Minute, bin, "version")
	if want := "commit " + headCommit(t); !strings.HasPrefix(out, "phoneprov ") || !strings.Contains(out, want) {
		t.Errorf("phoneprov version of make build: %q, want %q in it", out, want)
	}
	if strings.HasPrefix(out, "phoneprov devel ") {
		t.Errorf("phoneprov version of make build has no version: %q", out)
	}
}

// TestPackagedBinaryPrintsTheVersion: the binary in the package deploy/dist.sh
// makes prints the package's version and the tree's commit.
func TestPackagedBinaryPrintsTheVersion(t *testing.T) {
	deploytest.NeedTools(t, "dpkg-deb")
	const version = "1.2.3~version1"
	dir := t.TempDir()
	deb := deploytest.BuildDebs(t, dir, version, "amd64")["amd64"]
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	deploytest.Run(t, time.Minute, "dpkg-deb", "-x", deb, root)
	out := deploytest.Run(t, time.Minute, filepath.Join(root, "usr", "bin", "phoneprov"), "version")
	if want := "phoneprov " + version + " commit " + headCommit(t) + " "; !strings.HasPrefix(out, want) {
		t.Errorf("the packaged phoneprov version: %q, want it to start %q", out, want)
	}
}
