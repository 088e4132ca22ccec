package benchkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuGroup is a cgroup v2 group a server is started in (clone3 with
// CLONE_INTO_CGROUP), so that its CPU time includes every process it forks,
// reaped or not: tftpd-hpa ignores SIGCHLD, which leaves its finished
// transfers out of its cutime/cstime.
type cpuGroup struct {
	dir string
	f   *os.File // the open directory, for SysProcAttr.CgroupFD
}

// newCPUGroup creates an empty group below the benchmark's own cgroup. It
// fails where there is no writable cgroup v2 hierarchy (no root, v1 only);
// the caller then falls back to /proc.
func newCPUGroup(name string) (*cpuGroup, error) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	mnt, ok := cgroup2Mount(string(mounts))
	if !ok {
		return nil, errors.New("cgroup: no cgroup2 file system mounted")
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	rel, ok := cgroup2Path(string(own))
	if !ok {
		return nil, errors.New("cgroup: this process has no cgroup v2 path")
	}
	dir := filepath.Join(mnt, rel, fmt.Sprintf("%s-%d-%s", filepath.Base(os.Args[0]), os.Getpid(), name))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	return &cpuGroup{dir: dir, f: f}, nil
}

// fd returns the directory descriptor for SysProcAttr.CgroupFD.
func (g *cpuGroup) fd() int { return int(g.f.Fd()) }

// usage returns the CPU time the group's processes have used so far.
func (g *cpuGroup) usage() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(g.dir, "cpu.stat"))
	if err != nil {
		return 0, fmt.Errorf("cgroup: %w", err)
	}
	return parseCPUStat(string(b))
}

// kill kills every process left in the group (cgroup.kill, Linux 5.14);
// a no-op where the kernel lacks it.
func (g *cpuGroup) kill() {
	_ = os.WriteFile(filepath.Join(g.dir, "cgroup.kill"), []byte("1"), 0)
}

// remove deletes the group once its processes are gone; the kernel may
// take a moment to let go of them after they exit.
func (g *cpuGroup) remove() error {
	_ = g.f.Close()
	var err error
	for range 50 {
		if err = os.Remove(g.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("cgroup: remove %s: %w", g.dir, err)
}

// cgroup2Mount finds the mount point of the cgroup2 file system in the text
// of /proc/self/mountinfo.
func cgroup2Mount(mountinfo string) (string, bool) {
	for line := range strings.Lines(mountinfo) {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) >= 5 && len(g) >= 1 && g[0] == "cgroup2" {
			return f[4], true
		}
	}
	return "", false
}

// cgroup2Path finds this process's cgroup v2 path ("0::/path") in the text
// of /proc/self/cgroup.
func cgroup2Path(cgroup string) (string, bool) {
	for line := range strings.Lines(cgroup) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok && strings.HasPrefix(p, "/") {
			return p, true
		}
	}
	return "", false
}

// parseCPUStat returns usage_usec from the text of a cgroup's cpu.stat.
func parseCPUStat(s string) (time.Duration, error) {
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "usage_usec" {
			us, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cgroup: cpu.stat usage_usec: %w", err)
			}
			return time.Duration(us) * time.Microsecond, nil
		}
	}
	return 0, errors.New("cgroup: no usage_usec in cpu.stat")
}
