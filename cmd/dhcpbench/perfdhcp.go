package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// perfRun is one perfdhcp invocation. perfdhcp -4 -l IFACE acts as a relay
// agent: it sends from port 67 of the interface's address with giaddr set
// to it, and the servers answer there.
type perfRun struct {
	Iface       string
	Server      netip.Addr
	Rate        int           // DORA exchanges started per second
	Clients     int           // distinct simulated clients (-R), used in order 0..R-1, then again
	Requests    int           // stop after this many DISCOVERs (-n); 0 for no limit
	Period      time.Duration // test length (-p), whole seconds (perfdhcp takes no fraction)
	VendorClass string        // sent as option 60
	BaseMAC     string        // -b mac=…; "" for perfdhcp's default
	// RecvBuffer is the receive buffer, in bytes, given to perfdhcp's
	// sockets from outside (widenSockets); 0 leaves the kernel's default.
	RecvBuffer int
}

// exitWait is perfdhcp's -W: after the test period it sends no new
// DISCOVERs but waits this long (its drop time) for the answers still on
// their way, so exchanges in flight at the end do not count as lost.
const exitWait = time.Second

// args is the perfdhcp command line. Option 60 carries the vendor class;
// "-o 55,f2" appends 242 to perfdhcp's own parameter request list, so every
// server sends its option 242 in the OFFER and the ACK (dnsmasq and
// phoneprov send unrequested site options only when asked).
func (r perfRun) args() []string {
	a := []string{"-4", "-l", r.Iface,
		"-r", strconv.Itoa(r.Rate),
		"-R", strconv.Itoa(r.Clients),
		"-p", strconv.Itoa(max(1, int(r.Period/time.Second))),
		"-t", "1",
		"-W", strconv.Itoa(int(exitWait / time.Microsecond)),
		"-o", "60," + hex.EncodeToString([]byte(r.VendorClass)),
		"-o", "55,f2",
	}
	if r.Requests > 0 {
		a = append(a, "-n", strconv.Itoa(r.Requests))
	}
	if r.BaseMAC != "" {
		a = append(a, "-b", "mac="+r.BaseMAC)
	}
	return append(a, r.Server.String())
}

// exchangeStats is one "***Statistics for: …***" block of perfdhcp's report.
type exchangeStats struct {
	Sent, Received, Drops int
	Orphans, Rejected     int
	AvgDelayMS            float64 // NaN-free: 0 when perfdhcp says n/a
	MaxDelayMS            float64
}

// perfResult is what perfdhcp reported for one run.
type perfResult struct {
	Rate     float64       // "Rate:" 4-way exchanges per second over the period and the exit wait
	Expected float64       // the rate asked for
	DO       exchangeStats // DISCOVER-OFFER
	RA       exchangeStats // REQUEST-ACK
	// CPU is perfdhcp's own utime+stime over the run (from wait4), all
	// its threads together. perfdhcp 2.2 on a machine with more than one
	// CPU sends from one thread and receives in another (its -g, "multi"
	// by default there; perfdhcp -h), so the whole can pass one core's
	// worth per second while neither thread is the limit.
	CPU time.Duration
	// BusiestThread is the CPU time of perfdhcp's busiest thread, read
	// from /proc/PID/task every threadSampleEvery until it exits (so up to
	// one interval short): near one core's worth per second of the run,
	// that thread, not the server, limits the rate. 0 when unread.
	BusiestThread time.Duration
	// RecvBuffer is the smallest receive buffer read back from perfdhcp's
	// sockets after widenSockets (Linux reports twice the size asked
	// for); 0 when they kept the kernel's default.
	RecvBuffer int
}

// threadSampleEvery is how often perfdhcp's threads' CPU times are read.
const threadSampleEvery = 100 * time.Millisecond

// done is the rate of completed DORAs over the test period.
func (r perfResult) done(period time.Duration) float64 {
	return float64(r.RA.Received) / period.Seconds()
}

// loss is the fraction of DORAs started that did not complete: a DISCOVER
// without an OFFER, or a REQUEST without an ACK, both count.
func (r perfResult) loss() float64 {
	if r.DO.Sent == 0 {
		return 1
	}
	return 1 - float64(r.RA.Received)/float64(r.DO.Sent)
}

