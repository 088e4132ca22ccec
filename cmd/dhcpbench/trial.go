package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// clientKeptUp is the share of the asked-for DISCOVERs perfdhcp must have
// sent for a trial to count: below it, the load generator (which shares
// the machine's cores with the server) was the limit, not the server.
const clientKeptUp = 0.95

// trialResult is one perfdhcp run against a freshly started server.
type trialResult struct {
	Rate          int             // DORAs per second asked for
	Perf          perfResult      // what perfdhcp saw
	CPU           time.Duration   // server CPU time during the run
	Mem           benchkit.Memory // server memory at the end of the run
	Leases        int             // leases held at the end; -1 if unknown
	ClientLimited bool            // perfdhcp sent under clientKeptUp of the DISCOVERs asked for
	// ServerDrops and ClientDrops are the UDP receive-buffer drops
	// (RcvbufErrors) in the server's and in perfdhcp's namespace over the
	// run: answers the load generator was too busy to read count in
	// ClientDrops, not against the server.
	ServerDrops, ClientDrops int64
	Pass                     bool   // loss under the limit and the client kept up
	Output                   string // perfdhcp's output file, relative to the artifacts
}

// cpuPerExchange is the server CPU time per completed DORA.
func (t trialResult) cpuPerExchange() time.Duration {
	if t.Perf.RA.Received == 0 {
		return 0
	}
	return t.CPU / time.Duration(t.Perf.RA.Received)
}

// clientCPUPerExchange is perfdhcp's CPU time per completed DORA.
func (t trialResult) clientCPUPerExchange() time.Duration {
	if t.Perf.RA.Received == 0 {
		return 0
	}
	return t.Perf.CPU / time.Duration(t.Perf.RA.Received)
}

// clientCore is the share of one core perfdhcp used over the run (its
// period plus the exit wait).
func (t trialResult) clientCore(period time.Duration) float64 {
	return t.Perf.CPU.Seconds() / (period + exitWait).Seconds()
}

// clientThreadCore is the share of one core perfdhcp's busiest thread
// used over the run: near 1, that thread set the rate.
func (t trialResult) clientThreadCore(period time.Duration) float64 {
	return t.Perf.BusiestThread.Seconds() / (period + exitWait).Seconds()
}

// judge decides whether a trial passes: fewer than maxLoss of the DORAs
// started went unanswered, and perfdhcp managed to start nearly all the
// DORAs asked for. A trial over the loss limit whose every lost DORA is
// matched by an answer dropped unread in perfdhcp's socket is the load
// generator's limit too; under the limit, such drops do not undo a pass.
func judge(t trialResult, period time.Duration, maxLoss float64) trialResult {
	want := float64(t.Rate) * period.Seconds()
	lost := int64(t.Perf.DO.Sent - t.Perf.RA.Received)
	under := t.Perf.loss() < maxLoss
	t.ClientLimited = float64(t.Perf.DO.Sent) < clientKeptUp*want || (!under && lost > 0 && t.ClientDrops >= lost)
	t.Pass = !t.ClientLimited && under
	return t
}

// trial starts d afresh, runs perfdhcp at rate for the trial period, and
// measures the server's CPU time over the run and its memory at the end.
// attempt (0 for the first) tells retries at the same rate apart.
func (b *bench) trial(ctx context.Context, d daemon, round, rate, attempt int) (trialResult, error) {
	label := fmt.Sprintf("%s-r%d-%d", d.Name(), round+1, rate)
	if attempt > 0 {
		label += fmt.Sprintf("-retry%d", attempt)
	}
	in, err := b.startInstance(ctx, d, label)
	if err != nil {
		return trialResult{}, err
	}
	defer b.sup.Stop(in.proc)
	run := b.perfRun(rate, b.opts.Clients, b.opts.Period)
	name := label + "-perfdhcp.txt"
	var perf perfResult
	m, err := b.measure(ctx, d, in, label, func() error {
		var out string
		var perr error
		perf, out, perr = runPerfdhcp(ctx, b.lab.client, b.opts.Perfdhcp, run)
		_ = os.WriteFile(filepath.Join(b.art, name), []byte("perfdhcp "+benchkit.ShellJoin(run.args())+"\n\n"+out), 0o644)
		return perr
	})
	if err != nil {
		return trialResult{}, fmt.Errorf("%s at %d/s: %w", d.Name(), rate, err)
	}
	res := trialResult{Rate: rate, Perf: perf, Output: name, CPU: m.CPU, Mem: m.Mem, Leases: m.Leases,
		ServerDrops: m.ServerDrops, ClientDrops: m.ClientDrops}
	return judge(res, b.opts.Period, b.opts.MaxLoss), nil
}

