package leases

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// The crash test re-executes this test binary as a child that Puts leases in
// a loop and reports each one on stdout once Put has returned; the parent
// kills it with SIGKILL at a random moment, reopens the file and checks that
// every reported lease is there, intact. It runs for each kind of store:
const (
	crashJournal    = "journal"
	crashCompacting = "journal-compacting" // a journal compacting all the time
)

const (
	crashChildEnv  = "PHONEPROV_LEASES_CRASH_CHILD" // database path
	crashKindEnv   = "PHONEPROV_LEASES_CRASH_KIND"
	crashRoundEnv  = "PHONEPROV_LEASES_CRASH_ROUND"
	crashWorkers   = 8
	crashFreshBase = 15000 // index space per round for fresh leases; 6 rounds stay below hotBase
	hotBase        = 130000
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
		os.Exit(crashChild(os.Getenv(crashKindEnv), path, round))
	}
	os.Exit(m.Run())
}

// crashLease is the fresh lease number i, as both sides derive it.
func crashLease(i int) Lease {
	l := fullLease(i)
	l.Hostname = fmt.Sprintf("crash-%d", i)
	return l
}

// hotLease is version seq of worker w's frequently rewritten lease.
func hotLease(w, seq int) Lease {
	return Lease{
		Addr:     testAddr(hotBase + w),
		HWAddr:   net.HardwareAddr{2, 0, 0, 0, 0, byte(w)},
		Hostname: fmt.Sprintf("hot-%d-%d", w, seq),
		Start:    time.Unix(int64(seq), 0),
		Expiry:   time.Unix(int64(seq)+3600, 0),
		State:    Active,
	}
}

func parseHot(l Lease) (w, seq int, ok bool) {
	_, err := fmt.Sscanf(l.Hostname, "hot-%d-%d", &w, &seq)
	return w, seq, err == nil
}

// crashChild runs in the child process until it is killed (or, as a safety
// net, for 30 s). It returns the exit code.
func crashChild(kind, path string, round int) int {
	b, err := openCrashStore(kind, path, 10*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	say("ready")
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	if j, ok := b.(*Journal); ok && kind == crashCompacting {
		wg.Go(func() {
			for n := 1; time.Now().Before(deadline); n++ {
				if err := j.Compact(context.Background()); err != nil {
					say("error %v", err)
					return
				}
				say("compactions %d", n)
				time.Sleep(time.Millisecond)
			}
		})
	}
	for w := range crashWorkers {
		wg.Go(func() {
			ctx := context.Background()
			seq := round * 1_000_000
			for k := 0; time.Now().Before(deadline); k++ {
				i := round*crashFreshBase + k*crashWorkers + w
				// Once its share of the round's addresses is used up (on a
				// disk with very cheap syncs) a worker only rewrites.
				if k%4 == 3 || k >= crashFreshBase/crashWorkers {
					seq++
					if err := b.Put(ctx, hotLease(w, seq)); err != nil {
						say("error %v", err)
						return
					}
					say("hot %d %d", w, seq)
					continue
				}
				if err := b.Put(ctx, crashLease(i)); err != nil {
					say("error %v", err)
					return
				}
				say("new %d %v", i, testAddr(i))
			}
		})
	}
	wg.Wait()
	return 0
}

// openCrashStore opens the store the crash test exercises.
func openCrashStore(kind, path string, timeout time.Duration) (Store, error) {
	switch kind {
	case crashJournal:
		return OpenJournal(path, JournalOptions{Timeout: timeout})
	case crashCompacting:
		return OpenJournal(path, JournalOptions{Timeout: timeout, CompactMinSize: 16 << 10})
	}
	return nil, fmt.Errorf("unknown store kind %q", kind)
}

func TestJournalSurvivesKill9(t *testing.T) {
	testSurvivesKill9(t, crashJournal)
}

func TestJournalSurvivesKill9WhileCompacting(t *testing.T) {
	testSurvivesKill9(t, crashCompacting)
}

func testSurvivesKill9(t *testing.T, kind string) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary; skipped with -short")
	}
	path := filepath.Join(t.TempDir(), "leases.db")
	var compactions, midCompaction int
	freshSeen := map[int]bool{}
	hotSeen := map[int]int{} // worker → highest seq reported
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const rounds = 6
	for round := 1; round <= rounds; round++ {
		delay := time.Duration(20+rng.IntN(300)) * time.Millisecond
		fresh, hot, compacted := runCrashChild(t, kind, path, round, delay)
		for _, i := range fresh {
			freshSeen[i] = true
		}
		for w, seq := range hot {
			hotSeen[w] = max(hotSeen[w], seq)
		}
		compactions += compacted
		_, err := os.Stat(path + ".tmp")
		if err == nil {
			midCompaction++
		}
		t.Logf("round %d: killed after %v; child had reported %d new leases, rewrites of %d hot leases, %d compactions (temporary file left: %v)",
			round, delay, len(fresh), len(hot), compacted, err == nil)
		verifyAfterCrash(t, kind, path, freshSeen, hotSeen)
	}
	if len(freshSeen) == 0 {
		t.Fatal("no child ever reported a lease: the test tested nothing")
	}
	if kind == crashCompacting {
		t.Logf("%d compactions in all; %d of %d kills left a compaction's temporary file", compactions, midCompaction, rounds)
		if compactions == 0 {
			t.Fatal("no child ever compacted: the test tested nothing")
		}
	}
}