// parsePerfdhcp reads perfdhcp's final report. The periodic "-t" lines are
// ignored; the DISCOVER-OFFER and REQUEST-ACK blocks and the rate line
// must be present.
func parsePerfdhcp(out string) (perfResult, error) {
	var r perfResult
	var cur *exchangeStats
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "***Statistics for: "):
			name := strings.TrimSuffix(strings.TrimPrefix(line, "***Statistics for: "), "***")
			switch name {
			case "DISCOVER-OFFER":
				cur = &r.DO
			case "REQUEST-ACK":
				cur = &r.RA
			default:
				cur = nil
			}
			seen[name] = true
			continue
		case strings.HasPrefix(line, "***"):
			cur = nil
			continue
		case strings.HasPrefix(line, "Rate: "):
			if err := parseRateLine(line, &r); err != nil {
				return perfResult{}, err
			}
			seen["rate"] = true
			continue
		}
		if cur == nil {
			continue
		}
		key, value, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		if err := setStat(cur, key, value); err != nil {
			return perfResult{}, fmt.Errorf("perfdhcp output: %q: %w", line, err)
		}
	}
	for _, need := range []string{"rate", "DISCOVER-OFFER", "REQUEST-ACK"} {
		if !seen[need] {
			return perfResult{}, fmt.Errorf("perfdhcp output: no %s statistics", need)
		}
	}
	return r, nil
}

// parseRateLine reads "Rate: 499.564 4-way exchanges/second, expected rate: 500".
func parseRateLine(line string, r *perfResult) error {
	f := strings.Fields(line)
	if len(f) < 2 {
		return fmt.Errorf("perfdhcp rate line %q", line)
	}
	v, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return fmt.Errorf("perfdhcp rate line %q: %w", line, err)
	}
	r.Rate = v
	if _, exp, ok := strings.Cut(line, "expected rate: "); ok {
		if e, err := strconv.ParseFloat(strings.TrimSpace(exp), 64); err == nil {
			r.Expected = e
		}
	}
	return nil
}

// setStat stores one "key: value" line of a statistics block.
func setStat(s *exchangeStats, key, value string) error {
	ints := map[string]*int{
		"sent packets": &s.Sent, "received packets": &s.Received, "drops": &s.Drops,
		"orphans": &s.Orphans, "rejected leases": &s.Rejected,
	}
	if dst, ok := ints[key]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil {
			return err
		}
		*dst = n
		return nil
	}
	floats := map[string]*float64{"avg delay": &s.AvgDelayMS, "max delay": &s.MaxDelayMS}
	if dst, ok := floats[key]; ok {
		v, unit, _ := strings.Cut(strings.TrimSpace(value), " ")
		if unit != "ms" {
			return nil // "n/a" when nothing was received
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return err
		}
		*dst = f
	}
	return nil
}

// runPerfdhcp runs perfdhcp in ns and parses its report. Exit status 3
// (some exchanges not completed) is a normal outcome under load.
func runPerfdhcp(ctx context.Context, ns *netlab.Namespace, bin string, r perfRun) (perfResult, string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Period+30*time.Second)
	defer cancel()
	cmd := ns.Command(ctx, bin, r.args()...)
	cmd.SysProcAttr = benchkit.ChildAttr()
	cmd.WaitDelay = 2 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	var busiest time.Duration
	var wide widened
	var werr error
	err := cmd.Start()
	if err == nil {
		finishWidening := startWidening(ctx, cmd.Process.Pid, filepath.Base(bin), r.RecvBuffer)
		busiest, err = watchThreads(cmd.Process.Pid, cmd.Wait)
		wide, werr = finishWidening()
	}
	out := buf.String()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
		if ctx.Err() != nil {
			return perfResult{}, out, fmt.Errorf("perfdhcp: %w", ctx.Err())
		}
		return perfResult{}, out, fmt.Errorf("perfdhcp: %w%s", err, indentTail(out, 8))
	}
	if werr != nil {
		return perfResult{}, out, fmt.Errorf("perfdhcp: %w", werr)
	}
	res, perr := parsePerfdhcp(out)
	if perr != nil {
		return perfResult{}, out, fmt.Errorf("%w%s", perr, indentTail(out, 8))
	}
	if ps := cmd.ProcessState; ps != nil {
		// ip netns exec execs perfdhcp in place: this is perfdhcp's usage.
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	res.BusiestThread = busiest
	res.RecvBuffer = wide.Smallest
	return res, out, nil
}

// watchThreads reads the CPU time of each thread of pid every
// threadSampleEvery while wait runs, and returns the largest of the last
// readings (the busiest thread's CPU) with wait's error.
func watchThreads(pid int, wait func() error) (time.Duration, error) {
	done := make(chan error, 1)
	go func() { done <- wait() }()
	last := map[int]time.Duration{}
	tick := time.NewTicker(threadSampleEvery)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return slices.Max(append(slices.Collect(maps.Values(last)), 0)), err
		case <-tick.C:
			if threads, rerr := benchkit.ThreadCPU(pid); rerr == nil {
				maps.Copy(last, threads)
			}
		}
	}
}

// indentTail returns the last n lines of s, indented, for an error.
func indentTail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	lines = lines[max(0, len(lines)-n):]
	return "\n    " + strings.Join(lines, "\n    ")
}
