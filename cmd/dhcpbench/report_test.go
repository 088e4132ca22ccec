package main

import (
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

func TestReportRenders(t *testing.T) {
	o, err := parseOptions([]string{"-rounds", "2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Strace = "/usr/bin/strace"
	r := &report{
		Opts: o, Stamp: time.Date(2026, 11, 25, 16, 30, 0, 0, time.UTC), Artifacts: "out/dhcp-20261125-163000",
		Machine: machine{Machine: benchkit.Machine{NProc: 2, CPU: "test cpu", Kernel: "6.1"}, WorkFS: "ext4"},
		Setups:  []setup{{Name: "kea", Version: "kea-dhcp4 2.2.0", Command: "kea-dhcp4 -c DIR/k.json", Config: "{}\n", Storage: "memfile | CSV"}},
		Runs: []serverRun{
			fakeRun("phoneprov", 0, 4000, time.Second, 40<<20, 50<<20, 50000, true),
			fakeRun("kea", 0, 7000, time.Second, 30<<20, 30<<20, 50000, false),
			fakeRun("kea", 1, 6000, time.Second, 30<<20, 30<<20, 50000, false),
			fakeRun("phoneprov", 1, 5000, time.Second, 40<<20, 50<<20, 50000, true),
		},
	}
	r.Runs[0].Reboot = rebootResult{Clients: 30000, Bound: 30000, AllBound: 12 * time.Second, Stored: 30000, Sent: 60000}
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	// With an even number of rounds the lower median is taken.
	for _, want := range []string{"phoneprov  4000 [4000 5000]", "kea        6000 [7000 6000]", "MISS", "yes (5/5)", "no (0/5)", "mass reboot", "phoneprov  1      30000    30000  12.0"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var md strings.Builder
	r.WriteMarkdown(&md)
	for _, want := range []string{"# DHCP benchmark", "## Targets (issues 3 and 14)", "## Mass reboot", "| memfile \\| CSV |", "**MISS**", "```\nkea-dhcp4 -c DIR/k.json\n```", "## Trials"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	missed := 0
	for _, tg := range r.targets() {
		if tg.Verdict != "PASS" {
			missed++
		}
	}
	if missed != 3 {
		t.Errorf("%d targets missed, want 3 (the rate against Kea twice, kea-mt not run)", missed)
	}
	var footer strings.Builder
	r.WriteFooter(&footer)
	if footer.String() != "artifacts: out/dhcp-20261125-163000\n" || r.FileName() != "dhcp-20261125-163000.md" {
		t.Errorf("footer %q, file name %q", footer.String(), r.FileName())
	}
}
