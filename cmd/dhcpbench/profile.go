package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// profile takes a CPU profile of the running phoneprov from its admin
// listener while perfdhcp loads it at rate, then a heap profile, and saves
// both to the artifacts. It returns their file names. Read them with
// `go tool pprof -top BIN FILE`. The load comes from the clients of the
// first fill run, which already hold leases (new clients would run the
// pool dry and leave no address for the durability probe).
func (b *bench) profile(ctx context.Context, in *instance, round, rate int) ([]string, error) {
	secs := max(1, int(b.opts.Pprof.Seconds()))
	load := make(chan error, 1)
	go func() {
		run := b.perfRun(rate, b.opts.Clients, time.Duration(secs+2)*time.Second)
		if b.opts.HoldLeases > 0 {
			run.Clients, run.BaseMAC = fillSize(0, b.opts.HoldLeases), fillTemplate(0)
		}
		_, _, err := runPerfdhcp(ctx, b.lab.client, b.opts.Perfdhcp, run)
		load <- err
	}()
	time.Sleep(time.Second) // into the steady part of the load
	cpuURL := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", phoneprovAdmin, secs)
	cpu, cpuErr := nsGet(ctx, in.ns, cpuURL, time.Duration(secs+15)*time.Second)
	if err := <-load; err != nil {
		return nil, fmt.Errorf("profile load: %w", err)
	}
	if cpuErr != nil {
		return nil, fmt.Errorf("cpu profile: %w", cpuErr)
	}
	heap, err := nsGet(ctx, in.ns, "http://"+phoneprovAdmin+"/debug/pprof/heap", 15*time.Second)
	if err != nil {
		return nil, fmt.Errorf("heap profile: %w", err)
	}
	var names []string
	for kind, data := range map[string][]byte{"cpu": cpu, "heap": heap} {
		name := fmt.Sprintf("%s-r%d-%s.pprof", in.d.Name(), round+1, kind)
		if err := os.WriteFile(filepath.Join(b.art, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("save %s profile: %w", kind, err)
		}
		names = append(names, name)
	}
	b.logf("%s: profiles at %d/s: %v", in.d.Name(), rate, names)
	return names, nil
}
