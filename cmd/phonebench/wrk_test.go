package main

import (
	"math"
	"testing"
	"time"
)

const wrkSample = `Running 5s test @ https://127.0.0.1:40123/firmware-big.bin
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    38.52ms   12.01ms 120.33ms   71.20%
    Req/Sec   207.36     20.14   250.00     68.00%
  Latency Distribution
     50%   37.10ms
     75%   44.02ms
     90%   53.77ms
     99%   81.00ms
  1034 requests in 5.01s, 10.10GB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:    206.38
Transfer/sec:      2.02GB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{
		Requests:       1034,
		RequestsPerSec: 206.38,
		P50:            37100 * time.Microsecond,
		P99:            81 * time.Millisecond,
		SocketErrors:   3,
	}
	// 10.10 GiB in 5.01 s is 2.016 GiB/s, which Transfer/sec rounds to 2.02.
	if rate := r.BytesPerSec / (1 << 30); math.Abs(rate-10.10/5.01) > 1e-9 {
		t.Errorf("parseWrk rate %v GiB/s, want 10.10/5.01", rate)
	}
	r.BytesPerSec = 0
	if r != want {
		t.Errorf("parseWrk:\n got %+v\nwant %+v", r, want)
	}
}

func TestParseWrkNon2xx(t *testing.T) {
	out := `Running 1s test @ http://127.0.0.1:18080/nonexist
  1 threads and 2 connections
  Latency Distribution
     50%  649.00us
     99%    1.74ms
  2933 requests in 1.10s, 1.45MB read
  Non-2xx or 3xx responses: 2933
Requests/sec:   2667.93
Transfer/sec:      1.32MB
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Non2xx != 2933 || r.Requests != 2933 || r.P50 != 649*time.Microsecond || math.Abs(r.BytesPerSec/(1<<20)-1.45/1.10) > 1e-9 {
		t.Errorf("parseWrk = %+v", r)
	}
}

func TestParseWrkRefusesGarbage(t *testing.T) {
	for _, out := range []string{
		"",
		"unable to connect to 127.0.0.1:1 Connection refused\n",
		"Requests/sec: 12\n",                                                      // no Transfer/sec
		"Requests/sec: many\nTransfer/sec: 1MB\n",                                 // not a number
		"Requests/sec: 12\nTransfer/sec: 1.0XB\n",                                 // unknown unit
		"  50%  12.0parsecs\nRequests/sec: 1\nTransfer/sec: 1B\n",                 // bad latency
		"  12 requests in 1.0xs, 1MB read\nRequests/sec: 12\nTransfer/sec: 1MB\n", // bad run length
	} {
		if r, err := parseWrk(out); err == nil {
			t.Errorf("parseWrk(%q) = %+v, want an error", out, r)
		}
	}
}

func TestParseWrkUnits(t *testing.T) {
	for in, want := range map[string]float64{"512B": 512, "1.50KB": 1536, "2MB": 2 << 20, "1GB": 1 << 30, "0.5TB": 1 << 39} {
		if got, err := parseWrkBytes(in); err != nil || got != want {
			t.Errorf("parseWrkBytes(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]time.Duration{
		"456.00us": 456 * time.Microsecond, "1.23ms": 1230 * time.Microsecond,
		"2.01s": 2010 * time.Millisecond, "1.50m": 90 * time.Second, "1.00h": time.Hour,
	} {
		if got, err := parseWrkDuration(in); err != nil || got != want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
