package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis, as a process may set it.
	line := "4242 (nginx: wor) ker) S 4200 4200 4200 0 -1 4194624 1234 0 0 0 250 75 12 3 20 0 1 0 123456 1234567 890 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{PID: 4242, PPID: 4200, State: 'S', UTime: 250, STime: 75, CUTime: 12, CSTime: 3}
	if st != want {
		t.Errorf("parseStat:\n got %+v\nwant %+v", st, want)
	}
	if got := st.cpu(); got != 3400*time.Millisecond {
		t.Errorf("cpu() = %v, want 3.4s", got)
	}
	if got := st.ownCPU(); got != 3250*time.Millisecond {
		t.Errorf("ownCPU() = %v, want 3.25s", got)
	}
}

func TestParseStatRefusesGarbage(t *testing.T) {
	for _, s := range []string{"", "12 no parens S 1", "x (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14", "12 (a) S 1 2 3"} {
		if st, err := parseStat(s); err == nil {
			t.Errorf("parseStat(%q) = %+v, want an error", s, st)
		}
	}
}

const statusSample = `Name:	phoneprov
State:	S (sleeping)
Pid:	4242
VmPeak:	 1262304 kB
VmHWM:	   19104 kB
VmRSS:	   18620 kB
Threads:	9
`

func TestStatusBytes(t *testing.T) {
	for key, want := range map[string]int64{"VmRSS": 18620 << 10, "VmHWM": 19104 << 10} {
		n, ok, err := statusBytes(statusSample, key)
		if err != nil || !ok || n != want {
			t.Errorf("statusBytes(%s) = %d, %v, %v; want %d", key, n, ok, err, want)
		}
	}
	// A zombie has no VmRSS line.
	if n, ok, err := statusBytes("Name:\tx\nState:\tZ (zombie)\n", "VmRSS"); n != 0 || ok || err != nil {
		t.Errorf("statusBytes(zombie) = %d, %v, %v; want 0, false, nil", n, ok, err)
	}
	if _, _, err := statusBytes("VmRSS:\t12 pages\n", "VmRSS"); err == nil {
		t.Error("statusBytes accepted a value without kB")
	}
}

func TestDescendants(t *testing.T) {
	stats := []procStat{
		{PID: 1, PPID: 0}, {PID: 10, PPID: 1}, {PID: 11, PPID: 10}, {PID: 12, PPID: 10},
		{PID: 13, PPID: 11}, {PID: 20, PPID: 1},
	}
	got := descendants(10, stats)
	slices.Sort(got[1:])
	if want := []int{10, 11, 12, 13}; !slices.Equal(got, want) {
		t.Errorf("descendants(10) = %v, want %v", got, want)
	}
	if got := descendants(99, stats); !slices.Equal(got, []int{99}) {
		t.Errorf("descendants(99) = %v, want [99]", got)
	}
}
