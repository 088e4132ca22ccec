package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// stormRSSTarget is the memory target for phoneprov in a storm.
const stormRSSTarget = 100 << 20

// stormReport is everything a storm benchmark found.
type stormReport struct {
	Started  time.Time
	Opts     stormOptions
	Machine  machine
	Dnsmasq  string
	Rendered []string
	Pinned   int        // permanent neighbour entries in the lab
	PoolEnd  string     // last pool address
	Runs     []stormRun // the rounds, both stacks
	Limit    []stormRun // phoneprov alone at growing sizes
}

// stackFigures sums one stack's rounds: medians of time and CPU, the
// highest memory.
type stackFigures struct {
	Rounds  int
	AllOK   bool          // every round provisioned every phone
	Done    time.Duration // median time until every phone was provisioned
	P50     time.Duration // median over rounds of the median phone's time
	CPU     time.Duration // median server CPU
	PeakRSS int64         // highest sum of the servers' peaks
	Failed  int           // phones failed over all rounds
}

func (r *stormReport) figures(stack string) stackFigures {
	f := stackFigures{AllOK: true}
	var done, p50, cpu []time.Duration
	for _, run := range r.Runs {
		if run.Stack != stack {
			continue
		}
		f.Rounds++
		f.Failed += run.Sim.Failed
		d, ok := run.AllDone()
		if !ok {
			f.AllOK = false
		}
		done = append(done, d)
		p50 = append(p50, run.Sim.Time.P50)
		cpu = append(cpu, run.CPU())
		f.PeakRSS = max(f.PeakRSS, run.PeakRSS())
	}
	if f.Rounds == 0 {
		f.AllOK = false
		return f
	}
	f.Done, f.P50, f.CPU = medianDuration(done), medianDuration(p50), medianDuration(cpu)
	return f
}

func medianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// costRatio is baseline / phoneprov for costs (time, CPU, memory): above
// 1 means phoneprov does better.
func costRatio(baseline, phoneprov float64) float64 {
	if phoneprov <= 0 || baseline <= 0 {
		return math.NaN()
	}
	return baseline / phoneprov
}

// stormVerdict is one target and whether it was met.
type stormVerdict struct {
	Target string
	Met    bool
	Detail string
}

// stormTailTarget is how many times sooner than the baseline phoneprov
// must provision its last phone (issue 14).
const stormTailTarget = 2

func (r *stormReport) verdicts() []stormVerdict {
	pp, base := r.figures("phoneprov"), r.figures("baseline")
	ran := pp.Rounds > 0
	var v []stormVerdict
	v = append(v, stormVerdict{
		Target: fmt.Sprintf("phoneprov provisions all %d phones with no failure", r.Opts.Phones),
		Met:    ran && pp.AllOK,
		Detail: fmt.Sprintf("%d failed over %d round(s)", pp.Failed, pp.Rounds),
	})
	// A baseline that never provisioned every phone has no last phone:
	// phoneprov, having provisioned them all, is faster by any factor.
	tail := pp.AllOK && base.Rounds > 0 && (!base.AllOK || base.Done >= stormTailTarget*pp.Done)
	v = append(v, stormVerdict{
		Target: fmt.Sprintf("phoneprov provisions its last phone at least %d× sooner than the baseline", stormTailTarget),
		Met:    ran && tail,
		Detail: fmt.Sprintf("phoneprov %s, baseline %s", doneText(pp), doneText(base)),
	})
	v = append(v, stormVerdict{
		Target: "phoneprov's median phone is provisioned no later than the baseline's",
		Met:    ran && base.Rounds > 0 && pp.P50 <= base.P50,
		Detail: fmt.Sprintf("p50 %s s against %s s, medians over rounds: %s", secs(pp.P50), secs(base.P50), fmtRatio(costRatio(base.P50.Seconds(), pp.P50.Seconds()))),
	})
	v = append(v, stormVerdict{
		Target: "phoneprov stays under 100 MiB RSS",
		Met:    ran && pp.PeakRSS > 0 && pp.PeakRSS < stormRSSTarget,
		Detail: fmt.Sprintf("peak %s MiB", benchkit.MiB(pp.PeakRSS)),
	})
	return v
}

func doneText(f stackFigures) string {
	switch {
	case f.Rounds == 0:
		return "did not run"
	case !f.AllOK:
		return fmt.Sprintf("did not provision every phone (%d failed)", f.Failed)
	}
	return secs(f.Done) + " s"
}

