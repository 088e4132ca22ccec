// Command phonebench measures phoneprov's file serving side by side with the
// servers an operator would otherwise pick: nginx for HTTP and HTTPS, and
// tftpd-hpa for TFTP.
//
//	go run ./cmd/phonebench -phoneprov bin/phoneprov -out bench-results
//
// It starts every server itself on 127.0.0.1 (free high ports, a temporary
// directory it removes afterwards), runs the same load against phoneprov
// and the peer in alternation (wrk for HTTP(S), its own pin/tftp client
// for TFTP), samples each server's memory and CPU from /proc, and prints a
// table with the ratios and the targets. A Markdown report goes to
// OUT/files-YYYYMMDD-HHMMSS.md.
//
// -only tftp-loss runs only the TFTP-under-loss comparison (tftploss.go):
//
//	go run ./cmd/phonebench -only tftp-loss -phoneprov bin/phoneprov
//
// With -storm it runs the boot-storm benchmark instead (see stormmain.go):
//
//	go run ./cmd/phonebench -storm -phoneprov bin/phoneprov -phonesim bin/phonesim
//
// The exit status is 0 when everything ran, whether or not targets were
// met; 1 when something could not run (a tool is missing, a server did not
// start, a load failed); 2 for a bad command line; 130 when interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the program without os.Exit: the file benchmarks, or the storm
// with -storm.
func run(args []string, stdout, stderr io.Writer) int {
	if isStorm(args) {
		return benchkit.Main(stormProgram(), args, stdout, stderr)
	}
	return benchkit.Main(benchkit.Program[options]{
		Name:    "phonebench",
		Parse:   parseOptions,
		Resolve: (*options).resolveTools,
		Run: func(ctx context.Context, o options, progress func(string)) (benchkit.Report, error) {
			rep, err := bench(ctx, o, progress)
			if rep == nil {
				return nil, err
			}
			return rep, err
		},
		Out:         func(o options) string { return o.Out },
		Interrupted: "servers stopped, nothing written",
	}, args, stdout, stderr)
}

// bench starts the servers, runs the selected scenarios and gathers the
// report. It returns a report whenever the servers started, with an error
// if some scenario could not run.
func bench(ctx context.Context, opts options, progress func(string)) (*report, error) {
	started := time.Now()
	ws, err := newWorkspace()
	if err != nil {
		return nil, err
	}
	defer ws.remove()
	cs := &benchkit.Supervisor{CPUGroups: true}
	defer func() { // runs before ws.remove
		if err := cs.StopAll(); err != nil {
			progress("cleanup: " + err.Error())
		}
	}()

	if len(opts.Only) == 1 && opts.Only[lossID] {
		rep := &report{Started: started, Opts: opts, Machine: describeMachine(ctx, opts)}
		rep.Loss = runTFTPLoss(ctx, opts, ws, progress)
		return rep, rep.Loss.Err
	}

	progress("starting servers in " + ws.Dir)
	srv, err := startServers(ctx, cs, ws, opts)
	if err != nil {
		return nil, err
	}
	rep := &report{Started: started, Opts: opts, Machine: describeMachine(ctx, opts), Servers: srv.all()}

	rn := runner{rounds: opts.Rounds, duration: opts.Duration, warmup: opts.Warmup, settle: opts.Settle, progress: progress}
	var errs []error
	for _, sc := range buildScenarios(opts, ws) {
		type pairing struct {
			a, b *server
			into *[]scenarioResult
		}
		pp, peer := srv.pairFor(sc)
		runs := []pairing{{pp, peer, &rep.Results}}
		if nginx, twin := srv.twinsFor(sc); twin != nil {
			runs = append(runs, pairing{nginx, twin, &rep.Twins})
		}
		for _, p := range runs {
			res := rn.run(ctx, sc, p.a, p.b)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			*p.into = append(*p.into, res)
			if res.Err != nil {
				errs = append(errs, res.Err)
				progress("error: " + res.Err.Error())
			}
		}
		if err := srv.died(); err != nil {
			errs = append(errs, err)
			break
		}
	}

	mem, err := benchkit.ReadMemory(srv.phoneprov.pid())
	hwm := mem.HWM
	if err != nil {
		errs = append(errs, fmt.Errorf("phoneprov VmHWM: %w", err))
	}
	all := slices.Concat(rep.Results, rep.Twins)
	ppMem := memoryOf(srv.phoneprov, "one process", all)
	ppMem.HWM = hwm
	rep.Memory = append(rep.Memory, ppMem)
	for _, s := range srv.all()[1:] {
		tree := map[bool]string{true: "one process", false: "RSS of master + workers summed"}[strings.HasPrefix(s.Name, "phoneprov")]
		if s == srv.tftpd {
			tree = "RSS of listener + forked transfers summed"
		}
		rep.Memory = append(rep.Memory, memoryOf(s, tree, all))
	}
	peak := max(ppMem.PeakRSS, hwm)
	if len(rep.Results) == 0 {
		peak = 0
	}
	rep.Verdicts = evaluate(append(webTargets(rep.Results), targets()...), rep.Results, peak)
	if opts.Only[lossID] && ctx.Err() == nil {
		rep.Loss = runTFTPLoss(ctx, opts, ws, progress)
		if rep.Loss.Err != nil {
			errs = append(errs, rep.Loss.Err)
		}
	}
	return rep, errors.Join(errs...)
}

