package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// report is everything a run found, for the table and the Markdown file.
type report struct {
	Opts      options
	Stamp     time.Time
	Artifacts string
	Machine   machine
	Setups    []setup
	Runs      []serverRun
}

// setup is how one server was configured and started.
type setup struct {
	Name, Version, Command, Config, Storage string
}

// summaries returns a summary per server that ran, in -servers order.
func (r *report) summaries() []summary {
	var out []summary
	for _, name := range r.Opts.Servers {
		if s, ok := summarize(r.Runs, name); ok {
			out = append(out, s)
		}
	}
	return out
}

// find returns the summary of a server, and whether it ran.
func find(sums []summary, name string) (summary, bool) {
	i := slices.IndexFunc(sums, func(s summary) bool { return s.Name == name })
	if i < 0 {
		return summary{}, false
	}
	return sums[i], true
}

// targets judges phoneprov against the issue's targets; nil if phoneprov
// did not run.
func (r *report) targets() []target {
	sums := r.summaries()
	p, ok := find(sums, "phoneprov")
	if !ok {
		return nil
	}
	k, haveKea := find(sums, "kea")
	km, haveMT := find(sums, "kea-mt")
	return append(targets(p, k, haveKea, r.Opts), issue14Targets(p, k, km, haveKea, haveMT)...)
}

// summaryRow is one server's row in the tables.
func summaryRow(s summary, period time.Duration) []string {
	loss, cpu, cpuPer, clientPer, clientCore, clientThread := "-", "-", "-", "-", "-", "-"
	if s.HasBest {
		loss = fmt.Sprintf("%.2f", s.Best.Perf.loss()*100)
		cpu = fmt.Sprintf("%.1f", s.Best.CPU.Seconds())
		cpuPer = fmt.Sprintf("%.0f", float64(s.Best.cpuPerExchange())/float64(time.Microsecond))
		clientPer = fmt.Sprintf("%.0f", float64(s.Best.clientCPUPerExchange())/float64(time.Microsecond))
		clientCore = fmt.Sprintf("%.0f", s.Best.clientCore(period)*100)
		clientThread = fmt.Sprintf("%.0f", s.Best.clientThreadCore(period)*100)
	}
	h := s.Pick.Hold
	held, heldRSS := "-", "-"
	if h.Target > 0 {
		held, heldRSS = fmt.Sprint(h.Leases), fmt.Sprintf("%s (%s+%s)", benchkit.MiB(h.Settled.RSS), benchkit.MiB(h.Settled.Anon), benchkit.MiB(h.Settled.File))
	}
	durable := "not traced"
	switch {
	case s.Pick.TraceErr != "":
		durable = "trace failed"
	case s.Pick.TraceFile != "":
		d := s.Pick.Durability
		durable = fmt.Sprintf("%s (%d/%d)", map[bool]string{true: "yes", false: "no"}[d.durable()], d.AcksAfterSync, d.Acks)
	}
	rate := fmt.Sprint(s.Rate())
	if len(s.Rates) > 1 {
		rate += fmt.Sprintf(" %v", s.Rates)
	}
	return []string{s.Name, rate, loss, cpu, cpuPer, clientPer, clientCore, clientThread, benchkit.MiB(s.PeakHWM), held, heldRSS, durable}
}

// summaryHeader names the summaryRow columns.
func summaryHeader(o options) []string {
	return []string{"server", "DORA/s", "loss %", "CPU s", "CPU µs/DORA", "perfdhcp CPU µs/DORA", "perfdhcp % of a core", "its busiest thread % of a core", "peak RSS MiB",
		"leases held", fmt.Sprintf("RSS held MiB (anon+file), %s idle", o.Settle), "synced before ACK"}
}