// runCrashChild starts a child, kills it delay after it is ready, and returns
// the fresh lease numbers and the last hot sequence per worker it reported.
func runCrashChild(t *testing.T, kind, path string, round int, delay time.Duration) (fresh []int, hot map[int]int, compactions int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashKindEnv+"="+kind, crashRoundEnv+"="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	hot = map[int]int{}
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sawReady := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 1 && f[0] == "ready" && !sawReady:
				sawReady = true
				close(ready)
			case len(f) == 3 && f[0] == "new":
				i, _ := strconv.Atoi(f[1])
				fresh = append(fresh, i)
			case len(f) == 3 && f[0] == "hot":
				w, _ := strconv.Atoi(f[1])
				seq, _ := strconv.Atoi(f[2])
				hot[w] = max(hot[w], seq)
			case len(f) == 2 && f[0] == "compactions":
				n, _ := strconv.Atoi(f[1])
				compactions = max(compactions, n)
			default:
				t.Errorf("child said %q", sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
		t.Fatal("child did not open the database within 20s")
	}
	if round == 1 {
		// While the child holds the file, another process gets a clear error naming it.
		_, err := openCrashStore(kind, path, 50*time.Millisecond)
		var iu *durable.InUseError
		if !errors.As(err, &iu) || iu.PID != cmd.Process.Pid {
			t.Errorf("open while the child holds the file: %v (want the child's pid %d)", err, cmd.Process.Pid)
		}
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	<-done // the pipe holds everything printed before the kill
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL (it may have finished early): %v", err)
	}
	return fresh, hot, compactions
}

func verifyAfterCrash(t *testing.T, kind, path string, freshSeen map[int]bool, hotSeen map[int]int) {
	t.Helper()
	s, err := openCrashStore(kind, path, 5*time.Second)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	if s, ok := s.(*Journal); ok {
		if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("compaction's temporary file still there after reopen: %v", err)
		}
		if torn := s.Stats().TornBytes; torn > 0 {
			t.Logf("reopen cut off %d bytes of a torn write", torn)
		}
	}
	got, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load after kill: %v", err)
	}
	byAddr := make(map[string]Lease, len(got))
	for k, l := range got {
		if k > 0 && got[k-1].Addr.Compare(l.Addr) >= 0 {
			t.Fatalf("two records for %v", l.Addr)
		}
		byAddr[l.Addr.String()] = l
	}
	for i := range freshSeen {
		want := crashLease(i)
		l, ok := byAddr[want.Addr.String()]
		if !ok {
			t.Fatalf("lease %d (%v) was reported durable but is gone", i, want.Addr)
		}
		if !equalLease(l, want) {
			t.Fatalf("lease %d damaged:\n got %+v\nwant %+v", i, l, want)
		}
	}
	for w, seq := range hotSeen {
		l, ok := byAddr[testAddr(hotBase+w).String()]
		if !ok {
			t.Fatalf("hot lease of worker %d is gone", w)
		}
		gw, gseq, ok := parseHot(l)
		if !ok || gw != w || gseq < seq {
			t.Fatalf("hot lease of worker %d is %q, older than reported seq %d", w, l.Hostname, seq)
		}
		if !equalLease(l, hotLease(w, gseq)) {
			t.Fatalf("hot lease of worker %d damaged: %+v", w, l)
		}
	}
}
