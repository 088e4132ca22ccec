package main

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// A paced trial is the rate search's trial with dhcpbench's own clients in
// place of perfdhcp: DISCOVERs leave at a fixed rate, each OFFER is
// answered with a REQUEST at once, nothing is retransmitted, and an
// exchange without an ACK by exitWait after the last DISCOVER is lost, as
// in a perfdhcp trial. The clients are the mass reboot's (one socket with
// 32 MiB buffers; perfdhcp's is widened too, see rcvbuf.go) and cost
// about half of perfdhcp's CPU per exchange, so on a machine where
// perfdhcp shares the cores with the server, this search shows the rate
// each server reaches when perfdhcp is not the limit (a trial where the
// clients fell behind says so, see unread). They are this project's code,
// not a peer's: perfdhcp's search stays the one the targets are judged on.

// pacedTick is how often the paced clients send the DISCOVERs that have
// come due (a few per tick at the rates searched).
const pacedTick = time.Millisecond

// pacedResult is one paced trial against a freshly started server.
type pacedResult struct {
	Rate       int           // DORAs per second asked for
	Sent       int           // DISCOVERs sent
	Acked      int           // exchanges that got their ACK
	Naks       int           // NAKs received
	Duplicates int           // ACKs of an address another client holds
	SendTook   time.Duration // first DISCOVER to last
	ServerCPU  time.Duration
	ClientCPU  time.Duration // dhcpbench's own CPU over the trial: the clients
	// ServerDrops and ClientDrops are the UDP receive-buffer drops in the
	// server's and the clients' namespace over the trial.
	ServerDrops, ClientDrops int64
	// OwnDrops names the server's own nonzero drop counters after the
	// trial (see diagnoser); "" for a server without them.
	OwnDrops string
	Mem      benchkit.Memory
	// Behind is set when answers were still waiting unread in the
	// clients' socket at the end: their reader, not the server, lost them.
	Behind        bool
	ClientLimited bool // Behind, or the DISCOVERs left at under clientKeptUp of the rate
	Pass          bool
}

// loss is the share of exchanges that got no ACK.
func (t pacedResult) loss() float64 {
	if t.Sent == 0 {
		return 1
	}
	return 1 - float64(t.Acked)/float64(t.Sent)
}

// perExchange is d per completed exchange.
func (t pacedResult) perExchange(d time.Duration) time.Duration {
	if t.Acked == 0 {
		return 0
	}
	return d / time.Duration(t.Acked)
}

// judgePaced decides a paced trial: under maxLoss lost, no address given to
// two clients, the DISCOVERs sent at the rate asked and every answer read
// (else dhcpbench itself was the limit).
func judgePaced(t pacedResult, period time.Duration, maxLoss float64) pacedResult {
	want := float64(t.Rate) * period.Seconds()
	t.ClientLimited = t.Behind || float64(t.Sent) < clientKeptUp*want ||
		(t.SendTook > 0 && float64(t.Sent)/t.SendTook.Seconds() < clientKeptUp*float64(t.Rate))
	t.Pass = !t.ClientLimited && t.loss() < maxLoss && t.Duplicates == 0
	return t
}

// pacedTrial starts d afresh and runs the paced clients at rate for the
// trial period against it.
func (b *bench) pacedTrial(ctx context.Context, d daemon, round, rate, attempt int) (pacedResult, error) {
	label := fmt.Sprintf("%s-r%d-paced-%d", d.Name(), round+1, rate)
	if attempt > 0 {
		label += fmt.Sprintf("-retry%d", attempt)
	}
	in, err := b.startInstance(ctx, d, label)
	if err != nil {
		return pacedResult{}, err
	}
	defer b.sup.Stop(in.proc)
	var res pacedResult
	m, err := b.measure(ctx, d, in, label, func() error {
		var perr error
		res, perr = b.runPaced(ctx, rate)
		return perr
	})
	if err != nil {
		return res, fmt.Errorf("%s at %d/s, paced: %w", d.Name(), rate, err)
	}
	res.ServerCPU, res.ServerDrops, res.ClientDrops, res.OwnDrops, res.Mem = m.CPU, m.ServerDrops, m.ClientDrops, m.OwnDrops, m.Mem
	return judgePaced(res, b.opts.Period, b.opts.MaxLoss), nil
}

