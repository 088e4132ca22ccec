package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseOptions([]string{"-i", "veth0", "-phones", "1000", "-mix", "j179=40,4621=10", "-spread", "5s", "-json"}, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if o.Interface != "veth0" || o.Phones != 1000 || len(o.Mix) != 2 || o.Spread != 5*time.Second || !o.JSON {
		t.Errorf("%+v", o)
	}
	if o.DHCPFirst != 4*time.Second || o.DHCPMax != 64*time.Second || o.FetchTries != 3 || o.TFTPPort != 69 {
		t.Errorf("defaults %+v", o)
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := map[string][]string{
		"-i INTERFACE is required": {"-phones", "3"},
		"-phones 0":                {"-i", "x", "-phones", "0"},
		"unknown model":            {"-i", "x", "-mix", "nokia=1"},
		"-dhcp-retry":              {"-i", "x", "-dhcp-retry", "10s", "-dhcp-retry-max", "5s"},
		"-progress":                {"-i", "x", "-progress", "fancy"},
		"-tftp-blksize":            {"-i", "x", "-tftp-blksize", "4"},
		"unexpected argument":      {"-i", "x", "extra"},
		"phone facts":              {"-i", "x", "-facts", "/nonexistent"},
		"-fetch-backoff-max":       {"-i", "x", "-fetch-backoff-max", "-1s"},
	}
	for want, args := range tests {
		var stderr bytes.Buffer
		if _, err := parseOptions(args, &stderr); !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), want) {
			t.Errorf("%v: err %v, stderr %q; want %q", args, err, stderr.String(), want)
		}
	}
	var stderr bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "usage: phonesim") {
		t.Errorf("-h: %v", err)
	}
	if o, err := parseOptions([]string{"-models"}, &stderr); err != nil || !o.Models {
		t.Errorf("-models needs no interface: %v", err)
	}
}

func TestRunExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-models"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), `Cisco Systems, Inc. IP Phone CP-7941G\x00`) || !strings.Contains(out.String(), "Unconfirmed") {
		t.Errorf("-models: %d %q", code, out.String())
	}
	if code := run([]string{"-phones", "x"}, &out, &errb); code != exitUsage {
		t.Errorf("bad flag: %d", code)
	}
	errb.Reset()
	if code := run([]string{"-i", "nosuchif0", "-phones", "1"}, &out, &errb); code != exitFailed || !strings.Contains(errb.String(), "nosuchif0") {
		t.Errorf("missing interface: %d %q", code, errb.String())
	}
}
