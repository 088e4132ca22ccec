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

	bolt "go.etcd.io/bbolt"
)

// The crash test re-executes this test binary as a child that Puts leases in
// a loop and reports each one on stdout once Put has returned; the parent
// kills it with SIGKILL at a random moment, reopens the file and checks that
// every reported lease is there, intact.
const (
	crashChildEnv  = "PHONEPROV_LEASES_CRASH_CHILD" // database path
	crashRoundEnv  = "PHONEPROV_LEASES_CRASH_ROUND"
	crashWorkers   = 8
	crashFreshBase = 15000 // index space per round for fresh leases; 6 rounds stay below hotBase
	hotBase        = 130000
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
		os.Exit(crashChild(path, round))
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
func crashChild(path string, round int) int {
	b, err := OpenBolt(path, BoltOptions{Timeout: 10 * time.Second})
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
	for w := range crashWorkers {
		wg.Go(func() {
			ctx := context.Background()
			seq := round * 1_000_000
			for k := 0; k < crashFreshBase/crashWorkers && time.Now().Before(deadline); k++ {
				i := round*crashFreshBase + k*crashWorkers + w
				if k%4 == 3 {
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

func TestBoltSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the test binary; skipped with -short")
	}
	path := filepath.Join(t.TempDir(), "leases.db")
	freshSeen := map[int]bool{}
	hotSeen := map[int]int{} // worker → highest seq reported
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const rounds = 6
	for round := 1; round <= rounds; round++ {
		delay := time.Duration(20+rng.IntN(300)) * time.Millisecond
		fresh, hot := runCrashChild(t, path, round, delay)
		for _, i := range fresh {
			freshSeen[i] = true
		}
		for w, seq := range hot {
			hotSeen[w] = max(hotSeen[w], seq)
		}
		t.Logf("round %d: killed after %v; child had reported %d new leases and rewrites of %d hot leases", round, delay, len(fresh), len(hot))
		verifyAfterCrash(t, path, freshSeen, hotSeen)
	}
	if len(freshSeen) == 0 {
		t.Fatal("no child ever reported a lease: the test tested nothing")
	}
}

// runCrashChild starts a child, kills it delay after it is ready, and returns
// the fresh lease numbers and the last hot sequence per worker it reported.
func runCrashChild(t *testing.T, path string, round int, delay time.Duration) (fresh []int, hot map[int]int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round))
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
		_, err := OpenBolt(path, BoltOptions{Timeout: 50 * time.Millisecond})
		var iu *InUseError
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
	return fresh, hot
}

func verifyAfterCrash(t *testing.T, path string, freshSeen map[int]bool, hotSeen map[int]int) {
	t.Helper()
	b, err := OpenBolt(path, BoltOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer b.Close()
	// bbolt's own consistency check: page structure and freelist.
	if err := b.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("database inconsistent after kill: %v", err)
	}
	got, err := b.Load(context.Background())
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
