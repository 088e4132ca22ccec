package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// WriteMarkdown renders the whole report.
func (r *report) WriteMarkdown(b *strings.Builder) {
	o := r.Opts
	p := o.plan
	sums := r.summaries()
	fmt.Fprintf(b, "# DHCP benchmark: %s\n\n", strings.Join(o.Servers, ", "))
	fmt.Fprintf(b, "%s, %d round(s). The highest DORA rate each server sustains with under %.2g %% of DORAs "+
		"unanswered, found by stepping perfdhcp's rate; each step runs %s against a freshly started server "+
		"with an empty lease database, %d simulated clients.\n\n",
		r.Stamp.Format("2006-01-02 15:04:05 MST"), o.Rounds, o.MaxLoss*100, o.Period, o.Clients)

	b.WriteString("## Results\n\n")
	benchkit.MDTable(b, summaryHeader(o), func(row func(...string)) {
		for _, s := range sums {
			row(summaryRow(s, o.Period)...)
		}
	})
	b.WriteString("\nDORA/s: the highest rate asked of perfdhcp that passed (median over rounds, the lower one for an even count; each round in brackets). " +
		"Loss, CPU s and CPU µs/DORA are from that passing trial: CPU is the server's utime+stime over the perfdhcp run, " +
		"per completed DORA; perfdhcp's CPU (from wait4) is shown the same way, and as a share of one core over the run. " +
		"perfdhcp 2.2 sends from one thread and receives in another on a machine with more than one CPU (its -g option, \"multi\" by default there), " +
		"so the whole process can pass 100 %; its busiest thread's share (its threads' CPU read from /proc every 100 ms) near 100 % means " +
		"that thread, not the server, set the rate. Peak RSS: the highest VmHWM in any trial or fill. Leases held / RSS held: a fresh server filled " +
		"at 80 % of its best rate until it held the target, then left idle; VmRSS after that.\n\n")

	if pp, ok := find(sums, "phoneprov"); ok {
		k, _ := find(sums, "kea")
		km, _ := find(sums, "kea-mt")
		d, _ := find(sums, "dnsmasq")
		b.WriteString("## Targets (issues 3 and 14)\n\n")
		benchkit.MDTable(b, []string{"target", "measured", "verdict"}, func(row func(...string)) {
			for _, t := range r.targets() {
				row(t.Want, t.Got, "**"+t.Verdict+"**")
			}
		})
		b.WriteString("\n## Ratios (>1 = phoneprov better)\n\n")
		benchkit.MDTable(b, []string{"figure", "vs Kea", "vs Kea multi-threaded", "vs dnsmasq", "computed as"}, func(row func(...string)) {
			for _, c := range compare(pp, k, km, d) {
				row(c.What, c.Kea, c.KeaMT, c.Dnsm, c.HowToRead)
			}
		})
		b.WriteString("\nMemory ratios are n/a for a server that did not reach the lease target in the fill time.\n\n")
	}

	r.writePacedMarkdown(b)
	r.writeRebootMarkdown(b)
	b.WriteString("## Durability\n\n")
	b.WriteString("How each server stores a lease, and what `strace` showed for " + fmt.Sprint(durabilityProbes) +
		" DORAs sent one at a time to the filled server: an ACK counts as durable when an fsync/fdatasync of the lease " +
		"file completed between the OFFER and the ACK.\n\n")
	benchkit.MDTable(b, []string{"server", "lease storage", "trace"}, func(row func(...string)) {
		for _, s := range sums {
			st := setupOf(r.Setups, s.Name).Storage
			got := "not traced"
			switch {
			case s.Pick.TraceErr != "":
				got = "failed: " + s.Pick.TraceErr
			case s.Pick.TraceFile != "":
				got = s.Pick.Durability.describe() + " (`" + s.Pick.TraceFile + "`)"
			}
			row(s.Name, st, got)
		}
	})

	b.WriteString("\n## Method\n\n")
	fmt.Fprintf(b, "- Lab: two network namespaces joined by a veth pair; server %s, perfdhcp %s. perfdhcp acts as a relay agent "+
		"(giaddr %s, port 67), so every server answers relayed traffic. Only %s is used.\n", p.ServerAddr, p.ClientAddr, p.ClientAddr.Addr(), p.Subnet)
	fmt.Fprintf(b, "- Same work for all: pool %s–%s (%d addresses), lease time %s, router %s, and for vendor class `%s` option 242 = `%s`. "+
		"Before every trial a probe DORA (vendor class set, 242 requested) must get exactly that 242 string in the OFFER and the ACK, "+
		"that lease time and router, or the run stops.\n", p.PoolStart, p.PoolEnd, p.poolSize(), p.LeaseTime, p.ServerAddr.Addr(), p.VendorClass, p.option242())
	fmt.Fprintf(b, "- No address probing before an offer anywhere: phoneprov `address_check = \"off\"`, dnsmasq `no-ping`, Kea has none. "+
		"Per-packet logging off everywhere (phoneprov `warn`, Kea `WARN`, dnsmasq `quiet-dhcp`).\n")
	fmt.Fprintf(b, "- perfdhcp: `%s %s` (rate and period vary). Option 60 is the vendor class; `-o 55,f2` adds 242 to the parameter request list.\n",
		o.Perfdhcp, benchkit.ShellJoin(perfRun{Iface: "IFACE", Server: p.ServerAddr.Addr(), Rate: 1000, Clients: o.Clients, Period: o.Period, VendorClass: p.VendorClass}.args()))
	fmt.Fprintf(b, "- Loss = 1 − ACKs received / DISCOVERs sent (a missing OFFER or a missing ACK both count; perfdhcp's drop time is 1 s). "+
		"A trial passes with loss under %.2g %% and perfdhcp sending at least %.0f %% of the DISCOVERs asked for (else the load generator, "+
		"which shares the %d cores, was the limit). A trial over the loss limit whose every lost DORA is matched by an answer dropped unread in "+
		"perfdhcp's socket is the load generator's limit too. %s\n",
		o.MaxLoss*100, clientKeptUp*100, r.Machine.NProc, r.perfdhcpBuffer())
	fmt.Fprintf(b, "- Search: start at %d/s, double while passing (halve while failing), then %d bisection steps; at most %d rates or %s per server and round. "+
		"A failing rate is tried %d more time(s), each on a fresh server, and fails only if every attempt does (one-off failures come from other load on the machine). "+
		"perfdhcp waits %s after the period for answers in flight (-W). "+
		"Servers run one after another in one lab%s.\n", o.StartRate, o.Bisect, o.MaxTrials, o.Budget, o.Retries, exitWait,
		map[bool]string{true: ", the order reversed every other round", false: ""}[o.Rounds > 1])
	fmt.Fprintf(b, "- Memory: VmRSS/VmHWM (and RssAnon/RssFile: a memory-mapped lease database counts in RSS as file pages) from /proc/PID/status. "+
		"Fill: a fresh server gets %d new clients at 80 %% of its best rate (perfdhcp -n/-R with its own MAC template), and as many more as were lost, "+
		"until it holds them or %s pass; then %s idle.\n", o.HoldLeases, o.HoldTime, o.Settle)
	fmt.Fprintf(b, "- perfdhcp numbers its clients 0..R-1 and uses them in order, so a trial of rate × %s DORAs over %d clients meets new clients first and, past %d DORAs, the same ones again (they get their lease back).\n",
		o.Period, o.Clients, o.Clients)
	b.WriteString("- Server and perfdhcp share the machine's cores; nothing is pinned.\n\n")

	b.WriteString("## Trials\n\n")
	benchkit.MDTable(b, []string{"server", "round", "asked/s", "done/s", "DISCOVER sent", "ACKs", "loss %", "avg OFFER ms", "avg ACK ms",
		"CPU s", "perfdhcp CPU s", "its busiest thread s", "buffer drops server/perfdhcp", "RSS MiB", "HWM MiB", "leases", "result"}, func(row func(...string)) {
		for _, run := range r.Runs {
			for _, t := range run.Trials {
				row(run.Name, fmt.Sprint(run.Round+1), fmt.Sprint(t.Rate), fmt.Sprintf("%.0f", t.Perf.done(o.Period)),
					fmt.Sprint(t.Perf.DO.Sent), fmt.Sprint(t.Perf.RA.Received), fmt.Sprintf("%.2f", t.Perf.loss()*100),
					fmt.Sprintf("%.2f", t.Perf.DO.AvgDelayMS), fmt.Sprintf("%.2f", t.Perf.RA.AvgDelayMS),
					fmt.Sprintf("%.2f", t.CPU.Seconds()), fmt.Sprintf("%.2f", t.Perf.CPU.Seconds()), fmt.Sprintf("%.2f", t.Perf.BusiestThread.Seconds()), fmt.Sprintf("%d/%d", t.ServerDrops, t.ClientDrops), benchkit.MiB(t.Mem.RSS), benchkit.MiB(t.Mem.HWM), fmt.Sprint(t.Leases), verdictWord(t))
			}
		}
	})
	b.WriteString("\n")
	for _, run := range r.Runs {
		if run.Search.Stopped != "" {
			fmt.Fprintf(b, "- %s round %d: search ended early: %s.\n", run.Name, run.Round+1, run.Search.Stopped)
		}
	}

	b.WriteString("\n## Fill\n\n")
	benchkit.MDTable(b, []string{"server", "round", "rate/s", "leases held", "took", "RSS MiB right after", "HWM MiB",
		"RSS MiB after idle", "of which anon", "of which file"}, func(row func(...string)) {
		for _, run := range r.Runs {
			h := run.Hold
			row(run.Name, fmt.Sprint(run.Round+1), fmt.Sprint(h.Rate), fmt.Sprint(h.Leases), h.Took.Round(time.Second).String(),
				benchkit.MiB(h.Busy.RSS), benchkit.MiB(h.Busy.HWM), benchkit.MiB(h.Settled.RSS), benchkit.MiB(h.Settled.Anon), benchkit.MiB(h.Settled.File))
		}
	})

	m := r.Machine
	b.WriteString("\n")
	facts := []benchkit.Fact{{Name: "lease files on", Value: m.WorkFS}, {Name: "perfdhcp", Value: m.Perfdhcp}, {Name: "strace", Value: m.Strace}}
	for _, s := range r.Setups {
		facts = append(facts, benchkit.Fact{Name: s.Name, Value: s.Version})
	}
	m.WriteMarkdown(b, facts...)
	b.WriteString("\n## Commands and configurations\n\n")
	fmt.Fprintf(b, "```\ndhcpbench %s\n```\n\n", benchkit.ShellJoin(o.Args))
	b.WriteString("Each server runs as `ip netns exec SERVER-NS COMMAND`, in a fresh directory per trial (DIR below); IFACE is the veth end.\n\n")
	for _, s := range r.Setups {
		fmt.Fprintf(b, "### %s\n\n```\n%s\n```\n\n```\n%s```\n\n", s.Name, s.Command, s.Config)
	}
	fmt.Fprintf(b, "## Artifacts\n\n`%s`: every perfdhcp output, the strace traces%s.\n",
		r.Artifacts, map[bool]string{true: ", phoneprov's CPU profile (taken at its best rate while it held the fill's leases, the load coming from those same clients) and heap profile (`go tool pprof -top BIN FILE`)", false: ""}[o.Pprof > 0])
}

