package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
	"github.com/phoneprov/phoneprov/dhcpd/ha/kealab"
)

// pairSearch is how the pair benchmark looks for each setup's highest
// rate within -max-loss (searchRate, as the single-server benchmark does):
// from 100/s doubling, then bisecting twice. Every trial's clients are
// new, so the pool bounds the search too.
func pairSearch(maxRate int) searchSpec {
	first := min(100, maxRate)
	return searchSpec{Start: first, Min: first, Max: maxRate, Bisect: 2, MaxTrials: 12}
}

// pairPeriod is the length of each pair trial.
const pairPeriod = 3 * time.Second

// pairSetup is one server arrangement of the pair benchmark.
type pairSetup struct {
	Name  string // "phoneprov alone", "phoneprov pair", "kea alone", "kea pair"
	Kea   bool
	Alone bool // box A only, [dhcp.ha] off
}

// pairTrial is one offered rate against one setup.
type pairTrial struct {
	Rate       int
	Done       float64 // completed DORAs per second
	Loss       float64
	CPUA, CPUB time.Duration // CPU time of box A and B during the trial
}

// pairRun is what one setup did: its trials, the best rate within the
// loss bound, and for pairs the failover time.
type pairRun struct {
	Setup    pairSetup
	Trials   []pairTrial
	Best     int           // index into Trials, -1 when none passed
	Failover time.Duration // kill -9 of A to the first ACK from B; 0 when not measured
	// Stopped says why the rate search ended before the loss bound did
	// (the pool would run out); the failover is still measured.
	Stopped string
	Err     string
}

// pairReport is the pair benchmark's report.
type pairReport struct {
	Stamp   time.Time
	Args    []string
	Load    string
	MaxLoss float64
	Runs    []pairRun
}