// WriteTable prints the summary, ratios and targets as aligned text.
func (r *report) WriteTable(w io.Writer) error {
	sums := r.summaries()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(summaryHeader(r.Opts), "\t"))
	for _, s := range sums {
		fmt.Fprintln(tw, strings.Join(summaryRow(s, r.Opts.Period), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	if p, ok := find(sums, "phoneprov"); ok {
		k, _ := find(sums, "kea")
		km, _ := find(sums, "kea-mt")
		d, _ := find(sums, "dnsmasq")
		fmt.Fprintln(w, "\nratios (>1 = phoneprov better):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  \tvs kea\tvs kea-mt\tvs dnsmasq\t")
		for _, c := range compare(p, k, km, d) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t(%s)\n", c.What, c.Kea, c.KeaMT, c.Dnsm, c.HowToRead)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("table: %w", err)
		}
		if base, ok := find(sums, baselineName); ok {
			fmt.Fprintf(w, "\nphoneprov against %s, the -baseline build (>1 = phoneprov better):\n", baselineName)
			for _, c := range compare(p, base, summary{}, summary{}) {
				fmt.Fprintf(w, "  %-34s %s (%s)\n", c.What, c.Kea, c.HowToRead)
			}
		}
		if err := r.writePacedTable(w); err != nil {
			return err
		}
		if err := r.writeRebootTable(w); err != nil {
			return err
		}
		fmt.Fprintln(w, "\ntargets (issues 3 and 14):")
		for _, t := range r.targets() {
			fmt.Fprintf(w, "  %-11s %s\n              %s\n", t.Verdict, t.Want, t.Got)
		}
	}
	return nil
}

// FileName is dhcp-YYYYMMDD-HHMMSS.md, beside the artifacts directory of
// the same name.
func (r *report) FileName() string { return "dhcp-" + r.Stamp.Format("20060102-150405") + ".md" }

// WriteFooter says where the artifacts are.
func (r *report) WriteFooter(w io.Writer) { fmt.Fprintf(w, "artifacts: %s\n", r.Artifacts) }

// rebootHeader names the rebootRow columns.
func rebootHeader() []string {
	return []string{"server", "round", "clients", "bound", "all bound s", "sent", "retransmitted", "kernel drops", "server's own drops", "NAKs",
		"duplicate ACKs", "stored", "lost", "server CPU s", "server CPU µs/client", "clients' CPU s", "RSS MiB", "HWM MiB"}
}

// rebootRow is one mass reboot's row.
func rebootRow(run serverRun) []string {
	r := run.Reboot
	all, lost, per := "-", "?", "-"
	if r.AllBound > 0 {
		all = fmt.Sprintf("%.1f", r.AllBound.Seconds())
	}
	if n := r.lost(); n >= 0 {
		lost = fmt.Sprint(n)
	}
	if r.Bound > 0 {
		per = fmt.Sprintf("%.0f", float64(r.ServerCPU/time.Duration(r.Bound))/float64(time.Microsecond))
	}
	return []string{run.Name, fmt.Sprint(run.Round + 1), fmt.Sprint(r.Clients), fmt.Sprint(r.Bound), all, fmt.Sprint(r.Sent),
		fmt.Sprint(r.Retransmits), fmt.Sprint(r.KernelDrops), cmp.Or(r.OwnDrops, "n/a"), fmt.Sprint(r.Naks), fmt.Sprint(r.Duplicates), fmt.Sprint(r.Stored), lost,
		fmt.Sprintf("%.1f", r.ServerCPU.Seconds()), per, fmt.Sprintf("%.1f", r.ClientCPU.Seconds()), benchkit.MiB(r.Mem.RSS), benchkit.MiB(r.Mem.HWM)}
}

// rebootRuns returns the runs that did a mass reboot.
func (r *report) rebootRuns() []serverRun {
	var out []serverRun
	for _, run := range r.Runs {
		if run.Reboot.Clients > 0 {
			out = append(out, run)
		}
	}
	return out
}

// writeRebootTable prints the mass reboots, if any ran.
func (r *report) writeRebootTable(w io.Writer) error {
	runs := r.rebootRuns()
	if len(runs) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nmass reboot (all clients DISCOVER at once, RFC 2131 retransmissions):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.Join(rebootHeader(), "\t"))
	for _, run := range runs {
		fmt.Fprintln(tw, "  "+strings.Join(rebootRow(run), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return nil
}

// pacedHeader names the pacedRow columns.
func pacedHeader() []string {
	return []string{"server", "DORA/s", "loss %", "CPU µs/DORA", "clients' CPU µs/DORA", "clients % of a core"}
}

// pacedRow is one server's row of the paced search's summary.
func pacedRow(s summary, period time.Duration) []string {
	rate := fmt.Sprint(s.PacedRate())
	if len(s.PacedRates) > 1 {
		rate += fmt.Sprintf(" %v", s.PacedRates)
	}
	loss, cpu, clients, core := "-", "-", "-", "-"
	if t := s.PacedBest; s.HasPacedBest {
		loss = fmt.Sprintf("%.2f", t.loss()*100)
		cpu = fmt.Sprintf("%.0f", float64(t.perExchange(t.ServerCPU))/float64(time.Microsecond))
		clients = fmt.Sprintf("%.0f", float64(t.perExchange(t.ClientCPU))/float64(time.Microsecond))
		core = fmt.Sprintf("%.0f", 100*t.ClientCPU.Seconds()/(period+exitWait).Seconds())
	}
	return []string{s.Name, rate, loss, cpu, clients, core}
}

// writePacedTable prints the paced search's summary, if it ran.
func (r *report) writePacedTable(w io.Writer) error {
	if !r.Opts.Paced {
		return nil
	}
	fmt.Fprintln(w, "\nrate with dhcpbench's own paced clients (not a peer; where perfdhcp is not the limit):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  "+strings.Join(pacedHeader(), "\t"))
	for _, s := range r.summaries() {
		fmt.Fprintln(tw, "  "+strings.Join(pacedRow(s, r.Opts.Period), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return nil
}
