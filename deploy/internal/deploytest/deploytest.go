// Package deploytest holds what the tests of deploy/ share: gating on root,
// external tools and slow runs, running commands under a deadline, and
// building packages with deploy/dist.sh.
//
// Gating follows the project's rule: a missing tool skips the test, except
// under CI (CI set), where it fails, because CI installs every tool with
// deploy/dev/install-test-packages.sh.
package deploytest

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI (the CI variable is set).
func InCI() bool { return os.Getenv("CI") != "" }

// NeedRoot skips t unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// NeedTools skips t when one of the tools is not on PATH, or fails it under CI.
func NeedTools(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing tools: %s (deploy/dev/install-test-packages.sh installs them)", strings.Join(missing, ", "))
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// SlowEnv is the variable that lets slow tests run outside CI.
const SlowEnv = "PHONEPROV_SLOW_TESTS"

// NeedSlow skips t unless SlowEnv is 1 or the tests run under CI.
func NeedSlow(t testing.TB) {
	t.Helper()
	if os.Getenv(SlowEnv) != "1" && !InCI() {
		t.Skipf("slow test: set %s=1 to run it", SlowEnv)
	}
}

// RepoRoot is the folder holding go.mod, found upwards from the working
// directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Output runs name with args under timeout and returns its combined output
// and any error, the output included in the error's text.
func Output(ctx context.Context, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s", timeout)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// Run runs name with args under timeout, fails t if it does not succeed and
// returns its combined output.
func Run(t testing.TB, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := Output(t.Context(), timeout, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BuildDebs runs deploy/dist.sh for arches into dir with version and returns
// the package of each architecture. It fails t if one is missing.
func BuildDebs(t testing.TB, dir, version string, arches ...string) map[string]string {
	t.Helper()
	NeedTools(t, "go", "sha256sum")
	args := []string{filepath.Join(RepoRoot(t), "deploy", "dist.sh"), "--out", dir, "--version", version}
	for _, a := range arches {
		args = append(args, "--arch", a)
	}
	start := time.Now()
	Run(t, 5*time.Minute, "bash", args...)
	t.Logf("dist.sh %s: %s", strings.Join(arches, " "), time.Since(start).Round(100*time.Millisecond))
	debs := map[string]string{}
	for _, a := range arches {
		p := filepath.Join(dir, fmt.Sprintf("phoneprov_%s_%s.deb", version, a))
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("dist.sh made no %s package: %v", a, err)
		}
		debs[a] = p
	}
	return debs
}

// CheckStaticBinary fails t unless path is an ELF for machine, statically
// linked (no interpreter), stripped, and built for goarch (and goarm, when
// not empty) with cgo off and -trimpath, as deploy/dist.sh builds.
func CheckStaticBinary(t testing.TB, path string, machine elf.Machine, goarch, goarm string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s is for %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has an interpreter)", path)
		}
	}
	for _, name := range []string{".symtab", ".debug_info"} {
		if f.Section(name) != nil {
			t.Errorf("%s is not stripped: it has %s", path, name)
		}
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"GOOS": "linux", "GOARCH": goarch, "CGO_ENABLED": "0", "-trimpath": "true"}
	if goarm != "" {
		want["GOARM"] = goarm
	}
	for _, s := range bi.Settings {
		if w, ok := want[s.Key]; ok {
			if s.Value != w {
				t.Errorf("%s: build setting %s=%s, want %s", path, s.Key, s.Value, w)
			}
			delete(want, s.Key)
		}
	}
	for k := range want {
		t.Errorf("%s: build setting %s missing", path, k)
	}
}
