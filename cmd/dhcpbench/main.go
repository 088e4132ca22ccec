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
// perfdhcp cannot size its socket's receive buffer, so dhcpbench gives it
// one from outside (rcvbuf.go; -perfdhcp-rcvbuf). Each server's rate is
// then searched a second time with dhcpbench's own paced clients
// (paced.go; -paced=false skips it), which cost less CPU than perfdhcp, so
// where the two searches part, perfdhcp's CPU set the first one's rate.
//
// With -pair it measures hot-standby pairs instead (pair.go): phoneprov
// alone, a phoneprov pair, Kea alone and a Kea 2.2 pair in three namespaces
// on a bridge, their completed DORAs per second and CPU, and the failover
// time from kill -9 of the primary to the standby's first ACK.
//
// It needs root. The exit status is 0 when everything ran, whether or not
// targets were met; 1 when something could not run; 2 for a bad command
// line; 130 when interrupted (servers are stopped and the namespaces
// removed in every case).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the program without os.Exit, for its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return benchkit.Main(benchkit.Program[options]{
		Name:    "dhcpbench",
		Parse:   parseOptions,
		Resolve: (*options).resolveTools,
		Run: func(ctx context.Context, o options, progress func(string)) (benchkit.Report, error) {
			if o.Pair {
				rep, err := runPair(ctx, o, func(format string, a ...any) { progress(fmt.Sprintf(format, a...)) })
				if rep == nil {
					return nil, err
				}
				return rep, err
			}
			rep, err := runBench(ctx, o, func(format string, a ...any) { progress(fmt.Sprintf(format, a...)) })
			if rep == nil || len(rep.Runs) == 0 {
				return nil, err
			}
			return rep, err
		},
		Out:         func(o options) string { return o.Out },
		Interrupted: "servers stopped, namespaces removed, no report written",
	}, args, stdout, stderr)
}
