package main

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

// procStat is the part of /proc/PID/stat the benchmark uses.
type procStat struct {
	PID, PPID      int
	State          byte
	UTime, STime   uint64 // own CPU time, in 1/userHZ seconds
	CUTime, CSTime uint64 // CPU time of children this process has waited for
}

// cpu returns the process's own CPU time plus that of its waited-for children.
func (s procStat) cpu() time.Duration {
	return ticks(s.UTime + s.STime + s.CUTime + s.CSTime)
}

// ownCPU returns the process's own CPU time.
func (s procStat) ownCPU() time.Duration { return ticks(s.UTime + s.STime) }

func ticks(n uint64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// parseStat parses the text of /proc/PID/stat. The command name (field 2)
// may hold spaces and parentheses, so fields are counted from its last ')'.
func parseStat(s string) (procStat, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 1 || end < open {
		return procStat{}, errors.New("stat: no command name in parentheses")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("stat: pid: %w", err)
	}
	// rest[0] is field 3 (state); utime..cstime are fields 14..17.
	rest := strings.Fields(s[end+1:])
	if len(rest) < 15 || len(rest[0]) != 1 {
		return procStat{}, fmt.Errorf("stat: %d fields after the command name, want at least 15", len(rest))
	}
	st := procStat{PID: pid, State: rest[0][0]}
	if st.PPID, err = strconv.Atoi(rest[1]); err != nil {
		return procStat{}, fmt.Errorf("stat: ppid: %w", err)
	}
	for i, dst := range []*uint64{&st.UTime, &st.STime, &st.CUTime, &st.CSTime} {
		if *dst, err = strconv.ParseUint(rest[11+i], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("stat: field %d: %w", 14+i, err)
		}
	}
	return st, nil
}

// statusBytes returns a "kB" figure such as VmRSS or VmHWM from the text of
// /proc/PID/status, in bytes. ok is false if the key is absent (as it is
// for a zombie).
func statusBytes(status, key string) (n int64, ok bool, err error) {
	for line := range strings.Lines(status) {
		name, value, found := strings.Cut(line, ":")
		if !found || name != key {
			continue
		}
		f := strings.Fields(value)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false, fmt.Errorf("status: %s: unexpected value %q", key, strings.TrimSpace(value))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("status: %s: %w", key, err)
		}
		return kb * 1024, true, nil
	}
	return 0, false, nil
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	return parseStat(string(b))
}

// readStatusBytes reads one kB figure of /proc/PID/status; 0 if absent.
func readStatusBytes(pid int, key string) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	n, _, err := statusBytes(string(b), key)
	return n, err
}

// allStats reads the stat of every process. Processes that vanish while
// /proc is walked are skipped.
func allStats() ([]procStat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	out := make([]procStat, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// descendants returns the PIDs below root in the tree that stats describe,
// root first.
func descendants(root int, stats []procStat) []int {
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

// treeSample is one reading of a process tree.
type treeSample struct {
	RSS   int64         // sum of VmRSS over the tree, bytes (shared pages count once per process)
	CPU   time.Duration // root's own and waited-for children's CPU, plus each live descendant's own
	Procs int           // processes in the tree
}

// sampleTree reads the RSS and CPU time of root and all its descendants.
// A tree's CPU counts a descendant once: while it lives (or is a zombie)
// from its own stat, after the root has reaped it from the root's cutime.
func sampleTree(root int) (treeSample, error) {
	stats, err := allStats()
	if err != nil {
		return treeSample{}, err
	}
	byPID := make(map[int]procStat, len(stats))
	for _, s := range stats {
		byPID[s.PID] = s
	}
	rootStat, ok := byPID[root]
	if !ok {
		return treeSample{}, fmt.Errorf("process %d is gone", root)
	}
	var ts treeSample
	for i, pid := range descendants(root, stats) {
		if i == 0 {
			ts.CPU += rootStat.cpu()
		} else {
			ts.CPU += byPID[pid].ownCPU()
		}
		rss, err := readStatusBytes(pid, "VmRSS")
		if err != nil && i == 0 {
			return treeSample{}, err
		}
		ts.RSS += rss
		ts.Procs++
	}
	return ts, nil
}
