package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// bench is one benchmark run: the lab, the servers it started, and where
// files go.
type bench struct {
	opts   options
	lab    *lab
	sup    *benchkit.Supervisor
	work   string // temporary directory for the servers' configs and leases
	art    string // artifacts directory next to the report
	logf   func(format string, args ...any)
	probes uint32 // probe MACs handed out
}

// serverRun is one server's results in one round.
type serverRun struct {
	Name       string
	Round      int // 0-based
	Search     searchOutcome
	Trials     []trialResult
	Hold       holdResult
	Probe      probeResult // the answer the held instance gave its first probe
	Durability durability
	TraceFile  string // strace output in the artifacts; "" if not traced
	TraceErr   string // why tracing failed
	Profiles   []string
	Reboot     rebootResult // the mass reboot; Clients 0 when not run
	// Paced and PacedTrials are the search with dhcpbench's own paced
	// clients (paced.go); no steps when it was not run.
	Paced       searchOutcome
	PacedTrials []pacedResult
}

// bestPaced returns the passing paced trial at the paced search's best rate.
func (s serverRun) bestPaced() (pacedResult, bool) {
	for _, t := range s.PacedTrials {
		if t.Pass && t.Rate == s.Paced.Best {
			return t, true
		}
	}
	return pacedResult{}, false
}

// best returns the passing trial at the search's best rate.
func (s serverRun) best() (trialResult, bool) {
	for _, t := range s.Trials {
		if t.Pass && t.Rate == s.Search.Best {
			return t, true
		}
	}
	return trialResult{}, false
}