// setupOf returns the setup of a server.
func setupOf(setups []setup, name string) setup {
	for _, s := range setups {
		if s.Name == name {
			return s
		}
	}
	return setup{}
}

// writePacedMarkdown renders the paced search, if it ran.
func (r *report) writePacedMarkdown(b *strings.Builder) {
	o := r.Opts
	if !o.Paced {
		return
	}
	b.WriteString("## Rate with dhcpbench's own paced clients\n\n")
	fmt.Fprintf(b, "The same search, trial length, loss limit and retries as perfdhcp's, with dhcpbench's own clients in its place: "+
		"DISCOVERs leave at the rate asked (those due every %s), each OFFER is answered with a REQUEST at once, nothing is retransmitted, "+
		"and an exchange without its ACK %s after the last DISCOVER is lost. Messages are built and parsed with insomniacslk/dhcp, "+
		"relayed like perfdhcp's (giaddr, port 67) with the same vendor class and parameter request list; past %d exchanges the clients return "+
		"(their MAC again, a new transaction). They read from one socket with %d MiB buffers and cost less CPU per exchange than perfdhcp. These clients are this project's code, not a peer's: "+
		"the rate targets are judged on perfdhcp's search above; this one shows where perfdhcp, not the server, set that rate. "+
		"A trial passes with loss under %.2g %%, no address ACKed to two clients, and the DISCOVERs sent at %.0f %% of the rate or more; "+
		"an answer still unread in the clients' socket at the end means their reader fell behind, and the trial counts as the clients' limit. "+
		"Clients' CPU is dhcpbench's own over the trial. Server's own drops: as in the mass reboot below.\n\n",
		pacedTick, exitWait, o.Clients, rebootSocketBuf>>20, o.MaxLoss*100, clientKeptUp*100)
	sums := r.summaries()
	benchkit.MDTable(b, pacedHeader(), func(row func(...string)) {
		for _, s := range sums {
			row(pacedRow(s, o.Period)...)
		}
	})
	b.WriteString("\n")
	benchkit.MDTable(b, []string{"server", "round", "asked/s", "DISCOVER sent", "ACKs", "loss %", "CPU s", "clients' CPU s",
		"buffer drops server/clients", "server's own drops", "NAKs", "duplicate ACKs", "HWM MiB", "result"}, func(row func(...string)) {
		for _, run := range r.Runs {
			for _, t := range run.PacedTrials {
				row(run.Name, fmt.Sprint(run.Round+1), fmt.Sprint(t.Rate), fmt.Sprint(t.Sent), fmt.Sprint(t.Acked), fmt.Sprintf("%.2f", t.loss()*100),
					fmt.Sprintf("%.2f", t.ServerCPU.Seconds()), fmt.Sprintf("%.2f", t.ClientCPU.Seconds()), fmt.Sprintf("%d/%d", t.ServerDrops, t.ClientDrops),
					cmp.Or(t.OwnDrops, "n/a"), fmt.Sprint(t.Naks), fmt.Sprint(t.Duplicates), benchkit.MiB(t.Mem.HWM), pacedVerdict(t))
			}
		}
	})
	b.WriteString("\n")
}

