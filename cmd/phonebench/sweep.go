package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// sweep is the HTTP(S) results laid out as issue 14 states its goal: a
// row per case (protocol, key type, file), a column per connection count,
// phoneprov/nginx in each cell.
type sweep struct {
	Conns    []int
	Rows     []sweepRow
	Duration time.Duration // of each measured run
}

type sweepRow struct {
	Case  string
	Cells map[int]scenarioResult // by connection count
}

// newSweep collects the HTTP(S) results, rows and columns in running
// order; d is the length of each measured run.
func newSweep(results []scenarioResult, d time.Duration) sweep {
	s := sweep{Duration: d}
	for _, r := range results {
		sc := r.Scenario
		if sc.Case == "" {
			continue
		}
		if !slices.Contains(s.Conns, sc.Conns) {
			s.Conns = append(s.Conns, sc.Conns)
		}
		i := slices.IndexFunc(s.Rows, func(row sweepRow) bool { return row.Case == sc.Case })
		if i < 0 {
			s.Rows = append(s.Rows, sweepRow{Case: sc.Case, Cells: map[int]scenarioResult{}})
			i = len(s.Rows) - 1
		}
		s.Rows[i].Cells[sc.Conns] = r
	}
	slices.Sort(s.Conns)
	return s
}

// point returns the result at conns in row, or, when there is none to
// show, what its ratio cell says instead: "–" when it did not run,
// "ERROR" when it failed.
func point(row sweepRow, conns int) (scenarioResult, string) {
	r, ok := row.Cells[conns]
	switch {
	case !ok:
		return r, "–"
	case r.Err != nil:
		return r, "ERROR"
	}
	return r, ""
}

// cell is one point: the ratio, then each server's median throughput.
func (s sweep) cell(row sweepRow, conns int) string {
	r, instead := point(row, conns)
	if instead != "" {
		return instead
	}
	pp, peer := summarize(r.Phoneprov), summarize(r.Other)
	mark := ""
	if s.clientBound(r) {
		mark = " w"
	}
	return fmt.Sprintf("%s (%s/%s)%s", fmtRatio(roundRatio(r.Phoneprov, r.Other)), kilo(pp.Throughput), kilo(peer.Throughput), mark)
}

