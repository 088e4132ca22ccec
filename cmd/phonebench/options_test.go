package main

import (
	"io"
	"slices"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"-phoneprov", "bin/phoneprov", "-quick", "-only", "tftp, http", "-tftp-clients", "1,100"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != time.Second || o.Warmup != 0 || o.Rounds != 1 {
		t.Errorf("-quick: duration %v, warmup %v, rounds %d", o.Duration, o.Warmup, o.Rounds)
	}
	if !o.Only["tftp"] || !o.Only["http"] || o.Only["https"] {
		t.Errorf("-only: %v", o.Only)
	}
	if !slices.Equal(o.TFTPClients, []int{1, 100}) {
		t.Errorf("-tftp-clients: %v", o.TFTPClients)
	}
	if o.CommandLine != "go run ./cmd/phonebench -phoneprov bin/phoneprov -quick -only 'tftp, http' -tftp-clients 1,100" {
		t.Errorf("command line: %s", o.CommandLine)
	}

	if !slices.Equal(o.Conns, []int{1, 8, 32, 64, 128, 256}) || !slices.Equal(o.Keys, []string{keyECDSA, keyRSA}) {
		t.Errorf("defaults: -conns %v, -keys %v", o.Conns, o.Keys)
	}
	o, err = parseOptions([]string{"-conns", "64, 8", "-keys", "RSA,rsa"}, io.Discard)
	if err != nil || !slices.Equal(o.Conns, []int{64, 8}) || !slices.Equal(o.Keys, []string{keyRSA}) {
		t.Errorf("-conns 64,8 -keys RSA,rsa: %v, %v, %v", o.Conns, o.Keys, err)
	}

	if o.Twin {
		t.Error("-twin is on without being given")
	}
	if o, err := parseOptions([]string{"-twin"}, io.Discard); err != nil || !o.Twin {
		t.Errorf("-twin: %v, %v", o.Twin, err)
	}

	o, err = parseOptions([]string{"-quick", "-duration", "3s"}, io.Discard)
	if err != nil || o.Duration != 3*time.Second {
		t.Errorf("-quick -duration 3s: %v, %v", o.Duration, err)
	}
}

func TestParseOptionsRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"-only", "ftp"}, {"-rounds", "0"}, {"-duration", "100ms"}, {"-tftp-clients", "0"}, {"extra"},
		{"-conns", "0"}, {"-conns", ""}, {"-keys", "dsa"}, {"-keys", ""},
	} {
		if _, err := parseOptions(args, io.Discard); err == nil {
			t.Errorf("parseOptions(%q) accepted", args)
		}
	}
}

// TestClientProgramCounts: the atftp and tftp-hpa client loads of issue 14
// are in the default run (atftp at 1, 20 and 100, tftp-hpa at 100), and ""
// leaves them out.
func TestClientProgramCounts(t *testing.T) {
	o, err := parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.ATFTPClients, []int{1, 20, 100}) || !slices.Equal(o.HPAClients, []int{100}) {
		t.Errorf("defaults: atftp %v, tftp-hpa %v", o.ATFTPClients, o.HPAClients)
	}
	ws := &workspace{TFTP: testFile{Name: "t.bin", Size: 4 << 20}}
	var ids []string
	for _, sc := range buildScenarios(o, ws) {
		ids = append(ids, sc.ID)
	}
	for _, want := range []string{"tftp-atftp-1", "tftp-atftp-20", "tftp-atftp-100", "tftp-tftp-100"} {
		if !slices.Contains(ids, want) {
			t.Errorf("default scenarios %v lack %s", ids, want)
		}
	}
	o, err = parseOptions([]string{"-atftp-clients", "5", "-hpa-clients", ""}, io.Discard)
	if err != nil || !slices.Equal(o.ATFTPClients, []int{5}) || o.HPAClients != nil {
		t.Errorf("-atftp-clients 5 -hpa-clients '': %v, %v, %v", o.ATFTPClients, o.HPAClients, err)
	}
	if _, err := parseOptions([]string{"-atftp-clients", "0"}, io.Discard); err == nil {
		t.Error("-atftp-clients 0 accepted")
	}
}
