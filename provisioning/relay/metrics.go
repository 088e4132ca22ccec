package relay

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/obs"
)

// Outcomes of one request to an upstream, the "result" label of fetches.
const (
	fetchFetched     = "fetched"      // 200: a new copy was stored
	fetchNotModified = "not_modified" // 304: the cached copy is still current
	fetchAbsent      = "absent"       // 404 or 410
	fetchFailed      = "error"        // anything else; see errors_total
)

// Reasons a fetch failed, the "reason" label of errors.
const (
	errNetwork   = "network"
	errTimeout   = "timeout"
	errStatus    = "status"
	errTruncated = "truncated"
	errTooLarge  = "too_large"
	errStore     = "store"
)

// metrics are the relay's Prometheus series.
type metrics struct {
	hits, staleHits, misses, negativeHits prometheus.Counter
	fetches                               *prometheus.CounterVec
	errors                                *prometheus.CounterVec
	bytes                                 prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		hits:         obs.Counter("phoneprov_relay_hits_total", "Requests answered from the cache: fresh, or confirmed unchanged by the upstream."),
		staleHits:    obs.Counter("phoneprov_relay_stale_hits_total", "Requests answered with a cached copy the upstream could not confirm (it failed or was slow)."),
		misses:       obs.Counter("phoneprov_relay_misses_total", "Requests the cache could not answer: they waited for a download, which found the file or not."),
		negativeHits: obs.Counter("phoneprov_relay_negative_hits_total", "Requests answered not-found from memory of a recent 404 or failure, without asking the upstream."),
		fetches:      obs.CounterVec("phoneprov_relay_fetches_total", "Requests to upstreams by result (fetched, not_modified, absent, error).", "result"),
		errors:       obs.CounterVec("phoneprov_relay_errors_total", "Failed upstream requests by reason (network, timeout, status, truncated, too_large, store).", "reason"),
		bytes:        obs.Counter("phoneprov_relay_fetched_bytes_total", "Bytes downloaded from upstreams and stored."),
	}
	if err := obs.Register(reg, "relay", m.hits, m.staleHits, m.misses, m.negativeHits, m.fetches, m.errors, m.bytes); err != nil {
		return nil, err
	}
	for _, r := range []string{fetchFetched, fetchNotModified, fetchAbsent, fetchFailed} {
		m.fetches.WithLabelValues(r)
	}
	for _, r := range []string{errNetwork, errTimeout, errStatus, errTruncated, errTooLarge, errStore} {
		m.errors.WithLabelValues(r)
	}
	return m, nil
}
