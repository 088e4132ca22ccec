package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// maxFillRuns bounds the perfdhcp runs of one fill.
const maxFillRuns = 8

// holdResult is a server's memory while it holds many leases.
type holdResult struct {
	Target  int             // leases wanted
	Leases  int             // leases held at the end
	Rate    int             // DORAs per second used to fill
	Took    time.Duration   // time spent filling
	Busy    benchkit.Memory // right after the last fill run: RSS, and the peak (HWM) over the whole fill
	Settled benchkit.Memory // after the settle time with no load
}

// reached reports whether the server held the target.
func (h holdResult) reached() bool { return h.Target > 0 && h.Leases >= h.Target }

// fillTemplate is the MAC template of fill run i. perfdhcp numbers its
// clients 0..R-1 in order and adds the number to the template's last
// octets; with R under 65,536 only the last two change, so templates that
// differ in the fourth octet never share a client, and every run brings
// new ones. The second octet keeps them apart from the trials' clients
// (perfdhcp's default template 00:0c:01:02:03:04).
func fillTemplate(i int) string { return fmt.Sprintf("00:0d:01:%02x:00:00", i&0xff) }

// fillSize is how many new clients fill run i asks for, given the leases
// still missing: the first run asks for exactly the target, later ones
// for the shortfall plus 2 % (some DORAs may be lost again).
func fillSize(i, missing int) int {
	n := missing
	if i > 0 {
		n += missing/50 + 10
	}
	return min(n, 65535)
}

// hold fills the running server with new clients at rate until it holds
// the target or the hold time is spent, then reads its memory right away
// and again after the settle time with no load.
func (b *bench) hold(ctx context.Context, in *instance, round, rate int) (holdResult, error) {
	h := holdResult{Target: b.opts.HoldLeases, Rate: rate}
	start := time.Now()
	for i := 0; i < maxFillRuns && h.Leases < h.Target; i++ {
		left := (b.opts.HoldTime - time.Since(start)).Truncate(time.Second)
		if left < time.Second {
			break
		}
		n := fillSize(i, h.Target-h.Leases)
		run := b.perfRun(rate, n, left)
		run.Requests, run.BaseMAC = n, fillTemplate(i)
		_, out, err := runPerfdhcp(ctx, b.lab.client, b.opts.Perfdhcp, run)
		name := fmt.Sprintf("%s-r%d-fill-%d-perfdhcp.txt", in.d.Name(), round+1, i+1)
		_ = os.WriteFile(filepath.Join(b.art, name), []byte("perfdhcp "+benchkit.ShellJoin(run.args())+"\n\n"+out), 0o644)
		if err != nil {
			return h, fmt.Errorf("%s fill: %w", in.d.Name(), err)
		}
		if err := in.alive(); err != nil {
			return h, fmt.Errorf("%s fill: %w", in.d.Name(), err)
		}
		if h.Leases, err = in.d.Leases(ctx, in); err != nil {
			return h, err
		}
		b.logf("%s: holding %d leases after %s", in.d.Name(), h.Leases, time.Since(start).Round(time.Second))
	}
	h.Took = time.Since(start)
	var err error
	if h.Busy, err = benchkit.ReadMemory(in.proc.PID()); err != nil {
		return h, err
	}
	select {
	case <-ctx.Done():
		return h, ctx.Err()
	case <-time.After(b.opts.Settle):
	}
	if h.Settled, err = benchkit.ReadMemory(in.proc.PID()); err != nil {
		return h, err
	}
	return h, nil
}
