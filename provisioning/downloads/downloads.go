package downloads

import (
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// memoMax bounds the names whose kind a Limiter remembers; past it, names
// are still recognised, just not remembered.
const memoMax = 4096

// Limiter counts firmware downloads in flight and refuses those over the
// cap. It implements fileserve.Admitter.
type Limiter struct {
	cfg     atomic.Pointer[Config]
	active  atomic.Int64
	peak    atomic.Int64 // the most in flight at once since New
	release func() // the one release function every admitted download gets

	// memo remembers whether a canonical name is firmware: read on every
	// request without a lock (sync.Map suits keys written once, read
	// often); memoLen bounds it.
	memo    sync.Map
	memoLen atomic.Int64

	refused *prometheus.CounterVec
}

// New returns a Limiter for cfg with its metrics registered on reg
// (nil: not registered).
func New(cfg Config, reg prometheus.Registerer) (*Limiter, error) {
	l := &Limiter{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneprov_firmware_downloads_refused_total",
			Help: "Firmware downloads turned away because the download cap was reached (HTTP 503, TFTP busy), by protocol.",
		}, []string{"protocol"}),
	}
	l.SetConfig(cfg)
	l.release = func() { l.active.Add(-1) }
	for _, p := range []string{"http", "https", "tftp"} {
		l.refused.WithLabelValues(p)
	}
	if reg == nil {
		return l, nil
	}
	collectors := []prometheus.Collector{
		l.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "phoneprov_firmware_downloads_active",
			Help: "Firmware downloads in flight over HTTP, HTTPS and TFTP.",
		}, func() float64 { return float64(l.active.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "phoneprov_firmware_downloads_peak",
			Help: "The most firmware downloads in flight at once since phoneprov started.",
		}, func() float64 { return float64(l.peak.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "phoneprov_firmware_downloads_max",
			Help: "The cap on concurrent firmware downloads in use; 0 means none.",
		}, func() float64 { return float64(l.cfg.Load().MaxConcurrent) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register download metrics: %w", err)
		}
	}
	return l, nil
}

// Admit implements fileserve.Admitter: a firmware download is admitted
// while fewer than the cap are in flight; any other name is admitted and
// not counted. It allocates nothing for a name it has seen before.
func (l *Limiter) Admit(name string, c fileserve.Client) (release func(), retryAfter time.Duration, ok bool) {
	if !l.isFirmware(name) {
		return nil, 0, true
	}
	cfg := l.cfg.Load()
	limit := int64(cfg.MaxConcurrent)
	for {
		n := l.active.Load()
		if limit > 0 && n >= limit {
			l.refused.WithLabelValues(c.Protocol).Inc()
			return nil, cfg.RetryAfter, false
		}
		if l.active.CompareAndSwap(n, n+1) {
			l.notePeak(n + 1)
			return l.release, 0, true
		}
	}
}

// SetConfig changes the cap and the wait for downloads admitted from now
// on (a reload); downloads in flight stay counted.
func (l *Limiter) SetConfig(cfg Config) { l.cfg.Store(&cfg) }

// Active is the number of firmware downloads in flight.
func (l *Limiter) Active() int { return int(l.active.Load()) }

// Peak is the most firmware downloads in flight at once since New.
func (l *Limiter) Peak() int { return int(l.peak.Load()) }

// notePeak raises the peak to n if n is higher.
func (l *Limiter) notePeak(n int64) {
	for {
		p := l.peak.Load()
		if n <= p || l.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// isFirmware reports whether a canonical name is a firmware image: one
// whose file name the firmware rules recognise, or one with a firmware
// extension (an image named by [[provisioning.firmware]], say).
func (l *Limiter) isFirmware(name string) bool {
	if fw, ok := l.memo.Load(name); ok {
		return fw.(bool)
	}
	base := path.Base(name)
	_, fw := firmware.Recognise(base)
	fw = fw || firmware.LooksLikeFirmware(base)
	if l.memoLen.Load() < memoMax {
		if _, loaded := l.memo.LoadOrStore(name, fw); !loaded {
			l.memoLen.Add(1)
		}
	}
	return fw
}
