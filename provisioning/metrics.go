package provisioning

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/obs"
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
		generated: obs.CounterVec("phoneprov_provisioning_generated_total", "Files generated (cache misses), by kind: settings, upgrade, phone.", "kind"),
		cache:     obs.CounterVec("phoneprov_provisioning_cache_lookups_total", "Requests for generated files, by whether the cache had them: hit, miss.", "result"),
		scans:     obs.Counter("phoneprov_provisioning_firmware_scans_total", "Scans of the file tree for firmware (after a change to the tree or the configuration)."),
		images:    obs.Gauge("phoneprov_provisioning_firmware_images", "Firmware files recognised at the top of the file tree at the last scan."),
	}
	if err := obs.Register(reg, "provisioning", m.generated, m.cache, m.scans, m.images); err != nil {
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