// firstFailure is the smallest limit-search size at which phoneprov
// failed a phone, or nil.
func (r *stormReport) firstFailure() *stormRun {
	for i := range r.Limit {
		if _, ok := r.Limit[i].AllDone(); !ok {
			return &r.Limit[i]
		}
	}
	return nil
}

func runLine(run stormRun) []string {
	done := "—"
	if d, ok := run.AllDone(); ok {
		done = secs(d)
	}
	row := []string{run.Stack, fmt.Sprint(run.Round), fmt.Sprint(run.Phones)}
	if run.Err != nil && run.Sim.Phones == 0 {
		return append(row, "error: "+benchkit.FirstLine(run.Err.Error()))
	}
	return append(row,
		fmt.Sprint(run.Sim.Provisioned), fmt.Sprint(run.Sim.Kept), fmt.Sprint(run.Sim.Failed), done,
		secs(run.Sim.Time.P50), secs(run.Sim.Time.P95), secs(run.Sim.LeaseTime.P95),
		secs(run.CPU()), benchkit.MiB(run.PeakRSS()), secs(run.SimCPU), countText(run.ARPTableFull))
}

// countText is a count, or "?" when it is unknown (below 0).
func countText(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

var runHeader = []string{"stack", "round", "phones", "provisioned", "kept", "failed", "all done s", "p50 s", "p95 s", "lease p95 s", "server CPU s", "peak RSS MiB", "phonesim CPU s", "ARP table full"}

// WriteTable prints the results for the terminal.
func (r *stormReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "boot storm: %d phones, spread %s, seed %d\n", r.Opts.Phones, r.Opts.Spread, r.Opts.Seed)
	fmt.Fprintln(tw, strings.Join(runHeader, "\t"))
	for _, run := range r.Runs {
		fmt.Fprintln(tw, strings.Join(runLine(run), "\t"))
	}
	tw.Flush()
	pp, base := r.figures("phoneprov"), r.figures("baseline")
	fmt.Fprintf(w, "\nbaseline / phoneprov: time %s, median phone %s, server CPU %s, peak RSS %s (above 1: phoneprov better)\n",
		fmtRatio(ratioIf(base.AllOK && pp.AllOK, base.Done.Seconds(), pp.Done.Seconds())), fmtRatio(costRatio(base.P50.Seconds(), pp.P50.Seconds())),
		fmtRatio(costRatio(base.CPU.Seconds(), pp.CPU.Seconds())), fmtRatio(costRatio(float64(base.PeakRSS), float64(pp.PeakRSS))))
	fmt.Fprintln(w, "\ntargets:")
	for _, v := range r.verdicts() {
		mark := "met   "
		if !v.Met {
			mark = "MISSED"
		}
		fmt.Fprintf(w, "  [%s] %s (%s)\n", mark, v.Target, v.Detail)
	}
	if len(r.Limit) > 0 {
		fmt.Fprintln(w, "\nlimit search (phoneprov alone):")
		for _, run := range r.Limit {
			fmt.Fprintf(w, "  %s\n", limitText(run))
		}
		if f := r.firstFailure(); f == nil {
			fmt.Fprintf(w, "  no failure up to %d phones\n", r.Limit[len(r.Limit)-1].Phones)
		}
	}
	return nil
}

func ratioIf(ok bool, a, b float64) float64 {
	if !ok {
		return math.NaN()
	}
	return costRatio(a, b)
}

func limitText(run stormRun) string {
	if run.Err != nil && run.Sim.Phones == 0 {
		return fmt.Sprintf("%d phones: could not run: %s", run.Phones, benchkit.FirstLine(run.Err.Error()))
	}
	arp := ""
	if run.ARPTableFull > 0 {
		arp = fmt.Sprintf("; the host's neighbour table was full %d times (kernel drops)", run.ARPTableFull)
	}
	if https := run.Sim.Protocols["https"]; https.Unreachable+https.TimedOut > 0 {
		arp += fmt.Sprintf("; HTTPS %d connects failed, %d handshakes or answers timed out, the server's listen drops %s", https.Unreachable, https.TimedOut, countText(run.ListenDrops))
	}
	if d, ok := run.AllDone(); ok {
		https := run.Sim.Protocols["https"]
		return fmt.Sprintf("%d phones: all provisioned in %s s (p50 %s s), server CPU %s s, peak RSS %s MiB, HTTPS %d requests on %d connections, DHCP %d sent%s",
			run.Phones, secs(d), secs(run.Sim.Time.P50), secs(run.CPU()), benchkit.MiB(run.PeakRSS()), https.Requests, https.Connections, run.Sim.DHCP["Sent"], arp)
	}
	return fmt.Sprintf("%d phones: %d FAILED (%s)%s; most common: %s", run.Phones, run.Sim.Failed, stepsText(run.Sim.FailedSteps), arp, strings.Join(run.Sim.reasons(3), "; "))
}