// writeRebootMarkdown renders the mass reboots, if any ran.
func (r *report) writeRebootMarkdown(b *strings.Builder) {
	runs := r.rebootRuns()
	if len(runs) == 0 {
		return
	}
	o, p := r.Opts, r.Opts.plan
	b.WriteString("## Mass reboot\n\n")
	fmt.Fprintf(b, "A fresh server; %d simulated phones (relayed, vendor class `%s`) send their DISCOVER at once, answer each OFFER "+
		"with a REQUEST at once, and retransmit whatever got no answer after 4 s, 8, 16, 32, 64 s (±1 s), as RFC 2131 §4.1 asks "+
		"of a client (the phones' own schedule is unconfirmed). All bound: first DISCOVER to last ACK. Stored: the leases the "+
		"server's database holds at the end (phoneprov's assigned-address gauge, Kea's lease CSV); lost = bound − stored. "+
		"Server's own drops: phoneprov's nonzero drop counters after the run (packets by reason, its queue, its inventory's facts); "+
		"n/a for a server without them. "+
		"Clients' CPU is dhcpbench's own over the run. At most %s.\n\n", o.RebootClients, p.VendorClass, o.RebootLimit)
	benchkit.MDTable(b, rebootHeader(), func(row func(...string)) {
		for _, run := range runs {
			row(rebootRow(run)...)
		}
	})
	b.WriteString("\n")
}

