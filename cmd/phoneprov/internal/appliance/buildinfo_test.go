package appliance

import (
	"net/http"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/metricstest"
)

// buildInfoLabels registers buildInfo(version, revision) on a new registry and
// returns the labels of its one series, failing t unless it is 1.
func buildInfoLabels(t *testing.T, version, revision string) map[string]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(buildInfo(version, revision)); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "phoneprov_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, want one phoneprov_build_info series", mfs)
	}
	m := mfs[0].GetMetric()[0]
	if v := m.GetGauge().GetValue(); v != 1 {
		t.Errorf("phoneprov_build_info = %v, want 1", v)
	}
	labels := map[string]string{}
	for _, lp := range m.GetLabel() {
		labels[lp.GetName()] = lp.GetValue()
	}
	if len(labels) != 3 || labels["goversion"] != runtime.Version() || labels["revision"] == "" {
		t.Errorf("labels %v, want version, revision and goversion=%s", labels, runtime.Version())
	}
	return labels
}

// The version and revision the command resolved name the build; without
// them the labels still have a value.
func TestBuildInfoNamesTheBuild(t *testing.T) {
	l := buildInfoLabels(t, "1.4.0", "0123abc")
	if l["version"] != "1.4.0" || l["revision"] != "0123abc" {
		t.Errorf("labels %v, want version 1.4.0 and revision 0123abc, as passed in", l)
	}
	if l := buildInfoLabels(t, "", ""); l["version"] != "unknown" || l["revision"] != "unknown" {
		t.Errorf("labels %v, want unknown for what nobody set", l)
	}
}

// Every series of a running appliance that served a phone,
// phoneprov_build_info included, passes Prometheus' lint and names its
// labels and their values in snake_case; only labels carrying
// configuration, phone or build data are free-form.
func TestEveryMetricFollowsOneNaming(t *testing.T) {
	ta := startAppliance(t, "")
	if code := ta.fetch(t, "J100Supgrade.txt", j179Agent); code != http.StatusOK {
		t.Fatalf("J100Supgrade.txt: %d", code)
	}
	ta.fetch(t, "../escape", j179Agent) // a refused name, for its reason
	ta.waitPhone(t, j179MAC)
	ta.app.reg.MustRegister(buildInfo("test", "0123abc"))
	problems, err := metricstest.NamingProblems(ta.app.reg,
		"subnet", "pool", "model", "firmware", "version", "revision", "goversion")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}
