package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseOptionsDefaults(t *testing.T) {
	o, err := parseOptions([]string{"-phoneprov", "bin/phoneprov", "-out", "x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Phoneprov != "bin/phoneprov" || o.Out != "x" || o.Rounds != 1 || o.Period != 5*time.Second || o.Retries != 1 ||
		o.Clients != 50000 || o.StartRate != 1000 || o.MaxLoss != 0.01 || o.HoldLeases != 50000 || o.Budget != 3*time.Minute {
		t.Errorf("defaults: %+v", o)
	}
	if o.KeaThreads != 2 || o.RebootClients != 30000 || o.RebootLimit != 3*time.Minute {
		t.Errorf("kea-mt threads %d, reboot %d clients within %s", o.KeaThreads, o.RebootClients, o.RebootLimit)
	}
	if !reflect.DeepEqual(o.Servers, []string{"phoneprov", "kea", "kea-mt", "dnsmasq"}) {
		t.Errorf("servers %v", o.Servers)
	}
}

func TestParseOptionsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-servers", "phoneprov,isc-dhcpd"},
		{"-rounds", "0"},
		{"-servers", "phoneprov,phoneprov-base"},
		{"-kea-threads", "0"},
		{"-reboot-clients", "65000"},
		{"-reboot-limit", "0s"},
		{"-period", "1500ms"},
		{"-clients", "70000"},
		{"-max-loss", "0"},
		{"-hold-leases", "65000"},
		{"-min-rate", "100", "-max-rate", "50"},
		{"stray"},
	} {
		var errOut strings.Builder
		if _, err := parseOptions(args, &errOut); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestOrderAlternates(t *testing.T) {
	o := options{Servers: []string{"phoneprov", "kea", "dnsmasq"}}
	if got := o.order(0); !reflect.DeepEqual(got, []string{"phoneprov", "kea", "dnsmasq"}) {
		t.Errorf("round 1: %v", got)
	}
	if got := o.order(1); !reflect.DeepEqual(got, []string{"dnsmasq", "kea", "phoneprov"}) {
		t.Errorf("round 2: %v", got)
	}
	if o.Servers[0] != "phoneprov" {
		t.Error("order changed the options")
	}
}

func TestFillRuns(t *testing.T) {
	if got := fillSize(0, 50000); got != 50000 {
		t.Errorf("first run: %d clients, want the target", got)
	}
	if got := fillSize(1, 500); got != 520 {
		t.Errorf("second run for 500 missing: %d clients, want 520", got)
	}
	if got := fillSize(0, 100000); got != 65535 {
		t.Errorf("a run asks for %d clients; perfdhcp templates hold 65,535", got)
	}
	if fillTemplate(0) == fillTemplate(1) || fillTemplate(3) != "00:0d:01:03:00:00" {
		t.Errorf("templates %s %s %s", fillTemplate(0), fillTemplate(1), fillTemplate(3))
	}
}

func TestParseOptionsBaseline(t *testing.T) {
	o, err := parseOptions([]string{"-baseline", "old/phoneprov"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Baseline != "old/phoneprov" || !reflect.DeepEqual(o.Servers, []string{"phoneprov-base", "phoneprov", "kea", "kea-mt", "dnsmasq"}) {
		t.Errorf("baseline %q, servers %v", o.Baseline, o.Servers)
	}
	o, err = parseOptions([]string{"-baseline", "old/phoneprov", "-servers", "phoneprov,phoneprov-base,kea"}, io.Discard)
	if err != nil || !reflect.DeepEqual(o.Servers, []string{"phoneprov", "phoneprov-base", "kea"}) {
		t.Errorf("servers %v, %v", o.Servers, err)
	}
	if d := daemonsByName(o)["phoneprov-base"]; d.Name() != "phoneprov-base" {
		t.Errorf("baseline daemon named %q", d.Name())
	}
}