// perfdhcpBuffer says what receive buffer perfdhcp read with in the
// trials: the one dhcpbench gave its sockets (rcvbuf.go), as read back,
// or the kernel's default.
func (r *report) perfdhcpBuffer() string {
	def := fmt.Sprintf("perfdhcp cannot set its socket's receive buffer, so it reads with the kernel's default (net.core.rmem_default, %s bytes here), "+
		"which a burst of answers overflows while its receiving thread waits for a CPU", rmemDefault())
	if r.Opts.PerfdhcpRcvbuf == 0 {
		return def + " (-perfdhcp-rcvbuf 0)."
	}
	var got []int
	for _, run := range r.Runs {
		for _, t := range run.Trials {
			got = append(got, t.Perf.RecvBuffer)
		}
	}
	if len(got) == 0 {
		return def + "; dhcpbench would give it more (-perfdhcp-rcvbuf), but no trial ran."
	}
	readBack := fmt.Sprint(slices.Min(got))
	if slices.Max(got) != slices.Min(got) {
		readBack += fmt.Sprintf("–%d", slices.Max(got))
	}
	return fmt.Sprintf("%s; dhcpbench gives its sockets %d bytes from outside (-perfdhcp-rcvbuf: pidfd_getfd and SO_RCVBUFFORCE, the way its own clients "+
		"set theirs), and in every trial they read back %s bytes (Linux counts twice the size asked for). A real phone reads with a socket of its own.",
		def, r.Opts.PerfdhcpRcvbuf, readBack)
}

// rmemDefault is the kernel's default socket receive buffer, which
// perfdhcp's socket gets unless dhcpbench widens it; "unknown" when it
// cannot be read.
func rmemDefault() string {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_default")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