// spreadCell is one point's lowest and highest round ratio.
func (s sweep) spreadCell(row sweepRow, conns int) string {
	r, ok := row.Cells[conns]
	if !ok || r.Err != nil {
		return "–"
	}
	rs := roundRatios(r.Phoneprov, r.Other)
	if len(rs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f–%.2f", slices.Min(rs), slices.Max(rs))
}

// clientBusy is the share of a run's time wrk's one thread spent on the
// CPU from which on it, rather than the server, is taken to set the pace.
const clientBusy = 0.9

// clientShare is the share of a run's time the load generator spent on
// the CPU, the median over runs.
func (s sweep) clientShare(runs []figures) float64 {
	return summarize(runs).ClientCPU.Seconds() / s.Duration.Seconds()
}

// clientBound reports whether wrk was busy at least clientBusy of the
// time against both servers: then the ratio measures how much CPU wrk
// needs per unit of work from each server more than how fast the servers
// are.
func (s sweep) clientBound(r scenarioResult) bool {
	return s.clientShare(r.Phoneprov) >= clientBusy && s.clientShare(r.Other) >= clientBusy
}

// cpuCell is the server CPU each server spent per unit of work: µs per
// request (req/s scenarios) or ms per GiB (MiB/s scenarios), the median
// over rounds. CPU time, unlike throughput, hardly moves when other
// processes take turns on the cores.
func (s sweep) cpuCell(row sweepRow, conns int) string {
	r, ok := row.Cells[conns]
	if !ok || r.Err != nil {
		return "–"
	}
	server := func(f figures) time.Duration { return f.Usage.CPU }
	return fmt.Sprintf("%.1f / %.1f", s.perUnit(r, r.Phoneprov, server), s.perUnit(r, r.Other, server))
}

// clientCell is what cpuCell is for the load generator's CPU, then the
// share of the run's time it was busy against each server, in per cent.
func (s sweep) clientCell(row sweepRow, conns int) string {
	r, ok := row.Cells[conns]
	if !ok || r.Err != nil {
		return "–"
	}
	client := func(f figures) time.Duration { return f.ClientCPU }
	return fmt.Sprintf("%.1f / %.1f (%.0f/%.0f %%)", s.perUnit(r, r.Phoneprov, client), s.perUnit(r, r.Other, client),
		100*s.clientShare(r.Phoneprov), 100*s.clientShare(r.Other))
}

// perUnit is the median over runs of cpu per unit of work: µs per
// request, or ms per GiB for a MiB/s scenario.
func (s sweep) perUnit(r scenarioResult, runs []figures, cpu func(figures) time.Duration) float64 {
	var xs []float64
	for _, f := range runs {
		work := f.Throughput * s.Duration.Seconds() // requests, or MiB
		if work <= 0 {
			continue
		}
		if r.Scenario.Unit == "MiB/s" {
			xs = append(xs, float64(cpu(f).Milliseconds())/(work/1024))
		} else {
			xs = append(xs, float64(cpu(f).Microseconds())/work)
		}
	}
	return median(xs)
}

// kilo spells a rate briefly: 912, 45.9k.
func kilo(x float64) string {
	if x >= 10000 {
		return fmt.Sprintf("%.1fk", x/1000)
	}
	return fmt.Sprintf("%.0f", x)
}

// writeTable prints the sweep as aligned text under title (tw is a
// tabwriter).
func (s sweep) writeTable(tw io.Writer, title string) {
	if len(s.Rows) == 0 {
		return
	}
	fmt.Fprint(tw, title)
	for _, n := range s.Conns {
		fmt.Fprintf(tw, "\t%d conns", n)
	}
	fmt.Fprintln(tw)
	for _, row := range s.Rows {
		fmt.Fprint(tw, row.Case)
		for _, n := range s.Conns {
			fmt.Fprintf(tw, "\t%s", s.cell(row, n))
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw)
}

// writeMarkdown renders the sweep as a Markdown table.
func (s sweep) writeMarkdown(b *strings.Builder) {
	if len(s.Rows) == 0 {
		return
	}
	s.writeMarkdownTable(b, "## HTTP(S) sweep\n\nphoneprov / nginx, median of each round's ratio; in brackets each server's median: req/s for 2 KiB, MiB/s for 10 MiB. wrk -t1, keep-alive, on the same machine.", s.cell)
	s.writeMarkdownTable(b, "Each point's round ratios, lowest–highest. The two runs of a round are back to back; where rounds of one point range across 1.0, the machine's drift within a round is as large as the difference between the servers.", s.spreadCell)
	s.writeMarkdownTable(b, "Server CPU per unit of work, phoneprov / nginx (median over rounds): µs per request for 2 KiB, ms per GiB for 10 MiB. Lower is better.", s.cpuCell)
	s.writeMarkdownTable(b, fmt.Sprintf("The load generator's CPU per unit of work against phoneprov / against nginx (wrk, one thread; median over rounds, same units), and in brackets the share of each run's time it was busy. \"w\" in the first table marks the points where it was busy %.0f %% of the time or more against both: there wrk sets the pace, and the ratio says more about how much of wrk's CPU each server's bytes cost than about the servers' own speed.", 100*clientBusy), s.clientCell)
}

// twinCell is an A/A point: the median of the rounds' ratios, then their
// lowest and highest.
func (s sweep) twinCell(row sweepRow, conns int) string {
	r, instead := point(row, conns)
	if instead != "" {
		return instead
	}
	return fmt.Sprintf("%s (%s)", fmtRatio(roundRatio(r.Phoneprov, r.Other)), s.spreadCell(row, conns))
}

// writeTwinMarkdown renders an A/A sweep: nginx against its twin.
func (s sweep) writeTwinMarkdown(b *strings.Builder) {
	if len(s.Rows) == 0 {
		return
	}
	s.writeMarkdownTable(b, "## A/A: nginx against an identical nginx\n\n"+
		"The sweep's runs again, between nginx and a second nginx with the same configuration, files and certificate (`-twin`), alternating in the same way: nginx / its twin, the median of the rounds' ratios, in brackets the lowest and highest round. "+
		"Two equal servers should read 1.00× everywhere; how far they stray is how far this machine moves a ratio by itself, so a phoneprov / nginx ratio that far from 1.0 does not tell the two servers apart.", s.twinCell)
}

// writeMarkdownTable renders one figure per point (cellOf) under a title.
func (s sweep) writeMarkdownTable(b *strings.Builder, title string, cellOf func(sweepRow, int) string) {
	b.WriteString("\n" + title + "\n\n| case |")
	for _, n := range s.Conns {
		fmt.Fprintf(b, " %d conns |", n)
	}
	b.WriteString("\n|---|" + strings.Repeat("--:|", len(s.Conns)) + "\n")
	for _, row := range s.Rows {
		fmt.Fprintf(b, "| %s |", row.Case)
		for _, n := range s.Conns {
			fmt.Fprintf(b, " %s |", cellOf(row, n))
		}
		b.WriteString("\n")
	}
}
