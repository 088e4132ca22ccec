package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// readyTimeout bounds how long a server may take to answer its first DORA.
const readyTimeout = 30 * time.Second

// instance is one running server with its own fresh directory (and so an
// empty lease database).
type instance struct {
	d      daemon
	ns     *netlab.Namespace
	dir    string
	launch launch
	proc   *benchkit.Proc
	probe  probeResult // the DORA that showed it ready
}

// startInstance prepares a fresh directory named label under the work
// directory, starts the server in the server namespace, and waits until a
// probe DORA succeeds; the probe's answer must match the plan.
func (b *bench) startInstance(ctx context.Context, d daemon, label string) (*instance, error) {
	dir := filepath.Join(b.work, label)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name(), err)
	}
	l, err := d.Prepare(dir, b.lab.serverIf)
	if err != nil {
		return nil, err
	}
	p, err := b.sup.Start(benchkit.Spec{
		Name: d.Name(), Log: filepath.Join(dir, "server.log"), Env: l.Env,
		// ip netns exec execs the server in place: the process is the server.
		Argv: b.lab.server.Command(ctx, l.Argv[0], l.Argv[1:]...).Args,
	})
	if err != nil {
		return nil, err
	}
	in := &instance{d: d, ns: b.lab.server, dir: dir, launch: l, proc: p}
	if err := b.waitReady(ctx, in); err != nil {
		_ = b.sup.Stop(p)
		return nil, err
	}
	return in, nil
}

// waitReady probes until the server answers a full DORA, it exits, or
// readyTimeout passes.
func (b *bench) waitReady(ctx context.Context, in *instance) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		if in.proc.Exited() {
			return in.proc.Failure()
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		res, err := probeDORA(pctx, b.lab.client, b.opts.plan, b.nextProbeMAC())
		cancel()
		if err == nil {
			if cerr := res.check(b.opts.plan); cerr != nil {
				return fmt.Errorf("%s does not do the same work as planned: %w", in.d.Name(), cerr)
			}
			in.probe = res
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		last = err
	}
	return fmt.Errorf("%s did not answer within %s: %w%s", in.d.Name(), readyTimeout, last, benchkit.LogTail(in.proc.Log()))
}

// stopInstance stops the server; an exit before being told is an error.
func (b *bench) stopInstance(in *instance) error {
	if in.proc.Exited() {
		return in.proc.Failure()
	}
	return b.sup.Stop(in.proc)
}

// alive returns an error if the server has exited.
func (in *instance) alive() error {
	if in.proc.Exited() {
		return in.proc.Failure()
	}
	return nil
}

// nextProbeMAC returns a fresh locally administered MAC for a probe, apart
// from perfdhcp's 00:0c:01:… clients.
func (b *bench) nextProbeMAC() net.HardwareAddr {
	b.probes++
	n := b.probes
	return net.HardwareAddr{0x02, 0xdb, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}
