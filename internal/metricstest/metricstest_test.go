package metricstest

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestNamingProblemsFindsEachKind(t *testing.T) {
	reg := prometheus.NewRegistry()
	good := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "phoneprov_good_total", Help: "Fine."}, []string{"reason", "subnet"})
	good.WithLabelValues("rate_limit_client", "198.18.0.0/24").Inc()
	dashed := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "phoneprov_dashed_total", Help: "A dashed value."}, []string{"reason"})
	dashed.WithLabelValues("rate-limit-client").Inc()
	camel := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "phoneprov_camel", Help: "A camelCase label."}, []string{"poolName"})
	camel.WithLabelValues("a").Set(1)
	gaugeTotal := prometheus.NewGauge(prometheus.GaugeOpts{Name: "phoneprov_addresses_total", Help: "A gauge named like a counter."})
	other := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "other_thing", Help: "Not ours."}, []string{"reason"})
	other.WithLabelValues("Not-Ours").Set(1)
	reg.MustRegister(good, dashed, camel, gaugeTotal, other)

	got, err := NamingProblems(reg, "subnet")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`phoneprov_dashed_total: reason="rate-limit-client" is not snake_case`,
		`phoneprov_camel: label name "poolName" is not snake_case`,
		`phoneprov_camel: label names should be written in 'snake_case' not 'camelCase'`, // promlint's own
		`phoneprov_addresses_total: non-counter metrics should not have "_total" suffix`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d problems, want 4 (phoneprov_good_total and other_thing are fine): %q", len(got), got)
	}
}
