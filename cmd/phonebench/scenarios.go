package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
	"github.com/phoneprov/phoneprov/fileserve/tftpd/tftplab"
)

// figures is the outcome of one run of a scenario against one server.
type figures struct {
	Throughput float64        // the compared figure: req/s over HTTP(S), MB/s over TFTP
	Rate       float64        // HTTP(S): MiB/s transferred; TFTP: transfers/s
	P99        time.Duration  // HTTP(S) only
	Failures   int64          // TFTP: failed transfers; HTTP(S): socket errors
	FirstErr   string         // the first failure, if any
	ClientCPU  time.Duration  // the load generator's CPU time
	Usage      benchkit.Usage // the server's process tree during the run
}

// scenario is one load, run alternately against phoneprov and a peer.
type scenario struct {
	ID    string // stable key, e.g. "https-small"
	Proto string // "http", "https" or "tftp", as -only names them
	Title string // for the report
	Unit  string // of Throughput
	Load  string // the load, for the report
	Case  string // HTTP(S): the sweep row, e.g. "HTTPS ECDSA P-256, 2 KiB"
	Conns int    // HTTP(S): wrk connections, the sweep column
	Key   string // HTTPS: the certificate key type; "" for HTTP and TFTP
	run   func(ctx context.Context, s *server, d time.Duration) (figures, error)
}

// scenarioResult holds every run of a scenario.
type scenarioResult struct {
	Scenario  scenario
	PP        string // the phoneprov server's name
	Peer      string
	Phoneprov []figures
	Other     []figures
	Err       error // the scenario could not be run to the end
}

// buildScenarios returns the scenarios opts selects, in running order:
// for HTTP, then HTTPS with each key type, both files at every
// connection count; then TFTP.
func buildScenarios(opts options, ws *workspace) []scenario {
	var out []scenario
	var web []string // "" for HTTP, else the key type
	if opts.Only["http"] {
		web = append(web, "")
	}
	if opts.Only["https"] {
		web = append(web, opts.Keys...)
	}
	for _, key := range web {
		for _, f := range []testFile{ws.Small, ws.Big} {
			for _, n := range opts.Conns {
				out = append(out, httpScenario(opts.Wrk, key, f, n))
			}
		}
	}
	if opts.Only["tftp"] {
		for _, n := range opts.TFTPClients {
			out = append(out, tftpScenario(ws.TFTP, n))
		}
		for _, n := range opts.ATFTPClients {
			out = append(out, clientScenario(ws, tftplab.ATFTP, n))
		}
		for _, n := range opts.HPAClients {
			out = append(out, clientScenario(ws, tftplab.HPA, n))
		}
	}
	return out
}

// httpScenarioID names an HTTP(S) scenario: "http-2KiB-c64",
// "https-ecdsa-10MiB-c8". key is "" for HTTP.
func httpScenarioID(key string, size int64, conns int) string {
	proto := "http"
	if key != "" {
		proto = "https-" + key
	}
	return fmt.Sprintf("%s-%s-c%d", proto, strings.ReplaceAll(sizeName(size), " ", ""), conns)
}

// httpScenario is wrk on f with conns connections; over HTTPS with the
// servers holding a key certificate, over HTTP when key is "".
func httpScenario(wrk, key string, f testFile, conns int) scenario {
	proto, name := "http", "HTTP"
	if key != "" {
		proto, name = "https", "HTTPS "+keyTitle(key)
	}
	c := fmt.Sprintf("%s, %s", name, sizeName(f.Size))
	// A big file is compared on bytes: wrk counts them as they arrive, while
	// 256 connections sharing the link finish their 10 MiB nearly together,
	// so whole requests in a run of a few seconds come in steps.
	unit := "req/s"
	if f.Size >= bigFileCutoff {
		unit = "MiB/s"
	}
	return scenario{
		ID:    httpScenarioID(key, f.Size, conns),
		Proto: proto,
		Title: fmt.Sprintf("%s ×%d", c, conns),
		Unit:  unit,
		Load:  fmt.Sprintf("wrk -t1 -c%d --timeout %s --latency", conns, wrkTimeout),
		Case:  c, Conns: conns, Key: key,
		run: func(ctx context.Context, s *server, d time.Duration) (figures, error) {
			base := s.HTTP
			if proto == "https" {
				base = s.HTTPS
			}
			r, err := wrkRun(ctx, wrk, base+"/"+f.Name, conns, d)
			if err != nil {
				return figures{}, err
			}
			fg := figures{
				Throughput: r.RequestsPerSec, Rate: r.BytesPerSec / (1 << 20),
				P99: r.P99, Failures: r.SocketErrors, ClientCPU: r.CPU,
			}
			if unit == "MiB/s" {
				fg.Throughput, fg.Rate = fg.Rate, fg.Throughput
			}
			return fg, nil
		},
	}
}

// bigFileCutoff is the size from which an HTTP(S) scenario compares MiB/s
// instead of req/s.
const bigFileCutoff = 1 << 20

// tftpScenarioID returns the ID of the TFTP scenario with n clients.
func tftpScenarioID(n int) string { return fmt.Sprintf("tftp-%d", n) }

