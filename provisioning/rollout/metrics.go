package rollout

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descPhones = prometheus.NewDesc("phoneprov_rollout_phones", "Phones of a roll-out in force, by state (pending, fetched, upgraded, failed, absent).",
		[]string{"rollout", "target", "version", "state"}, nil)
	descWave = prometheus.NewDesc("phoneprov_rollout_wave", "The current wave of a roll-out in force (0 is the canary).",
		[]string{"rollout", "target", "version"}, nil)
	descWaves = prometheus.NewDesc("phoneprov_rollout_waves", "The waves of a roll-out in force after the canary.",
		[]string{"rollout", "target", "version"}, nil)
	descBraked = prometheus.NewDesc("phoneprov_rollout_braked", "1 when a roll-out in force braked itself (too many failures) and waits for the operator: alert on it.",
		[]string{"rollout", "target", "version"}, nil)
	descStatus = prometheus.NewDesc("phoneprov_rollout_status", "1 for the status of each roll-out in force.",
		[]string{"rollout", "target", "version", "status"}, nil)
	descHeld = prometheus.NewDesc("phoneprov_firmware_held", "1 for each firmware version in the file tree held until a roll-out or a release (hold_new_firmware).",
		[]string{"line", "version"}, nil)
)

// collector reports the roll-outs in force at each scrape.
type collector struct{ m *Manager }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPhones, descWave, descWaves, descBraked, descStatus, descHeld} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for _, h := range c.m.heldLocked() {
		ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, 1, h.Line, h.Version)
	}
	for _, r := range c.m.state.InForce() {
		id := strconv.Itoa(r.ID)
		counts := r.Counts()
		for _, s := range AllPhoneStates() {
			ch <- prometheus.MustNewConstMetric(descPhones, prometheus.GaugeValue, float64(counts[s]), id, r.Target(), r.Version, string(s))
		}
		ch <- prometheus.MustNewConstMetric(descWave, prometheus.GaugeValue, float64(r.Wave), id, r.Target(), r.Version)
		ch <- prometheus.MustNewConstMetric(descWaves, prometheus.GaugeValue, float64(len(r.Waves)), id, r.Target(), r.Version)
		braked := 0.0
		if r.Status == StatusBraked {
			braked = 1
		}
		ch <- prometheus.MustNewConstMetric(descBraked, prometheus.GaugeValue, braked, id, r.Target(), r.Version)
		ch <- prometheus.MustNewConstMetric(descStatus, prometheus.GaugeValue, 1, id, r.Target(), r.Version, string(r.Status))
	}
}
