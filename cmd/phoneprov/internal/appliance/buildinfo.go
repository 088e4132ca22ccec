package appliance

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is the phoneprov_build_info gauge, always 1, whose labels say
// which build runs: version, revision (the VCS commit) and goversion.
// version is the one set at build time when given, else the module's as
// the Go toolchain recorded it; what is unknown reads "unknown".
func buildInfo(version string) prometheus.Collector {
	labels := prometheus.Labels{"version": version, "revision": "", "goversion": runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if labels["version"] == "" {
			labels["version"] = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				labels["revision"] = s.Value
			}
		}
	}
	for k, v := range labels {
		if v == "" {
			labels[k] = "unknown"
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "phoneprov_build_info",
		Help:        "Always 1; the labels name the running build: version, revision (VCS commit), goversion.",
		ConstLabels: labels,
	})
	g.Set(1)
	return g
}
