package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	Requests       int64   // completed requests
	RequestsPerSec float64 // "Requests/sec:"
	BytesPerSec    float64 // bytes read over the run's length ("N requests in 10.01s, 15.23GB read"), else "Transfer/sec:"
	P50, P99       time.Duration
	SocketErrors   int64         // connect + read + write + timeout
	Non2xx         int64         // "Non-2xx or 3xx responses:"
	CPU            time.Duration // wrk's own CPU time (not parsed: from its rusage)
}

// wrkTimeout is how long wrk waits for a response before it counts a
// timeout: its default of 2 s is shorter than 10 MiB takes on each of 256
// connections sharing a loopback.
const wrkTimeout = "60s"

// wrkRun loads url with one wrk thread and conns connections for d.
func wrkRun(ctx context.Context, wrk, url string, conns int, d time.Duration) (wrkResult, error) {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, "-t1", "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(secs)+"s", "--timeout", wrkTimeout, "--latency", url)
	cmd.SysProcAttr = benchkit.ChildAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w: %s", url, err, strings.TrimSpace(string(out)))
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w", url, err)
	}
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if r.BytesPerSec == 0 || r.Non2xx > 0 {
		return r, fmt.Errorf("wrk %s: %d requests, %.0f B/s, %d not 2xx/3xx: the figures would be meaningless", url, r.Requests, r.BytesPerSec, r.Non2xx)
	}
	return r, nil
}

// parseWrk reads wrk's --latency report.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveReq, haveXfer bool
	var read float64       // bytes, from the "requests in" line
	var took time.Duration // the run's length, from the same line
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var err error
		switch {
		case f[0] == "Requests/sec:" && len(f) == 2:
			r.RequestsPerSec, err = strconv.ParseFloat(f[1], 64)
			haveReq = true
		case f[0] == "Transfer/sec:" && len(f) == 2:
			r.BytesPerSec, err = parseWrkBytes(f[1])
			haveXfer = true
		case f[0] == "50%" && len(f) == 2:
			r.P50, err = parseWrkDuration(f[1])
		case f[0] == "99%" && len(f) == 2:
			r.P99, err = parseWrkDuration(f[1])
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			r.Requests, err = strconv.ParseInt(f[0], 10, 64)
			if len(f) == 6 && f[5] == "read" {
				// "1034 requests in 10.01s, 15.23GB read": three or four
				// significant digits each, where Transfer/sec ("1.52GB")
				// has two or three, a step of 0.7 % at 1.5 GB/s.
				var derr, berr error
				took, derr = parseWrkDuration(strings.TrimSuffix(f[3], ","))
				read, berr = parseWrkBytes(f[4])
				err = errors.Join(err, derr, berr)
			}
		case f[0] == "Socket" && len(f) == 10 && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for _, i := range []int{3, 5, 7, 9} {
				n, perr := strconv.ParseInt(strings.TrimSuffix(f[i], ","), 10, 64)
				err = errors.Join(err, perr)
				r.SocketErrors += n
			}
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:"):
			r.Non2xx, err = strconv.ParseInt(f[len(f)-1], 10, 64)
		}
		if err != nil {
			return wrkResult{}, fmt.Errorf("parse wrk output line %q: %w", sc.Text(), err)
		}
	}
	if !haveReq || !haveXfer {
		return wrkResult{}, fmt.Errorf("no Requests/sec or Transfer/sec in wrk output: %q", out)
	}
	if read > 0 && took > 0 {
		r.BytesPerSec = read / took.Seconds() // as wrk computes Transfer/sec, from finer figures
	}
	return r, nil
}

// parseWrkBytes parses a wrk byte figure such as "1.17GB" (binary units).
func parseWrkBytes(s string) (float64, error) {
	units := []struct {
		suffix string
		scale  float64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("bytes %q: %w", s, err)
			}
			return v * u.scale, nil
		}
	}
	return 0, fmt.Errorf("bytes %q: unknown unit", s)
}

// parseWrkDuration parses a wrk latency such as "1.23ms", "456.00us",
// "2.01s" or "1.50m".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		scale  float64
	}{{"us", float64(time.Microsecond)}, {"ms", float64(time.Millisecond)}, {"s", float64(time.Second)}, {"m", float64(time.Minute)}, {"h", float64(time.Hour)}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, err)
			}
			return time.Duration(math.Round(v * u.scale)), nil
		}
	}
	return 0, fmt.Errorf("duration %q: unknown unit", s)
}