// runPair measures phoneprov alone, a phoneprov pair, Kea alone and a Kea
// pair in one run: the completed DORAs per second at each offered rate (box A serves,
// and in a pair has B acknowledge every lease before the ACK), the CPU of
// each box, then kill -9 of A and the time until B ACKs a new client.
func runPair(ctx context.Context, o options, logf func(string, ...any)) (*pairReport, error) {
	if err := needCurl(); err != nil {
		return nil, err
	}
	hooks, err := kealab.HookDir()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(o.WorkDir, "dhcpbench-pair-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	l, err := buildPairLab(o.plan)
	if err != nil {
		return nil, err
	}
	defer l.nl.Close()
	sup := &benchkit.Supervisor{}
	defer sup.StopAll()
	rep := &pairReport{Stamp: time.Now(), Args: o.Args, MaxLoss: o.MaxLoss, Load: benchkit.DescribeMachine().Load}
	setups := []pairSetup{{Name: "phoneprov alone", Alone: true}, {Name: "phoneprov pair"},
		{Name: "kea alone", Kea: true, Alone: true}, {Name: "kea pair", Kea: true}}
	for i, s := range setups {
		pr := &pairBench{o: o, l: l, sup: sup, dir: filepath.Join(work, fmt.Sprint(i)), hooks: hooks, logf: logf, probes: i << 16}
		run := pr.run(ctx, s)
		rep.Runs = append(rep.Runs, run)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

// pairBench runs one setup.
type pairBench struct {
	o      options
	l      *pairLab
	sup    *benchkit.Supervisor
	dir    string
	hooks  string
	logf   func(string, ...any)
	probes int
}

// run starts the setup's servers, drives box A at rising rates, then
// for a pair measures the failover.
func (pb *pairBench) run(ctx context.Context, s pairSetup) pairRun {
	run := pairRun{Setup: s, Best: -1}
	a, b, err := pb.start(ctx, s)
	if err != nil {
		run.Err = err.Error()
		pb.logf("%s: %v", s.Name, err)
		return run
	}
	defer a.Stop()
	if b != nil {
		defer b.Stop()
	}
	used := 0 // clients asked for so far: each trial's are new
	errPoolOut := errors.New("the pool would run out")
	_, err = searchRate(pairSearch(pb.o.MaxRate), time.Now, func(rate int) (bool, error) {
		if used += rate * int(pairPeriod/time.Second); used > pb.o.plan.poolSize() {
			run.Stopped = fmt.Sprintf("%d/s would run the pool of %d addresses out", rate, pb.o.plan.poolSize())
			return false, errPoolOut
		}
		t, err := pb.trial(ctx, a, b, rate, len(run.Trials))
		if err != nil {
			return false, err
		}
		run.Trials = append(run.Trials, t)
		pb.logf("%s: offered %d/s, completed %.0f/s, loss %.2f %%", s.Name, rate, t.Done, 100*t.Loss)
		pass := t.Loss <= pb.o.MaxLoss
		if pass && (run.Best < 0 || rate > run.Trials[run.Best].Rate) {
			run.Best = len(run.Trials) - 1
		}
		return pass, nil
	})
	if err != nil && !errors.Is(err, errPoolOut) {
		run.Err = err.Error()
	}
	if b == nil || run.Err != "" {
		return run
	}
	if run.Failover, err = pb.failover(ctx, a, b); err != nil {
		run.Err = err.Error()
	}
	pb.logf("%s: failover (kill -9 of box A to the first ACK from box B) %v", s.Name, run.Failover.Round(time.Millisecond))
	return run
}

// start runs box A (and B for a pair), waits until A answers a DORA and,
// for a pair, until both are in hot-standby.
func (pb *pairBench) start(ctx context.Context, s pairSetup) (a, b *benchkit.Proc, err error) {
	boxA, boxB := pb.l.boxes(pb.o.plan)
	startBox := func(box pairBox) (*benchkit.Proc, error) {
		dir := filepath.Join(pb.dir, box.name)
		var ln launch
		var err error
		if s.Kea {
			ln, err = keaPairConfig(pb.o.plan, box, dir, pb.hooks, s.Alone)
			ln.Argv[0] = pb.o.Kea
		} else {
			ln, err = phoneprovPairConfig(pb.o.plan, box, dir, s.Alone)
			ln.Argv[0] = pb.o.Phoneprov
		}
		if err != nil {
			return nil, err
		}
		return pb.sup.Start(benchkit.Spec{Name: box.name, Log: filepath.Join(dir, "server.log"), Env: ln.Env,
			Argv: box.ns.Command(ctx, ln.Argv[0], ln.Argv[1:]...).Args})
	}
	if a, err = startBox(boxA); err != nil {
		return nil, nil, err
	}
	if !s.Alone {
		if b, err = startBox(boxB); err != nil {
			a.Stop()
			return nil, nil, err
		}
		for _, box := range []pairBox{boxA, boxB} {
			if err := waitHAState(ctx, pb.l.client, box.addr, "hot-standby", 60*time.Second); err != nil {
				a.Stop()
				b.Stop()
				return nil, nil, fmt.Errorf("%s: %w%s", s.Name, err, benchkit.LogTail(filepath.Join(pb.dir, box.name, "server.log")))
			}
		}
	}
	if _, err := pb.firstACK(ctx, boxA, 30*time.Second); err != nil {
		a.Stop()
		if b != nil {
			b.Stop()
		}
		return nil, nil, fmt.Errorf("%s: box A: %w%s", s.Name, err, benchkit.LogTail(filepath.Join(pb.dir, "box-a", "server.log")))
	}
	return a, b, nil
}

// trial runs perfdhcp at rate against box A with clients of their own
// (base MAC by trial number) and reads both boxes' CPU.
func (pb *pairBench) trial(ctx context.Context, a, b *benchkit.Proc, rate, n int) (pairTrial, error) {
	cpu := func() (time.Duration, time.Duration) {
		ca, _ := a.CPUTime()
		var cb time.Duration
		if b != nil {
			cb, _ = b.CPUTime()
		}
		return ca, cb
	}
	a0, b0 := cpu()
	res, out, err := runPerfdhcp(ctx, pb.l.client, pb.o.Perfdhcp, perfRun{
		Iface: pb.l.clientIf, Server: pb.o.plan.ServerAddr.Addr(), Rate: rate,
		Clients: rate * int(pairPeriod/time.Second), Period: pairPeriod,
		VendorClass: pb.o.plan.VendorClass, BaseMAC: fmt.Sprintf("00:0c:%02x:00:00:00", 0x10+n),
		RecvBuffer: pb.o.PerfdhcpRcvbuf,
	})
	_ = os.WriteFile(filepath.Join(pb.dir, fmt.Sprintf("perfdhcp-%d.txt", rate)), []byte(out), 0o644)
	if err != nil {
		return pairTrial{}, fmt.Errorf("perfdhcp at %d/s: %w", rate, err)
	}
	if err := a.Alive(); err != nil {
		return pairTrial{}, err
	}
	a1, b1 := cpu()
	return pairTrial{Rate: rate, Done: res.done(pairPeriod), Loss: res.loss(), CPUA: a1 - a0, CPUB: b1 - b0}, nil
}

// failover kills box A with SIGKILL and returns the time until box B
// completes a DORA for a new client.
func (pb *pairBench) failover(ctx context.Context, a, b *benchkit.Proc) (time.Duration, error) {
	_, boxB := pb.l.boxes(pb.o.plan)
	time.Sleep(time.Second) // the trials' last updates settle
	killed := time.Now()
	if err := syscall.Kill(a.PID(), syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("kill box A: %w", err)
	}
	at, err := pb.firstACK(ctx, boxB, 60*time.Second)
	if err != nil {
		return 0, fmt.Errorf("box B after the kill: %w%s", err, benchkit.LogTail(b.Log()))
	}
	return at.Sub(killed), nil
}

// firstACK sends DORAs of new clients to box (relayed, unicast) until one
// is ACKed, and returns when the ACK came; each attempt lasts at most
// 500 ms (DISCOVER and REQUEST resent every 300 ms).
func (pb *pairBench) firstACK(ctx context.Context, box pairBox, limit time.Duration) (time.Time, error) {
	p := pb.o.plan
	p.ServerAddr = netip.PrefixFrom(box.addr, p.ServerAddr.Bits())
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		pb.probes++
		mac := net.HardwareAddr{0x02, 0xdc, byte(pb.probes >> 24), byte(pb.probes >> 16), byte(pb.probes >> 8), byte(pb.probes)}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := probeDORA(pctx, pb.l.client, p, mac)
		cancel()
		if err == nil {
			return time.Now(), nil
		}
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		last = err
	}
	return time.Time{}, fmt.Errorf("no ACK from %s within %v: %w", box.addr, limit, last)
}

// WriteTable prints the report for the terminal.
func (r *pairReport) WriteTable(w io.Writer) error {
	var b strings.Builder
	r.table(&b, "  ")
	_, err := io.WriteString(w, b.String())
	return err
}

// FileName names the Markdown report.
func (r *pairReport) FileName() string {
	return "dhcp-pair-" + r.Stamp.Format("20060102-150405") + ".md"
}

// WriteMarkdown renders the report.
func (r *pairReport) WriteMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "# DHCP hot-standby pair, %s\n\n", r.Stamp.Format(time.RFC3339))
	fmt.Fprintf(b, "Command: `dhcpbench %s`; load average before the run: %s.\n\n", benchkit.ShellJoin(r.Args), r.Load)
	b.WriteString("Three namespaces on a bridge: perfdhcp's clients, box A (primary, 198.18.0.1) and box B " +
		"(standby, 198.18.0.3). perfdhcp relays to box A; in a pair box A has box B acknowledge every lease " +
		"(lease4-update) before its ACK. Each offered rate runs 3 s with new clients against the same running " +
		"servers; the rate doubles from 100/s until one loses more than the bound, then is bisected twice (as in the single-server search). Failover: kill -9 of box A, then relayed DORAs of new clients " +
		"to box B until one is ACKed (heartbeat 500 ms, max-response-delay 2 s, max-ack-delay 1 s, " +
		"max-unacked-clients 0 on both engines).\n\n```\n")
	r.table(b, "")
	b.WriteString("```\n")
}

