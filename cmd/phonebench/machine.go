package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where the benchmark ran.
type machine struct {
	NProc     int
	CPU       string
	Kernel    string
	Go        string // the toolchain that built phonebench
	Phoneprov string // phoneprov version
	Nginx     string
	TFTPD     string
	Wrk       string
}

// describeMachine collects the machine and tool versions; what cannot be
// found is "unknown".
func describeMachine(ctx context.Context, o options) machine {
	m := machine{
		NProc:     runtime.NumCPU(),
		CPU:       cpuModel(),
		Kernel:    firstLine(readFileString("/proc/sys/kernel/osrelease")),
		Go:        runtime.Version(),
		Phoneprov: toolVersion(ctx, o.Phoneprov, "version"),
	}
	if o.Nginx != "" {
		m.Nginx = toolVersion(ctx, o.Nginx, "-v")
	}
	if o.TFTPD != "" {
		m.TFTPD = toolVersion(ctx, o.TFTPD, "-V")
	}
	if o.Wrk != "" {
		m.Wrk = toolVersion(ctx, o.Wrk, "-v")
	}
	return m
}

// toolVersion runs a version command and returns its first line of output.
// Some tools print usage and exit non-zero after the version (wrk -v), so
// the exit status is not checked.
func toolVersion(ctx context.Context, bin string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, _ := cmd.CombinedOutput()
	return firstLine(string(out))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func readFileString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if s == "" {
		return "unknown"
	}
	return s
}
