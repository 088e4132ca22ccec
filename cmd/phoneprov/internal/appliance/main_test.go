package appliance

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/phoneprov/phoneprov/deploy/netlab/netlabtest"
)

// TestMain runs up to six of the parallel tests at once (they are HA labs
// that wait for heartbeats and failover delays, and browsers) and removes
// the programs built for the labs.
func TestMain(m *testing.M) {
	netlabtest.ParallelLabs(6)
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// binaries are the commands of this module built for the lab tests, each
// once per test run.
var binaries struct {
	mu    sync.Mutex
	dir   string
	built map[string]string // command name → path
}

// buildOnce returns the path of the module's command cmd/name, building
// it the first time a test asks.
func buildOnce(t *testing.T, name string) string {
	t.Helper()
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if p, ok := binaries.built[name]; ok {
		return p
	}
	if binaries.dir == "" {
		dir, err := os.MkdirTemp("", "appliance-labs-")
		if err != nil {
			t.Fatal(err)
		}
		binaries.dir, binaries.built = dir, map[string]string{}
	}
	bin := filepath.Join(binaries.dir, name)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/phoneprov/phoneprov/cmd/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	binaries.built[name] = bin
	return bin
}
