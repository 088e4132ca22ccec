package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// simDurations are phonesim's percentiles (nanoseconds in its JSON).
type simDurations struct {
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	Max time.Duration `json:"max_ns"`
}

// simSummary is the part of phonesim's -json summary the benchmark reads;
// phonesim is a separate program, so its output is the interface.
type simSummary struct {
	Phones      int                     `json:"phones"`
	Provisioned int                     `json:"provisioned"`
	Kept        int                     `json:"kept"`
	Failed      int                     `json:"failed"`
	Duration    time.Duration           `json:"duration_ns"`
	Time        simDurations            `json:"time_to_provisioned"`
	LeaseTime   simDurations            `json:"time_to_lease"`
	FailedSteps map[string]int          `json:"failed_steps"`
	Protocols   map[string]simProtocols `json:"protocols"`
	DHCP        map[string]uint64       `json:"dhcp"`
	Results     []struct {
		MAC    string `json:"mac"`
		Model  string `json:"model"`
		State  string `json:"state"`
		Step   string `json:"step"`
		Reason string `json:"reason"`
	} `json:"results"`
}

type simProtocols struct {
	Requests    int   `json:"requests"`
	Errors      int   `json:"errors"`
	Bytes       int64 `json:"bytes"`
	Connections int   `json:"connections"`
	// Untrusted and Unreachable are the errors after which a simulated
	// phone leaves HTTPS for HTTP for the rest of its boot; after TimedOut
	// it takes that one file over HTTP (phonesim's model, unconfirmed
	// beyond "HTTPS first, no answer → HTTP").
	Untrusted   int `json:"untrusted"`
	Unreachable int `json:"unreachable"`
	TimedOut    int `json:"timed_out"`
}

// parseSimSummary reads phonesim's JSON and checks it describes the storm.
func parseSimSummary(b []byte, phones int) (simSummary, error) {
	var s simSummary
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("phonesim's JSON: %w", err)
	}
	if s.Phones != phones || s.Provisioned+s.Kept+s.Failed != phones {
		return s, fmt.Errorf("phonesim's JSON: %d phones (%d+%d+%d), want %d", s.Phones, s.Provisioned, s.Kept, s.Failed, phones)
	}
	return s, nil
}

