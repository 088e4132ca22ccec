package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/fileserve/tftpd/tftplab"
)

func TestParseLossOptions(t *testing.T) {
	o, err := parseOptions([]string{"-only", "tftp-loss", "-loss-kib", "64", "-loss-atftp", "0", "-loss-hpa", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Only[lossID] || len(o.Only) != 1 || o.LossSize != 64<<10 || o.LossATFTP != 0 || o.LossHPA != 3 {
		t.Errorf("options %+v", o)
	}
	o, err = parseOptions(nil, io.Discard)
	if err != nil || !o.Only[lossID] || o.LossSize != 1<<20 || o.LossATFTP != 50 || o.LossHPA != 100 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	for _, args := range [][]string{{"-loss-kib", "0"}, {"-loss-atftp", "0", "-loss-hpa", "0"}, {"-loss-hpa", "-1"}} {
		if _, err := parseOptions(args, io.Discard); err == nil {
			t.Errorf("parseOptions(%q) accepted", args)
		}
	}
}

// TestLossReport renders the scenario's figures side by side.
func TestLossReport(t *testing.T) {
	rep := &lossReport{Size: 1 << 20, HPA: 100, ATFTP: 50, Err: errors.New("boom"), Runs: []lossRun{
		{Server: "phoneprov", Client: tftplab.ATFTP, Count: 50, Outcome: tftplab.Outcome{Completed: 50, Wall: 90 * time.Second}},
		{Server: "tftpd-hpa", Client: tftplab.ATFTP, Count: 50, Outcome: tftplab.Outcome{Completed: 43, Failed: 7, Wall: 80 * time.Second, Errors: []string{"unexpected OACK"}}},
		{Server: "phoneprov", Client: tftplab.HPA, Count: 100, Outcome: tftplab.Outcome{Completed: 100, Wall: 300 * time.Second}},
	}}
	r := &report{Loss: rep}
	var b strings.Builder
	r.WriteMarkdown(&b)
	md := b.String()
	for _, want := range []string{
		`| 50 × atftp --option "blksize 1428", 1 MiB | 50 of 50 | 1m30s | 43 of 50 | 1m20s |`,
		`| 100 × tftp-hpa tftp (512-byte blocks), 1 MiB | 100 of 100 | 5m0s | – | – |`,
		"tftpd-hpa, atftp, first failures: `unexpected OACK`",
		"ERROR: boom",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "## Targets") {
		t.Error("a tftp-loss-only report has the throughput sections")
	}
	var text strings.Builder
	if err := r.WriteTable(&text); err != nil || !strings.Contains(text.String(), "43 of 50") {
		t.Errorf("table %v:\n%s", err, text.String())
	}
}
