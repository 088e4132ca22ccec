package main

import (
	"context"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// machine describes where the benchmark ran.
type machine struct {
	benchkit.Machine
	WorkFS   string // file system of the servers' lease files: fsync cost depends on it
	Perfdhcp string
	Strace   string
}

// describeMachine collects the machine and tool facts; what cannot be found
// is "unknown".
func describeMachine(ctx context.Context, o options, workDir string) machine {
	m := machine{
		Machine:  benchkit.DescribeMachine(),
		WorkFS:   benchkit.FSType(workDir),
		Perfdhcp: "perfdhcp " + benchkit.ToolVersion(ctx, o.Perfdhcp, "-v"),
		Strace:   "not used",
	}
	if o.Strace != "" {
		m.Strace = benchkit.ToolVersion(ctx, o.Strace, "-V")
	}
	return m
}
