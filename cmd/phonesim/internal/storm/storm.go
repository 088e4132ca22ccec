package storm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/fetch"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
)

// Config describes one storm.
type Config struct {
	// Phones is how many phones boot.
	Phones int
	// Mix says which models, in which shares.
	Mix []Weight
	// Spread spreads the power-on times evenly at random over this long;
	// 0 switches every phone on at once.
	Spread time.Duration
	// Seed makes the MACs and the order repeatable.
	Seed uint64
	// PhoneTimeout bounds one phone from power-on to provisioned.
	PhoneTimeout time.Duration
	// FirstExtension numbers the phones' extensions (backup file names).
	FirstExtension int
	// Env is shared by every phone; its Observe is wrapped to count bytes,
	// and its Dialed replaced to count connections.
	Env phone.Env
	// Progress, if set, is called every ProgressEvery with a snapshot,
	// and once more at the end.
	Progress      func(Snapshot)
	ProgressEvery time.Duration
}

// Snapshot is the storm at one moment.
type Snapshot struct {
	Elapsed                   time.Duration
	Phones                    int
	Provisioned, Kept, Failed int
	// Steps counts the phones still working, by what they are doing
	// ("off" for those not switched on yet).
	Steps map[string]int
}

// Done is the number of phones that finished.
func (s Snapshot) Done() int { return s.Provisioned + s.Kept + s.Failed }

// entry is one phone of a storm with its power-on delay.
type entry struct {
	p     *phone.Phone
	start time.Duration
}

// Build draws the phones of a storm: models by the mix, MACs from the
// model's OUI and the seed (unique within the storm), extensions counting
// up from FirstExtension.
func Build(cfg Config) []*phone.Phone {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7068_6f6e_6573_696d)) // "phonesim"
	models := Allocate(cfg.Mix, cfg.Phones, rng)
	seen := map[string]bool{}
	out := make([]*phone.Phone, len(models))
	ext := cfg.FirstExtension
	if ext == 0 {
		ext = 2000
	}
	for i, m := range models {
		var mac net.HardwareAddr
		for {
			v := rng.Uint32()
			mac = m.MAC([3]byte{byte(v >> 16), byte(v >> 8), byte(v)})
			if !seen[mac.String()] {
				break
			}
		}
		seen[mac.String()] = true
		out[i] = phone.New(m, mac, strconv.Itoa(ext+i))
	}
	return out
}

// Run boots the phones and returns the summary when every one has
// finished (or ctx ended, which fails the phones still working).
func Run(ctx context.Context, cfg Config, phones []*phone.Phone) Summary {
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	entries := make([]entry, len(phones))
	for i, p := range phones {
		entries[i] = entry{p: p}
		if cfg.Spread > 0 {
			entries[i].start = time.Duration(rng.Int64N(int64(cfg.Spread)))
		}
	}
	counter := newProtocolCounter()
	env := cfg.Env
	inner := env.Observe
	env.Observe = func(t fetch.Transfer) {
		counter.observe(t)
		if inner != nil {
			inner(t)
		}
	}
	env.Dialed = counter.dialed

	started := time.Now()
	results := make([]phone.Result, len(entries))
	finished := make([]bool, len(entries))
	var mu sync.Mutex // guards finished and results for snapshots
	var wg sync.WaitGroup
	for i, e := range entries {
		wg.Go(func() {
			select {
			case <-ctx.Done():
			case <-time.After(e.start):
			}
			pctx := ctx
			if cfg.PhoneTimeout > 0 {
				var cancel context.CancelFunc
				pctx, cancel = context.WithTimeout(ctx, cfg.PhoneTimeout)
				defer cancel()
			}
			r := e.p.Run(pctx, env)
			mu.Lock()
			results[i], finished[i] = r, true
			mu.Unlock()
		})
	}

	snapshot := func() Snapshot {
		s := Snapshot{Elapsed: time.Since(started), Phones: len(entries), Steps: map[string]int{}}
		mu.Lock()
		defer mu.Unlock()
		for i, e := range entries {
			if !finished[i] {
				s.Steps[e.p.Step()]++
				continue
			}
			switch results[i].State {
			case phone.Provisioned:
				s.Provisioned++
			case phone.Kept:
				s.Kept++
			default:
				s.Failed++
			}
		}
		return s
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if cfg.Progress != nil {
		every := cfg.ProgressEvery
		if every <= 0 {
			every = time.Second
		}
		tick := time.NewTicker(every)
	loop:
		for {
			select {
			case <-done:
				break loop
			case <-tick.C:
				cfg.Progress(snapshot())
			}
		}
		tick.Stop()
		cfg.Progress(snapshot())
	}
	<-done
	return summarize(results, time.Since(started), cfg.Seed, counter.totals())
}

// protocolCounter sums transfers by protocol.
type protocolCounter struct {
	mu sync.Mutex
	m  map[string]*ProtocolStats
}

func newProtocolCounter() *protocolCounter {
	return &protocolCounter{m: map[string]*ProtocolStats{}}
}

// stats is protocol p's running sums; c.mu is held.
func (c *protocolCounter) stats(p string) *ProtocolStats {
	s := c.m[p]
	if s == nil {
		s = &ProtocolStats{}
		c.m[p] = s
	}
	return s
}

func (c *protocolCounter) observe(t fetch.Transfer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats(string(t.Protocol))
	s.Requests++
	s.Bytes += t.Bytes
	switch {
	case t.Err == nil:
		return
	case errors.Is(t.Err, fetch.ErrUntrusted):
		s.Untrusted++
	case errors.Is(t.Err, fetch.ErrUnreachable):
		s.Unreachable++
	case errors.Is(t.Err, fetch.ErrTimedOut):
		s.TimedOut++
	}
	s.Errors++
}

// dialed counts a connection a phone opened.
func (c *protocolCounter) dialed(p fetch.Protocol) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats(string(p)).Connections++
}

func (c *protocolCounter) totals() map[string]ProtocolStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]ProtocolStats, len(c.m))
	for k, v := range c.m {
		out[k] = *v
	}
	return out
}

// Models lists the models of a set of phones with their counts, in the
// catalog's order, for the start banner.
func Models(cat model.Catalog, phones []*phone.Phone) string {
	counts := map[string]int{}
	for _, p := range phones {
		counts[p.Model.Key]++
	}
	s := ""
	for _, m := range cat.All() {
		if n := counts[m.Key]; n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s %d", m.Name, n)
		}
	}
	return s
}
