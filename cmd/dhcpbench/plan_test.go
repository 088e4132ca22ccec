package main

import (
	"net/netip"
	"testing"
)

func TestDefaultPlan(t *testing.T) {
	p := defaultPlan()
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	if got := p.poolSize(); got != 65279 {
		t.Errorf("pool size %d, want 65279", got)
	}
	if got := p.netmask(); got != "255.255.0.0" {
		t.Errorf("netmask %s", got)
	}
	want := "MCIPADD=198.18.0.10,MCPORT=1719,HTTPSRVR=198.18.0.1,HTTPPORT=80,TLSSRVR=198.18.0.1,TLSPORT=411,TFTPSRVR=198.18.0.1"
	if got := p.option242(); got != want {
		t.Errorf("option 242\n got %s\nwant %s", got, want)
	}
}

func TestNetmask(t *testing.T) {
	for bits, want := range map[int]string{24: "255.255.255.0", 20: "255.255.240.0", 15: "255.254.0.0", 32: "255.255.255.255"} {
		p := plan{Subnet: netip.PrefixFrom(netip.MustParseAddr("198.18.0.0"), bits)}
		if got := p.netmask(); got != want {
			t.Errorf("/%d: %s, want %s", bits, got, want)
		}
	}
}

func TestPlanValidate(t *testing.T) {
	for name, mutate := range map[string]func(*plan){
		"pool outside":   func(p *plan) { p.PoolEnd = netip.MustParseAddr("198.19.0.5") },
		"pool reversed":  func(p *plan) { p.PoolStart, p.PoolEnd = p.PoolEnd, p.PoolStart },
		"server in pool": func(p *plan) { p.ServerAddr = netip.MustParsePrefix("198.18.7.7/16") },
	} {
		p := defaultPlan()
		mutate(&p)
		if err := p.validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
