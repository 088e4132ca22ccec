package main

import (
	"context"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// machine describes where the benchmark ran and the versions of the
// servers and tools; a tool not used is "".
type machine struct {
	benchkit.Machine
	Phoneprov string
	Nginx     string
	TFTPD     string
	Wrk       string
}

// describeMachine collects the machine and tool versions; what cannot be
// found is "unknown".
func describeMachine(ctx context.Context, o options) machine {
	m := machine{
		Machine:   benchkit.DescribeMachine(),
		Phoneprov: benchkit.ToolVersion(ctx, o.Phoneprov, "version"),
	}
	if o.Nginx != "" {
		m.Nginx = benchkit.ToolVersion(ctx, o.Nginx, "-v")
	}
	if o.TFTPD != "" {
		m.TFTPD = benchkit.ToolVersion(ctx, o.TFTPD, "-V")
	}
	if o.Wrk != "" {
		m.Wrk = benchkit.ToolVersion(ctx, o.Wrk, "-v")
	}
	return m
}

// writeMarkdown writes the report's machine section.
func (m machine) writeMarkdown(b *strings.Builder, more ...benchkit.Fact) {
	m.Machine.WriteMarkdown(b, append([]benchkit.Fact{
		{Name: "phoneprov", Value: m.Phoneprov}, {Name: "nginx", Value: m.Nginx}, {Name: "in.tftpd", Value: m.TFTPD}, {Name: "wrk", Value: m.Wrk},
	}, more...)...)
}
