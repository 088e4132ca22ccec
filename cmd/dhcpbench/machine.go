package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
)

// machine describes where the benchmark ran.
type machine struct {
	NProc    int
	CPU      string
	Kernel   string
	MemTotal string
	Go       string // toolchain that built dhcpbench
	WorkFS   string // file system of the servers' lease files: fsync cost depends on it
	Perfdhcp string
	Strace   string
	Load     string // /proc/loadavg when the run started: other work on the machine skews every figure
}

// describeMachine collects the machine and tool facts; what cannot be found
// is "unknown".
func describeMachine(ctx context.Context, o options, workDir string) machine {
	m := machine{
		NProc:    runtime.NumCPU(),
		CPU:      cpuinfoField("model name"),
		Kernel:   strings.TrimSpace(readString("/proc/sys/kernel/osrelease")),
		MemTotal: meminfoField("MemTotal"),
		Go:       runtime.Version(),
		WorkFS:   fsType(workDir),
		Perfdhcp: "perfdhcp " + firstLineOf(ctx, o.Perfdhcp, "-v"),
		Strace:   "not used",
		Load:     strings.TrimSpace(readString("/proc/loadavg")) + "; CPU pressure " + firstOf(readString("/proc/pressure/cpu")),
	}
	if o.Strace != "" {
		m.Strace = firstLineOf(ctx, o.Strace, "-V")
	}
	return m
}

func readString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return string(b)
}

// firstOf returns the first line of s.
func firstOf(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// cpuinfoField returns the first value of key in /proc/cpuinfo.
func cpuinfoField(key string) string { return procField("/proc/cpuinfo", key) }

// meminfoField returns key's value in /proc/meminfo.
func meminfoField(key string) string { return procField("/proc/meminfo", key) }

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

// fsType names the file system holding dir, by its statfs magic number.
func fsType(dir string) string {
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