// serverReading is what a run reads of a server around its load: the
// server's CPU time over the load, the UDP receive-buffer drops in the
// server's and the clients' namespace over it, and at the end the server's
// memory, the leases it holds and its own drop counters.
type serverReading struct {
	CPU                      time.Duration
	ServerDrops, ClientDrops int64
	Mem                      benchkit.Memory
	Leases                   int    // -1 if unknown
	OwnDrops                 string // see diagnoser.Drops; "" for a server without drop counters
}

// measure runs load against the started instance in and reads the server
// around it; the server's diagnostics, if it has them, go into the
// artifacts as LABEL-metrics.txt. A server that exited during the load is
// an error. The caller starts and stops the instance.
func (b *bench) measure(ctx context.Context, d daemon, in *instance, label string, load func() error) (serverReading, error) {
	st0, err := benchkit.ReadStat(in.proc.PID())
	if err != nil {
		return serverReading{}, err
	}
	srv0, cli0, err := b.rcvbufErrors(in)
	if err != nil {
		return serverReading{}, err
	}
	if err := load(); err != nil {
		return serverReading{}, err
	}
	if err := in.alive(); err != nil {
		return serverReading{}, err
	}
	st1, err := benchkit.ReadStat(in.proc.PID())
	if err != nil {
		return serverReading{}, err
	}
	srv1, cli1, err := b.rcvbufErrors(in)
	if err != nil {
		return serverReading{}, err
	}
	r := serverReading{CPU: st1.OwnCPU() - st0.OwnCPU(), ServerDrops: srv1 - srv0, ClientDrops: cli1 - cli0, Leases: -1}
	if r.Mem, err = benchkit.ReadMemory(in.proc.PID()); err != nil {
		return serverReading{}, err
	}
	if n, err := d.Leases(ctx, in); err == nil {
		r.Leases = n
	}
	if dg, ok := d.(diagnoser); ok {
		if text, err := dg.Diagnostics(ctx, in); err == nil {
			_ = os.WriteFile(filepath.Join(b.art, label+"-metrics.txt"), []byte(text), 0o644)
			r.OwnDrops = dg.Drops(text)
		}
	}
	return r, nil
}

// rcvbufErrors reads the UDP RcvbufErrors counters of the server's
// namespace (through its process) and of the client namespace (from a
// thread switched into it).
func (b *bench) rcvbufErrors(in *instance) (server, client int64, err error) {
	if server, err = udpRcvbufErrors(in.proc.PID()); err != nil {
		return 0, 0, err
	}
	err = b.lab.client.Do(func() error {
		snmp, rerr := os.ReadFile("/proc/thread-self/net/snmp")
		if rerr != nil {
			return fmt.Errorf("udp counters: %w", rerr)
		}
		client, rerr = benchkit.ParseNetCounter(string(snmp), "Udp", "RcvbufErrors")
		return rerr
	})
	return server, client, err
}

// udpRcvbufErrors reads the UDP RcvbufErrors counter of the network
// namespace process pid lives in.
func udpRcvbufErrors(pid int) (int64, error) {
	return benchkit.NetCounter(pid, "snmp", "Udp", "RcvbufErrors")
}

// diagnoser is a daemon that can tell, after a trial, where its packets
// went (counters of drops by reason), to explain a loss.
type diagnoser interface {
	Diagnostics(ctx context.Context, in *instance) (string, error)
	// Drops names the nonzero drop counters in what Diagnostics
	// returned, or says "none".
	Drops(diagnostics string) string
}

// perfRun is the perfdhcp run the lab and options call for.
func (b *bench) perfRun(rate, clients int, period time.Duration) perfRun {
	return perfRun{
		Iface:       b.lab.clientIf,
		Server:      b.opts.plan.ServerAddr.Addr(),
		Rate:        rate,
		Clients:     clients,
		Period:      period,
		VendorClass: b.opts.plan.VendorClass,
		RecvBuffer:  b.opts.PerfdhcpRcvbuf,
	}
}