// runBench builds the lab, runs every server in every round, and returns
// the report. Every server is stopped and the lab removed before it
// returns, whatever happened.
func runBench(ctx context.Context, o options, logf func(string, ...any)) (_ *report, err error) {
	stamp := time.Now()
	art := filepath.Join(o.Out, "dhcp-"+stamp.Format("20060102-150405"))
	if err := os.MkdirAll(art, 0o755); err != nil {
		return nil, fmt.Errorf("artifacts: %w", err)
	}
	work, err := os.MkdirTemp(o.WorkDir, "dhcpbench-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	l, err := buildLab(o.plan)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := l.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	sup := &benchkit.Supervisor{}
	defer sup.StopAll()
	b := &bench{opts: o, lab: l, sup: sup, work: work, art: art, logf: logf}

	daemons := daemonsByName(o)
	rep := &report{Opts: o, Stamp: stamp, Artifacts: art, Machine: describeMachine(ctx, o, work)}
	for _, name := range o.Servers {
		dir := filepath.Join(work, "sample-"+name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		sample, err := daemons[name].Prepare(dir, "IFACE")
		if err != nil {
			return nil, err
		}
		cfg, err := os.ReadFile(sample.ConfigPath)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		// The report shows the sample's directory as DIR: every trial has its own.
		rep.Setups = append(rep.Setups, setup{Name: name, Version: daemons[name].Version(ctx),
			Command: strings.ReplaceAll(sample.command(), dir, "DIR"), Config: strings.ReplaceAll(string(cfg), dir, "DIR"),
			Storage: daemons[name].Storage()})
	}
	for r := range o.Rounds {
		for _, name := range o.order(r) {
			sr, err := b.runServer(ctx, daemons[name], r)
			rep.Runs = append(rep.Runs, sr)
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// runServer searches d's best rate, then examines a fresh instance filled
// with leases.
func (b *bench) runServer(ctx context.Context, d daemon, round int) (serverRun, error) {
	sr := serverRun{Name: d.Name(), Round: round}
	if err := b.search(ctx, d, round, &sr); err != nil {
		return sr, err
	}
	if b.opts.Paced {
		if err := b.searchPaced(ctx, d, round, &sr); err != nil {
			return sr, err
		}
	}
	if err := b.examineFilled(ctx, d, round, &sr); err != nil {
		return sr, err
	}
	if b.opts.RebootClients == 0 {
		return sr, nil
	}
	var err error
	sr.Reboot, err = b.reboot(ctx, d, round)
	return sr, err
}

// search finds the highest rate d sustains under perfdhcp; trials go into
// sr.
func (b *bench) search(ctx context.Context, d daemon, round int, sr *serverRun) error {
	b.logf("%s, round %d: searching the highest rate with under %.2g %% loss", d.Name(), round+1, b.opts.MaxLoss*100)
	out, err := b.searchRates(func(rate, attempt int) (bool, error) {
		t, err := b.trial(ctx, d, round, rate, attempt)
		if err != nil {
			return false, err
		}
		sr.Trials = append(sr.Trials, t)
		b.logf("%s: %6d/s asked: %8.1f/s done, %6.2f %% lost, cpu %5.2fs (perfdhcp %5.2fs, busiest thread %5.2fs), buffer drops server %d perfdhcp %d, rss %s MiB, %d leases: %s",
			d.Name(), rate, t.Perf.done(b.opts.Period), t.Perf.loss()*100, t.CPU.Seconds(), t.Perf.CPU.Seconds(), t.Perf.BusiestThread.Seconds(), t.ServerDrops, t.ClientDrops,
			benchkit.MiB(t.Mem.RSS), t.Leases, verdictWord(t))
		return t.Pass, nil
	})
	sr.Search = out
	return err
}

// searchRates runs one rate search within the options' bounds and budget:
// trial(rate, attempt) runs one trial on a fresh server, and a failing
// rate is tried again as -retries says before it counts as failed.
func (b *bench) searchRates(trial func(rate, attempt int) (bool, error)) (searchOutcome, error) {
	spec := searchSpec{
		Start: b.opts.StartRate, Min: b.opts.MinRate, Max: b.opts.MaxRate,
		Bisect: b.opts.Bisect, MaxTrials: b.opts.MaxTrials, Deadline: time.Now().Add(b.opts.Budget),
	}
	return searchRate(spec, time.Now, func(rate int) (bool, error) {
		for attempt := 0; ; attempt++ {
			pass, err := trial(rate, attempt)
			if err != nil || pass || attempt >= b.opts.Retries {
				return pass, err
			}
		}
	})
}

// examineFilled starts d afresh, fills it with leases at 80 % of its best
// rate for the memory figure, profiles it (phoneprov, when asked), and
// traces a few DORAs for durability.
func (b *bench) examineFilled(ctx context.Context, d daemon, round int, sr *serverRun) error {
	in, err := b.startInstance(ctx, d, fmt.Sprintf("%s-r%d-hold", d.Name(), round+1))
	if err != nil {
		return err
	}
	defer b.sup.Stop(in.proc)
	sr.Probe = in.probe
	best := max(b.opts.MinRate, sr.Search.Best)
	if b.opts.HoldLeases > 0 {
		rate := max(b.opts.MinRate, sr.Search.Best*4/5)
		b.logf("%s: filling with %d leases at %d/s (at most %s)", d.Name(), b.opts.HoldLeases, rate, b.opts.HoldTime)
		if sr.Hold, err = b.hold(ctx, in, round, rate); err != nil {
			return err
		}
	}
	if b.opts.Pprof > 0 && (d.Name() == "phoneprov" || d.Name() == baselineName) {
		if sr.Profiles, err = b.profile(ctx, in, round, best); err != nil {
			return err
		}
	}
	if b.opts.Strace != "" {
		benchkit.WaitIdle(ctx, in.proc.PID(), 10*time.Second) // a backlog from the load would swamp the trace
		dur, file, err := b.traceDurability(ctx, in, round)
		sr.Durability, sr.TraceFile = dur, file
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			sr.TraceErr = err.Error()
			b.logf("%s: durability trace failed: %v", d.Name(), err)
		default:
			b.logf("%s: %s", d.Name(), dur.describe())
		}
	}
	return b.stopInstance(in)
}

// verdictWord is a trial's outcome in one word for the progress log.
func verdictWord(t trialResult) string {
	switch {
	case t.ClientLimited:
		return "perfdhcp could not keep up"
	case t.Pass:
		return "pass"
	default:
		return "fail"
	}
}
