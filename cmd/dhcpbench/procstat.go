package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of CPU times in /proc/PID/stat; the kernel ABI fixes
// it at 100.
const userHZ = 100

// memory is a process's resident memory, in bytes.
type memory struct {
	RSS  int64 // VmRSS: now
	HWM  int64 // VmHWM: the peak since it started
	Anon int64 // RssAnon: the heap and stacks
	File int64 // RssFile: mapped files, such as a memory-mapped lease database
}

// parseStatCPU returns utime+stime (every thread of the process) from the
// text of /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted from its last ')'.
func parseStatCPU(s string) (time.Duration, error) {
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, errors.New("stat: no command name in parentheses")
	}
	// rest[0] is field 3 (state); utime and stime are fields 14 and 15.
	rest := strings.Fields(s[end+1:])
	if len(rest) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(rest))
	}
	var ticks uint64
	for _, f := range rest[11:13] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: cpu time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatusMemory reads VmRSS and VmHWM, and RssAnon and RssFile where
// the kernel has them (4.5 and later), from the text of /proc/PID/status.
func parseStatusMemory(s string) (memory, error) {
	var m memory
	found := 0
	for line := range strings.Lines(s) {
		name, value, ok := strings.Cut(line, ":")
		var dst *int64
		switch {
		case !ok:
			continue
		case name == "VmRSS":
			dst = &m.RSS
		case name == "VmHWM":
			dst = &m.HWM
		case name == "RssAnon":
			dst = &m.Anon
		case name == "RssFile":
			dst = &m.File
		default:
			continue
		}
		f := strings.Fields(value)
		if len(f) != 2 || f[1] != "kB" {
			return memory{}, fmt.Errorf("status: %s: unexpected value %q", name, strings.TrimSpace(value))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("status: %s: %w", name, err)
		}
		*dst = kb * 1024
		if dst == &m.RSS || dst == &m.HWM {
			found++
		}
	}
	if found != 2 {
		return memory{}, errors.New("status: VmRSS or VmHWM missing (process gone?)")
	}
	return m, nil
}

// readCPU returns the CPU time the process has used so far.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	return parseStatCPU(string(b))
}

// readMemory returns the process's current and peak resident memory.
func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, fmt.Errorf("memory of %d: %w", pid, err)
	}
	return parseStatusMemory(string(b))
}

// waitIdle waits until the process uses (almost) no CPU over a quarter
// second, or for at most limit.
func waitIdle(ctx context.Context, pid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	last, err := readCPU(pid)
	for err == nil && ctx.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		var now time.Duration
		if now, err = readCPU(pid); err == nil && now-last <= 10*time.Millisecond {
			return
		}
		last = now
	}
}

// mib formats bytes as MiB with one decimal.
func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }
