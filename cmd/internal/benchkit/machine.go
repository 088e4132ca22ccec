package benchkit

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Machine describes where a benchmark ran; what cannot be found is
// "unknown".
type Machine struct {
	NProc    int
	CPU      string // model name
	MemTotal string
	Kernel   string
	Go       string // the toolchain that built the benchmark
	// Load is /proc/loadavg and the CPU pressure when the run started:
	// other work on the machine skews every figure.
	Load string
}

// Fact is one more line of a report's machine section, such as a tool's
// version.
type Fact struct{ Name, Value string }

// DescribeMachine reads the machine's facts from /proc.
func DescribeMachine() Machine {
	return Machine{
		NProc:    runtime.NumCPU(),
		CPU:      procField("/proc/cpuinfo", "model name"),
		MemTotal: procField("/proc/meminfo", "MemTotal"),
		Kernel:   cmp.Or(FirstLine(readString("/proc/sys/kernel/osrelease")), "unknown"),
		Go:       runtime.Version(),
		Load: cmp.Or(FirstLine(readString("/proc/loadavg")), "unknown") + "; CPU pressure " +
			cmp.Or(FirstLine(readString("/proc/pressure/cpu")), "unknown"),
	}
}

// WriteMarkdown writes the "## Machine" section: the machine, then facts
// (those with an empty value are left out).
func (m Machine) WriteMarkdown(b *strings.Builder, facts ...Fact) {
	b.WriteString("## Machine\n\n")
	all := append([]Fact{
		{"nproc", fmt.Sprint(m.NProc)}, {"CPU", m.CPU}, {"memory", m.MemTotal}, {"kernel", m.Kernel},
		{"load at the start", m.Load}, {"go (" + filepath.Base(os.Args[0]) + ")", m.Go},
	}, facts...)
	for _, f := range all {
		if f.Value != "" {
			fmt.Fprintf(b, "- %s: `%s`\n", f.Name, f.Value)
		}
	}
}

// ToolVersion runs a version command and returns the first non-empty line
// of its output, or "unknown". Some tools print usage and exit non-zero
// after the version (wrk -v), so the exit status is not checked.
func ToolVersion(ctx context.Context, bin string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return cmp.Or(FirstLine(string(out)), "unknown")
}

// FirstLine returns the first non-empty line of s, trimmed.
func FirstLine(s string) string {
	for line := range strings.Lines(s) {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}

// FSType names the file system holding dir, by its statfs magic number.
func FSType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	names := map[int64]string{
		0xEF53: "ext4", 0x01021994: "tmpfs (fsync costs nothing: durability figures are not meaningful)",
		0x58465342: "xfs", 0x9123683E: "btrfs", 0x794c7630: "overlayfs", 0x2FC12FC1: "zfs", 0x65735546: "fuse",
	}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("magic %#x", st.Type)
}

func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// procField returns the first value of key in a "key: value" file such
// as /proc/cpuinfo.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