// runPaced sends rate × period DISCOVERs at the rate, over the trial's
// clients (returning ones past -clients, as in perfdhcp's trials), and
// counts the ACKs that arrive until exitWait after the last one.
func (b *bench) runPaced(ctx context.Context, rate int) (pacedResult, error) {
	n := rate * int(b.opts.Period/time.Second)
	if n >= 1<<24 {
		return pacedResult{}, fmt.Errorf("%d exchanges: the clients number them in 24 bits", n)
	}
	r, err := b.openSite(n, min(n, b.opts.Clients))
	if err != nil {
		return pacedResult{}, err
	}
	defer r.conn.Close()
	cpu0 := selfCPU()
	readDone := make(chan error, 1)
	go func() { readDone <- r.read() }()
	start := time.Now()
	sent, last := r.sendPaced(ctx, start, rate)
	select {
	case <-ctx.Done():
	case err := <-readDone:
		return pacedResult{}, err
	case <-time.After(exitWait):
	}
	behind, err := unread(r.conn)
	if err != nil {
		return pacedResult{}, err
	}
	r.conn.Close()
	if err := <-readDone; err != nil {
		return pacedResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return pacedResult{}, err
	}
	r.finish(start, cpu0)
	return pacedResult{Rate: rate, Sent: sent, Acked: r.res.Bound, Naks: r.res.Naks, Duplicates: r.res.Duplicates,
		SendTook: last.Sub(start), ClientCPU: r.res.ClientCPU, Behind: behind}, nil
}

// unread tells whether an answer is waiting unread in the clients' socket:
// at the end of a trial, the clients' reader is then more than exitWait
// behind, and the answers it never read count as lost by its fault.
func unread(c *net.UDPConn) (bool, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("clients' socket: %w", err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		return false, fmt.Errorf("clients' socket: %w", err)
	}
	if ierr != nil {
		return false, fmt.Errorf("clients' socket: SIOCINQ: %w", ierr)
	}
	return n > 0, nil
}

// sendPaced sends the clients' DISCOVERs in order, at rate per second from
// start, each tick sending those that have come due; it returns when the
// last one has left (or ctx ends) with how many it sent and when the last
// left.
func (r *rebootRun) sendPaced(ctx context.Context, start time.Time, rate int) (int, time.Time) {
	t := time.NewTicker(pacedTick)
	defer t.Stop()
	next := 0
	for {
		due := min(len(r.clients), 1+int(time.Since(start).Seconds()*float64(rate)))
		r.mu.Lock()
		for ; next < due; next++ {
			r.send(r.clients[next].msg)
		}
		r.mu.Unlock()
		if next == len(r.clients) {
			return next, time.Now()
		}
		select {
		case <-ctx.Done():
			return next, time.Now()
		case <-t.C:
		}
	}
}

// searchPaced finds the highest rate d sustains against the paced clients,
// like search does with perfdhcp; trials go into sr.
func (b *bench) searchPaced(ctx context.Context, d daemon, round int, sr *serverRun) error {
	b.logf("%s, round %d: searching the highest rate with dhcpbench's own paced clients", d.Name(), round+1)
	out, err := b.searchRates(func(rate, attempt int) (bool, error) {
		t, err := b.pacedTrial(ctx, d, round, rate, attempt)
		if err != nil {
			return false, err
		}
		sr.PacedTrials = append(sr.PacedTrials, t)
		b.logf("%s: %6d/s asked (paced): %6.2f %% lost, cpu %5.2fs (clients %5.2fs), buffer drops server %d clients %d, own drops %s, %d NAKs, %d duplicates: %s",
			d.Name(), rate, t.loss()*100, t.ServerCPU.Seconds(), t.ClientCPU.Seconds(), t.ServerDrops, t.ClientDrops, cmp.Or(t.OwnDrops, "n/a"), t.Naks, t.Duplicates, pacedVerdict(t))
		return t.Pass, nil
	})
	sr.Paced = out
	return err
}

// pacedVerdict is a paced trial's outcome in one word for the progress log.
func pacedVerdict(t pacedResult) string {
	switch {
	case t.ClientLimited:
		return "the clients could not keep up"
	case t.Pass:
		return "pass"
	default:
		return "fail"
	}
}
