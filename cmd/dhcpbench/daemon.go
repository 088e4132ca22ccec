package main

import (
	"context"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// daemon is one DHCP server implementation under test.
type daemon interface {
	// Name is the short name used in tables and file names.
	Name() string
	// Version is the installed version's first line, or "unknown".
	Version(ctx context.Context) string
	// Prepare writes the server's configuration into dir, a fresh empty
	// directory that also holds its leases, for the lab link iface, and
	// returns how to start it.
	Prepare(dir, iface string) (launch, error)
	// Leases counts the leases the running instance holds.
	Leases(ctx context.Context, in *instance) (int, error)
	// Storage says how the server stores a lease, for the report.
	Storage() string
}

// launch is how to start a prepared server.
type launch struct {
	Argv       []string // program and arguments
	Env        []string // added to the environment
	ConfigPath string   // the configuration file written
	LeaseFile  string   // the file the server keeps its leases in
}

// command renders the launch as a shell command line, for the report.
func (l launch) command() string {
	return benchkit.ShellJoin(append(append([]string{}, l.Env...), l.Argv...))
}

// daemonsByName returns the servers the options configure, by name.
func daemonsByName(o options) map[string]daemon {
	return map[string]daemon{
		"phoneprov":      phoneprovDaemon{name: "phoneprov", bin: o.Phoneprov, plan: o.plan},
		"phoneprov-base": phoneprovDaemon{name: "phoneprov-base", bin: o.Baseline, plan: o.plan},
		"kea":            keaDaemon{name: "kea", bin: o.Kea, plan: o.plan},
		"kea-mt":         keaDaemon{name: "kea-mt", bin: o.Kea, plan: o.plan, threads: o.KeaThreads},
		"dnsmasq":        dnsmasqDaemon{bin: o.Dnsmasq, plan: o.plan},
	}
}
