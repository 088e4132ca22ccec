// Package metricstest checks the naming of phoneprov's Prometheus series in
// tests: Prometheus' own lint, and one label style, snake_case, for label
// names and for the values of labels that name a kind rather than carry data.
package metricstest

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// snakeCase is a label name or value in phoneprov's style.
var snakeCase = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*$`)

// NamingProblems gathers g and returns what breaks phoneprov's naming, one
// line per problem, for every family whose name starts with "phoneprov_":
// promlint's findings, label names that are not snake_case, and values not
// snake_case of any label except those named in dataLabels (labels such as
// subnet or firmware whose values come from the configuration or the
// phones).
func NamingProblems(g prometheus.Gatherer, dataLabels ...string) ([]string, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	lint, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		return nil, fmt.Errorf("promlint: %w", err)
	}
	var out []string
	for _, p := range lint {
		if strings.HasPrefix(p.Metric, "phoneprov_") {
			out = append(out, fmt.Sprintf("%s: %s", p.Metric, p.Text))
		}
	}
	data := map[string]bool{}
	for _, l := range dataLabels {
		data[l] = true
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "phoneprov_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				var problem string
				switch name, value := lp.GetName(), lp.GetValue(); {
				case !snakeCase.MatchString(name):
					problem = fmt.Sprintf("%s: label name %q is not snake_case", mf.GetName(), name)
				case !data[name] && !snakeCase.MatchString(value):
					problem = fmt.Sprintf("%s: %s=%q is not snake_case", mf.GetName(), name, value)
				}
				if problem != "" && !seen[problem] {
					seen[problem] = true
					out = append(out, problem)
				}
			}
		}
	}
	return out, nil
}
