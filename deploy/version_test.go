package deploy_test

import (
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
	t.Parallel()
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
