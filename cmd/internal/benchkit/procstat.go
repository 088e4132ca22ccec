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

// userHZ is the unit of the CPU times in /proc/PID/stat. The kernel ABI
// fixes it at 100 on every architecture Go supports on Linux.
const userHZ = 100

// ProcStat is the part of /proc/PID/stat the benchmarks use.
type ProcStat struct {
	PID, PPID      int
	State          byte
	UTime, STime   uint64 // own CPU time (every thread), in 1/userHZ seconds
	CUTime, CSTime uint64 // CPU time of children this process has waited for
}

// CPU returns the process's own CPU time plus that of its waited-for children.
func (s ProcStat) CPU() time.Duration {
	return ticks(s.UTime + s.STime + s.CUTime + s.CSTime)
}

// OwnCPU returns the process's own CPU time: utime + stime.
func (s ProcStat) OwnCPU() time.Duration { return ticks(s.UTime + s.STime) }

func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// parseStat parses the text of /proc/PID/stat. The command name (field 2)
// may hold spaces and parentheses, so fields are counted from its last ')'.
func parseStat(s string) (ProcStat, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 1 || end < open {
		return ProcStat{}, errors.New("stat: no command name in parentheses")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return ProcStat{}, fmt.Errorf("stat: pid: %w", err)
	}
	// rest[0] is field 3 (state); utime..cstime are fields 14..17.
	rest := strings.Fields(s[end+1:])
	if len(rest) < 15 || len(rest[0]) != 1 {
		return ProcStat{}, fmt.Errorf("stat: %d fields after the command name, want at least 15", len(rest))
	}
	st := ProcStat{PID: pid, State: rest[0][0]}
	if st.PPID, err = strconv.Atoi(rest[1]); err != nil {
		return ProcStat{}, fmt.Errorf("stat: ppid: %w", err)
	}
	for i, dst := range []*uint64{&st.UTime, &st.STime, &st.CUTime, &st.CSTime} {
		if *dst, err = strconv.ParseUint(rest[11+i], 10, 64); err != nil {
			return ProcStat{}, fmt.Errorf("stat: field %d: %w", 14+i, err)
		}
	}
	return st, nil
}

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ProcStat{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	return parseStat(string(b))
}

// Memory is a process's resident memory, in bytes, from /proc/PID/status.
type Memory struct {
	RSS  int64 // VmRSS: now
	HWM  int64 // VmHWM: the peak since it started
	Anon int64 // RssAnon: the heap and stacks (Linux 4.5 and later)
	File int64 // RssFile: mapped files, such as a memory-mapped lease database
}

// errNoMemory is the error for a status without VmRSS or VmHWM, as a
// zombie's is.
var errNoMemory = errors.New("status: VmRSS or VmHWM missing (process gone?)")

// parseStatusMemory reads VmRSS and VmHWM, and RssAnon and RssFile where
// the kernel has them, from the text of /proc/PID/status.
func parseStatusMemory(s string) (Memory, error) {
	var m Memory
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
			return Memory{}, fmt.Errorf("status: %s: unexpected value %q", name, strings.TrimSpace(value))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("status: %s: %w", name, err)
		}
		*dst = kb * 1024
		if dst == &m.RSS || dst == &m.HWM {
			found++
		}
	}
	if found != 2 {
		return Memory{}, errNoMemory
	}
	return m, nil
}

// ReadMemory returns the process's current and peak resident memory.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return Memory{}, fmt.Errorf("memory of %d: %w", pid, err)
	}
	m, err := parseStatusMemory(string(b))
	if err != nil {
		return Memory{}, fmt.Errorf("memory of %d: %w", pid, err)
	}
	return m, nil
}

// allStats reads the stat of every process. Processes that vanish while
// /proc is walked are skipped.
func allStats() ([]ProcStat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	out := make([]ProcStat, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := ReadStat(pid); err == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// descendants returns the PIDs below root in the tree that stats describe,
// root first.
func descendants(root int, stats []ProcStat) []int {
	kids := make(map[int][]int)
	for _, s := range stats {
		kids[s.PPID] = append(kids[s.PPID], s.PID)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, kids[tree[i]]...)
	}
	return tree
}

// TreeSample is one reading of a process tree.
type TreeSample struct {
	RSS   int64         // sum of VmRSS over the tree, bytes (shared pages count once per process)
	CPU   time.Duration // root's own and waited-for children's CPU, plus each live descendant's own
	Procs int           // processes in the tree
}

// SampleTree reads the RSS and CPU time of root and all its descendants.
// A tree's CPU counts a descendant once: while it lives (or is a zombie)
// from its own stat, after the root has reaped it from the root's cutime.
// A zombie counts no memory.
func SampleTree(root int) (TreeSample, error) {
	stats, err := allStats()
	if err != nil {
		return TreeSample{}, err
	}
	byPID := make(map[int]ProcStat, len(stats))
	for _, s := range stats {
		byPID[s.PID] = s
	}
	rootStat, ok := byPID[root]
	if !ok {
		return TreeSample{}, fmt.Errorf("process %d is gone", root)
	}
	var ts TreeSample
	for i, pid := range descendants(root, stats) {
		if i == 0 {
			ts.CPU += rootStat.CPU()
		} else {
			ts.CPU += byPID[pid].OwnCPU()
		}
		mem, err := ReadMemory(pid)
		if err != nil && i == 0 && !errors.Is(err, errNoMemory) {
			return TreeSample{}, err
		}
		ts.RSS += mem.RSS
		ts.Procs++
	}
	return ts, nil
}

// MiB formats bytes as MiB with one decimal.
func MiB(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) }

// ThreadCPU reads the own CPU time (utime + stime) of each thread of pid
// from /proc/PID/task/TID/stat, by thread ID. Threads that end while the
// directory is walked are skipped.
func ThreadCPU(pid int) (map[int]time.Duration, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list threads of %d: %w", pid, err)
	}
	out := make(map[int]time.Duration, len(ents))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		st, err := parseStat(string(b))
		if err != nil {
			return nil, fmt.Errorf("thread %s of %d: %w", e.Name(), pid, err)
		}
		out[st.PID] = st.OwnCPU()
	}
	return out, nil
}
