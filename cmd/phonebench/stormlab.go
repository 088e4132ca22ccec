package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// The storm lab's addresses, all from 198.18.0.0/15 (RFC 2544's
// benchmarking range): the server and the phones' pool share one /16.
const (
	labServerIP  = "198.18.0.1"
	labPrefix    = "/16"
	labPoolStart = "198.18.1.1"
	labCallSrv   = "198.18.0.2"
)

// stormLab is two network namespaces joined by a veth pair: the servers
// in one, the phones in the other.
type stormLab struct {
	SrvNS, PhonesNS string
	SrvIf, PhonesIf string
	// PoolEnd is the last address of the phones' pool, sized to the
	// largest storm.
	PoolEnd string
	// Pinned is the number of pool addresses with a permanent neighbour
	// entry on the server side (0: the kernel learns them by ARP).
	Pinned int
}

// poolEnd is the last address of a pool of n addresses from labPoolStart.
func poolEnd(n int) string {
	a := netip.MustParseAddr(labPoolStart)
	for range n - 1 {
		a = a.Next()
	}
	return a.String()
}

// pinNeighbours gives the first n pool addresses a permanent neighbour
// entry on the server side, pointing at the phones' interface. Permanent
// entries do not count against the host's neighbour table limit
// (gc_thresh3, shared by every namespace), which a storm larger than it
// would otherwise hit before it tells anything about the servers; the
// server then sends to phones without asking ARP first.
func (l *stormLab) pinNeighbours(ctx context.Context, n int) error {
	out, err := exec.CommandContext(ctx, "ip", "-n", l.PhonesNS, "-o", "link", "show", "dev", l.PhonesIf).Output()
	if err != nil {
		return fmt.Errorf("phones' link address: %w", err)
	}
	f := strings.Fields(string(out))
	i := slices.Index(f, "link/ether")
	if i < 0 || i+1 >= len(f) {
		return fmt.Errorf("phones' link address: no link/ether in %q", out)
	}
	mac := f[i+1]
	var batch strings.Builder
	a := netip.MustParseAddr(labPoolStart)
	for range n {
		fmt.Fprintf(&batch, "neigh replace %s lladdr %s nud permanent dev %s\n", a, mac, l.SrvIf)
		a = a.Next()
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "-n", l.SrvNS, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pin neighbours: %w: %s", err, strings.TrimSpace(string(out)))
	}
	l.Pinned = n
	return nil
}

// ipCmd runs the ip command with a timeout.
func ipCmd(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newStormLab creates the namespaces and the link, named after this
// process so that two runs never meet.
func newStormLab(ctx context.Context, poolSize int) (*stormLab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the storm lab needs root (network namespaces, DHCP ports)")
	}
	id := strconv.Itoa(os.Getpid())
	l := &stormLab{SrvNS: "pp-bench-srv-" + id, PhonesNS: "pp-bench-phones-" + id, SrvIf: "pbs" + id, PhonesIf: "pbp" + id, PoolEnd: poolEnd(poolSize)}
	steps := [][]string{
		{"netns", "add", l.SrvNS},
		{"netns", "add", l.PhonesNS},
		{"link", "add", l.SrvIf, "type", "veth", "peer", "name", l.PhonesIf},
		{"link", "set", l.SrvIf, "netns", l.SrvNS},
		{"link", "set", l.PhonesIf, "netns", l.PhonesNS},
		{"-n", l.SrvNS, "link", "set", "lo", "up"},
		{"-n", l.PhonesNS, "link", "set", "lo", "up"},
		{"-n", l.SrvNS, "addr", "add", labServerIP + labPrefix, "dev", l.SrvIf},
		{"-n", l.SrvNS, "link", "set", l.SrvIf, "up"},
		{"-n", l.PhonesNS, "link", "set", l.PhonesIf, "up"},
	}
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			return nil, errors.Join(err, l.close())
		}
	}
	return l, nil
}

// close deletes the namespaces (and with them the link).
func (l *stormLab) close() error {
	var errs []error
	for _, ns := range []string{l.PhonesNS, l.SrvNS} {
		if err := ipCmd(context.Background(), "netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// inNS prefixes argv to run in namespace ns. ip netns exec replaces
// itself with the program, so the started process is the program.
func inNS(ns string, argv ...string) []string {
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// waitTCP waits until the server namespace accepts TCP on port, or the
// child exits, or readyTimeout passes.
func (l *stormLab) waitTCP(ctx context.Context, c *benchkit.Proc, port int) error {
	probe := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		script := fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", labServerIP, port)
		return exec.CommandContext(ctx, "ip", inNS(l.SrvNS, "bash", "-c", script)[1:]...).Run()
	}
	return waitUntil(ctx, c, fmt.Sprintf("tcp %s:%d", labServerIP, port), probe)
}

// flush removes every address phones left on their interface (a phonesim
// that was killed) and the neighbour entries of both sides, so each storm
// starts clean: the server side's entries from the last storm would
// otherwise fill the host's neighbour table for the next one.
func (l *stormLab) flush(ctx context.Context) error {
	for _, args := range [][]string{
		{"-n", l.PhonesNS, "addr", "flush", "dev", l.PhonesIf},
		{"-n", l.SrvNS, "neigh", "flush", "dev", l.SrvIf}, // learnt entries only: pinned ones stay
		{"-n", l.PhonesNS, "neigh", "flush", "dev", l.PhonesIf},
	} {
		if err := ipCmd(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}
