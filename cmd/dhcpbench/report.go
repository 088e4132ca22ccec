package main

import (
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

// targets judges phoneprov against the targets; nil if phoneprov
// did not run.
func (r *report) targets() []target {
	sums := r.summaries()
	p, ok := find(sums, "phoneprov")
	if !ok {
		return nil
	}
	k, haveKea := find(sums, "kea")
	return targets(p, k, haveKea, r.Opts)
}

// summaryRow is one server's row in the tables.
func summaryRow(s summary) []string {
	loss, cpu, cpuPer := "-", "-", "-"
	if s.HasBest {
		loss = fmt.Sprintf("%.2f", s.Best.Perf.loss()*100)
		cpu = fmt.Sprintf("%.1f", s.Best.CPU.Seconds())
		cpuPer = fmt.Sprintf("%.0f", float64(s.Best.cpuPerExchange())/float64(time.Microsecond))
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
	return []string{s.Name, rate, loss, cpu, cpuPer, benchkit.MiB(s.PeakHWM), held, heldRSS, durable}
}

// summaryHeader names the summaryRow columns.
func summaryHeader(o options) []string {
	return []string{"server", "DORA/s", "loss %", "CPU s", "CPU µs/DORA", "peak RSS MiB",
		"leases held", fmt.Sprintf("RSS held MiB (anon+file), %s idle", o.Settle), "synced before ACK"}
}

// WriteTable prints the summary, ratios and targets as aligned text.
func (r *report) WriteTable(w io.Writer) error {
	sums := r.summaries()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(summaryHeader(r.Opts), "\t"))
	for _, s := range sums {
		fmt.Fprintln(tw, strings.Join(summaryRow(s), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	if p, ok := find(sums, "phoneprov"); ok {
		k, _ := find(sums, "kea")
		d, _ := find(sums, "dnsmasq")
		fmt.Fprintln(w, "\nratios (>1 = phoneprov better):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  \tvs kea\tvs dnsmasq\t")
		for _, c := range compare(p, k, d) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t(%s)\n", c.What, c.Kea, c.Dnsm, c.HowToRead)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("table: %w", err)
		}
		fmt.Fprintln(w, "\ntargets (issue 3):")
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
