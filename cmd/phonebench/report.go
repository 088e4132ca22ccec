package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// report is everything one benchmark run found.
type report struct {
	Started  time.Time
	Opts     options
	Machine  machine
	Results  []scenarioResult
	Twins    []scenarioResult // -twin: the HTTP(S) points between nginx and its twin
	Verdicts []verdict
	Memory   []serverMemory
	Servers  []*server   // as run, for the appendix
	Loss     *lossReport // the tftp-loss scenario; nil when not run
}

// serverMemory is one server's resource use over all its measured runs.
type serverMemory struct {
	Name    string
	PeakRSS int64         // highest sampled RSS of the process tree
	HWM     int64         // VmHWM of the main process before it stopped; 0 if not read
	CPU     time.Duration // over all measured runs
	Tree    string        // what the process tree is
}

// memoryOf sums a server's usage over the results; tree says what its
// process tree is.
func memoryOf(s *server, tree string, results []scenarioResult) serverMemory {
	name := s.Name
	m := serverMemory{Name: name, Tree: tree + "; CPU from " + s.proc.CPUSource()}
	for _, r := range results {
		var runs []figures
		switch name {
		case r.PP:
			runs = r.Phoneprov
		case r.Peer:
			runs = r.Other
		}
		for _, f := range runs {
			m.PeakRSS = max(m.PeakRSS, f.Usage.PeakRSS)
			m.CPU += f.Usage.CPU
		}
	}
	return m
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func fmtRatio(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", x)
}

func fmtFigure(x float64, unit string) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f %s", x, unit)
}

// detail is the secondary figures of a summary, by protocol.
func detail(sc scenario, s summary) string {
	switch {
	case sc.Proto == "tftp":
		return fmt.Sprintf("%.1f transfers/s, %d failed", s.Rate, s.Failures)
	case sc.Unit == "MiB/s":
		return fmt.Sprintf("%.1f req/s, p99 %v", s.Rate, s.P99.Round(10*time.Microsecond))
	}
	return fmt.Sprintf("%.1f MiB/s, p99 %v", s.Rate, s.P99.Round(10*time.Microsecond))
}

// WriteTable prints the results, targets and memory as aligned text.
func (r *report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.onlyLoss() {
		r.Loss.writeTable(tw)
		return tw.Flush()
	}
	fmt.Fprintln(w, "ratio = phoneprov/peer throughput (>1: phoneprov better); CPU = server's CPU s in the run; client = load generator's CPU s")
	newSweep(r.Results, r.Opts.Duration).writeTable(tw, "SWEEP: ratio (phoneprov/nginx; 2 KiB req/s, 10 MiB MiB/s)")
	newSweep(r.Twins, r.Opts.Duration).writeTable(tw, "A/A: ratio (nginx/its twin, the same configuration)")
	fmt.Fprintln(tw, "SCENARIO\tLOAD\tPHONEPROV\tPEER\tRATIO\tCPU pp/peer\tclient pp/peer\tRSS MiB pp/peer\tFAILED pp/peer")
	for _, res := range r.Results {
		sc := res.Scenario
		if res.Err != nil {
			fmt.Fprintf(tw, "%s\t%s\tERROR (below)\t\t\t\t\t\t\n", sc.Title, sc.Load)
			continue
		}
		pp, peer := summarize(res.Phoneprov), summarize(res.Other)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%s)\t%s\t%s/%s\t%s/%s\t%s/%s\t%d/%d\n",
			sc.Title, sc.Load, fmtFigure(pp.Throughput, sc.Unit), fmtFigure(peer.Throughput, sc.Unit), res.Peer,
			fmtRatio(roundRatio(res.Phoneprov, res.Other)), secs(pp.CPU), secs(peer.CPU),
			secs(pp.ClientCPU), secs(peer.ClientCPU), benchkit.MiB(pp.PeakRSS), benchkit.MiB(peer.PeakRSS), pp.Failures, peer.Failures)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.Err != nil {
			fmt.Fprintf(w, "ERROR %v\n", res.Err)
		}
	}
	if r.Loss != nil {
		fmt.Fprintln(tw)
		r.Loss.writeTable(tw)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "TARGET\tGOT\tSTATUS")
	for _, v := range r.Verdicts {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Goal, v.Got, v.Status)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SERVER\tPEAK RSS MiB\tVmHWM MiB\tCPU s (all runs)\t")
	for _, m := range r.Memory {
		hwm := "-"
		if m.HWM > 0 {
			hwm = benchkit.MiB(m.HWM)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, benchkit.MiB(m.PeakRSS), hwm, secs(m.CPU), m.Tree)
	}
	return tw.Flush()
}

