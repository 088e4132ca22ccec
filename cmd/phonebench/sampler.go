package main

import (
	"cmp"
	"context"
	"sync"
	"time"
)

// sampleInterval is how often a running measurement reads /proc.
const sampleInterval = 100 * time.Millisecond

// usage is what one measured run cost a server's process tree.
type usage struct {
	PeakRSS  int64         // highest tree RSS seen, bytes
	CPU      time.Duration // CPU time the tree used during the run
	MaxProcs int           // most processes seen in the tree at once
}

// measurement samples one server's process tree until stopped.
type measurement struct {
	proc     *child
	startCPU time.Duration
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	peak     usage
	err      error
}

// startMeasurement takes a first reading of the child's tree and samples
// it every sampleInterval until stop is called or ctx ends.
func startMeasurement(ctx context.Context, c *child) (*measurement, error) {
	root := c.pid()
	first, err := sampleTree(root)
	if err != nil {
		return nil, err
	}
	cpu, err := c.cpuTime()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &measurement{proc: c, startCPU: cpu, cancel: cancel}
	m.record(first)
	m.wg.Go(func() {
		t := time.NewTicker(sampleInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, err := sampleTree(root)
			if err != nil {
				m.fail(err)
				return
			}
			m.record(s)
		}
	})
	return m, nil
}

func (m *measurement) record(s treeSample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peak.PeakRSS = max(m.peak.PeakRSS, s.RSS)
	m.peak.MaxProcs = max(m.peak.MaxProcs, s.Procs)
}

func (m *measurement) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

// stop ends the sampling, takes a last reading and returns the run's usage.
func (m *measurement) stop() (usage, error) {
	m.cancel()
	m.wg.Wait()
	last, err := sampleTree(m.proc.pid())
	if err == nil {
		m.record(last)
	}
	cpu, cpuErr := m.proc.cpuTime()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err = cmp.Or(m.err, err, cpuErr); err != nil {
		return usage{}, err
	}
	u := m.peak
	u.CPU = cpu - m.startCPU
	return u, nil
}