// reasons groups failure reasons, most frequent first, each cut to a
// readable length with addresses and ports replaced so alike ones group.
func (s simSummary) reasons(limit int) []string {
	counts := map[string]int{}
	for _, r := range s.Results {
		if r.State != "failed" {
			continue
		}
		counts[r.Step+": "+normalizeReason(r.Reason)]++
	}
	type kv struct {
		k string
		n int
	}
	var list []kv
	for k, n := range counts {
		list = append(list, kv{k, n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n > list[j].n || list[i].n == list[j].n && list[i].k < list[j].k })
	var out []string
	for i, e := range list {
		if i == limit {
			break
		}
		out = append(out, fmt.Sprintf("%d × %s", e.n, e.k))
	}
	return out
}

// labAddr finds lab addresses, with a port when there is one; backupName
// finds a phone's own backup file (its extension), macName a file named
// after a phone's MAC.
var (
	labAddr    = regexp.MustCompile(`198\.18\.\d{1,3}\.\d{1,3}(:\d+)?`)
	backupName = regexp.MustCompile(`/backup/\d+_`)
	macName    = regexp.MustCompile(`\b[0-9a-fA-F]{12}\.`)
)

// normalizeReason makes reasons of different phones comparable: the
// phone's own address, source port and file names vary, the cause does not.
func normalizeReason(r string) string {
	r = backupName.ReplaceAllString(r, "/backup/EXT_")
	r = macName.ReplaceAllString(r, "MAC.")
	r = labAddr.ReplaceAllStringFunc(r, func(a string) string {
		if host, _, _ := strings.Cut(a, ":"); host == labServerIP {
			return a
		}
		return "PHONE"
	})
	if len(r) > 160 {
		r = r[:160] + "…"
	}
	return r
}

// serverUsage is one server's cost during a storm.
type serverUsage struct {
	Name    string
	CPU     time.Duration
	PeakRSS int64 // of its process tree, sampled
	HWM     int64 // VmHWM of the main process, when read
}

// peak is the larger of the sampled peak and the high-water mark.
func (u serverUsage) peak() int64 { return max(u.PeakRSS, u.HWM) }

// stormRun is one storm against one stack.
type stormRun struct {
	Stack   string
	Round   int
	Phones  int
	Sim     simSummary
	Err     error // the storm could not run or phonesim's output was unusable
	Wall    time.Duration
	SimCPU  time.Duration
	Servers []serverUsage
	// ARPTableFull counts the times the host's neighbour table was full
	// during the storm (packets the kernel dropped); -1 when unknown.
	ARPTableFull int64
	// ListenDrops counts the connection attempts the server namespace's
	// listening sockets dropped during the storm (TcpExt ListenDrops: a
	// full accept queue, among others); -1 when unknown. A phone whose
	// SYNs are dropped until its connect times out leaves HTTPS.
	ListenDrops int64
}

// CPU is the stack's total CPU time.
func (r stormRun) CPU() time.Duration {
	var t time.Duration
	for _, s := range r.Servers {
		t += s.CPU
	}
	return t
}

// PeakRSS is the stack's memory: the sum of its servers' peaks.
func (r stormRun) PeakRSS() int64 {
	var t int64
	for _, s := range r.Servers {
		t += s.peak()
	}
	return t
}

// AllDone is the time until every phone was provisioned, false when some
// phone failed (or the run did not complete).
func (r stormRun) AllDone() (time.Duration, bool) {
	if r.Err != nil || r.Sim.Failed > 0 || r.Sim.Phones == 0 {
		return 0, false
	}
	return r.Sim.Time.Max, true
}

// runStorm boots phones against a running stack and measures its servers.
func runStorm(ctx context.Context, lab *stormLab, st *stack, opts stormOptions, phones, round int, progress func(string)) stormRun {
	run := stormRun{Stack: st.Name, Round: round, Phones: phones, ARPTableFull: -1, ListenDrops: -1}
	if err := lab.flush(ctx); err != nil {
		run.Err = err
		return run
	}
	fullsBefore, fullsErr := arpTableFulls()
	listenDrops := func() (int64, error) {
		return benchkit.NetCounter(st.procs[0].PID(), "netstat", "TcpExt", "ListenDrops")
	}
	dropsBefore, dropsErr := listenDrops()
	var ms []*benchkit.Measurement
	for _, c := range st.procs {
		m, err := benchkit.Measure(ctx, c)
		if err != nil {
			run.Err = fmt.Errorf("measure %s: %w", c.Name(), err)
			for _, m := range ms {
				m.Stop()
			}
			return run
		}
		ms = append(ms, m)
	}
	args := []string{"-i", lab.PhonesIf, "-phones", strconv.Itoa(phones), "-seed", strconv.FormatUint(opts.Seed, 10),
		"-spread", opts.Spread.String(), "-timeout", opts.Timeout.String(), "-reboot-delay", "0s",
		"-json", "-progress", "lines", "-progress-every", "10s"}
	if opts.Mix != "" {
		args = append(args, "-mix", opts.Mix)
	}
	argv := inNS(lab.PhonesNS, append([]string{opts.Phonesim}, args...)...)
	// Bounded: every phone gives up after -timeout; the spread and a
	// margin for the summary come on top.
	runCtx, cancel := context.WithTimeout(ctx, opts.Timeout+opts.Spread+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		run.Err = err
		return run
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		run.Err = fmt.Errorf("start phonesim: %w", err)
	}
	var tail []string
	if run.Err == nil {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			progress(fmt.Sprintf("%s, %d phones: %s", st.Name, phones, strings.TrimPrefix(line, "phonesim: ")))
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
		}
		io.Copy(io.Discard, stderr)
		err = cmd.Wait()
		run.Wall = time.Since(start)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			run.SimCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		var exit *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			// Some phone failed: the summary says which.
		default:
			run.Err = fmt.Errorf("phonesim: %w\n    %s", err, strings.Join(tail, "\n    "))
		}
	}
	for i, m := range ms {
		u, err := m.Stop()
		if err != nil && run.Err == nil {
			run.Err = fmt.Errorf("measure %s: %w", st.procs[i].Name(), err)
		}
		su := serverUsage{Name: st.procs[i].Name(), CPU: u.CPU, PeakRSS: u.PeakRSS}
		if mem, err := benchkit.ReadMemory(st.procs[i].PID()); err == nil {
			su.HWM = mem.HWM
		}
		run.Servers = append(run.Servers, su)
	}
	if after, err := arpTableFulls(); err == nil && fullsErr == nil {
		run.ARPTableFull = int64(after - fullsBefore)
	}
	if after, err := listenDrops(); err == nil && dropsErr == nil {
		run.ListenDrops = after - dropsBefore
	}
	if run.Err == nil {
		run.Sim, run.Err = parseSimSummary(stdout.Bytes(), phones)
	}
	return run
}

