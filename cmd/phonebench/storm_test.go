package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIsStorm(t *testing.T) {
	for args, want := range map[string]bool{"-storm": true, "--storm": true, "-phones 3 -storm": true, "-quick": false, "-storm=false": false} {
		if got := isStorm(strings.Fields(args)); got != want {
			t.Errorf("isStorm(%q) = %v", args, got)
		}
	}
}

func TestParseStormOptions(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseStormOptions([]string{"-storm", "-phones", "500", "-limit", "1000,2000", "-rounds", "3"}, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if o.Phones != 500 || o.Rounds != 3 || len(o.Limit) != 2 || o.Limit[1] != 2000 || o.Seed != 1 || o.Timeout != 5*time.Minute || o.ServerKey != keyRSA {
		t.Errorf("%+v", o)
	}
	o, err = parseStormOptions([]string{"-storm", "-limit", ""}, &stderr)
	if err != nil || o.Limit != nil || o.Phones != 1000 {
		t.Errorf("defaults: %+v %v", o, err)
	}
	if o, err = parseStormOptions([]string{"-storm", "-server-key", "ecdsa"}, &stderr); err != nil || o.ServerKey != keyECDSA {
		t.Errorf("-server-key ecdsa: %+v %v", o, err)
	}
	for _, bad := range [][]string{{"-storm", "-server-key", "dsa"}, {"-storm", "-phones", "0"}, {"-storm", "-limit", "3000,2000"}, {"-storm", "-limit", "x"}, {"-storm", "-rounds", "0"}, {"-storm", "extra"}} {
		if _, err := parseStormOptions(bad, &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

const simJSON = `{
  "seed": 1, "phones": 4, "provisioned": 2, "kept": 1, "failed": 1, "duration_ns": 3000000000,
  "time_to_provisioned": {"p50_ns": 1000000000, "p95_ns": 2000000000, "max_ns": 2500000000},
  "time_to_lease": {"p50_ns": 100000000, "p95_ns": 200000000, "max_ns": 300000000},
  "failed_steps": {"script": 1},
  "protocols": {"https": {"requests": 10, "errors": 2, "bytes": 2097152}},
  "dhcp": {"Sent": 9, "Received": 8},
  "results": [
    {"mac": "c8:1f:ea:00:00:01", "model": "J179", "state": "provisioned"},
    {"mac": "c8:1f:ea:00:00:02", "model": "J179", "state": "provisioned"},
    {"mac": "00:1b:d4:00:00:03", "model": "CP-7911G", "state": "kept"},
    {"mac": "00:1b:4f:00:00:04", "model": "9608", "state": "failed", "step": "script",
     "reason": "GET http://198.18.0.1:80/x: dial tcp 198.18.7.9:0->198.18.0.1:80: i/o timeout"}
  ]
}`

func TestParseSimSummary(t *testing.T) {
	s, err := parseSimSummary([]byte(simJSON), 4)
	if err != nil {
		t.Fatal(err)
	}
	if s.Time.Max != 2500*time.Millisecond || s.LeaseTime.P95 != 200*time.Millisecond || s.Protocols["https"].Bytes != 2<<20 || s.DHCP["Sent"] != 9 {
		t.Errorf("%+v", s)
	}
	r := s.reasons(5)
	if len(r) != 1 || r[0] != "1 × script: GET http://198.18.0.1:80/x: dial tcp PHONE->198.18.0.1:80: i/o timeout" {
		t.Errorf("reasons %q", r)
	}
	if _, err := parseSimSummary([]byte(simJSON), 5); err == nil {
		t.Error("a summary of 4 phones accepted for 5")
	}
	if _, err := parseSimSummary([]byte("phonesim: boom"), 4); err == nil {
		t.Error("junk accepted")
	}
}

func TestNormalizeReason(t *testing.T) {
	a := normalizeReason("after 3 tries: PUT https://198.18.0.1:443/backup/2044_96xxdata.txt: 507 Insufficient Storage")
	b := normalizeReason("after 3 tries: PUT https://198.18.0.1:443/backup/3999_96xxdata.txt: 507 Insufficient Storage")
	if a != b || !strings.Contains(a, "/backup/EXT_96xxdata.txt") {
		t.Errorf("%q vs %q", a, b)
	}
	if got := normalizeReason("GET http://198.18.0.1:80/0004f2228497.cfg: dial tcp 198.18.3.4:0->198.18.0.1:80"); got != "GET http://198.18.0.1:80/MAC.cfg: dial tcp PHONE->198.18.0.1:80" {
		t.Errorf("%q", got)
	}
}

func TestParseTableFulls(t *testing.T) {
	text := "entries  allocs table_fulls\n00000005 00000c23 00000010\n00000005 000013f2 0000000a\n"
	if n, err := parseTableFulls(text); err != nil || n != 26 {
		t.Errorf("%d %v", n, err)
	}
	for _, bad := range []string{"", "entries allocs\n1 2\n", "table_fulls\nzz\n"} {
		if _, err := parseTableFulls(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func stormRunOf(stack string, round int, failed int, done time.Duration, cpu time.Duration, rss int64) stormRun {
	r := stormRun{Stack: stack, Round: round, Phones: 10, ARPTableFull: 0}
	r.Sim.Phones, r.Sim.Provisioned, r.Sim.Failed = 10, 10-failed, failed
	r.Sim.Time.Max, r.Sim.Time.P50 = done, done/2
	r.Servers = []serverUsage{{Name: stack, CPU: cpu, PeakRSS: rss, HWM: rss / 2}}
	return r
}

func TestStormVerdictsAndRatios(t *testing.T) {
	rep := &stormReport{Opts: stormOptions{Phones: 10}}
	rep.Runs = []stormRun{
		stormRunOf("phoneprov", 1, 0, 8*time.Second, 6*time.Second, 60<<20),
		stormRunOf("baseline", 1, 0, 12*time.Second, 3*time.Second, 50<<20),
		stormRunOf("baseline", 2, 0, 14*time.Second, 5*time.Second, 40<<20),
		stormRunOf("phoneprov", 2, 0, 10*time.Second, 4*time.Second, 70<<20),
	}
	pp, base := rep.figures("phoneprov"), rep.figures("baseline")
	if pp.Done != 9*time.Second || base.Done != 13*time.Second || pp.PeakRSS != 70<<20 || base.CPU != 4*time.Second {
		t.Errorf("figures %+v %+v", pp, base)
	}
	if pp.P50 != 4500*time.Millisecond || base.P50 != 6500*time.Millisecond {
		t.Errorf("median phones %v %v", pp.P50, base.P50)
	}
	// The last phone 13/9 = 1.44× sooner misses the 2× target; the
	// median phone and memory are met.
	v := rep.verdicts()
	if len(v) != 4 || !v[0].Met || v[1].Met || !v[2].Met || !v[3].Met {
		t.Errorf("verdicts %+v", v)
	}
	// 2× sooner meets it; a later median phone misses its target.
	rep.Runs[1] = stormRunOf("baseline", 1, 0, 18*time.Second, 3*time.Second, 50<<20)
	rep.Runs[2] = stormRunOf("baseline", 2, 0, 18*time.Second, 5*time.Second, 40<<20)
	rep.Runs[2].Sim.Time.P50 = 4 * time.Second
	rep.Runs[1].Sim.Time.P50 = 4 * time.Second
	if v = rep.verdicts(); !v[1].Met || v[2].Met {
		t.Errorf("verdicts at 2× with a later median %+v", v)
	}
	// A baseline that failed a phone has no last phone: phoneprov's tail
	// target is met by provisioning them all.
	rep.Runs[1] = stormRunOf("baseline", 1, 3, 0, 3*time.Second, 50<<20)
	if v = rep.verdicts(); !v[1].Met {
		t.Errorf("verdicts against a failing baseline %+v", v)
	}
	// A failure anywhere misses the first two targets; 120 MiB misses the last.
	rep.Runs[3] = stormRunOf("phoneprov", 2, 1, 0, 4*time.Second, 120<<20)
	v = rep.verdicts()
	if v[0].Met || v[1].Met || v[3].Met {
		t.Errorf("verdicts after a failure and 120 MiB: %+v", v)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	if !strings.Contains(out.String(), "MISSED") || !strings.Contains(out.String(), "server CPU") {
		t.Errorf("table:\n%s", out.String())
	}
	var md strings.Builder
	left := stormRunOf("phoneprov", 0, 0, time.Second, time.Second, 1)
	left.Sim.Protocols = map[string]simProtocols{"https": {Requests: 30, Errors: 12, Untrusted: 7, Unreachable: 3, TimedOut: 2}}
	left.ListenDrops = 12
	rep.Runs[0].Sim.Protocols, rep.Runs[0].ListenDrops = left.Sim.Protocols, left.ListenDrops
	rep.Runs[1].ListenDrops = -1
	rep.Limit = []stormRun{left, {Stack: "phoneprov", Phones: 20, Err: errors.New("boom")}}
	rep.WriteMarkdown(&md)
	for _, want := range []string{"# Boot storm", "## Where phoneprov first fails", "20 phones: could not run: boom", "## Method",
		"| 30 / 0 / 0.0 | 7 / 3 / 2 | 12 |", "| 0 / 0 / 0 | ? |", "HTTPS 3 connects failed, 2 handshakes or answers timed out, the server's listen drops 12"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if rep.firstFailure() == nil || rep.firstFailure().Phones != 20 {
		t.Error("firstFailure")
	}
}

func TestMedianDuration(t *testing.T) {
	if medianDuration(nil) != 0 || medianDuration([]time.Duration{3, 1, 2}) != 2 || medianDuration([]time.Duration{4, 1, 3, 2}) != 2 {
		t.Error("medianDuration")
	}
}