func stepsText(m map[string]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// FileName is storm-YYYYMMDD-HHMMSS.md.
func (r *stormReport) FileName() string {
	return "storm-" + r.Started.Format("20060102-150405") + ".md"
}

// WriteMarkdown renders the report.
func (r *stormReport) WriteMarkdown(b *strings.Builder) {
	o := r.Opts
	fmt.Fprintf(b, "# Boot storm: %d phones, phoneprov against dnsmasq + nginx + tftpd-hpa\n\n", o.Phones)
	fmt.Fprintf(b, "Run %s. Command: `%s`\n\n", r.Started.Format(time.RFC3339), o.CommandLine)
	fmt.Fprintf(b, "HTTPS certificate of both stacks: %s.\n\n", serverKeyText(o.ServerKey))
	r.Machine.writeMarkdown(b, benchkit.Fact{Name: "dnsmasq", Value: r.Dnsmasq})
	b.WriteString("\n")

	b.WriteString("## Results\n\n")
	b.WriteString("| " + strings.Join(runHeader, " | ") + " |\n|" + strings.Repeat("---|", len(runHeader)) + "\n")
	for _, run := range r.Runs {
		b.WriteString("| " + strings.Join(mdCells(runLine(run)), " | ") + " |\n")
	}
	pp, base := r.figures("phoneprov"), r.figures("baseline")
	fmt.Fprintf(b, "\nBaseline / phoneprov (medians over rounds; above 1 means phoneprov does better): "+
		"time until every phone is provisioned **%s**, median phone (p50) **%s**, server CPU **%s**, peak RSS **%s**.\n\n",
		fmtRatio(ratioIf(base.AllOK && pp.AllOK, base.Done.Seconds(), pp.Done.Seconds())), fmtRatio(costRatio(base.P50.Seconds(), pp.P50.Seconds())),
		fmtRatio(costRatio(base.CPU.Seconds(), pp.CPU.Seconds())), fmtRatio(costRatio(float64(base.PeakRSS), float64(pp.PeakRSS))))

	b.WriteString("### Targets\n\n")
	for _, v := range r.verdicts() {
		mark := "met"
		if !v.Met {
			mark = "**missed**"
		}
		fmt.Fprintf(b, "- %s: %s (%s)\n", v.Target, mark, v.Detail)
	}

	b.WriteString("\n### Servers, per storm\n\n| stack | round | server | CPU s | peak RSS MiB (tree, sampled) | VmHWM MiB (main process) |\n|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		for _, s := range run.Servers {
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", run.Stack, run.Round, s.Name, secs(s.CPU), benchkit.MiB(s.PeakRSS), benchkit.MiB(s.HWM))
		}
	}
	b.WriteString("\n### What the phones saw\n\n| stack | round | HTTPS requests / connections / MiB | HTTPS errors: not trusted / unreachable / timed out | server's listen drops | HTTP requests / connections / MiB | TFTP requests / KiB | DHCP sent / received | failed by step |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.Runs {
		p := run.Sim.Protocols
		fmt.Fprintf(b, "| %s | %d | %d / %d / %s | %d / %d / %d | %s | %d / %d / %s | %d / %.1f | %d / %d | %s |\n", run.Stack, run.Round,
			p["https"].Requests, p["https"].Connections, benchkit.MiB(p["https"].Bytes), p["https"].Untrusted, p["https"].Unreachable, p["https"].TimedOut, countText(run.ListenDrops),
			p["http"].Requests, p["http"].Connections, benchkit.MiB(p["http"].Bytes), p["tftp"].Requests, float64(p["tftp"].Bytes)/1024,
			run.Sim.DHCP["Sent"], run.Sim.DHCP["Received"], benchkit.MDEscape(stepsText(run.Sim.FailedSteps)))
	}
	for _, run := range r.Runs {
		if reasons := run.Sim.reasons(5); len(reasons) > 0 {
			fmt.Fprintf(b, "\nFailures, %s round %d:\n\n", run.Stack, run.Round)
			for _, s := range reasons {
				fmt.Fprintf(b, "- %s\n", benchkit.MDEscape(s))
			}
		}
		if run.Err != nil {
			fmt.Fprintf(b, "\n%s round %d could not complete: `%s`\n", run.Stack, run.Round, benchkit.FirstLine(run.Err.Error()))
		}
	}

	if len(r.Limit) > 0 {
		b.WriteString("\n## Where phoneprov first fails\n\nphoneprov alone, growing storms, each from a fresh data directory:\n\n")
		for _, run := range r.Limit {
			fmt.Fprintf(b, "- %s\n", benchkit.MDEscape(limitText(run)))
		}
		if f := r.firstFailure(); f == nil {
			fmt.Fprintf(b, "\nNo failure up to %d phones; larger sizes were not tried (`-limit`).\n", r.Limit[len(r.Limit)-1].Phones)
		}
	}

	ping := "`no-ping` (dnsmasq's default ping check before each offer waits for an answer that a new phone never gives; `-dnsmasq-ping` keeps it)"
	if o.DnsmasqPing {
		ping = "dnsmasq's default ping check before each offer"
	}
	fmt.Fprintf(b, `
## Method

- One lab: two network namespaces joined by a veth pair, the server at %s%s, the phones leasing from %s-%s;
  nothing else on the link. Both stacks run in the same lab, in the same benchmark run, one after the other
  (alternating which goes first when there are several rounds), each from a fresh state (no leases, no inventory).
- The phones: phonesim %d phones, seed %d (the same MACs and models for every storm), spread %s, mix %s.
  Each phone does DHCP, then its files: a first boot trusts no certificate, so it takes its scripts and the CA
  over HTTP, then the firmware over verified HTTPS, restarts (INIT-REBOOT), fetches its scripts over HTTPS and
  backs up its settings with PUT. Cisco phones use TFTP. A phone fails when a step does not complete within its
  retries or -timeout (%s). "All done" is the time from the storm's start until the last phone is provisioned.
- phoneprov: DHCP (a preset for every vendor phonesim boots) and files, one process.
- Baseline: dnsmasq (%s) with the same classes and the same option 242/176 string, %s;
  nginx (%s) for HTTP and HTTPS on 80, 443 and 411 with the certificate phoneprov serves (above), and WebDAV PUT under /backup/;
  tftpd-hpa (%s). They serve the sample tree plus phoneprov's generated files rendered with
  `+"`phoneprov render`"+` (%s) and phoneprov's CA as phoneprov-ca.pem.
- The kernel's neighbour (ARP) table is shared by all namespaces of the host and holds %d dynamic entries
  (net.ipv4.neigh.default.gc_thresh3). The server side needs one per phone: past that the kernel drops packets
  to phones whatever the server does. %s "ARP table full" counts such drops during each storm; the lab
  flushes learnt entries before each storm. An appliance serving more phones than that on one link needs the limit raised.
- "HTTPS errors" counts the phones' HTTPS requests that ended with a certificate the phone does not trust (every
  first boot's first request: it trusts no certificate yet), with no connection (refused, or a connect that
  timed out), or with a TLS handshake or an answer past the phone's timeouts on a connection that was made. After
  either of the first two a simulated Avaya phone takes the rest of its boot's files over HTTP; after a time-out, that
  one file (phonesim's model; Avaya documents "HTTPS first, no answer → HTTP", not how long a phone stays on HTTP). "Server's listen drops" is the server namespace's TcpExt ListenDrops over the storm: connection attempts
  its listening sockets dropped (a full accept queue, among others).
- CPU: each server's cgroup (or /proc); memory: the peak of each server's process tree sampled every %s, and the
  main process's VmHWM; a stack's memory is the sum of its servers' peaks. phonesim runs on the same CPUs and its
  CPU time is shown: the phones' TLS work competes with the servers'.
`, labServerIP, labPrefix, labPoolStart, r.PoolEnd, o.Phones, o.Seed, o.Spread, cmpOr(o.Mix, "phonesim's default"), o.Timeout,
		r.Dnsmasq, ping, r.Machine.Nginx, r.Machine.TFTPD, strings.Join(r.Rendered, ", "), gcThresh3(), pinnedText(r.Pinned), benchkit.SampleInterval)
}

func mdCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = benchkit.MDEscape(c)
	}
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func pinnedText(n int) string {
	if n == 0 {
		return "Here the server side learnt its entries by ARP (-pin-neighbours=false)."
	}
	return fmt.Sprintf("Here the %d pool addresses had permanent entries on the server side (they do not count against the limit), "+
		"so the server sent to phones without ARP.", n)
}

// serverKeyText says which HTTPS certificate a storm's stacks served.
func serverKeyText(key string) string {
	if key == keyECDSA {
		return keyTitle(key) + ", issued by phoneprov's CA (-server-key " + keyECDSA + ": the storm without RSA signing)"
	}
	return keyTitle(keyRSA) + ", phoneprov's own"
}
