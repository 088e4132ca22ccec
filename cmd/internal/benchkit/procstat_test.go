package benchkit

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	// A command name with a space and a parenthesis, as a process may set it.
	line := "4242 (nginx: wor) ker) S 4200 4200 4200 0 -1 4194624 1234 0 0 0 250 75 12 3 20 0 1 0 123456 1234567 890 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStat{PID: 4242, PPID: 4200, State: 'S', UTime: 250, STime: 75, CUTime: 12, CSTime: 3}
	if st != want {
		t.Errorf("parseStat:\n got %+v\nwant %+v", st, want)
	}
	if got := st.CPU(); got != 3400*time.Millisecond {
		t.Errorf("cpu() = %v, want 3.4s", got)
	}
	if got := st.OwnCPU(); got != 3250*time.Millisecond {
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
RssAnon:	   12000 kB
RssFile:	    6620 kB
Threads:	9
`

func TestParseStatusMemory(t *testing.T) {
	m, err := parseStatusMemory(statusSample)
	if err != nil || m.RSS != 18620<<10 || m.HWM != 19104<<10 || m.Anon != 12000<<10 || m.File != 6620<<10 {
		t.Errorf("parseStatusMemory = %+v, %v", m, err)
	}
	// A zombie has no VmRSS line; a kernel before 4.5 no RssAnon or RssFile.
	if m, err := parseStatusMemory("Name:\tx\nState:\tZ (zombie)\n"); !errors.Is(err, errNoMemory) {
		t.Errorf("parseStatusMemory(zombie) = %+v, %v; want errNoMemory", m, err)
	}
	if m, err := parseStatusMemory("VmHWM:\t2 kB\nVmRSS:\t1 kB\n"); err != nil || m.RSS != 1024 || m.HWM != 2048 || m.Anon != 0 {
		t.Errorf("parseStatusMemory(old kernel) = %+v, %v", m, err)
	}
	if _, err := parseStatusMemory("VmRSS:\t12 pages\nVmHWM:\t1 kB\n"); err == nil {
		t.Error("parseStatusMemory accepted a value without kB")
	}
	if got := MiB(60 << 20); got != "60.0" {
		t.Errorf("MiB = %s", got)
	}
}

// TestSampleTree reads this test's own process: it is alive, has memory,
// and has used some CPU.
func TestSampleTree(t *testing.T) {
	s, err := SampleTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.Procs < 1 {
		t.Errorf("SampleTree(self) = %+v", s)
	}
	if _, err := SampleTree(-1); err == nil {
		t.Error("SampleTree(-1) found a process")
	}
}

// TestThreadCPU burns CPU on one locked thread: ThreadCPU finds that
// thread's share apart from the others.
func TestThreadCPU(t *testing.T) {
	// The thread spins until it has had 300 ms more CPU by its own clock
	// (bounded in wall time: on a loaded machine that takes longer).
	type spun struct {
		tid          int
		before, used time.Duration
	}
	done := make(chan spun)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu := func() time.Duration {
			var ts unix.Timespec
			_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
			return time.Duration(ts.Nano())
		}
		before := cpu()
		used := time.Duration(0)
		for end := time.Now().Add(20 * time.Second); used < 300*time.Millisecond && time.Now().Before(end); {
			used = cpu() - before
		}
		done <- spun{syscall.Gettid(), before, used}
	}()
	busy := <-done
	threads, err := ThreadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts in clock ticks (10 ms here): 50 ms leaves room for that.
	if got := threads[busy.tid]; got < busy.before+busy.used-50*time.Millisecond || busy.used < 300*time.Millisecond {
		t.Errorf("the thread had %v of CPU before and spun %v more; /proc shows %v (threads: %v)", busy.before, busy.used, got, threads)
	}
	if len(threads) < 2 {
		t.Errorf("%d threads, want the Go runtime's several", len(threads))
	}
	if _, err := ThreadCPU(-1); err == nil {
		t.Error("ThreadCPU(-1) found a process")
	}
}

func TestDescendants(t *testing.T) {
	stats := []ProcStat{
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
