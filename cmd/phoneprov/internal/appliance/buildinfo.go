package appliance

import (
	"cmp"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is the phoneprov_build_info gauge, always 1, whose labels say
// which build runs: version, revision (the VCS commit) and goversion; what
// is unknown reads "unknown".
func buildInfo(version, revision string) prometheus.Collector {
	labels := prometheus.Labels{"version": cmp.Or(version, "unknown"), "revision": cmp.Or(revision, "unknown"), "goversion": runtime.Version()}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "phoneprov_build_info",
		Help:        "Always 1; the labels name the running build: version, revision (VCS commit), goversion.",
		ConstLabels: labels,
	})
	g.Set(1)
	return g
}
