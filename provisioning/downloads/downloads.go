package downloads

import (
	"fmt"
	"net/netip"
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
	release func()       // the one release function every admitted download gets

	// memo remembers whether a canonical name is firmware: read on every
	// request without a lock (sync.Map suits keys written once, read
	// often); memoLen bounds it.
	memo    sync.Map
	memoLen atomic.Int64

	links links // per-link counts, while Config.MaxPerLink is set

	refused     *prometheus.CounterVec
	refusedAll  atomic.Int64 // refused counts added up, for the status page
	linkRefused prometheus.Counter
}

// New returns a Limiter for cfg with its metrics registered on reg
// (nil: not registered).
func New(cfg Config, reg prometheus.Registerer) (*Limiter, error) {
	l := &Limiter{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneprov_firmware_downloads_refused_total",
			Help: "Firmware downloads turned away because a download cap was reached (HTTP 503, TFTP busy), by protocol.",
		}, []string{"protocol"}),
		linkRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_firmware_downloads_link_refused_total",
			Help: "Firmware downloads turned away because the cap per link (max_per_link) was reached; also counted in phoneprov_firmware_downloads_refused_total.",
		}),
		links: links{active: map[netip.Prefix]int{}},
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
		l.refused, l.linkRefused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "phoneprov_firmware_downloads_link_max",
			Help: "The cap on concurrent firmware downloads per link in use; 0 means none.",
		}, func() float64 { return float64(l.cfg.Load().MaxPerLink) }),
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
// while fewer than the cap are in flight, and fewer than the cap per link
// on the phone's link; any other name is admitted and not counted. It
// allocates nothing for a name it has seen before while no cap per link
// is set.
func (l *Limiter) Admit(name string, c fileserve.Client) (release func(), retryAfter time.Duration, ok bool) {
	if !l.isFirmware(name) {
		return nil, 0, true
	}
	cfg := l.cfg.Load()
	if cfg.MaxPerLink > 0 {
		return l.admitOnLink(c, cfg)
	}
	if !l.take(int64(cfg.MaxConcurrent)) {
		l.refuse(c)
		return nil, cfg.RetryAfter, false
	}
	return l.release, 0, true
}

// take counts one more download in flight unless limit (0: none) are.
func (l *Limiter) take(limit int64) bool {
	for {
		n := l.active.Load()
		if limit > 0 && n >= limit {
			return false
		}
		if l.active.CompareAndSwap(n, n+1) {
			l.notePeak(n + 1)
			return true
		}
	}
}

// admitOnLink admits a download under both caps; its release uncounts it
// from its link too.
func (l *Limiter) admitOnLink(c fileserve.Client, cfg *Config) (func(), time.Duration, bool) {
	ls := &l.links
	ls.mu.Lock()
	link := ls.linkOfLocked(c.Addr)
	if ls.active[link] >= cfg.MaxPerLink {
		ls.mu.Unlock()
		l.linkRefused.Inc()
		l.refuse(c)
		return nil, cfg.RetryAfter, false
	}
	if !l.take(int64(cfg.MaxConcurrent)) {
		ls.mu.Unlock()
		l.refuse(c)
		return nil, cfg.RetryAfter, false
	}
	ls.active[link]++
	ls.mu.Unlock()
	return func() {
		ls.mu.Lock()
		if ls.active[link]--; ls.active[link] <= 0 {
			delete(ls.active, link)
		}
		ls.mu.Unlock()
		l.active.Add(-1)
	}, 0, true
}

// refuse counts a refused download.
func (l *Limiter) refuse(c fileserve.Client) {
	l.refused.WithLabelValues(c.Protocol).Inc()
	l.refusedAll.Add(1)
}

// SetLinks tells the limiter the configured subnets, the links of
// Config.MaxPerLink (on start and reload).
func (l *Limiter) SetLinks(subnets []netip.Prefix) { l.links.setSubnets(subnets) }

// Use is the caps and the downloads in flight now, for the status page.
type Use struct {
	Active, Peak   int
	Max, MaxOnLink int // the caps; 0 for none
	Refused        int64
	RetryAfter     time.Duration
	// Busiest are the links with the most downloads in flight (counted
	// while a cap per link is set).
	Busiest []LinkUse
}

// Use returns the caps and the downloads in flight now, with up to
// links of the busiest links.
func (l *Limiter) Use(links int) Use {
	cfg := l.cfg.Load()
	return Use{
		Active: l.Active(), Peak: l.Peak(), Max: cfg.MaxConcurrent, MaxOnLink: cfg.MaxPerLink,
		Refused: l.refusedAll.Load(), RetryAfter: cfg.RetryAfter, Busiest: l.links.busiest(links),
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