func tftpScenario(f testFile, clients int) scenario {
	return scenario{
		ID:    tftpScenarioID(clients),
		Proto: "tftp",
		Title: fmt.Sprintf("TFTP %s, %s", sizeName(f.Size), plural(clients, "client")),
		Unit:  "MB/s",
		Load:  fmt.Sprintf("pin/tftp ×%d, blksize %d, tsize", clients, tftpBlockSize),
		run: func(ctx context.Context, s *server, d time.Duration) (figures, error) {
			r, err := runTFTPLoad(ctx, tftpLoad{Addr: s.TFTP, File: f, Clients: clients, Duration: d})
			if err != nil {
				return figures{}, err
			}
			return figures{
				Throughput: r.MBps(), Rate: r.TPS(), Failures: r.Failed, FirstErr: r.FirstErr, ClientCPU: r.CPU,
			}, nil
		},
	}
}

// clientScenarioID returns the ID of the TFTP scenario with n client
// programs c: "tftp-atftp-20", "tftp-tftp-100" (tftp-hpa's tftp).
func clientScenarioID(c tftplab.Client, n int) string { return fmt.Sprintf("tftp-%s-%d", c, n) }

// clientScenario is the TFTP load of n client programs c at a time: atftp
// asking for blksize tftpBlockSize, or tftp-hpa's tftp (512-byte blocks).
func clientScenario(ws *workspace, c tftplab.Client, n int) scenario {
	bs, blocks := tftpBlockSize, fmt.Sprintf("blksize %d", tftpBlockSize)
	load := fmt.Sprintf("atftp --option \"blksize %d\" ×%d", tftpBlockSize, n)
	if c == tftplab.HPA {
		bs, blocks = 0, "512 B blocks"
		load = fmt.Sprintf("tftp-hpa tftp ×%d", n)
	}
	return scenario{
		ID:    clientScenarioID(c, n),
		Proto: "tftp",
		Title: fmt.Sprintf("TFTP %s, %s, %s", sizeName(ws.TFTP.Size), plural(n, string(c)+" client"), blocks),
		Unit:  "MB/s",
		Load:  load,
		run: func(ctx context.Context, s *server, d time.Duration) (figures, error) {
			r, err := runClientLoad(ctx, clientLoad{Addr: s.TFTP, File: ws.TFTP, Dir: ws.Dir, Client: c, BlockSize: bs, Clients: n, Duration: d})
			if err != nil {
				return figures{}, err
			}
			return figures{
				Throughput: r.MBps(), Rate: r.TPS(), Failures: r.Failed, FirstErr: r.FirstErr, ClientCPU: r.CPU,
			}, nil
		},
	}
}

// plural spells a count with its noun: "1 client", "20 clients".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// sizeName spells a size the way the report does: "10 MiB", "2 KiB".
func sizeName(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// runner runs scenarios against phoneprov and a peer, alternating.
type runner struct {
	rounds   int
	duration time.Duration
	warmup   time.Duration
	settle   time.Duration // pause between runs, for sockets and forked servers to wind down
	progress func(string)  // one line per step
}

// run warms both servers up, then runs rounds of sc; odd rounds start with
// phoneprov, even ones with the peer, so drift on a shared machine affects
// both.
func (r runner) run(ctx context.Context, sc scenario, pp, peer *server) scenarioResult {
	res := scenarioResult{Scenario: sc, PP: pp.Name, Peer: peer.Name}
	if r.warmup > 0 {
		for _, s := range []*server{pp, peer} {
			r.progress(fmt.Sprintf("%-22s warm-up   %s", sc.Title, s.Name))
			// Only warms; a measured run that fails the same way is an error.
			if _, err := sc.run(ctx, s, r.warmup); err != nil {
				r.progress(fmt.Sprintf("%-22s warm-up   %s: %v (ignored)", sc.Title, s.Name, err))
			}
			sleepCtx(ctx, r.settle)
		}
	}
	for round := range r.rounds {
		order := []*server{pp, peer}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			f, err := r.measure(ctx, sc, s)
			if err != nil {
				res.Err = fmt.Errorf("%s: round %d against %s: %w", sc.Title, round+1, s.Name, err)
				return res
			}
			r.progress(fmt.Sprintf("%-22s round %d   %-10s %10.1f %s", sc.Title, round+1, s.Name, f.Throughput, sc.Unit))
			if s == pp {
				res.Phoneprov = append(res.Phoneprov, f)
			} else {
				res.Other = append(res.Other, f)
			}
			sleepCtx(ctx, r.settle)
		}
	}
	return res
}

// measure runs sc once against s while sampling s's process tree.
func (r runner) measure(ctx context.Context, sc scenario, s *server) (figures, error) {
	m, err := benchkit.Measure(ctx, s.proc)
	if err != nil {
		return figures{}, fmt.Errorf("measure %s: %w", s.Name, err)
	}
	f, runErr := sc.run(ctx, s, r.duration)
	u, err := m.Stop()
	switch {
	case s.proc.Exited():
		return figures{}, s.proc.Failure()
	case runErr != nil:
		return figures{}, runErr
	case err != nil:
		return figures{}, fmt.Errorf("measure %s: %w", s.Name, err)
	}
	f.Usage = u
	return f, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
