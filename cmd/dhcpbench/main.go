// Command dhcpbench measures phoneprov's DHCPv4 server side by side with
// ISC Kea (kea-dhcp4, memfile leases) and dnsmasq, for issue 3:
//
//	go run ./cmd/dhcpbench -phoneprov bin/phoneprov -out bench-results
//
// It builds two network namespaces joined by a veth pair (addresses from
// 198.18.0.0/15 only), starts each server in turn in the server namespace
// with the same pool, lease time and Avaya option 242, and drives it with
// perfdhcp from the client namespace. For each server it finds the highest
// DORA rate with under 1 % of exchanges unanswered (doubling, then
// bisecting; every step against a freshly started server), reads its CPU
// time and memory from /proc, fills a fresh instance with 50,000 leases for
// the memory figure, and traces a few DORAs with strace to see whether each
// lease is fsync'd before its ACK. It prints a table with the ratios and
// the targets, and writes a Markdown report to
// OUT/dhcp-YYYYMMDD-HHMMSS.md with the raw outputs beside it.
//
// It needs root. The exit status is 0 when everything ran, whether or not
// targets were met; 1 when something could not run; 2 for a bad command
// line; 130 when interrupted (servers are stopped and the namespaces
// removed in every case).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the program without os.Exit, for its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	}
	if err := opts.resolveTools(); err != nil {
		fmt.Fprintf(stderr, "dhcpbench: cannot run: %v\n", err)
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "dhcpbench: "+format+"\n", a...) }

	rep, benchErr := runBench(ctx, opts, logf)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "dhcpbench: interrupted; servers stopped, namespaces removed, no report written")
		return exitInterrupted
	}
	if benchErr != nil {
		fmt.Fprintf(stderr, "dhcpbench: %v\n", benchErr)
		if rep == nil || len(rep.Runs) == 0 {
			return exitFailed
		}
		fmt.Fprintln(stderr, "dhcpbench: writing the partial report")
	}
	fmt.Fprintln(stdout)
	status := exitOK
	if benchErr != nil {
		status = exitFailed
	}
	if err := rep.writeTable(stdout); err != nil {
		fmt.Fprintf(stderr, "dhcpbench: %v\n", err)
		status = exitFailed
	}
	path, err := rep.writeMarkdownFile(opts.Out)
	if err != nil {
		fmt.Fprintf(stderr, "dhcpbench: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "\nreport: %s\nartifacts: %s\n", path, rep.Artifacts)
	return status
}
