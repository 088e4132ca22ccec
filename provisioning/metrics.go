package provisioning

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count what the generator does. Create them once per process;
// a nil *Metrics records nothing.
type Metrics struct {
	generated *prometheus.CounterVec
	cache     *prometheus.CounterVec
	hit, miss prometheus.Counter // cache's two children, looked up once
	scans     prometheus.Counter
	images    prometheus.Gauge
}

// NewMetrics registers the generator's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		generated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneprov_provisioning_generated_total",
			Help: "Files generated (cache misses), by kind: settings, upgrade, phone.",
		}, []string{"kind"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneprov_provisioning_cache_lookups_total",
			Help: "Requests for generated files, by whether the cache had them: hit, miss.",
		}, []string{"result"}),
		scans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_provisioning_firmware_scans_total",
			Help: "Scans of the file tree for firmware (after a change to the tree or the configuration).",
		}),
		images: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "phoneprov_provisioning_firmware_images",
			Help: "Firmware files recognised at the top of the file tree at the last scan.",
		}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.generated, m.cache, m.scans, m.images} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, k := range []fileKind{kindSettings, kindUpgrade, kindPhone} {
		m.generated.WithLabelValues(string(k))
	}
	m.hit, m.miss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	return m, nil
}

func (m *Metrics) generatedFile(k fileKind) {
	if m != nil {
		m.generated.WithLabelValues(string(k)).Inc()
	}
}

func (m *Metrics) cacheLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.hit.Inc()
	} else {
		m.miss.Inc()
	}
}

func (m *Metrics) scanned(images int) {
	if m != nil {
		m.scans.Inc()
		m.images.Set(float64(images))
	}
}
