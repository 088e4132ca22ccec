package main

import (
	"errors"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePerfdhcp(t *testing.T) {
	b, err := os.ReadFile("testdata/perfdhcp-ok.txt")
	if err != nil {
		t.Fatal(err)
	}
	r, err := parsePerfdhcp(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := perfResult{
		Rate: 499.564, Expected: 500,
		DO: exchangeStats{Sent: 1499, Received: 1497, Drops: 2, AvgDelayMS: 0.079, MaxDelayMS: 1.280},
		RA: exchangeStats{Sent: 1497, Received: 1490, Drops: 7, Orphans: 1, AvgDelayMS: 0.910, MaxDelayMS: 2.562},
	}
	if r != want {
		t.Fatalf("got  %+v\nwant %+v", r, want)
	}
	if got := r.loss(); math.Abs(got-9.0/1499) > 1e-12 {
		t.Errorf("loss = %v, want 9/1499", got)
	}
}

func TestParsePerfdhcpNothingAnswered(t *testing.T) {
	b, err := os.ReadFile("testdata/perfdhcp-none.txt")
	if err != nil {
		t.Fatal(err)
	}
	r, err := parsePerfdhcp(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Rate != 0 || r.DO.Sent != 599 || r.DO.Received != 0 || r.RA.Sent != 0 || r.DO.AvgDelayMS != 0 {
		t.Fatalf("got %+v", r)
	}
	if r.loss() != 1 {
		t.Errorf("loss = %v, want 1", r.loss())
	}
}

func TestParsePerfdhcpRejectsOtherOutput(t *testing.T) {
	for name, out := range map[string]string{
		"usage error": "ERROR: parsing command line options: value of test period: -p<value> must be a positive integer\n",
		"no RA block": "Rate: 10 4-way exchanges/second, expected rate: 10\n***Statistics for: DISCOVER-OFFER***\nsent packets: 3\n",
		"bad number":  "Rate: 1 4-way\n***Statistics for: DISCOVER-OFFER***\nsent packets: many\n",
	} {
		if _, err := parsePerfdhcp(out); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLossWithNothingSent(t *testing.T) {
	if got := (perfResult{}).loss(); got != 1 {
		t.Errorf("loss of an empty run = %v, want 1", got)
	}
}

func TestPerfRunArgs(t *testing.T) {
	r := perfRun{Iface: "vb1", Server: netip.MustParseAddr("198.18.0.1"), Rate: 4000, Clients: 50000,
		Period: 10 * time.Second, VendorClass: "ccp.avaya.com", BaseMAC: "00:0d:00:00:00:01", Requests: 7}
	got := strings.Join(r.args(), " ")
	want := "-4 -l vb1 -r 4000 -R 50000 -p 10 -t 1 -W 1000000 -o 60,6363702e61766179612e636f6d -o 55,f2 -n 7 -b mac=00:0d:00:00:00:01 198.18.0.1"
	if got != want {
		t.Fatalf("args\n got %s\nwant %s", got, want)
	}
	r.BaseMAC, r.Requests, r.Period = "", 0, 500*time.Millisecond
	if a := r.args(); slices.Contains(a, "-b") || slices.Contains(a, "-n") || a[slices.Index(a, "-p")+1] != "1" {
		t.Errorf("args %v: want no -b, no -n and a period of at least 1 s", a)
	}
}

func TestJudge(t *testing.T) {
	ok := perfResult{DO: exchangeStats{Sent: 10000}, RA: exchangeStats{Received: 9950}}
	lossy := perfResult{DO: exchangeStats{Sent: 10000}, RA: exchangeStats{Received: 9850}}
	slow := perfResult{DO: exchangeStats{Sent: 9000}, RA: exchangeStats{Received: 9000}}
	for _, c := range []struct {
		name        string
		perf        perfResult
		clientDrops int64
		pass, limit bool
	}{
		{"under the loss limit", ok, 0, true, false},
		{"under the loss limit, all of it answers perfdhcp did not read", ok, 50, true, false},
		{"over the loss limit", lossy, 0, false, false},
		{"over the limit, partly the client's drops", lossy, 149, false, false},
		{"over the limit, all of it answers perfdhcp did not read", lossy, 150, false, true},
		{"perfdhcp fell behind", slow, 0, false, true},
	} {
		got := judge(trialResult{Rate: 1000, Perf: c.perf, ClientDrops: c.clientDrops}, 10*time.Second, 0.01)
		if got.Pass != c.pass || got.ClientLimited != c.limit {
			t.Errorf("%s: pass %v client-limited %v, want %v %v", c.name, got.Pass, got.ClientLimited, c.pass, c.limit)
		}
	}
}

func TestDoneRate(t *testing.T) {
	r := perfResult{RA: exchangeStats{Received: 25000}}
	if got := r.done(5 * time.Second); got != 5000 {
		t.Errorf("done = %v, want 5000/s", got)
	}
}

// TestWatchThreads runs a shell that counts for a few hundred
// milliseconds: its one thread's CPU is read while it runs, and the exit
// status comes back.
func TestWatchThreads(t *testing.T) {
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exit 3`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	busiest, err := watchThreads(cmd.Process.Pid, cmd.Wait)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("wait error %v, want exit status 3", err)
	}
	own := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if own < 2*threadSampleEvery {
		t.Skipf("the shell counted in %v, too fast to sample", own)
	}
	if busiest <= 0 || busiest > own {
		t.Errorf("busiest thread %v of a process that used %v", busiest, own)
	}
}
