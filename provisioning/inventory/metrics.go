package inventory

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/obs"
)

// metrics are the inventory's Prometheus series.
type metrics struct {
	facts *prometheus.CounterVec
	// The facts counters by source, looked up once.
	leaseFacts, accessFacts, neighborFacts prometheus.Counter
	neighborErrors                         prometheus.Counter
	flushes                                prometheus.Counter
	flushErrors                            prometheus.Counter
	evicted                                prometheus.Counter
	rewrites                               prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, inv *Inventory) (*metrics, error) {
	m := &metrics{
		facts:          obs.CounterVec("phoneprov_inventory_facts_total", "Facts folded into the inventory, by source (lease, access, neighbor).", "source"),
		neighborErrors: obs.Counter("phoneprov_inventory_neighbor_read_errors_total", "Failed reads of the kernel's neighbour table."),
		flushes:        obs.Counter("phoneprov_inventory_flushes_total", "Flushes that appended changed records to the inventory journal."),
		flushErrors:    obs.Counter("phoneprov_inventory_flush_errors_total", "Failed writes to the inventory journal (retried at the next flush)."),
		evicted:        obs.Counter("phoneprov_inventory_evicted_total", "Phones forgotten because the inventory held max_phones (the one seen longest ago goes)."),
		rewrites:       obs.Counter("phoneprov_inventory_journal_rewrites_total", "Times the inventory journal was rewritten to its live records."),
	}
	collectors := []prometheus.Collector{m.facts, m.neighborErrors, m.flushes, m.flushErrors, m.evicted, m.rewrites,
		obs.CounterFunc("phoneprov_inventory_dropped_facts_total", "Facts dropped because the inventory's queue was full.", func() float64 { return float64(inv.dropped.Load()) }),
		obs.CounterFunc("phoneprov_inventory_unresolved_accesses_total", "File requests whose client address could not be tied to a MAC (no lease, no neighbour entry, no MAC in the User-Agent).", func() float64 { return float64(inv.unresolved.Load()) }),
		obs.GaugeFunc("phoneprov_inventory_queue_length", "Facts waiting to be folded in.", func() float64 { return float64(inv.queue.len()) }),
		&phonesCollector{inv: inv, desc: prometheus.NewDesc("phoneprov_inventory_phones",
			"Phones by model, firmware and state, computed when scraped.", []string{"model", "firmware", "state"}, nil)},
	}
	if err := obs.Register(reg, "inventory", collectors...); err != nil {
		return nil, err
	}
	m.leaseFacts, m.accessFacts, m.neighborFacts = m.facts.WithLabelValues("lease"), m.facts.WithLabelValues("access"), m.facts.WithLabelValues("neighbor")
	return m, nil
}

// phonesCollector counts phones by model, firmware and state at scrape time.
type phonesCollector struct {
	inv  *Inventory
	desc *prometheus.Desc
}

func (c *phonesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *phonesCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ model, firmware, state string }
	counts := map[key]int{}
	now := c.inv.opts.Now()
	c.inv.mu.RLock()
	c.inv.phones.each(func(p *Phone) {
		st, _ := c.inv.judge(p, now)
		counts[key{p.Model, p.Firmware, string(st)}]++
	})
	c.inv.mu.RUnlock()
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.model, k.firmware, k.state)
	}
}