// servers are the running servers; peers are nil when not needed.
// phoneprov and nginx carry the first certificate key type, which HTTP
// runs with; keyed holds the HTTPS pair of every key type.
type servers struct {
	phoneprov, nginx, tftpd *server
	keyed                   map[string]webPair
}

// webPair is phoneprov and nginx with the same certificate, and with
// -twin a second nginx just like the first.
type webPair struct{ phoneprov, nginx, twin *server }

// startServers starts phoneprov and the peers the selected scenarios need,
// then checks that every HTTP(S) listener serves the test files intact.
// Each certificate key type after the first gets a pair of its own.
func startServers(ctx context.Context, cs *benchkit.Supervisor, ws *workspace, opts options) (servers, error) {
	s := servers{keyed: map[string]webPair{}}
	web := opts.Only["http"] || opts.Only["https"]
	keys := opts.Keys
	if !opts.Only["https"] {
		keys = keys[:1]
	}
	for i, key := range keys {
		cert, err := makeCert(ws.Dir, key)
		if err != nil {
			return servers{}, err
		}
		ppName, ngName := "phoneprov", "nginx"
		if i > 0 {
			ppName, ngName = "phoneprov-"+key, "nginx-"+key
		}
		var p webPair
		if p.phoneprov, err = startPhoneprov(ctx, cs, ws, opts.Phoneprov, ppName, cert, i == 0); err != nil {
			return servers{}, err
		}
		if web {
			if p.nginx, err = startNginx(ctx, cs, ws, opts.Nginx, ngName, cert); err != nil {
				return servers{}, err
			}
		}
		if web && opts.Twin {
			if p.twin, err = startNginx(ctx, cs, ws, opts.Nginx, ngName+"-twin", cert); err != nil {
				return servers{}, err
			}
		}
		if i == 0 {
			s.phoneprov, s.nginx = p.phoneprov, p.nginx
		}
		s.keyed[key] = p
	}
	if opts.Only["tftp"] {
		var err error
		if s.tftpd, err = startTFTPD(ctx, cs, ws, opts.TFTPD); err != nil {
			return servers{}, err
		}
	}
	for _, srv := range s.all() {
		for _, base := range []string{srv.HTTP, srv.HTTPS} {
			if base == "" {
				continue
			}
			if err := verifyHTTP(ctx, base, ws.Big, ws.Small); err != nil {
				return servers{}, fmt.Errorf("%s: %w", srv.Name, err)
			}
		}
	}
	return s, nil
}

// pairFor returns the servers sc runs against.
func (s servers) pairFor(sc scenario) (pp, peer *server) {
	switch {
	case sc.Proto == "tftp":
		return s.phoneprov, s.tftpd
	case sc.Key != "":
		p := s.keyed[sc.Key]
		return p.phoneprov, p.nginx
	}
	return s.phoneprov, s.nginx
}

// twinsFor returns the nginx an HTTP(S) scenario runs against (pairFor)
// and, with -twin, that nginx's twin; twin is nil otherwise.
func (s servers) twinsFor(sc scenario) (nginx, twin *server) {
	if sc.Case == "" {
		return nil, nil
	}
	_, nginx = s.pairFor(sc)
	for _, p := range s.keyed {
		if p.nginx == nginx {
			return nginx, p.twin
		}
	}
	return nginx, nil
}

// all returns the servers that run.
func (s servers) all() []*server {
	var out []*server
	for _, srv := range []*server{s.phoneprov, s.nginx, s.tftpd} {
		if srv != nil {
			out = append(out, srv)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(s.keyed)) {
		for _, srv := range []*server{s.keyed[key].phoneprov, s.keyed[key].nginx, s.keyed[key].twin} {
			if srv != nil && !slices.Contains(out, srv) {
				out = append(out, srv)
			}
		}
	}
	return out
}

// died returns an error for the first server that is no longer running.
func (s servers) died() error {
	for _, srv := range s.all() {
		if srv.proc.Exited() {
			return srv.proc.Failure()
		}
	}
	return nil
}