// table writes the figures: the best rate of each setup, its CPU, the
// failover time, then every trial.
func (r *pairReport) table(b *strings.Builder, indent string) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%ssetup\tbest rate ≤%.0f%% loss (/s)\tcompleted (/s)\tCPU A (µs/DORA)\tCPU B (µs/DORA)\tfailover\t\n", indent, 100*r.MaxLoss)
	for _, run := range r.Runs {
		best, done, ca, cb := "-", "-", "-", "-"
		if run.Best >= 0 {
			t := run.Trials[run.Best]
			n := t.Done * pairPeriod.Seconds()
			best, done = fmt.Sprint(t.Rate), fmt.Sprintf("%.0f", t.Done)
			ca = fmt.Sprintf("%.0f", float64(t.CPUA.Microseconds())/max(n, 1))
			if !run.Setup.Alone {
				cb = fmt.Sprintf("%.0f", float64(t.CPUB.Microseconds())/max(n, 1))
			}
		}
		fo := "-"
		if run.Failover > 0 {
			fo = run.Failover.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\t\n", indent, run.Setup.Name, best, done, ca, cb, fo)
	}
	tw.Flush()
	fmt.Fprintf(b, "\n%strials:\n", indent)
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%ssetup\toffered (/s)\tcompleted (/s)\tloss\tCPU A\tCPU B\t\n", indent)
	for _, run := range r.Runs {
		for _, t := range run.Trials {
			fmt.Fprintf(tw, "%s%s\t%d\t%.0f\t%.2f %%\t%v\t%v\t\n", indent, run.Setup.Name, t.Rate, t.Done, 100*t.Loss,
				t.CPUA.Round(time.Millisecond), t.CPUB.Round(time.Millisecond))
		}
		if run.Stopped != "" {
			fmt.Fprintf(tw, "%s%s\tsearch stopped: %s\t\t\t\t\t\n", indent, run.Setup.Name, run.Stopped)
		}
		if run.Err != "" {
			fmt.Fprintf(tw, "%s%s\terror: %s\t\t\t\t\t\n", indent, run.Setup.Name, strings.ReplaceAll(run.Err, "\n", " "))
		}
	}
	tw.Flush()
}
