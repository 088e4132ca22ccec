package main

import (
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name holds a space and a parenthesis.
	stat := "4242 (ph one) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 130 7 3 20 0 9 0 123 456 789"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got != 3800*time.Millisecond {
		t.Errorf("cpu %s, want 3.8s (utime 250 + stime 130 ticks)", got)
	}
	for _, bad := range []string{"4242 no parens", "4242 (x) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 ten 11 12"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tphoneprov\nVmPeak:\t 1000 kB\nVmHWM:\t   97700 kB\nVmRSS:\t   89668 kB\nRssAnon:\t   60000 kB\nRssFile:\t   29668 kB\nThreads:\t9\n"
	m, err := parseStatusMemory(status)
	if err != nil {
		t.Fatal(err)
	}
	if m.HWM != 97700*1024 || m.RSS != 89668*1024 || m.Anon != 60000*1024 || m.File != 29668*1024 {
		t.Errorf("got %+v", m)
	}
	if _, err := parseStatusMemory("Name:\tzombie\nState:\tZ\n"); err == nil {
		t.Error("no error for a status without memory lines")
	}
	if _, err := parseStatusMemory("VmRSS:\t12 MB\nVmHWM:\t1 kB\n"); err == nil {
		t.Error("no error for a unit other than kB")
	}
	if got := mib(60 << 20); got != "60.0" {
		t.Errorf("mib = %s", got)
	}
}