// onlyLoss says the run was the tftp-loss scenario alone.
func (r *report) onlyLoss() bool { return r.Loss != nil && len(r.Results) == 0 }

// missed returns the goals that were not met or could not be judged.
func (r *report) missed() []string {
	var out []string
	for _, v := range r.Verdicts {
		if v.Status == statusMiss || v.Status == statusError {
			out = append(out, fmt.Sprintf("%s (%s: %s)", v.Goal, v.Status, v.Got))
		}
	}
	return out
}

// WriteFooter lists the targets missed.
func (r *report) WriteFooter(w io.Writer) {
	missed := r.missed()
	if len(missed) == 0 {
		fmt.Fprintln(w, "\nall targets that ran were met")
		return
	}
	fmt.Fprintf(w, "\ntargets missed (%d):\n", len(missed))
	for _, m := range missed {
		fmt.Fprintf(w, "  - %s\n", m)
	}
}

// FileName is files-YYYYMMDD-HHMMSS.md.
func (r *report) FileName() string { return "files-" + r.Started.Format("20060102-150405") + ".md" }

// WriteMarkdown renders the report.
func (r *report) WriteMarkdown(b *strings.Builder) {
	o, m := r.Opts, r.Machine
	fmt.Fprintf(b, "# phoneprov file serving vs nginx and tftpd-hpa — %s\n\n", r.Started.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(b, "Command: `%s`\n\n", o.CommandLine)

	m.writeMarkdown(b)

	if r.onlyLoss() {
		r.Loss.writeMarkdown(b)
		return
	}

	b.WriteString("\n## Method\n\n")
	fmt.Fprintf(b, "- Every server on 127.0.0.1, free high ports, serving the same temporary tree of random files; load generator on the same machine.\n")
	warm := "no warm-up"
	if o.Warmup > 0 {
		warm = fmt.Sprintf("an unmeasured %v warm-up per server and scenario", o.Warmup)
	}
	fmt.Fprintf(b, "- Runs of %v after %s; %s, alternating which server goes first; figures are medians over rounds (failures summed, RSS the highest).\n", o.Duration, warm, plural(o.Rounds, "round"))
	fmt.Fprintf(b, "- HTTP(S): `wrk -t1 -c<N> -d<D>s --latency` at %s connections, for the 2 KiB and the 10 MiB file; throughput is Requests/sec for 2 KiB and, for 10 MiB, the bytes wrk read over the run's length (its \"N requests in 10.01s, 15.23GB read\" line: Transfer/sec from finer figures; MiB/s; wrk counts bytes as they arrive, so 10 MiB responses cut by the end of a run still count). Each file was first downloaded once from each server and its sha256 checked.\n", strings.Trim(strings.Join(strings.Fields(fmt.Sprint(o.Conns)), ", "), "[]"))
	fmt.Fprintf(b, "- HTTPS: both servers of a pair hold the same self-signed certificate, one pair per key type (%s); HTTP runs against the first pair. phoneprov is given it as `cert_file`/`key_file`; nginx as `ssl_certificate`.\n", strings.Join(o.Keys, ", "))
	fmt.Fprintf(b, "- TFTP: pin/tftp v3 client in phonebench, one goroutine per client downloading over and over, blksize %d, tsize, timeout %v, %d retries; every transfer's size and sha256 checked. MB/s = payload bytes (10^6) received inside the window / window; transfers still running when it closes are cut and count as neither done nor failed.\n", tftpBlockSize, tftpTimeout, tftpRetries)
	fmt.Fprintf(b, "- TFTP with client programs (the \"atftp\" and \"tftp client\" rows): N processes at a time, each started over and over while the window lasts: `atftp --option \"blksize %d\" -g` or tftp-hpa's `tftp -m binary … -c get` (512-byte blocks, no options); every download's exit status and sha256 checked. Downloads started inside the window run to the end; MB/s = bytes of completed downloads (10^6) / time from the start to the last end. Client CPU is the client processes' rusage.\n", tftpBlockSize)
	b.WriteString("- phoneprov: log level warn, admin listener off, `blksize_max = 1468`, otherwise defaults; HTTPS with the certificate of its pair (above).\n")
	b.WriteString("- RSS of a process tree is the sum of each process's VmRSS (nginx master + workers, in.tftpd + its forked transfers), sampled every 100 ms; shared pages count once per process. Server CPU is the run's share of the cgroup v2 `cpu.stat` usage of a group each server is started in (all its processes, exited ones included); without cgroup v2, utime+stime from /proc (see the last table).\n")
	fmt.Fprintf(b, "- Client CPU is wrk's rusage, or phonebench's own for TFTP (its pin/tftp goroutines). wrk -t1 is one thread: near 1 s per second of run, it, not the server, sets the pace; the sweep marks those points \"w\" (busy %.0f %% of the time or more against both servers) and gives wrk's CPU per unit of work.\n", 100*clientBusy)
	b.WriteString("- Ratio = phoneprov / peer on throughput: above 1 means phoneprov did better. With several rounds it is the median of each round's ratio (the two runs of a round are back to back, so the shared machine's drift between rounds cancels); the throughput columns are each server's median.\n")

	newSweep(r.Results, r.Opts.Duration).writeMarkdown(b)
	newSweep(r.Twins, r.Opts.Duration).writeTwinMarkdown(b)

	b.WriteString("\n## Results\n\n")
	b.WriteString("| Scenario | Load | phoneprov | peer | ratio | phoneprov detail | peer detail | server CPU s pp / peer | client CPU s pp / peer | peak RSS MiB pp / peer |\n")
	b.WriteString("|---|---|--:|--:|--:|---|---|--:|--:|--:|\n")
	for _, res := range r.Results {
		sc := res.Scenario
		if res.Err != nil {
			fmt.Fprintf(b, "| %s | `%s` | ERROR | | | %s | | | | |\n", sc.Title, sc.Load, benchkit.MDEscape(res.Err.Error()))
			continue
		}
		pp, peer := summarize(res.Phoneprov), summarize(res.Other)
		fmt.Fprintf(b, "| %s | `%s` | %s | %s (%s) | **%s** | %s | %s | %s / %s | %s / %s | %s / %s |\n",
			sc.Title, sc.Load, fmtFigure(pp.Throughput, sc.Unit), fmtFigure(peer.Throughput, sc.Unit), res.Peer,
			fmtRatio(roundRatio(res.Phoneprov, res.Other)), detail(sc, pp), detail(sc, peer),
			secs(pp.CPU), secs(peer.CPU), secs(pp.ClientCPU), secs(peer.ClientCPU), benchkit.MiB(pp.PeakRSS), benchkit.MiB(peer.PeakRSS))
	}
	if o.Rounds > 1 {
		b.WriteString("\nPer round (phoneprov / peer):\n\n")
		for _, res := range r.Results {
			if res.Err != nil {
				continue
			}
			var parts []string
			for i := range min(len(res.Phoneprov), len(res.Other)) {
				parts = append(parts, fmt.Sprintf("%.1f / %.1f", res.Phoneprov[i].Throughput, res.Other[i].Throughput))
			}
			fmt.Fprintf(b, "- %s (%s): %s\n", res.Scenario.Title, res.Scenario.Unit, strings.Join(parts, "; "))
		}
	}
	for _, res := range r.Results {
		for _, run := range []struct {
			who  string
			runs []figures
		}{{"phoneprov", res.Phoneprov}, {res.Peer, res.Other}} {
			if s := summarize(run.runs); s.FirstErr != "" {
				fmt.Fprintf(b, "\n%s, %s, first failure: `%s`\n", res.Scenario.Title, run.who, s.FirstErr)
			}
		}
	}

	if r.Loss != nil {
		r.Loss.writeMarkdown(b)
	}

	b.WriteString("\n## Targets\n\n| Target | Got | Status |\n|---|---|---|\n")
	for _, v := range r.Verdicts {
		fmt.Fprintf(b, "| %s | %s | **%s** |\n", v.Goal, v.Got, v.Status)
	}

	b.WriteString("\n## Memory and CPU over all measured runs\n\n| Server | peak RSS MiB | VmHWM MiB | CPU s | measured |\n|---|--:|--:|--:|---|\n")
	for _, mem := range r.Memory {
		hwm := "–"
		if mem.HWM > 0 {
			hwm = benchkit.MiB(mem.HWM)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", mem.Name, benchkit.MiB(mem.PeakRSS), hwm, secs(mem.CPU), mem.Tree)
	}

	b.WriteString("\n## Servers as run\n")
	for _, s := range r.Servers {
		fmt.Fprintf(b, "\n%s: `%s`\n", s.Name, strings.Join(s.proc.Args(), " "))
		if s.Conf != "" {
			fmt.Fprintf(b, "\n```\n%s```\n", s.Conf)
		}
	}
}
