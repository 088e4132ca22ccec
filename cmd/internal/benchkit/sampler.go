package benchkit

import (
	"cmp"
	"context"
	"sync"
	"time"
)

// SampleInterval is how often a running measurement reads /proc.
const SampleInterval = 100 * time.Millisecond

// Usage is what one measured run cost a server's process tree.
type Usage struct {
	PeakRSS  int64         // highest tree RSS seen, bytes
	CPU      time.Duration // CPU time the tree used during the run
	MaxProcs int           // most processes seen in the tree at once
}

// Measurement samples one server's process tree until stopped.
type Measurement struct {
	proc     *Proc
	startCPU time.Duration
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	peak     Usage
	err      error
}

// Measure takes a first reading of p's tree and samples it every
// SampleInterval until Stop is called or ctx ends.
func Measure(ctx context.Context, p *Proc) (*Measurement, error) {
	root := p.PID()
	first, err := SampleTree(root)
	if err != nil {
		return nil, err
	}
	cpu, err := p.CPUTime()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &Measurement{proc: p, startCPU: cpu, cancel: cancel}
	m.record(first)
	m.wg.Go(func() {
		t := time.NewTicker(SampleInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, err := SampleTree(root)
			if err != nil {
				m.fail(err)
				return
			}
			m.record(s)
		}
	})
	return m, nil
}

func (m *Measurement) record(s TreeSample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peak.PeakRSS = max(m.peak.PeakRSS, s.RSS)
	m.peak.MaxProcs = max(m.peak.MaxProcs, s.Procs)
}

func (m *Measurement) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

// Stop ends the sampling, takes a last reading and returns the run's usage.
func (m *Measurement) Stop() (Usage, error) {
	m.cancel()
	m.wg.Wait()
	last, err := SampleTree(m.proc.PID())
	if err == nil {
		m.record(last)
	}
	cpu, cpuErr := m.proc.CPUTime()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err = cmp.Or(m.err, err, cpuErr); err != nil {
		return Usage{}, err
	}
	u := m.peak
	u.CPU = cpu - m.startCPU
	return u, nil
}

// WaitIdle waits until the process uses (almost) no CPU over a quarter
// second, or for at most limit.
func WaitIdle(ctx context.Context, pid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	cpu := func() (time.Duration, error) {
		st, err := ReadStat(pid)
		return st.OwnCPU(), err
	}
	last, err := cpu()
	for err == nil && ctx.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		var now time.Duration
		if now, err = cpu(); err == nil && now-last <= 10*time.Millisecond {
			return
		}
		last = now
	}
}
