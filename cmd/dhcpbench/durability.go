package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// durabilityProbes is how many DORAs are traced, one after another.
const durabilityProbes = 5

// traceDurability attaches strace to the running server, runs a few probe
// DORAs one at a time, detaches, and analyzes the trace: did each ACK
// leave only after the lease file was synced? The trace file goes to the
// artifacts; its name is returned.
func (b *bench) traceDurability(ctx context.Context, in *instance, round int) (durability, string, error) {
	name := fmt.Sprintf("%s-r%d-strace.txt", in.d.Name(), round+1)
	path := filepath.Join(b.art, name)
	cmd := exec.Command(b.opts.Strace, "-f", "-ttt", "-T", "-y", "-xx", "-s", "1024",
		"-e", "trace="+traceSends+","+traceSyncs+","+traceWrites,
		"-o", path, "-p", strconv.Itoa(in.proc.PID()))
	cmd.SysProcAttr = benchkit.ChildAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return durability{}, "", fmt.Errorf("strace: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return durability{}, "", fmt.Errorf("strace: %w", err)
	}
	done := make(chan error, 1)
	attached := make(chan struct{})
	var msgs strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			msgs.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "attached") {
				close(attached)
				signalled = true
			}
		}
		done <- cmd.Wait()
	}()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGINT) // strace detaches and exits
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			return <-done
		}
	}
	select {
	case <-attached:
		time.Sleep(300 * time.Millisecond) // the other threads attach right after the first
	case err := <-done:
		return durability{}, name, fmt.Errorf("strace exited before attaching: %v: %s", err, strings.TrimSpace(msgs.String()))
	case <-time.After(10 * time.Second):
		_ = stop()
		return durability{}, name, fmt.Errorf("strace did not attach: %s", strings.TrimSpace(msgs.String()))
	}
	var probeErr error
	for range durabilityProbes {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, probeErr = probeDORA(pctx, b.lab.client, b.opts.plan, b.nextProbeMAC())
		cancel()
		if probeErr != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let a sync still in flight finish in the trace
	_ = stop()
	if probeErr != nil {
		return durability{}, name, fmt.Errorf("%s durability probe: %w", in.d.Name(), probeErr)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return durability{}, name, fmt.Errorf("strace output: %w", err)
	}
	d, err := analyzeTrace(string(text), in.launch.LeaseFile)
	return d, name, err
}