// stormBench runs the rounds and the limit search. It returns the runs
// made so far with an error when something could not run.
func stormBench(ctx context.Context, opts stormOptions, progress func(string)) (*stormReport, error) {
	rep := &stormReport{Started: time.Now(), Opts: opts, Machine: describeMachine(ctx, options{Phoneprov: opts.Phoneprov, Nginx: opts.Nginx, TFTPD: opts.TFTPD})}
	rep.Dnsmasq = benchkit.ToolVersion(ctx, opts.Dnsmasq, "--version")
	// The pool holds the largest storm with room to spare (a phone that
	// restarts keeps its address; retransmissions may hold offers a while).
	largest := slices.Max(append([]int{opts.Phones}, opts.Limit...))
	lab, err := newStormLab(ctx, largest+largest/5+16)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := lab.close(); err != nil {
			progress("cleanup: " + err.Error())
		}
	}()
	cs := &benchkit.Supervisor{CPUGroups: true}
	defer func() { // before the lab goes
		if err := cs.StopAll(); err != nil {
			progress("cleanup: " + err.Error())
		}
	}()
	progress(fmt.Sprintf("lab: namespaces %s and %s, pool %s-%s", lab.SrvNS, lab.PhonesNS, labPoolStart, lab.PoolEnd))
	if opts.PinNeighbours {
		n := largest + largest/5 + 16
		if err := lab.pinNeighbours(ctx, n); err != nil {
			return nil, err
		}
		progress(fmt.Sprintf("lab: %d permanent neighbour entries on the server side", n))
	}
	rep.Pinned = lab.Pinned
	rep.PoolEnd = lab.PoolEnd
	ws, err := prepareStorm(ctx, cs, lab, opts)
	if err != nil {
		return nil, err
	}
	defer ws.remove()
	rep.Rendered = ws.Rendered

	starters := map[string]func(context.Context, *benchkit.Supervisor, *stormLab, *stormWorkspace, stormOptions, int) (*stack, error){
		"phoneprov": startPhoneprovStack,
		"baseline":  startBaselineStack,
	}
	runID := 0
	one := func(name string, phones, round int) (stormRun, error) {
		runID++
		progress(fmt.Sprintf("%s: starting servers for %d phones", name, phones))
		st, err := starters[name](ctx, cs, lab, ws, opts, runID)
		if err != nil {
			return stormRun{Stack: name, Round: round, Phones: phones, Err: err}, err
		}
		r := runStorm(ctx, lab, st, opts, phones, round, progress)
		if err := st.stop(); err != nil && r.Err == nil {
			r.Err = err
		}
		return r, nil
	}
	var errs []error
	for round := 1; round <= opts.Rounds; round++ {
		order := []string{"phoneprov", "baseline"}
		if round%2 == 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, name := range order {
			r, err := one(name, opts.Phones, round)
			rep.Runs = append(rep.Runs, r)
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			if err != nil {
				errs = append(errs, err)
			} else if r.Err != nil {
				errs = append(errs, fmt.Errorf("%s round %d: %w", name, round, r.Err))
			}
		}
	}
	for _, size := range opts.Limit {
		r, err := one("phoneprov", size, 0)
		rep.Limit = append(rep.Limit, r)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if err != nil {
			errs = append(errs, err)
			break
		}
		if _, ok := r.AllDone(); !ok {
			break
		}
	}
	return rep, errors.Join(errs...)
}
